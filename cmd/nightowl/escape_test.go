package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/nightowl/nightowl"
)

func TestTextEscapes(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"lines and tabs kept", "one\ntwo\tthree\n", "one\ntwo\tthree\n"},
		{"CRLF becomes LF", "one\r\ntwo", "one\ntwo"},
		{"a lone CR escaped", "100%\rdone", `100%\x0ddone`},
		{"escape sequence", "ok\x1b[31mred", `ok\x1b[31mred`},
		{"C1 and bidi", "a\u009bb\u202ec", `a\x9bb\u202ec`},
		{"not UTF-8", "a\xffb", `a\xffb`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := text(tc.in); got != tc.want {
				t.Errorf("text(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// hostile is what a monitored site, a command or a person could make the
// server say.
const hostile = "evil\x1b[31m\u202e"

func wantEscaped(t *testing.T, out string, wants ...string) {
	t.Helper()
	if strings.ContainsAny(out, "\x1b\u202e\u009b") {
		t.Errorf("raw control or bidi characters printed:\n%q", out)
	}
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}

// TestRequestPrintedEscaped: a request's plan (URL, headers, body) and its
// outcome (error, a command's output, a response body) print escaped,
// keeping the output's lines.
func TestRequestPrintedEscaped(t *testing.T) {
	code := 1
	r := &nightowl.ActionRequest{ID: "r1", Action: "purge", State: nightowl.RequestFailed, Reason: hostile,
		Error: "status 500: " + hostile, Output: "line one " + hostile + "\nline two\r\n", ExitCode: &code}
	p := &nightowl.ActionPlan{HTTP: &nightowl.ActionHTTP{Method: "POST", URL: "https://cdn.example/" + hostile,
		Headers: map[string]string{"X-" + hostile: "v" + hostile}, Body: `{"a":"` + hostile + "\"}\nsecond"},
		Preflight: []string{`check("` + hostile + `").up`}}
	var buf bytes.Buffer
	printRequest(&buf, r, p)
	wantEscaped(t, buf.String(),
		`https://cdn.example/evil\x1b[31m\u202e`,
		`X-evil\x1b[31m\u202e: vevil\x1b[31m\u202e`,
		"  {\"a\":\"evil\\x1b[31m\\u202e\"}\n  second",
		`error: status 500: evil\x1b[31m\u202e`,
		"output:\nline one evil\\x1b[31m\\u202e\nline two\n",
		`check("evil\x1b[31m\u202e").up`)
}

// TestServerTextPrintedEscaped: what the server answers (an error message,
// an incident's title) is printed escaped.
func TestServerTextPrintedEscaped(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/action-requests/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(404)
		json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": "not_found", "message": "no request " + hostile}})
	})
	mux.HandleFunc("POST /api/v1/incidents/{id}/publish", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"incident": nightowl.Incident{ID: "i1", Title: "Down " + hostile}})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	env := map[string]string{"NIGHTOWL_URL": srv.URL, "NIGHTOWL_TOKEN": "t"}
	_, out, errOut := runCmd(t, env, "action", "show", "r1")
	wantEscaped(t, out+errOut, `no request evil\x1b[31m\u202e`)
	_, out, errOut = runCmd(t, env, "incident", "publish", "i1")
	wantEscaped(t, out+errOut, `Down evil\x1b[31m\u202e`)
}
