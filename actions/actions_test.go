package actions_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/actions"
	"github.com/nightowl/nightowl/internal/clocktest"
	"github.com/nightowl/nightowl/preflight"
	"github.com/nightowl/nightowl/sqlite"
)

var t0 = time.Date(2026, 3, 18, 2, 0, 0, 0, time.UTC)

type fixture struct {
	clock    *clocktest.Fake
	store    *sqlite.Store
	svc      *actions.Service
	mu       sync.Mutex
	checks   map[string]nightowl.CheckView
	incident bool
	maint    bool
	audit    []string
	events   []string
	acts     []nightowl.Action
}

func (f *fixture) setStatus(name string, st nightowl.Status) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.checks[name] = nightowl.CheckView{Check: nightowl.Check{Name: name}, State: nightowl.State{Check: name, Status: st},
		Last: &nightowl.Result{Check: name, OK: true, Status: st}}
}

func (f *fixture) entries() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.audit...)
}

func newFixture(t *testing.T, acts ...nightowl.Action) *fixture {
	t.Helper()
	f := &fixture{clock: clocktest.New(t0), checks: map[string]nightowl.CheckView{}, acts: acts}
	var err error
	f.store, err = sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(t.TempDir(), "a.db"),
		Now: f.clock.Now, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.store.Close() })
	f.svc, err = actions.New(actions.Options{
		Store: f.store, Clock: f.clock, Logger: slog.New(slog.DiscardHandler),
		Actions: func() []nightowl.Action { return f.acts },
		IncidentOpen: func(context.Context) (bool, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			return f.incident, nil
		},
		Preflight: func(_ context.Context, a *nightowl.Action, params map[string]string) (string, []nightowl.CheckSeen, error) {
			r, err := preflight.Judge(a.Preflight, preflight.Env{Params: params, Now: f.clock.Now, Checks: func(name string) (nightowl.CheckView, bool) {
				f.mu.Lock()
				defer f.mu.Unlock()
				v, ok := f.checks[name]
				return v, ok
			}})
			return r.Failed, r.Seen, err
		},
		InMaintenance: func(*nightowl.Check) bool {
			f.mu.Lock()
			defer f.mu.Unlock()
			return f.maint
		},
		Audit: auditFunc(func(e nightowl.AuditEntry) {
			f.mu.Lock()
			f.audit = append(f.audit, e.Actor+" "+e.Action+" "+e.Detail)
			f.mu.Unlock()
		}),
		AddEvent: func(_ context.Context, e nightowl.Event) error {
			f.mu.Lock()
			f.events = append(f.events, e.Check+": "+e.Cause)
			f.mu.Unlock()
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

type auditFunc func(nightowl.AuditEntry)

func (fn auditFunc) Audit(_ context.Context, e nightowl.AuditEntry) error { fn(e); return nil }

// terminate is the brief's action: terminate a cluster, which must not be
// serving traffic, confirmed by typing its name, approved by someone else.
func terminate() nightowl.Action {
	return nightowl.Action{
		Name:      "terminate-cluster",
		Run:       []string{"/bin/echo", "terminating", "{{cluster}}"},
		Params:    []nightowl.ActionParam{{Name: "cluster", Pattern: "^[a-z]+$"}},
		Preflight: []string{`check("traffic-" + params.cluster).status == "down"`},
		Approvals: 1, Confirm: "cluster", Timeout: 10 * time.Second,
	}
}

func code(t *testing.T, err error, want string) {
	t.Helper()
	if got := nightowl.ErrorCode(err); got != want || (want == "" && err != nil) {
		t.Fatalf("error %v (code %q), want code %q", err, got, want)
	}
}

func TestTerminateOnlyTheIdleCluster(t *testing.T) {
	f := newFixture(t, terminate())
	ctx := context.Background()
	f.setStatus("traffic-blue", nightowl.StatusUp)    // live
	f.setStatus("traffic-green", nightowl.StatusDown) // idle
	cluster := func(c string) map[string]string { return map[string]string{"cluster": c} }

	_, err := f.svc.Request(ctx, "terminate-cluster", cluster("blue"), "decommission", "blue", "ana")
	code(t, err, nightowl.EConflict)
	if want := `check("traffic-" + params.cluster).status == "down"`; !strings.Contains(err.Error(), want) ||
		!strings.Contains(err.Error(), `"up"`) {
		t.Fatalf("the refusal does not say what failed and what it saw: %v", err)
	}

	r, err := f.svc.Request(ctx, "terminate-cluster", cluster("green"), "decommission", "green", "ana")
	code(t, err, "")
	if r.State != nightowl.RequestPending || r.Needs != 1 {
		t.Fatalf("request = %+v", r)
	}
	// The requester can never approve their own request.
	_, err = f.svc.Approve(ctx, r.ID, "ana")
	code(t, err, nightowl.EForbidden)
	if _, err := f.svc.Run(ctx, r.ID, "ana"); nightowl.ErrorCode(err) != nightowl.EConflict || !strings.Contains(err.Error(), "0 of the 1 approvals") {
		t.Fatalf("run without approval: %v", err)
	}
	r, err = f.svc.Approve(ctx, r.ID, "bo")
	code(t, err, "")
	if r.State != nightowl.RequestApproved {
		t.Fatalf("after approval: %+v", r)
	}
	// Neither the requester nor an approver: may not run it.
	_, err = f.svc.Run(ctx, r.ID, "cy")
	code(t, err, nightowl.EForbidden)
	r, err = f.svc.Run(ctx, r.ID, "ana")
	code(t, err, "")
	if r.State != nightowl.RequestSucceeded || r.ExitCode == nil || *r.ExitCode != 0 || strings.TrimSpace(r.Output) != "terminating green" || r.RanBy != "ana" {
		t.Fatalf("after the run: %+v", r)
	}
	_, err = f.svc.Run(ctx, r.ID, "ana")
	code(t, err, nightowl.EConflict)

	want := []string{
		"ana action.request refused: preflight failed:",
		"ana action.request terminate-cluster cluster=green; reason: decommission",
		"ana action.approve refused: the requester cannot approve their own request",
		"bo action.approve terminate-cluster",
		`ana action.run terminate-cluster: ["/bin/echo" "terminating" "green"]`,
		"ana action.result succeeded (exit 0) in",
	}
	got := f.entries()
	if len(got) != len(want) {
		t.Fatalf("audit:\n%s", strings.Join(got, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("audit %d = %q, want %q…", i, got[i], want[i])
		}
	}
}

func TestPreflightAgainBeforeRunning(t *testing.T) {
	f := newFixture(t, terminate())
	ctx := context.Background()
	f.setStatus("traffic-green", nightowl.StatusDown)
	r, err := f.svc.Request(ctx, "terminate-cluster", map[string]string{"cluster": "green"}, "decommission", "green", "ana")
	code(t, err, "")
	f.svc.Approve(ctx, r.ID, "bo")
	// Traffic moved to green meanwhile: it is live now.
	f.setStatus("traffic-green", nightowl.StatusUp)
	_, err = f.svc.Run(ctx, r.ID, "bo")
	code(t, err, nightowl.EConflict)
	if !strings.Contains(err.Error(), "preflight failed") {
		t.Fatalf("run: %v", err)
	}
	if r, _ = f.svc.Get(ctx, r.ID); r.State != nightowl.RequestApproved {
		t.Fatalf("a refused run changed the request: %+v", r)
	}
}

func TestRequestsAreChecked(t *testing.T) {
	f := newFixture(t, terminate())
	ctx := context.Background()
	f.setStatus("traffic-green", nightowl.StatusDown)
	cases := []struct {
		name            string
		params          map[string]string
		reason, confirm string
		want            string
	}{
		{"shell metacharacters", map[string]string{"cluster": "green; rm -rf /"}, "x", "green; rm -rf /", `does not match ^[a-z]+$`},
		{"command substitution", map[string]string{"cluster": "$(reboot)"}, "x", "$(reboot)", "does not match"},
		{"missing parameter", nil, "x", "", "parameter cluster is required"},
		{"unknown parameter", map[string]string{"cluster": "green", "force": "yes"}, "x", "green", `no parameter "force"`},
		{"wrong confirmation", map[string]string{"cluster": "green"}, "x", "blue", "type the value of cluster"},
		{"no reason", map[string]string{"cluster": "green"}, " ", "green", "reason is required"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := f.svc.Request(ctx, "terminate-cluster", c.params, c.reason, c.confirm, "ana")
			code(t, err, nightowl.EInvalid)
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q lacks %q", err, c.want)
			}
		})
	}
	_, err := f.svc.Request(ctx, "nosuch", nil, "x", "", "ana")
	code(t, err, nightowl.ENotFound)
}

func TestExpiredRequestCannotRun(t *testing.T) {
	f := newFixture(t, terminate())
	ctx := context.Background()
	f.setStatus("traffic-green", nightowl.StatusDown)
	r, _ := f.svc.Request(ctx, "terminate-cluster", map[string]string{"cluster": "green"}, "decommission", "green", "ana")
	f.svc.Approve(ctx, r.ID, "bo")
	f.clock.Set(t0.Add(actions.DefaultExpiry + time.Second))
	_, err := f.svc.Run(ctx, r.ID, "ana")
	code(t, err, nightowl.EConflict)
	if !strings.Contains(err.Error(), "expired") {
		t.Fatalf("run of an expired request: %v", err)
	}
	if r, _ = f.svc.Get(ctx, r.ID); r.State != nightowl.RequestExpired {
		t.Fatalf("state = %s", r.State)
	}
	_, err = f.svc.Approve(ctx, r.ID, "cy")
	code(t, err, nightowl.EConflict)
}

func TestDenialEndsARequest(t *testing.T) {
	f := newFixture(t, terminate())
	ctx := context.Background()
	f.setStatus("traffic-green", nightowl.StatusDown)
	r, _ := f.svc.Request(ctx, "terminate-cluster", map[string]string{"cluster": "green"}, "decommission", "green", "ana")
	r, err := f.svc.Deny(ctx, r.ID, "bo", "not during the sale")
	code(t, err, "")
	if r.State != nightowl.RequestDenied || r.DeniedBy != "bo" {
		t.Fatalf("denied: %+v", r)
	}
	_, err = f.svc.Approve(ctx, r.ID, "cy")
	code(t, err, nightowl.EConflict)
	_, err = f.svc.Run(ctx, r.ID, "ana")
	code(t, err, nightowl.EConflict)
}

func TestBuddyDuringIncidents(t *testing.T) {
	restart := nightowl.Action{Name: "restart", Run: []string{"/bin/true"}}
	f := newFixture(t, restart)
	ctx := context.Background()
	r, err := f.svc.Request(ctx, "restart", nil, "stuck", "", "ana")
	code(t, err, "")
	if r.State != nightowl.RequestApproved || r.Needs != 0 {
		t.Fatalf("without an incident: %+v", r)
	}
	f.incident = true
	r, err = f.svc.Request(ctx, "restart", nil, "stuck", "", "ana")
	code(t, err, "")
	if r.State != nightowl.RequestPending || r.Needs != 1 {
		t.Fatalf("with an incident open: %+v", r)
	}
	_, err = f.svc.Run(ctx, r.ID, "ana")
	code(t, err, nightowl.EConflict)
}

// TestBuddyWhenTheRunStarts: a request that needed no approval when it was
// made cannot run without one once an incident is open; it goes back to
// pending until someone other than the requester approves it.
func TestBuddyWhenTheRunStarts(t *testing.T) {
	restart := nightowl.Action{Name: "restart", Run: []string{"/bin/true"}}
	f := newFixture(t, restart)
	ctx := context.Background()
	r, err := f.svc.Request(ctx, "restart", nil, "stuck", "", "ana")
	code(t, err, "")
	if r.State != nightowl.RequestApproved || r.Needs != 0 {
		t.Fatalf("without an incident: %+v", r)
	}
	f.mu.Lock()
	f.incident = true
	f.mu.Unlock()
	_, err = f.svc.Run(ctx, r.ID, "ana")
	code(t, err, nightowl.EConflict)
	if want := "request " + r.ID + " cannot run yet: it needs 1 approval now (an incident is open, or the action's approvals were raised) and has 0"; nightowl.ErrorMessage(err) != want {
		t.Errorf("refusal: %q, want %q", nightowl.ErrorMessage(err), want)
	}
	got, err := f.svc.Get(ctx, r.ID)
	code(t, err, "")
	if got.State != nightowl.RequestPending || got.Needs != 1 || got.RanBy != "" {
		t.Fatalf("after the refused run: %+v", got)
	}
	_, err = f.svc.Approve(ctx, r.ID, "ana")
	code(t, err, nightowl.EForbidden)
	_, err = f.svc.Approve(ctx, r.ID, "bo")
	code(t, err, "")
	got, err = f.svc.Run(ctx, r.ID, "ana")
	code(t, err, "")
	if got.State != nightowl.RequestSucceeded {
		t.Errorf("run after bo's approval: %+v", got)
	}
	if e := f.entries(); !strings.Contains(strings.Join(e, "\n"), "ana action.run refused: it needs 1 approval now") {
		t.Errorf("the refusal is not in the audit log:\n%s", strings.Join(e, "\n"))
	}
}

func TestCooldownAndOnDown(t *testing.T) {
	restart := nightowl.Action{Name: "restart", Run: []string{"/bin/echo", "restarted"}, Cooldown: 10 * time.Minute}
	f := newFixture(t, restart)
	ctx := context.Background()
	down := nightowl.CheckView{Check: nightowl.Check{Name: "db", OnDown: "restart"},
		State: nightowl.State{Check: "db", Status: nightowl.StatusDown, Cause: "connection refused"}}

	f.svc.OnDown(ctx, down)
	f.clock.Set(t0.Add(5 * time.Minute))
	f.svc.OnDown(ctx, down) // within the cooldown
	f.clock.Set(t0.Add(20 * time.Minute))
	f.maint = true
	f.svc.OnDown(ctx, down) // in maintenance
	f.maint, f.incident = false, true
	f.svc.OnDown(ctx, down) // would need an approval now
	f.incident = false
	f.svc.OnDown(ctx, down)

	want := []string{
		"db: on_down ran restart (request r-",
		"db: on_down did not run restart: restart ran at",
		"db: on_down did not run restart: the check is in maintenance",
		"db: on_down did not run restart: it needs an approval now",
		"db: on_down ran restart (request r-",
	}
	if len(f.events) != len(want) {
		t.Fatalf("events:\n%s", strings.Join(f.events, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(f.events[i], want[i]) {
			t.Errorf("event %d = %q, want %q…", i, f.events[i], want[i])
		}
	}
	if !strings.HasSuffix(f.events[0], "succeeded (exit 0)") {
		t.Errorf("event 0 = %q", f.events[0])
	}
	rs, err := f.store.Requests(ctx, nightowl.ActionQuery{})
	if err != nil || len(rs) != 2 || !rs[0].Automatic || rs[0].RequestedBy != "nightowl" {
		t.Fatalf("automatic requests: %+v %v", rs, err)
	}
	// A person's request inside the cooldown is refused when it runs.
	f.clock.Set(t0.Add(25 * time.Minute))
	r, _ := f.svc.Request(ctx, "restart", nil, "again", "", "ana")
	_, err = f.svc.Run(ctx, r.ID, "ana")
	code(t, err, nightowl.EConflict)
	if !strings.Contains(err.Error(), "cooldown") {
		t.Fatalf("run in the cooldown: %v", err)
	}
}

func TestHTTPActionAndLimits(t *testing.T) {
	var got struct {
		method, path, body, auth string
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got.method, got.path, got.body, got.auth = r.Method, r.URL.Path, string(b), r.Header.Get("Authorization")
		fmt.Fprint(w, "scaled")
	}))
	t.Cleanup(srv.Close)
	scale := nightowl.Action{Name: "scale", HTTP: &nightowl.ActionHTTP{URL: srv.URL + "/clusters/{{cluster}}/scale",
		Method: "POST", Headers: map[string]string{"Authorization": "Bearer t"}, Body: `{"replicas": {{n}}}`},
		Params: []nightowl.ActionParam{{Name: "cluster", Pattern: "^[a-z]+$"}, {Name: "n", Pattern: "^[0-9]{1,2}$"}}}
	slow := nightowl.Action{Name: "slow", Run: []string{"/bin/sleep", "5"}, Timeout: 100 * time.Millisecond}
	loud := nightowl.Action{Name: "loud", Run: []string{"/bin/sh", "-c", "head -c 200000 /dev/zero | tr '\\0' x"}}
	f := newFixture(t, scale, slow, loud)
	ctx := context.Background()

	r, err := f.svc.Request(ctx, "scale", map[string]string{"cluster": "blue", "n": "3"}, "load", "", "ana")
	code(t, err, "")
	r, err = f.svc.Run(ctx, r.ID, "ana")
	code(t, err, "")
	if r.State != nightowl.RequestSucceeded || *r.ExitCode != 200 || r.Output != "scaled" ||
		got.method != "POST" || got.path != "/clusters/blue/scale" || got.body != `{"replicas": 3}` || got.auth != "Bearer t" {
		t.Fatalf("http action: %+v, server got %+v", r, got)
	}

	r, _ = f.svc.Request(ctx, "slow", nil, "x", "", "ana")
	start := time.Now()
	r, _ = f.svc.Run(ctx, r.ID, "ana")
	if r.State != nightowl.RequestFailed || r.Error != "timed out" || time.Since(start) > 4*time.Second {
		t.Fatalf("timeout: %+v after %s", r, time.Since(start))
	}

	r, _ = f.svc.Request(ctx, "loud", nil, "x", "", "ana")
	r, _ = f.svc.Run(ctx, r.ID, "ana")
	if r.State != nightowl.RequestSucceeded || len(r.Output) > actions.MaxOutput+100 || !strings.HasSuffix(r.Output, "[output cut at 64 KiB]") {
		t.Fatalf("bounded output: %d bytes, state %s", len(r.Output), r.State)
	}
}

func TestValuesAreNotTemplates(t *testing.T) {
	a := &nightowl.Action{Name: "x", Run: []string{"/bin/echo", "{{a}}-{{b}}"}}
	p, err := actions.PlanOf(a, map[string]string{"a": "{{b}}", "b": "B"})
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Run[1]; got != "{{b}}-B" {
		t.Fatalf("filled %q: a value was read again for placeholders", got)
	}
}

// TestRunCutOffByACrash: a request left running by a process that died is
// failed once its timeout is long past, and says why; until then it is
// still taken for under way.
func TestRunCutOffByACrash(t *testing.T) {
	f := newFixture(t, terminate())
	ctx := context.Background()
	f.setStatus("traffic-green", nightowl.StatusDown)
	r, _ := f.svc.Request(ctx, "terminate-cluster", map[string]string{"cluster": "green"}, "decommission", "green", "ana")
	// What a node that crashed mid-run leaves behind.
	r.State, r.RanBy, r.StartedAt = nightowl.RequestRunning, "ana", t0
	if err := f.store.SaveRequest(ctx, &r); err != nil {
		t.Fatal(err)
	}
	f.clock.Set(t0.Add(time.Minute))
	if got, _ := f.svc.Get(ctx, r.ID); got.State != nightowl.RequestRunning {
		t.Fatalf("within its timeout and grace: state %s", got.State)
	}
	f.clock.Set(t0.Add(10*time.Second + time.Minute + time.Second))
	open, err := f.svc.Requests(ctx, nightowl.ActionQuery{Open: true})
	if err != nil || len(open) != 0 {
		t.Fatalf("open requests after the run was cut off: %v %+v", err, open)
	}
	got, _ := f.svc.Get(ctx, r.ID)
	if got.State != nightowl.RequestFailed || !strings.Contains(got.Error, "interrupted") || got.EndedAt.IsZero() {
		t.Fatalf("cut-off run: %+v", got)
	}
	if e := f.entries(); len(e) == 0 || !strings.Contains(e[len(e)-1], "action.result failed: interrupted") {
		t.Fatalf("audit: %q", e)
	}
}

// TestApprovalCoversThePlan: an approval covers the plan as it was
// requested. A reload that changes the command sends the request back to
// pending, without its approvals, and it does not run.
func TestApprovalCoversThePlan(t *testing.T) {
	restore := nightowl.Action{Name: "restore", Run: []string{"/bin/echo", "orders"}, Approvals: 1}
	f := newFixture(t, restore)
	ctx := context.Background()
	r, err := f.svc.Request(ctx, "restore", nil, "orders dropped", "", "ana")
	code(t, err, "")
	if r.Plan == nil || !slices.Equal(r.Plan.Run, []string{"/bin/echo", "orders"}) || len(r.PlanHash) != 64 {
		t.Fatalf("snapshot: %+v %q", r.Plan, r.PlanHash)
	}
	approvedHash := r.PlanHash
	_, err = f.svc.Approve(ctx, r.ID, "bo")
	code(t, err, "")

	f.mu.Lock()
	f.acts = []nightowl.Action{{Name: "restore", Run: []string{"/bin/echo", "DROP-EVERYTHING", "orders"}, Approvals: 1}}
	f.mu.Unlock()
	_, err = f.svc.Run(ctx, r.ID, "ana")
	code(t, err, nightowl.EConflict)
	if !strings.Contains(err.Error(), "its plan changed since it was requested") {
		t.Fatalf("run after the plan changed: %v", err)
	}
	got, err := f.svc.Get(ctx, r.ID)
	code(t, err, "")
	if got.State != nightowl.RequestPending || len(got.Approvals) != 0 || got.RanBy != "" ||
		!slices.Equal(got.Plan.Run, []string{"/bin/echo", "DROP-EVERYTHING", "orders"}) || got.PlanHash == approvedHash {
		t.Fatalf("after the refused run: %+v", got)
	}
	log := strings.Join(f.entries(), "\n")
	for _, want := range []string{
		"ana action.request restore (no parameters); reason: orders dropped; plan " + approvedHash,
		"bo action.approve restore; plan " + approvedHash,
		"ana action.run refused: its plan changed since it was requested (now " + got.PlanHash + ", approved " + approvedHash + ")",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("audit lacks %q:\n%s", want, log)
		}
	}
	// Approved again, the new plan runs.
	_, err = f.svc.Approve(ctx, r.ID, "cy")
	code(t, err, "")
	got, err = f.svc.Run(ctx, r.ID, "ana")
	code(t, err, "")
	if strings.TrimSpace(got.Output) != "DROP-EVERYTHING orders" {
		t.Errorf("output %q", got.Output)
	}
	if log := strings.Join(f.entries(), "\n"); !strings.Contains(log, "ana action.run restore: [\"/bin/echo\" \"DROP-EVERYTHING\" \"orders\"]; plan "+got.PlanHash) {
		t.Errorf("the run's audit entry lacks the plan hash:\n%s", log)
	}
}

// TestPreflightJudgesFreshResults: a preflight refuses to judge a result
// older than twice its check's interval plus its timeout, saying how old it
// is, and a request keeps the age of each result it judged.
func TestPreflightJudgesFreshResults(t *testing.T) {
	deploy := nightowl.Action{Name: "deploy", Run: []string{"/bin/true"}, Preflight: []string{`check("shop").facts.status == 200`}}
	f := newFixture(t, deploy)
	ctx := context.Background()
	result := func(age time.Duration) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.checks["shop"] = nightowl.CheckView{
			Check: nightowl.Check{Name: "shop", Interval: 30 * time.Second, Timeout: 10 * time.Second},
			State: nightowl.State{Check: "shop", Status: nightowl.StatusUp},
			Last:  &nightowl.Result{Check: "shop", OK: true, Status: nightowl.StatusUp, Start: t0.Add(-age), Facts: nightowl.Facts{"status": 200}},
		}
	}
	result(2 * time.Minute)
	_, err := f.svc.Request(ctx, "deploy", nil, "release", "", "ana")
	code(t, err, nightowl.EConflict)
	if want := `preflight failed: the newest result of check "shop" is 2m0s old (taken at 2026-03-18T01:58:00Z), older than the 1m10s a preflight may judge`; !strings.HasPrefix(nightowl.ErrorMessage(err), want) {
		t.Fatalf("stale result: %q, want %q…", nightowl.ErrorMessage(err), want)
	}
	result(20 * time.Second)
	r, err := f.svc.Request(ctx, "deploy", nil, "release", "", "ana")
	code(t, err, "")
	if len(r.Seen) != 1 || r.Seen[0].Check != "shop" || time.Duration(r.Seen[0].Age) != 20*time.Second || !r.Seen[0].At.Equal(t0.Add(-20*time.Second)) {
		t.Fatalf("what the preflight saw: %+v", r.Seen)
	}
	// At run time the result is judged again.
	f.clock.Set(t0.Add(time.Minute))
	_, err = f.svc.Run(ctx, r.ID, "ana")
	code(t, err, nightowl.EConflict)
	if !strings.Contains(err.Error(), `check "shop" is 1m20s old`) {
		t.Fatalf("run on a stale result: %v", err)
	}
}

// TestHTTPParamsAreEscaped: a parameter of an HTTP action is escaped for
// where it lands: a path segment cannot become "..", "." or empty, or add a
// segment; a query value cannot add a parameter; a value inside a JSON
// string stays inside it, and one outside must be a plain JSON value.
func TestHTTPParamsAreEscaped(t *testing.T) {
	var mu sync.Mutex
	var uris, bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		uris, bodies = append(uris, r.RequestURI), append(bodies, string(b))
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	any := "^.{0,40}$"
	act := nightowl.Action{Name: "tag", HTTP: &nightowl.ActionHTTP{URL: srv.URL + "/files/{{name}}/meta?q={{q}}",
		Headers: map[string]string{"Authorization": "Bearer t"}, Body: `{"note": "{{note}}", "n": {{n}}}`},
		Params: []nightowl.ActionParam{{Name: "name", Pattern: any}, {Name: "q", Pattern: any}, {Name: "note", Pattern: any}, {Name: "n", Pattern: any}}}
	f := newFixture(t, act)
	ctx := context.Background()
	params := func(name, n string) map[string]string {
		return map[string]string{"name": name, "q": "x&y=z", "note": `he said "hi" \ bye`, "n": n}
	}
	for _, c := range []struct{ name, n, want string }{
		{"..", "3", `a parameter makes the path segment {{name}} "..", which would reach another path`},
		{".", "3", `a parameter makes the path segment {{name}} ".", which would reach another path`},
		{"", "3", `a parameter makes the path segment {{name}} "", which would reach another path`},
		{"a", `1, "admin": true`, `parameter n: "1, \"admin\": true" is not a JSON number, true, false or null`},
	} {
		_, err := f.svc.Request(ctx, "tag", params(c.name, c.n), "x", "", "ana")
		code(t, err, nightowl.EInvalid)
		if !strings.HasPrefix(nightowl.ErrorMessage(err), c.want) {
			t.Errorf("name %q, n %q: %q, want %q…", c.name, c.n, nightowl.ErrorMessage(err), c.want)
		}
	}
	r, err := f.svc.Request(ctx, "tag", params("a/b", "3"), "x", "", "ana")
	code(t, err, "")
	if want := srv.URL + "/files/a%2Fb/meta?q=x%26y%3Dz"; r.Plan.HTTP.URL != want {
		t.Errorf("the plan's URL = %q, want %q", r.Plan.HTTP.URL, want)
	}
	r, err = f.svc.Run(ctx, r.ID, "ana")
	code(t, err, "")
	mu.Lock()
	defer mu.Unlock()
	if len(uris) != 1 || uris[0] != "/files/a%2Fb/meta?q=x%26y%3Dz" {
		t.Fatalf("the server got %q", uris)
	}
	var body struct {
		Note string `json:"note"`
		N    int    `json:"n"`
	}
	if err := json.Unmarshal([]byte(bodies[0]), &body); err != nil || body.Note != `he said "hi" \ bye` || body.N != 3 {
		t.Errorf("body %s: %+v %v", bodies[0], body, err)
	}
}

// countingExec counts the plans it is given to run.
type countingExec struct{ n atomic.Int32 }

func (c *countingExec) Execute(context.Context, nightowl.ActionPlan) actions.Outcome {
	c.n.Add(1)
	code := 0
	return actions.Outcome{OK: true, Code: &code}
}

// TestRacesOnOneRequest: two services on one store, as two nodes are,
// act on a request at once. Approvals at once all count; of runs at once
// exactly one runs, and the others are refused saying who ran it.
func TestRacesOnOneRequest(t *testing.T) {
	f := newFixture(t, nightowl.Action{Name: "flush", Run: []string{"/bin/true"}, Approvals: 5})
	ctx := context.Background()
	exec := &countingExec{}
	var nodes []*actions.Service
	for range 2 {
		svc, err := actions.New(actions.Options{Store: f.store, Clock: f.clock, Logger: slog.New(slog.DiscardHandler),
			Actions: func() []nightowl.Action { return f.acts }, Exec: exec,
			Preflight: func(context.Context, *nightowl.Action, map[string]string) (string, []nightowl.CheckSeen, error) {
				return "", nil, nil
			}})
		if err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, svc)
	}
	r, err := nodes[0].Request(ctx, "flush", nil, "stale", "", "ana")
	code(t, err, "")
	var wg sync.WaitGroup
	errs := make([]error, 5)
	for i := range 5 {
		wg.Go(func() { _, errs[i] = nodes[i%2].Approve(ctx, r.ID, fmt.Sprintf("approver%d", i)) })
	}
	wg.Wait()
	for _, err := range errs {
		code(t, err, "")
	}
	got, err := nodes[1].Get(ctx, r.ID)
	if err != nil || len(got.Approvals) != 5 || got.State != nightowl.RequestApproved {
		t.Fatalf("after five approvals at once: %d approvals, %s, %v", len(got.Approvals), got.State, err)
	}

	msgs := make([]string, 10)
	for i := range 10 {
		wg.Go(func() {
			_, err := nodes[i%2].Run(ctx, r.ID, "ana")
			msgs[i] = nightowl.ErrorMessage(err)
		})
	}
	wg.Wait()
	ran := 0
	for _, m := range msgs {
		switch {
		case m == "":
			ran++
		case !strings.Contains(m, "ana started it at"):
			t.Errorf("a run that lost: %q", m)
		}
	}
	if ran != 1 || exec.n.Load() != 1 {
		t.Errorf("%d runs answered, %d executed; want 1 and 1: %q", ran, exec.n.Load(), msgs)
	}
}

// TestCooldownHoldsForRunsAtOnce: runs of four requests for one action
// with a cooldown, started at once on two services of one store, run once.
func TestCooldownHoldsForRunsAtOnce(t *testing.T) {
	f := newFixture(t, nightowl.Action{Name: "restart", Run: []string{"/bin/true"}, Cooldown: 10 * time.Minute})
	ctx := context.Background()
	exec := &countingExec{}
	var nodes []*actions.Service
	for range 2 {
		svc, err := actions.New(actions.Options{Store: f.store, Clock: f.clock, Logger: slog.New(slog.DiscardHandler),
			Actions: func() []nightowl.Action { return f.acts }, Exec: exec,
			Preflight: func(context.Context, *nightowl.Action, map[string]string) (string, []nightowl.CheckSeen, error) {
				return "", nil, nil
			}})
		if err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, svc)
	}
	// Rounds a cooldown apart: each runs once.
	const rounds, n = 3, 4
	for round := range rounds {
		f.clock.Set(t0.Add(time.Duration(round) * 20 * time.Minute))
		var ids []string
		for i := range n {
			r, err := nodes[0].Request(ctx, "restart", nil, fmt.Sprintf("round %d, %d", round, i), "", "ana")
			code(t, err, "")
			ids = append(ids, r.ID)
		}
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i, id := range ids {
			wg.Go(func() { _, errs[i] = nodes[i%2].Run(ctx, id, "ana") })
		}
		wg.Wait()
		ran := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ran++
			case !strings.Contains(err.Error(), "cooldown"):
				t.Errorf("round %d: a run refused for another reason: %v", round, err)
			}
		}
		if ran != 1 || exec.n.Load() != int32(round+1) {
			t.Errorf("round %d: %d runs answered, %d executed in all; want 1 and %d", round, ran, exec.n.Load(), round+1)
		}
	}
}

// TestOnDownAtOnceRunsOnce: on_down of two checks that share an action,
// called at once, runs it once within its cooldown.
func TestOnDownAtOnceRunsOnce(t *testing.T) {
	f := newFixture(t, nightowl.Action{Name: "restart", Run: []string{"/bin/true"}, Cooldown: 10 * time.Minute})
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range 4 {
		name := fmt.Sprintf("db%d", i)
		v := nightowl.CheckView{Check: nightowl.Check{Name: name, OnDown: "restart"},
			State: nightowl.State{Check: name, Status: nightowl.StatusDown, Cause: "connection refused"}}
		wg.Go(func() { f.svc.OnDown(ctx, v) })
	}
	wg.Wait()
	ran, held := 0, 0
	f.mu.Lock()
	for _, e := range f.events {
		switch {
		case strings.Contains(e, "on_down ran restart"):
			ran++
		case strings.Contains(e, "cooldown"):
			held++
		}
	}
	events := strings.Join(f.events, "\n")
	f.mu.Unlock()
	if ran != 1 || held != 3 {
		t.Errorf("%d ran, %d held back by the cooldown; want 1 and 3:\n%s", ran, held, events)
	}
}

// TestRefusedRunsWriteNothing: a run that is refused (preflight failed, in
// the cooldown) leaves the request as it was, version and all, and is
// recorded once; a run refused again and again does not stop a denial.
func TestRefusedRunsWriteNothing(t *testing.T) {
	f := newFixture(t, terminate(), nightowl.Action{Name: "restart", Run: []string{"/bin/true"}, Cooldown: 10 * time.Minute})
	ctx := context.Background()
	f.setStatus("traffic-green", nightowl.StatusDown)
	r, err := f.svc.Request(ctx, "terminate-cluster", map[string]string{"cluster": "green"}, "decommission", "green", "ana")
	code(t, err, "")
	r, err = f.svc.Approve(ctx, r.ID, "bo")
	code(t, err, "")
	f.setStatus("traffic-green", nightowl.StatusUp)
	count := func(prefix string) int {
		n := 0
		for _, e := range f.entries() {
			if strings.HasPrefix(e, prefix) {
				n++
			}
		}
		return n
	}

	_, err = f.svc.Run(ctx, r.ID, "bo")
	code(t, err, nightowl.EConflict)
	got, err := f.svc.Get(ctx, r.ID)
	if err != nil || got.Version != r.Version || got.State != nightowl.RequestApproved {
		t.Fatalf("after a refused run: %s v%d, %v; want approved v%d", got.State, got.Version, err, r.Version)
	}
	if n := count("bo action.run refused: preflight failed"); n != 1 {
		t.Errorf("%d audit entries for one refused run, want 1:\n%s", n, strings.Join(f.entries(), "\n"))
	}

	// In the cooldown: refused, unchanged, recorded.
	first, _ := f.svc.Request(ctx, "restart", nil, "stuck", "", "ana")
	_, err = f.svc.Run(ctx, first.ID, "ana")
	code(t, err, "")
	second, _ := f.svc.Request(ctx, "restart", nil, "stuck again", "", "ana")
	_, err = f.svc.Run(ctx, second.ID, "ana")
	code(t, err, nightowl.EConflict)
	if got, err := f.svc.Get(ctx, second.ID); err != nil || got.Version != second.Version || got.State != nightowl.RequestApproved {
		t.Fatalf("after a run refused in the cooldown: %s v%d, %v; want approved v%d", got.State, got.Version, err, second.Version)
	}
	if n := count("ana action.run refused: restart ran at"); n != 1 {
		t.Errorf("%d audit entries for a run refused in the cooldown, want 1:\n%s", n, strings.Join(f.entries(), "\n"))
	}

	// Runs refused in a loop while someone denies: the denial stands.
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for i := 0; i < 500; i++ {
				select {
				case <-done:
					return
				default:
				}
				f.svc.Run(ctx, r.ID, "bo")
			}
		})
	}
	_, err = f.svc.Deny(ctx, r.ID, "cy", "not now")
	close(done)
	wg.Wait()
	code(t, err, "")
	if got, _ := f.svc.Get(ctx, r.ID); got.State != nightowl.RequestDenied {
		t.Errorf("state after the denial: %s", got.State)
	}
}

type auditErrFunc func(nightowl.AuditEntry) error

func (fn auditErrFunc) Audit(_ context.Context, e nightowl.AuditEntry) error { return fn(e) }

// TestApprovalRecordedBeforeItCounts: an approval is in the log before a
// run can rest on it. Another node acting at the moment it is recorded
// finds it not yet counted; one the log cannot take never counts; one that
// is recorded and then loses to a denial is recorded as withdrawn.
func TestApprovalRecordedBeforeItCounts(t *testing.T) {
	f := newFixture(t, nightowl.Action{Name: "flush", Run: []string{"/bin/true"}, Approvals: 1})
	ctx := context.Background()
	exec := &countingExec{}
	noPreflight := func(context.Context, *nightowl.Action, map[string]string) (string, []nightowl.CheckSeen, error) {
		return "", nil, nil
	}
	other, err := actions.New(actions.Options{Store: f.store, Clock: f.clock, Logger: slog.New(slog.DiscardHandler),
		Actions: func() []nightowl.Action { return f.acts }, Exec: exec, Preflight: noPreflight})
	if err != nil {
		t.Fatal(err)
	}
	var id string
	var during func() error // what the other node does while the approval is recorded
	var log []string
	node, err := actions.New(actions.Options{Store: f.store, Clock: f.clock, Logger: slog.New(slog.DiscardHandler),
		Actions: func() []nightowl.Action { return f.acts }, Exec: exec, Preflight: noPreflight,
		Audit: auditErrFunc(func(e nightowl.AuditEntry) error {
			log = append(log, e.Actor+" "+e.Action+" "+e.Detail)
			if e.Action == "action.approve" && e.Actor == "bo" && !strings.HasPrefix(e.Detail, "withdrawn") && during != nil {
				return during()
			}
			return nil
		})})
	if err != nil {
		t.Fatal(err)
	}
	request := func() {
		r, err := node.Request(ctx, "flush", nil, "stale entries", "", "ana")
		code(t, err, "")
		id = r.ID
	}

	t.Run("the log cannot take it", func(t *testing.T) {
		request()
		var ran error
		during = func() error {
			_, ran = other.Run(ctx, id, "bo")
			return fmt.Errorf("audit log unreachable")
		}
		if _, err := node.Approve(ctx, id, "bo"); err == nil {
			t.Fatal("an approval the log could not take was accepted")
		}
		if exec.n.Load() != 0 || ran == nil {
			t.Fatalf("a run rested on an approval the log lacks: %d runs, %v", exec.n.Load(), ran)
		}
		if got, err := node.Get(ctx, id); err != nil || got.State != nightowl.RequestPending || len(got.Approvals) != 0 {
			t.Errorf("after an approval the log lacks: %s with %d approvals, %v; want pending with none", got.State, len(got.Approvals), err)
		}
	})

	t.Run("denied meanwhile", func(t *testing.T) {
		request()
		log = nil
		during = func() error {
			_, err := other.Deny(ctx, id, "cy", "not now")
			return err
		}
		_, err := node.Approve(ctx, id, "bo")
		code(t, err, nightowl.EConflict)
		want := []string{"bo action.approve flush; plan ", "bo action.approve withdrawn: request " + id + " was denied by cy"}
		if len(log) != 2 || !strings.HasPrefix(log[0], want[0]) || !strings.HasPrefix(log[1], want[1]) {
			t.Errorf("audit entries %q, want %q…", log, want)
		}
		if got, _ := node.Get(ctx, id); got.State != nightowl.RequestDenied || len(got.Approvals) != 0 {
			t.Errorf("after a denial: %s with %d approvals", got.State, len(got.Approvals))
		}
	})
}
