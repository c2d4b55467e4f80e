package engine

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/clocktest"
)

// switchProber fails while down is set, and counts its runs.
type switchProber struct {
	down atomic.Bool
	runs atomic.Int32
}

func (p *switchProber) Probe(context.Context) nightowl.Result {
	p.runs.Add(1)
	if p.down.Load() {
		return nightowl.Result{Error: "connection refused"}
	}
	return nightowl.Result{OK: true}
}

// TestDependsOn: a check that fails while something upstream fails is
// blocked, naming the root cause, and alerts nobody (its event goes to
// blocked); the first to fail runs the upstream first, the others find it
// down; when the root recovers, the blocked checks are judged again at
// once, and those still failing fail in their own right.
func TestDependsOn(t *testing.T) {
	clock := clocktest.New(t0)
	store := newMemStore()
	var mu sync.Mutex
	var events []nightowl.Event
	metrics := NewMetrics(nil)
	e, err := New(Options{Clock: clock, Store: store, Concurrency: 4, Metrics: metrics, OnEvent: func(ev nightowl.Event, _ nightowl.CheckView) {
		mu.Lock()
		events = append(events, ev)
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	router, web1, web2, app := &switchProber{}, &switchProber{}, &switchProber{}, &switchProber{}
	active := func(name string, p nightowl.Prober, deps ...string) nightowl.Check {
		return nightowl.Check{Name: name, Interval: time.Minute, Timeout: time.Second, FailAfter: 1, RecoverAfter: 1,
			Prober: p, DependsOn: deps, Fingerprint: "f"}
	}
	overdue := assertion{name: "on_time", ok: func(f nightowl.Facts) bool { return f["overdue"] != true }}
	e.SetChecks([]nightowl.Check{
		active("router", router),
		active("web1", web1, "router"),
		active("web2", web2, "router"),
		active("app", app, "web1"),
		{Name: "worker", Passive: true, FailAfter: 1, RecoverAfter: 1, Assertions: []nightowl.Assertion{overdue},
			DependsOn: []string{"router"}, Fingerprint: "f"},
	}, nil)
	ctx := context.Background()
	run := func(name string) {
		t.Helper()
		if _, err := e.RunNow(ctx, name); err != nil {
			t.Fatal(err)
		}
	}
	state := func(name string) nightowl.State {
		v, _ := e.Check(name)
		return v.State
	}
	for _, n := range []string{"router", "web1", "web2", "app"} {
		run(n)
	}
	e.Submit("worker", clock.Now(), nightowl.Facts{"overdue": false})

	clock.Advance(time.Second)
	router.down.Store(true)
	web1.down.Store(true)
	web2.down.Store(true)
	app.down.Store(true)
	before := router.runs.Load()
	run("web1")
	if got := router.runs.Load() - before; got != 1 {
		t.Errorf("web1's failure ran the router %d times, want 1", got)
	}
	run("web2")
	run("app")
	e.Submit("worker", clock.Now(), nightowl.Facts{"overdue": true})
	if got := router.runs.Load() - before; got != 1 {
		t.Errorf("the router ran %d times for four failures, want 1: it was already known down", got)
	}
	if st := state("router"); st.Status != nightowl.StatusDown {
		t.Errorf("router: %+v", st)
	}
	for _, n := range []string{"web1", "web2", "app", "worker"} {
		st := state(n)
		if st.Status != nightowl.StatusBlocked || st.BlockedBy != "router" || st.Cause != "blocked: router is down" {
			t.Errorf("%s: status %s, blocked by %q, cause %q; want blocked by router", n, st.Status, st.BlockedBy, st.Cause)
		}
	}

	if got := testutil.ToFloat64(metrics.Saved.WithLabelValues("blocked")); got != 4 {
		t.Errorf("pages saved = %v, want 4", got)
	}

	// The router comes back; web2 with it, web1 and the worker do not.
	clock.Advance(time.Second)
	router.down.Store(false)
	web2.down.Store(false)
	run("router")
	e.rechecks.Wait()
	e.rechecks.Wait() // app's recheck may follow web1's
	want := map[string]struct {
		status nightowl.Status
		by     string
		cause  string
	}{
		"web1":   {nightowl.StatusDown, "", "connection refused"},
		"web2":   {nightowl.StatusUp, "", ""},
		"app":    {nightowl.StatusBlocked, "web1", "blocked: web1 is down"},
		"worker": {nightowl.StatusDown, "", "on_time failed"},
	}
	for n, w := range want {
		st := state(n)
		if st.Status != w.status || st.BlockedBy != w.by || !strings.HasPrefix(st.Cause, w.cause) {
			t.Errorf("%s after the router recovered: status %s, blocked by %q, cause %q; want %s %q %q…", n, st.Status, st.BlockedBy, st.Cause, w.status, w.by, w.cause)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	var web1Down, workerDown *nightowl.Event
	for i, ev := range events {
		if ev.To == nightowl.StatusDown && ev.Check != "router" && ev.From != nightowl.StatusBlocked {
			t.Errorf("%s went down without being blocked first: %+v", ev.Check, ev)
		}
		switch {
		case ev.Check == "web1" && ev.To == nightowl.StatusDown:
			web1Down = &events[i]
		case ev.Check == "worker" && ev.To == nightowl.StatusDown:
			workerDown = &events[i]
		}
	}
	for n, ev := range map[string]*nightowl.Event{"web1": web1Down, "worker": workerDown} {
		if ev == nil || !strings.HasSuffix(ev.Cause, "; router has recovered") {
			t.Errorf("%s's own failure: %+v; want it to say the router recovered", n, ev)
		}
	}
}

// TestBlockedHeartbeatGetsItsGrace: a heartbeat blocked while what it
// depends on was down is given its grace once that recovers: one that
// reports meanwhile is judged on that, and nobody hears of it; one that
// stays silent is judged again after the grace, and fails in its own
// right.
func TestBlockedHeartbeatGetsItsGrace(t *testing.T) {
	clock := clocktest.New(t0)
	var mu sync.Mutex
	var events []nightowl.Event
	e, err := New(Options{Clock: clock, Store: newMemStore(), Concurrency: 4, OnEvent: func(ev nightowl.Event, _ nightowl.CheckView) {
		mu.Lock()
		events = append(events, ev)
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	redis := &switchProber{}
	overdue := assertion{name: "on_time", ok: func(f nightowl.Facts) bool { return f["overdue"] != true }}
	worker := func(name string) nightowl.Check {
		return nightowl.Check{Name: name, Passive: true, FailAfter: 1, RecoverAfter: 1, Grace: time.Minute,
			Assertions: []nightowl.Assertion{overdue}, DependsOn: []string{"redis"}, Fingerprint: "f"}
	}
	e.SetChecks([]nightowl.Check{
		{Name: "redis", Interval: time.Minute, Timeout: time.Second, FailAfter: 1, RecoverAfter: 1, Prober: redis, Fingerprint: "f"},
		worker("back"), worker("silent"),
	}, nil)
	ctx := context.Background()
	e.RunNow(ctx, "redis")
	redis.down.Store(true)
	clock.Advance(time.Second)
	for _, w := range []string{"back", "silent"} {
		e.Submit(w, clock.Now(), nightowl.Facts{"overdue": true})
	}
	clock.Advance(time.Second)
	redis.down.Store(false)
	e.RunNow(ctx, "redis")
	if !clock.BlockUntil(2, 5*time.Second) {
		t.Fatal("the two heartbeats are not waiting out their grace")
	}
	for _, w := range []string{"back", "silent"} {
		if v, _ := e.Check(w); v.State.Status != nightowl.StatusBlocked {
			t.Errorf("%s right after redis recovered: %s, want still blocked for its grace", w, v.State.Status)
		}
	}
	clock.Advance(30 * time.Second)
	e.Submit("back", clock.Now(), nightowl.Facts{"overdue": false})
	clock.Advance(30 * time.Second)
	e.rechecks.Wait()
	if v, _ := e.Check("back"); v.State.Status != nightowl.StatusUp {
		t.Errorf("back: %s, want up", v.State.Status)
	}
	v, _ := e.Check("silent")
	if v.State.Status != nightowl.StatusDown {
		t.Errorf("silent after its grace: %+v", v.State)
	}
	mu.Lock()
	defer mu.Unlock()
	var downs []string
	for _, ev := range events {
		if ev.To == nightowl.StatusDown && ev.Check != "redis" {
			downs = append(downs, ev.Check+": "+ev.Cause)
		}
	}
	if len(downs) != 1 || !strings.HasPrefix(downs[0], "silent: ") || !strings.HasSuffix(downs[0], "; redis has recovered") {
		t.Errorf("went down in their own right: %q; want silent alone, saying redis recovered", downs)
	}
}

// TestBlock covers Block's cases one by one.
func TestBlock(t *testing.T) {
	at := t0.Add(time.Minute)
	res := &nightowl.Result{Start: at, Status: nightowl.StatusDown}
	down := nightowl.State{Check: "w", Status: nightowl.StatusDown, Since: t0, Cause: "refused"}
	up := nightowl.State{Check: "w", Status: nightowl.StatusUp, Since: t0}
	blocked := nightowl.State{Check: "w", Status: nightowl.StatusBlocked, Since: t0, BlockedBy: "r", Cause: "blocked: r is down"}

	// Down already, and now the upstream is: blocked, with an event.
	st, ev := Block(down, down, nil, "r", res)
	if st.Status != nightowl.StatusBlocked || ev == nil || ev.From != nightowl.StatusDown || ev.To != nightowl.StatusBlocked || ev.Cause != "blocked: r is down: refused" || !st.Since.Equal(at) {
		t.Errorf("down → blocked: %+v, %+v", st, ev)
	}
	// Up, failing now with the upstream down: straight to blocked.
	fail := &nightowl.Event{Check: "w", Time: at, From: nightowl.StatusUp, To: nightowl.StatusDown, Cause: "refused"}
	st, ev = Block(up, down, fail, "r", res)
	if st.Status != nightowl.StatusBlocked || ev == nil || ev.From != nightowl.StatusUp || ev.To != nightowl.StatusBlocked {
		t.Errorf("up → blocked: %+v, %+v", st, ev)
	}
	// Blocked and still failing: no event, and since stays.
	again := &nightowl.Event{Check: "w", Time: at, From: nightowl.StatusBlocked, To: nightowl.StatusDown, Cause: "refused"}
	st, ev = Block(blocked, down, again, "r", res)
	if st.Status != nightowl.StatusBlocked || ev != nil || !st.Since.Equal(t0) {
		t.Errorf("blocked, still failing: %+v, %+v", st, ev)
	}
	// Blocked, failing, the upstream back: down in its own right.
	again = &nightowl.Event{Check: "w", Time: at, From: nightowl.StatusBlocked, To: nightowl.StatusDown, Cause: "refused"}
	st, ev = Block(blocked, down, again, "", res)
	if st.Status != nightowl.StatusDown || st.BlockedBy != "" || ev == nil || ev.Cause != "refused; r has recovered" || st.Cause != ev.Cause {
		t.Errorf("blocked → down: %+v, %+v", st, ev)
	}
	// Blocked and up again: up, nothing said of the upstream.
	rec := &nightowl.Event{Check: "w", Time: at, From: nightowl.StatusBlocked, To: nightowl.StatusUp, Cause: "all assertions hold"}
	st, ev = Block(blocked, up, rec, "", res)
	if st.Status != nightowl.StatusUp || st.BlockedBy != "" || ev == nil || ev.Cause != "all assertions hold" {
		t.Errorf("blocked → up: %+v, %+v", st, ev)
	}
}

// TestUpstreamInMaintenanceBlocksNothing: a check upstream that fails as
// its maintenance window expects is not down, so what depends on it fails
// in its own right; one whose failure the window does not expect is down,
// and blocks.
func TestUpstreamInMaintenanceBlocksNothing(t *testing.T) {
	clock := clocktest.New(t0)
	var expect atomic.Value
	expect.Store([]string{nightowl.ExpectAnything})
	e, err := New(Options{Clock: clock, Store: newMemStore(), Concurrency: 4,
		Windows: func(c *nightowl.Check, _ time.Time) []nightowl.ActiveWindow {
			if c.Name != "db" {
				return nil
			}
			return []nightowl.ActiveWindow{{Name: "db-upgrade", Expect: expect.Load().([]string)}}
		}})
	if err != nil {
		t.Fatal(err)
	}
	db, app := &switchProber{}, &switchProber{}
	e.SetChecks([]nightowl.Check{
		{Name: "db", Interval: time.Minute, Timeout: time.Second, FailAfter: 1, RecoverAfter: 1, Prober: db, Fingerprint: "f"},
		{Name: "app", Interval: time.Minute, Timeout: time.Second, FailAfter: 1, RecoverAfter: 1, Prober: app,
			DependsOn: []string{"db"}, Fingerprint: "f"},
	}, nil)
	ctx := context.Background()
	db.down.Store(true)
	app.down.Store(true)
	e.RunNow(ctx, "db")
	e.RunNow(ctx, "app")
	if v, _ := e.Check("db"); v.State.Status != nightowl.StatusMaintenance {
		t.Fatalf("db: %s, want maintenance", v.State.Status)
	}
	if v, _ := e.Check("app"); v.State.Status != nightowl.StatusDown || v.State.BlockedBy != "" {
		t.Errorf("app with db failing as its window expects: %+v, want down in its own right", v.State)
	}
	// The window expects only writes to fail; the probe's failure is
	// not expected, and makes db down.
	expect.Store([]string{"writable"})
	clock.Advance(time.Second)
	e.RunNow(ctx, "db")
	e.RunNow(ctx, "app")
	if v, _ := e.Check("app"); v.State.Status != nightowl.StatusBlocked || v.State.BlockedBy != "db" {
		t.Errorf("app with db failing as its window does not expect: %+v, want blocked by db", v.State)
	}
}
