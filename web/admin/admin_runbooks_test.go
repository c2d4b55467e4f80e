package admin

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
)

// TestRunbookTemplatesRender runs the actions pages' templates through
// their branches: the plan of a command and of an HTTP request, a form
// with a pattern and a confirmation, the buttons, and an outcome.
func TestRunbookTemplatesRender(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	say := nightowl.ActionView{Needs: 1, Action: nightowl.Action{Name: "say", Description: "Say <it>", Run: []string{"/bin/echo", "{{word}}", ""},
		Params:    []nightowl.ActionParam{{Name: "word", Pattern: "^[a-z]+$", Description: "a word"}},
		Preflight: []string{`check("web").status == "up"`}, Approvals: 1, Confirm: "word", Cooldown: 10 * time.Minute}}
	kill := nightowl.ActionView{Needs: 1, Action: nightowl.Action{Name: "kill", HTTP: &nightowl.ActionHTTP{URL: "https://x.example/{{c}}",
		Headers: map[string]string{"Authorization": "(hidden)"}, Body: `{"a": 1}`}}}
	code := 0
	req := nightowl.ActionRequest{ID: "r-abc", Action: "say", Params: map[string]string{"word": "hi"}, Reason: "because <b>",
		RequestedBy: "ana", RequestedAt: now, ExpiresAt: now.Add(time.Hour), State: nightowl.RequestSucceeded, Needs: 1,
		Approvals: []nightowl.Approval{{By: "bo", At: now}}, RanBy: "ana", StartedAt: now, EndedAt: now.Add(3 * time.Millisecond),
		ExitCode: &code, Output: "hi <there>\n"}
	pages := map[string]any{
		"admin_runbooks.html": actionsPage{Actions: []actionRow{toActionRow(say, &actionForm{Action: "say", Reason: "again"}), toActionRow(kill, nil)},
			Open:   []requestRow{toRequestRow(nightowl.ActionRequest{ID: "r-1", Action: "say", State: nightowl.RequestPending, Needs: 1})},
			Recent: []requestRow{toRequestRow(req)}},
		"admin_runbook_request.html": requestPage{Request: toRequestRow(req), Run: []string{"/bin/echo", "hi there", ""},
			Approvals: []approvalRow{{By: "bo", Time: at(now)}}, Needs: 1, RanBy: "ana", Started: at(now), Duration: "3.0 ms",
			Output: req.Output, Ran: true, CanApprove: true, CanDeny: true, CanRun: true, CSRF: "tok",
			Preflight: []string{`check("web").facts.status == 200`}, PlanHash: "ab12",
			Seen: []seenRow{{Check: "web", Status: "up", Time: at(now.Add(-20 * time.Second)), Age: "20s"}}},
	}
	for name, data := range pages {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			p := &adminPage{Title: "x", User: "ana", Role: responder, SignOut: true, CSRF: "tok", CanRespond: true, Data: data}
			if err := adminTemplates.ExecuteTemplate(&buf, name, p); err != nil {
				t.Fatal(err)
			}
			html := buf.String()
			if strings.Contains(html, "<it>") || strings.Contains(html, "<there>") || strings.Contains(html, "<b>") {
				t.Errorf("not escaped:\n%s", html)
			}
			if strings.Contains(html, " style=") || strings.Contains(html, "<script>") {
				t.Errorf("inline style or script: the CSP forbids them")
			}
			// The server checks parameters; the browser is not asked to
			// read a Go pattern as JavaScript.
			if strings.Contains(html, " pattern=") {
				t.Errorf("a pattern attribute:\n%s", html)
			}
			for _, want := range map[string][]string{
				"admin_runbooks.html": {`id="request-say"`, `name="param.word" value="" aria-describedby="p-say-word-hint"`,
					`Must match <code class="value">^[a-z]&#43;$</code>`, `name="confirm" required`,
					`<li><code>{{word}}</code></li>`, `<li><code></code></li>`, "Authorization", `(values hidden)`, ">10m<", `>again</textarea>`,
					`data-testid="request-r-1" data-state="pending"`, `name="csrf" value="tok"`},
				"admin_runbook_request.html": {`id="request"`, `data-state="succeeded"`, `<li><code>hi there</code></li>`,
					`data-testid="approve-r-abc"`, `data-testid="deny-r-abc"`, `data-testid="run-r-abc"`, `<pre class="output" id="output"`,
					"hi &lt;there&gt;", "3.0 ms", `<li><code>check(&#34;web&#34;).facts.status == 200</code></li>`,
					`data-testid="seen-web"><code>web</code> up: result of`, "20s old then", `data-testid="plan-hash">ab12<`},
			}[name] {
				if !strings.Contains(html, want) {
					t.Errorf("no %s in\n%s", want, html)
				}
			}
		})
	}
}
