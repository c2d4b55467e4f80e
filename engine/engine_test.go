package engine

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/clocktest"
)

// memStore is a Store kept in memory, for engine tests.
type memStore struct {
	mu      sync.Mutex
	results []nightowl.Result
	states  map[string]nightowl.State
	events  []nightowl.Event
	saves   int
}

func newMemStore() *memStore { return &memStore{states: map[string]nightowl.State{}} }

func (m *memStore) SaveResult(r nightowl.Result) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.results = append(m.results, r)
}
func (m *memStore) CountResult(r nightowl.Result) { m.SaveResult(r) }
func (m *memStore) SaveState(s nightowl.State) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.states[s.Check] = s
	m.saves++
}
func (m *memStore) AddEvent(_ context.Context, e nightowl.Event) (nightowl.Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e.ID = int64(len(m.events) + 1)
	m.events = append(m.events, e)
	return e, nil
}
func (m *memStore) Flush(context.Context) error { return nil }
func (m *memStore) States(context.Context) ([]nightowl.State, error) {
	return nil, nil
}
func (m *memStore) Results(context.Context, string, int) ([]nightowl.Result, error) { return nil, nil }
func (m *memStore) Events(context.Context, string, int) ([]nightowl.Event, error)   { return nil, nil }
func (m *memStore) Rollups(context.Context, string, nightowl.Period, time.Time) ([]nightowl.Rollup, error) {
	return nil, nil
}
func (m *memStore) SavePing(nightowl.Ping)           {}
func (m *memStore) SaveHeartbeat(nightowl.Heartbeat) {}
func (m *memStore) Pings(context.Context, string, int) ([]nightowl.Ping, error) {
	return nil, nil
}
func (m *memStore) Heartbeats(context.Context) ([]nightowl.Heartbeat, error) { return nil, nil }
func (m *memStore) Forget(context.Context, []string) error                   { return nil }
func (m *memStore) Close() error                                             { return nil }

func (m *memStore) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.results)
}

// fakeProber answers with whatever its func says.
type fakeProber struct {
	fn func(ctx context.Context) nightowl.Result
}

func (f fakeProber) Probe(ctx context.Context) nightowl.Result { return f.fn(ctx) }

func okProber() nightowl.Prober {
	return fakeProber{func(context.Context) nightowl.Result { return nightowl.Result{OK: true} }}
}

var t0 = time.Date(2026, 3, 17, 22, 0, 0, 0, time.UTC)

func newTestEngine(t *testing.T, clock nightowl.Clock, store nightowl.Store) *Engine {
	t.Helper()
	e, err := New(Options{Clock: clock, Store: store, Concurrency: 4})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func checks(n int, interval time.Duration, p nightowl.Prober) []nightowl.Check {
	out := make([]nightowl.Check, n)
	for i := range out {
		out[i] = nightowl.Check{Name: string(rune('a' + i)), Interval: interval, Timeout: time.Second,
			FailAfter: 2, RecoverAfter: 1, Prober: p, Fingerprint: "f"}
	}
	return out
}

func TestFirstRunsSpreadEvenly(t *testing.T) {
	clock := clocktest.New(t0)
	e := newTestEngine(t, clock, newMemStore())
	e.SetChecks(checks(4, time.Minute, okProber()), nil)
	due := e.NextDue()
	for name, want := range map[string]time.Duration{"a": 0, "b": 15 * time.Second, "c": 30 * time.Second, "d": 45 * time.Second} {
		if got := due[name].Sub(t0); got != want {
			t.Errorf("%s first due at +%v, want +%v", name, got, want)
		}
	}
}

func TestFixedRate(t *testing.T) {
	tests := []struct {
		name     string
		now      time.Duration // when the dispatcher gets to the run, after t0
		running  bool
		wantJobs int
		wantNext time.Duration
	}{
		{"on time", 0, false, 1, time.Minute},
		{"late start keeps the grid", 5 * time.Second, false, 1, time.Minute},
		{"a whole interval behind skips missed slots", 150 * time.Second, false, 1, 180 * time.Second},
		{"still probing skips the slot", 0, true, 0, time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := clocktest.New(t0)
			e := newTestEngine(t, clock, newMemStore())
			e.SetChecks(checks(1, time.Minute, okProber()), nil)
			if tt.running {
				e.checks["a"].running.Store(true)
			}
			jobs := e.popDue(t0.Add(tt.now), nil)
			if len(jobs) != tt.wantJobs {
				t.Fatalf("%d jobs, want %d", len(jobs), tt.wantJobs)
			}
			if len(jobs) == 1 && !jobs[0].due.Equal(t0) {
				t.Errorf("job due %v, want %v", jobs[0].due, t0)
			}
			if got := e.NextDue()["a"].Sub(t0); got != tt.wantNext {
				t.Errorf("next due +%v, want +%v", got, tt.wantNext)
			}
		})
	}
}

func TestRunsOnFakeClockAndThresholds(t *testing.T) {
	clock := clocktest.New(t0)
	store := newMemStore()
	var mu sync.Mutex
	healthy := true
	p := fakeProber{func(context.Context) nightowl.Result {
		mu.Lock()
		defer mu.Unlock()
		if healthy {
			return nightowl.Result{OK: true}
		}
		return nightowl.Result{OK: false, Error: "connect: connection refused"}
	}}
	var events []nightowl.Event
	var evMu sync.Mutex
	e, _ := New(Options{Clock: clock, Store: store, Concurrency: 2, OnEvent: func(ev nightowl.Event, _ nightowl.CheckView) {
		evMu.Lock()
		events = append(events, ev)
		evMu.Unlock()
	}})
	e.SetChecks(checks(1, 30*time.Second, p), nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e.Start(ctx)
	defer e.Stop()

	step := func(wantResults int) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for store.count() < wantResults {
			if time.Now().After(deadline) {
				t.Fatalf("%d results, want %d", store.count(), wantResults)
			}
			time.Sleep(time.Millisecond)
		}
		// Wait for the dispatcher to sleep on the clock again.
		if !clock.BlockUntil(1, 5*time.Second) {
			t.Fatal("dispatcher did not wait on the clock")
		}
	}
	status := func() nightowl.Status {
		v, _ := e.Check("a")
		return v.State.Status
	}
	step(1)
	if s := status(); s != nightowl.StatusUp {
		t.Fatalf("status %s after first run, want up", s)
	}
	mu.Lock()
	healthy = false
	mu.Unlock()
	clock.Advance(30 * time.Second)
	step(2)
	if s := status(); s != nightowl.StatusUp {
		t.Fatalf("status %s after one failure with fail_after 2, want up", s)
	}
	clock.Advance(30 * time.Second)
	step(3)
	if s := status(); s != nightowl.StatusDown {
		t.Fatalf("status %s after two failures, want down", s)
	}
	mu.Lock()
	healthy = true
	mu.Unlock()
	clock.Advance(30 * time.Second)
	step(4)
	if s := status(); s != nightowl.StatusUp {
		t.Fatalf("status %s after recovery, want up", s)
	}
	// The event of the last change is told after its result is stored;
	// Stop waits for that.
	e.Stop()
	evMu.Lock()
	defer evMu.Unlock()
	// The first result being up is not an event: nothing changed for
	// anyone.
	if len(events) != 2 {
		t.Fatalf("events %+v, want up→down, down→up", events)
	}
	if events[0].To != nightowl.StatusDown || events[0].Cause != "connect: connection refused (2 consecutive runs)" {
		t.Errorf("down event = %+v", events[0])
	}
	if !events[0].Time.Equal(t0.Add(time.Minute)) {
		t.Errorf("down event at %v, want %v", events[0].Time, t0.Add(time.Minute))
	}
	for i, r := range store.results {
		if want := t0.Add(time.Duration(i) * 30 * time.Second); !r.Due.Equal(want) {
			t.Errorf("result %d due %v, want %v", i, r.Due, want)
		}
	}
}

// blockingStore holds the first result it is given until released: the
// run that stored it is still recording.
type blockingStore struct {
	*memStore
	saved   chan struct{}
	release chan struct{}
	once    sync.Once
}

func (b *blockingStore) SaveResult(r nightowl.Result) {
	b.memStore.SaveResult(r)
	b.once.Do(func() {
		close(b.saved)
		<-b.release
	})
}

// A slot that comes while the previous run records what it saw (its result
// already stored) runs once that recording ends: the bookkeeping of one run
// does not cost the next one its slot.
func TestSlotDuringRecordingRuns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clock := clocktest.New(t0)
		store := &blockingStore{memStore: newMemStore(), saved: make(chan struct{}), release: make(chan struct{})}
		m := NewMetrics(prometheus.NewRegistry())
		e, err := New(Options{Clock: clock, Store: store, Concurrency: 2, Metrics: m})
		if err != nil {
			t.Fatal(err)
		}
		e.SetChecks(checks(1, 30*time.Second, okProber()), nil)
		e.Start(context.Background())
		defer e.Stop()
		<-store.saved
		synctest.Wait() // the dispatcher waits for the next slot
		clock.Advance(30 * time.Second)
		synctest.Wait() // the slot came while the first run records
		close(store.release)
		synctest.Wait()
		if n := store.count(); n != 2 {
			t.Fatalf("%d results, want 2: the slot that came while the first run recorded was lost", n)
		}
		if got := testutil.ToFloat64(m.Skipped); got != 0 {
			t.Errorf("%v slots counted as skipped, want 0", got)
		}
		store.mu.Lock()
		defer store.mu.Unlock()
		if due := store.results[1].Due; !due.Equal(t0.Add(30 * time.Second)) {
			t.Errorf("second run due %v, want %v", due, t0.Add(30*time.Second))
		}
	})
}

// A slot that comes while the previous run still probes is skipped.
func TestSlotDuringProbeSkipped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clock := clocktest.New(t0)
		store := newMemStore()
		release := make(chan struct{})
		var probes atomic.Int32
		p := fakeProber{func(context.Context) nightowl.Result {
			if probes.Add(1) == 1 {
				<-release
			}
			return nightowl.Result{OK: true}
		}}
		m := NewMetrics(prometheus.NewRegistry())
		e, err := New(Options{Clock: clock, Store: store, Concurrency: 2, Metrics: m})
		if err != nil {
			t.Fatal(err)
		}
		e.SetChecks(checks(1, 30*time.Second, p), nil)
		e.Start(context.Background())
		defer e.Stop()
		synctest.Wait() // the first run probes; the dispatcher waits
		clock.Advance(30 * time.Second)
		synctest.Wait()
		close(release)
		synctest.Wait()
		if n, got := store.count(), probes.Load(); n != 1 || got != 1 {
			t.Fatalf("%d results of %d probes, want 1 of 1: a slot ran while the previous run probed", n, got)
		}
		if got := testutil.ToFloat64(m.Skipped); got != 1 {
			t.Errorf("%v slots counted as skipped, want 1", got)
		}
	})
}

func TestSetChecksKeepsUnchanged(t *testing.T) {
	clock := clocktest.New(t0)
	e := newTestEngine(t, clock, newMemStore())
	cs := checks(2, time.Minute, okProber())
	e.SetChecks(cs, nil)
	before := e.NextDue()
	e.checks["a"].state.Status = nightowl.StatusDown

	clock.Advance(10 * time.Second)
	cs2 := checks(3, time.Minute, okProber())
	cs2[1].Fingerprint = "changed"
	e.SetChecks(cs2, nil)
	after := e.NextDue()
	if !after["a"].Equal(before["a"]) {
		t.Errorf("unchanged check rescheduled: %v → %v", before["a"], after["a"])
	}
	if v, _ := e.Check("a"); v.State.Status != nightowl.StatusDown {
		t.Errorf("unchanged check lost its state: %s", v.State.Status)
	}
	if after["b"].Equal(before["b"]) {
		t.Errorf("changed check kept its old slot")
	}
	if _, ok := after["c"]; !ok {
		t.Errorf("new check not scheduled")
	}
	e.SetChecks(cs2[:1], nil)
	if _, ok := e.Check("b"); ok {
		t.Errorf("removed check still listed")
	}
	if jobs := e.popDue(t0.Add(time.Hour), nil); len(jobs) != 1 || jobs[0].r.check.Name != "a" {
		t.Errorf("removed checks still run: %d jobs", len(jobs))
	}
}

func TestTimeoutReachesProbe(t *testing.T) {
	c := nightowl.Check{Name: "slow", Timeout: 20 * time.Millisecond, Prober: fakeProber{func(ctx context.Context) nightowl.Result {
		<-ctx.Done()
		return nightowl.Result{Error: "timed out"}
	}}}
	start := time.Now()
	r := Run(context.Background(), &c, nil)
	if time.Since(start) > 2*time.Second || r.Status != nightowl.StatusDown || r.Error != "timed out" {
		t.Errorf("Run = %+v", r)
	}
}

func TestPausedIsNotScheduled(t *testing.T) {
	clock := clocktest.New(t0)
	store := newMemStore()
	e := newTestEngine(t, clock, store)
	cs := checks(1, time.Minute, okProber())
	cs[0].Paused = true
	e.SetChecks(cs, nil)
	if len(e.NextDue()) != 0 {
		t.Error("paused check scheduled")
	}
	if v, _ := e.Check("a"); v.State.Status != nightowl.StatusPaused {
		t.Errorf("status %s, want paused", v.State.Status)
	}
}

func TestSubmitPassive(t *testing.T) {
	clock := clocktest.New(t0)
	store := newMemStore()
	e := newTestEngine(t, clock, store)
	overdue := assertion{name: "on_time", ok: func(f nightowl.Facts) bool { return f["overdue"] != true }}
	e.SetChecks([]nightowl.Check{{Name: "backup", Type: "heartbeat", Passive: true, FailAfter: 1, RecoverAfter: 1,
		Assertions: []nightowl.Assertion{overdue}, Fingerprint: "f"}}, nil)
	if len(e.NextDue()) != 0 {
		t.Fatal("a passive check was scheduled")
	}
	if _, err := e.RunNow(context.Background(), "backup"); nightowl.ErrorCode(err) != nightowl.EInvalid {
		t.Errorf("RunNow on a heartbeat: %v", err)
	}
	for _, step := range []struct {
		overdue bool
		want    nightowl.Status
	}{{false, nightowl.StatusUp}, {true, nightowl.StatusDown}, {false, nightowl.StatusUp}} {
		res, err := e.Submit("backup", clock.Now(), nightowl.Facts{"overdue": step.overdue})
		if err != nil {
			t.Fatal(err)
		}
		v, _ := e.Check("backup")
		if res.Status != step.want || v.State.Status != step.want {
			t.Errorf("overdue=%v: result %s, state %s, want %s", step.overdue, res.Status, v.State.Status, step.want)
		}
	}
	if _, err := e.Submit("nope", clock.Now(), nil); nightowl.ErrorCode(err) != nightowl.ENotFound {
		t.Errorf("Submit to an unknown check: %v", err)
	}
}

// assertion is a hand-made nightowl.Assertion.
type assertion struct {
	name string
	ok   func(nightowl.Facts) bool
}

func (a assertion) Name() string                { return a.name }
func (a assertion) Severity() nightowl.Severity { return nightowl.SeverityCritical }
func (a assertion) Source() string              { return a.name }
func (a assertion) Eval(f nightowl.Facts) nightowl.AssertionResult {
	if a.ok(f) {
		return nightowl.AssertionResult{Name: a.name, Severity: nightowl.SeverityCritical, OK: true}
	}
	return nightowl.AssertionResult{Name: a.name, Severity: nightowl.SeverityCritical, Message: "failed"}
}

// TestStateWritesAreThinned: a steady check's state is written when
// something that matters changes, every stateEvery runs otherwise, and on
// Close.
func TestStateWritesAreThinned(t *testing.T) {
	clock := clocktest.New(t0)
	store := newMemStore()
	e := newTestEngine(t, clock, store)
	ok := assertion{name: "on_time", ok: func(f nightowl.Facts) bool { return f["overdue"] != true }}
	e.SetChecks([]nightowl.Check{{Name: "job", Passive: true, FailAfter: 1, RecoverAfter: 1,
		Assertions: []nightowl.Assertion{ok}, Fingerprint: "f"}}, nil)
	for range 3 * stateEvery {
		e.Submit("job", clock.Now(), nightowl.Facts{"overdue": false})
	}
	if store.saves > 4 {
		t.Errorf("%d state writes for %d steady runs", store.saves, 3*stateEvery)
	}
	before := store.saves
	e.Submit("job", clock.Now(), nightowl.Facts{"overdue": true})
	if store.saves != before+1 || store.states["job"].Status != nightowl.StatusDown {
		t.Errorf("a status change was not written at once: %+v", store.states["job"])
	}
	e.Submit("job", clock.Now(), nightowl.Facts{"overdue": true})
	e.Close()
	if got := store.states["job"].Runs; got != 3*stateEvery+2 {
		t.Errorf("after Close the stored state has %d runs, want %d", got, 3*stateEvery+2)
	}
}

// TestStopLetsRunsFinish: a run under way at Stop finishes within its own
// timeout instead of being cancelled into a false failure.
func TestStopLetsRunsFinish(t *testing.T) {
	store := newMemStore()
	started := make(chan struct{}, 1)
	p := fakeProber{func(ctx context.Context) nightowl.Result {
		started <- struct{}{}
		select {
		case <-time.After(100 * time.Millisecond):
			return nightowl.Result{OK: true}
		case <-ctx.Done():
			return nightowl.Result{Error: "cancelled: " + ctx.Err().Error()}
		}
	}}
	e, _ := New(Options{Store: store, Concurrency: 1})
	e.SetChecks(checks(1, time.Hour, p), nil)
	e.Start(context.Background())
	<-started
	e.Stop()
	store.mu.Lock()
	defer store.mu.Unlock()
	if len(store.results) != 1 || store.results[0].Status != nightowl.StatusUp {
		t.Errorf("results at stop = %+v, want one that finished up", store.results)
	}
}

// TestOwnsAndAdopt: a node runs only the checks it owns; the others take
// their state from the store; a check it takes over continues from the
// state its last owner recorded and runs at once when it is overdue.
func TestOwnsAndAdopt(t *testing.T) {
	var mu sync.Mutex
	owned := map[string]bool{"a": true}
	e, err := New(Options{Clock: clocktest.New(t0), Store: newMemStore(), Concurrency: 4, Owns: func(c string) bool {
		mu.Lock()
		defer mu.Unlock()
		return owned[c]
	}})
	if err != nil {
		t.Fatal(err)
	}
	e.SetChecks(checks(3, time.Minute, okProber()), nil)
	var ran []string
	for _, j := range e.popDue(t0.Add(2*time.Minute), nil) {
		ran = append(ran, j.r.check.Name)
	}
	if !slices.Equal(ran, []string{"a"}) {
		t.Fatalf("ran %v, want only the owned a", ran)
	}

	now := t0.Add(2 * time.Minute)
	elsewhere := []nightowl.State{
		{Check: "a", Status: nightowl.StatusDown},                                                 // ours: memory is newer
		{Check: "b", Status: nightowl.StatusDown, Streak: 1, LastRun: now.Add(-90 * time.Second)}, // overdue
		{Check: "c", Status: nightowl.StatusUp, LastRun: now.Add(-10 * time.Second)},              // ran just now elsewhere
	}
	e.Adopt(elsewhere, nil)
	for name, want := range map[string]nightowl.Status{"a": nightowl.StatusUnknown, "b": nightowl.StatusDown, "c": nightowl.StatusUp} {
		if v, _ := e.Check(name); v.State.Status != want {
			t.Errorf("%s: %s, want %s", name, v.State.Status, want)
		}
	}

	mu.Lock()
	owned["b"], owned["c"] = true, true
	mu.Unlock()
	e.clock = clocktest.New(now)
	e.Adopt(elsewhere, []string{"b", "c"})
	if due := e.NextDue(); !due["b"].After(now) {
		t.Errorf("b moved before this node holds it: %s", due["b"])
	}
	e.RunOverdue([]string{"b", "c"})
	due := e.NextDue()
	if !due["b"].Equal(now) {
		t.Errorf("overdue b next at %s, want now (%s)", due["b"], now)
	}
	if !due["c"].After(now) {
		t.Errorf("c, run 10s ago elsewhere, moved to %s", due["c"])
	}
	if v, _ := e.Check("b"); v.State.Streak != 1 {
		t.Errorf("b's streak %d, want the 1 its last owner recorded", v.State.Streak)
	}
}

func TestLate(t *testing.T) {
	clock := clocktest.New(t0)
	e := newTestEngine(t, clock, newMemStore())
	e.SetChecks(checks(2, time.Minute, okProber()), []nightowl.State{{Check: "b", LastRun: t0.Add(-time.Hour)}})
	if n, _ := e.Late(); n != 0 {
		t.Fatalf("before Start: %d late", n)
	}
	e.startedAt = t0
	e.checks["a"].state.LastRun = t0.Add(90 * time.Second)
	clock.Set(t0.Add(2*time.Minute + time.Second))
	if n, _ := e.Late(); n != 0 {
		t.Fatalf("within twice the interval plus the timeout of the start: %d late", n)
	}
	clock.Set(t0.Add(2*time.Minute + 2*time.Second))
	if n, name := e.Late(); n != 1 || name != "b" {
		t.Fatalf("late: %d (%s), want b only", n, name)
	}
}

// The late checks are exported, as a number that is there from the start:
// an alert needs a series that exists before the trouble does.
func TestLateMetric(t *testing.T) {
	clock := clocktest.New(t0)
	e := newTestEngine(t, clock, newMemStore())
	e.SetChecks(checks(2, time.Minute, okProber()), []nightowl.State{{Check: "b", LastRun: t0.Add(-time.Hour)}})
	late := func() string {
		t.Helper()
		reg := prometheus.NewRegistry()
		reg.MustRegister(Collector{E: e})
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == "nightowl_checks_late" {
				return fmt.Sprint(mf.GetMetric()[0].GetGauge().GetValue())
			}
		}
		return "absent"
	}
	if got := late(); got != "0" {
		t.Fatalf("before Start: nightowl_checks_late %s, want 0", got)
	}
	e.startedAt = t0
	e.checks["a"].state.LastRun = t0.Add(90 * time.Second)
	clock.Set(t0.Add(2*time.Minute + 2*time.Second))
	if got := late(); got != "1" {
		t.Fatalf("nightowl_checks_late %s, want 1 (b)", got)
	}
}

// TestResultOfACheckThatMovedIsDropped: a run that ends after its check
// moved to another node records nothing here, and it is not idle until it ends.
func TestResultOfACheckThatMovedIsDropped(t *testing.T) {
	var owned atomic.Bool
	owned.Store(true)
	release := make(chan struct{})
	slow := fakeProber{func(context.Context) nightowl.Result {
		<-release
		return nightowl.Result{OK: false}
	}}
	store := newMemStore()
	e, err := New(Options{Clock: clocktest.New(t0), Store: store, Concurrency: 4, Owns: func(string) bool { return owned.Load() }})
	if err != nil {
		t.Fatal(err)
	}
	e.SetChecks(checks(1, time.Minute, slow), nil)
	done := make(chan struct{})
	go func() { e.RunNow(context.Background(), "a"); close(done) }()
	for e.checks["a"].manual.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	owned.Store(false) // the check moves while its run is under way
	if idle := e.Idle([]string{"a"}); len(idle) != 0 {
		t.Fatalf("idle while its run is under way: %v", idle)
	}
	close(release)
	<-done
	if idle := e.Idle([]string{"a"}); len(idle) != 1 {
		t.Fatalf("not idle after its run: %v", idle)
	}
	if v, _ := e.Check("a"); v.State.Runs != 0 || v.Last != nil || store.count() != 0 {
		t.Fatalf("the moved check's result was recorded: %+v, %d stored", v.State, store.count())
	}
}

// TestHeartbeatReportOfACheckNotOwnedIsDropped: in a cluster every node's
// tracker reaches a heartbeat's deadlines, but only the report of the node
// that holds its lease counts.
func TestHeartbeatReportOfACheckNotOwnedIsDropped(t *testing.T) {
	var owned atomic.Bool
	store := newMemStore()
	e, err := New(Options{Clock: clocktest.New(t0), Store: store, Owns: func(string) bool { return owned.Load() }})
	if err != nil {
		t.Fatal(err)
	}
	onTime := assertion{name: "on_time", ok: func(f nightowl.Facts) bool { return f["overdue"] != true }}
	e.SetChecks([]nightowl.Check{{Name: "backup", Type: "heartbeat", Passive: true, FailAfter: 1, RecoverAfter: 1,
		Assertions: []nightowl.Assertion{onTime}, Fingerprint: "f"}}, nil)
	e.Submit("backup", t0, nightowl.Facts{"overdue": true})
	if v, _ := e.Check("backup"); v.State.Status != nightowl.StatusUnknown || v.Last != nil || store.count() != 0 {
		t.Fatalf("a report of a heartbeat owned elsewhere was recorded: %+v", v.State)
	}
	owned.Store(true)
	e.Submit("backup", t0, nightowl.Facts{"overdue": true})
	if v, _ := e.Check("backup"); v.State.Status != nightowl.StatusDown {
		t.Fatalf("the owner's report was not recorded: %+v", v.State)
	}
}

// TestCloseWritesOnlyOwnStates: a node that stops does not write its lagging
// copies of the states other nodes own.
func TestCloseWritesOnlyOwnStates(t *testing.T) {
	store := newMemStore()
	e, err := New(Options{Clock: clocktest.New(t0), Store: store, Concurrency: 4, Owns: func(c string) bool { return c == "a" }})
	if err != nil {
		t.Fatal(err)
	}
	e.SetChecks(checks(2, time.Minute, okProber()), nil)
	e.Close()
	store.mu.Lock()
	defer store.mu.Unlock()
	if _, ok := store.states["b"]; ok || len(store.states) != 1 {
		t.Fatalf("states written at close: %v", store.states)
	}
}

// TestRunNowAfterAPanic: a manual run that panics (here in an assertion:
// the engine turns a probe's panic into a result) still ends: the calls
// that joined it get an error, and the next call runs the check again
// instead of waiting for ever.
func TestRunNowAfterAPanic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		var calls atomic.Int32
		p := fakeProber{func(context.Context) nightowl.Result {
			if calls.Add(1) == 1 {
				<-release
			}
			return nightowl.Result{OK: true}
		}}
		bug := assertion{name: "bug", ok: func(nightowl.Facts) bool {
			if calls.Load() == 1 {
				panic("assertion bug")
			}
			return true
		}}
		cs := checks(1, time.Minute, p)
		cs[0].Assertions = []nightowl.Assertion{bug}
		e := newTestEngine(t, clocktest.New(t0), newMemStore())
		e.SetChecks(cs, nil)

		panicked := make(chan any, 1)
		go func() {
			defer func() { panicked <- recover() }()
			e.RunNow(context.Background(), "a")
		}()
		synctest.Wait() // the first run is under way
		type outcome struct {
			res nightowl.Result
			err error
		}
		joined := make(chan outcome, 1)
		go func() {
			res, err := e.RunNow(context.Background(), "a")
			joined <- outcome{res, err}
		}()
		synctest.Wait() // the second call waits for the first run
		close(release)
		if p := <-panicked; p == nil {
			t.Fatal("the panic of the run was swallowed")
		}
		if o := <-joined; nightowl.ErrorCode(o.err) != nightowl.EInternal {
			t.Fatalf("a call that joined the run that panicked: %+v, %v; want an internal error", o.res, o.err)
		}
		res, err := e.RunNow(context.Background(), "a")
		if err != nil || !res.OK || calls.Load() != 2 {
			t.Fatalf("the next run: %+v, %v after %d probes", res, err, calls.Load())
		}
	})
}

// TestProbePanicIsADownResult: a probe that panics gives a failed result
// with the panic as its error and its duration, on the schedule and in
// Run alike, and the engine goes on running it.
func TestProbePanicIsADownResult(t *testing.T) {
	var calls atomic.Int32
	p := fakeProber{func(context.Context) nightowl.Result {
		calls.Add(1)
		time.Sleep(time.Millisecond)
		panic("probe bug")
	}}
	c := checks(1, time.Minute, p)[0]
	c.FailAfter = 1
	res := Run(context.Background(), &c, clocktest.New(t0))
	if res.OK || res.Status != nightowl.StatusDown || res.Error != "probe failed unexpectedly: probe bug" {
		t.Fatalf("Run of a probe that panics: %+v", res)
	}
	d, ok := res.Facts["duration"].(float64)
	if !ok || d <= 0 || time.Duration(res.Duration) <= 0 {
		t.Fatalf("no duration for a probe that panicked: %v, facts %v", res.Duration, res.Facts)
	}

	e := newTestEngine(t, clocktest.New(t0), newMemStore())
	e.SetChecks([]nightowl.Check{c}, nil)
	for i := range 2 {
		res, err := e.RunNow(context.Background(), c.Name)
		if err != nil || res.OK || res.Error != "probe failed unexpectedly: probe bug" {
			t.Fatalf("run %d of a probe that panics: %+v, %v", i, res, err)
		}
	}
	if v, _ := e.Check(c.Name); v.State.Status != nightowl.StatusDown || calls.Load() != 3 {
		t.Fatalf("after two runs that panicked: %+v, %d probes", v.State, calls.Load())
	}
}
