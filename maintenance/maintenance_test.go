package maintenance

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/clocktest"
	"github.com/nightowl/nightowl/sqlite"
)

var t0 = time.Date(2026, 3, 17, 21, 0, 0, 0, time.UTC)

// assertion is a named assertion for the checks of these tests.
type assertion string

func (a assertion) Name() string                                 { return string(a) }
func (a assertion) Severity() nightowl.Severity                  { return nightowl.SeverityCritical }
func (a assertion) Source() string                               { return "true" }
func (a assertion) Eval(nightowl.Facts) nightowl.AssertionResult { return nightowl.AssertionResult{} }

type fixture struct {
	t      *testing.T
	clock  *clocktest.Fake
	store  *sqlite.Store
	r      *Runner
	config []nightowl.Window

	mu           sync.Mutex
	status       map[string]nightowl.Status
	ran          []string
	notRecovered []string
	events       []string
}

func (f *fixture) checks() []nightowl.CheckView {
	f.mu.Lock()
	defer f.mu.Unlock()
	mk := func(name, tier string, as ...string) nightowl.CheckView {
		c := nightowl.Check{Name: name, Labels: map[string]string{"tier": tier}}
		for _, a := range as {
			c.Assertions = append(c.Assertions, assertion(a))
		}
		st := f.status[name]
		if st == "" {
			st = nightowl.StatusUp
		}
		return nightowl.CheckView{Check: c, State: nightowl.State{Check: name, Status: st}}
	}
	return []nightowl.CheckView{
		mk("math-site", "web", "ok_status", "writable", "site_writable"),
		mk("bio-site", "web", "ok_status", "writable", "site_writable"),
		mk("math-db", "db", "replicating"),
	}
}

func newFixture(t *testing.T, config ...nightowl.Window) *fixture {
	t.Helper()
	f := &fixture{t: t, clock: clocktest.New(t0), status: map[string]nightowl.Status{}, config: config}
	path := filepath.Join(t.TempDir(), "m.db")
	var err error
	f.store, err = sqlite.Open(context.Background(), sqlite.Options{Path: path, Now: f.clock.Now, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.store.Close() })
	f.restart()
	return f
}

// restart builds a new runner on the same store, as a new process would.
func (f *fixture) restart() {
	f.t.Helper()
	r, err := New(context.Background(), f.config, Options{
		Store: f.store, Clock: f.clock, Logger: slog.New(slog.DiscardHandler),
		Checks: f.checks,
		Run: func(ctx context.Context, name string) error {
			f.mu.Lock()
			f.ran = append(f.ran, name)
			f.mu.Unlock()
			return nil
		},
		AddEvent: func(ctx context.Context, e nightowl.Event) error {
			f.mu.Lock()
			f.events = append(f.events, e.Check+": "+e.Cause)
			f.mu.Unlock()
			return nil
		},
		NotRecovered: func(ctx context.Context, v nightowl.CheckView, w *nightowl.Window, stage int) {
			f.mu.Lock()
			f.notRecovered = append(f.notRecovered, fmt.Sprintf("%s %s %d", v.Check.Name, w.Name, stage))
			f.mu.Unlock()
		},
	})
	if err != nil {
		f.t.Fatal(err)
	}
	f.r = r
}

func (f *fixture) at(d time.Duration) time.Time {
	f.clock.Set(t0.Add(d))
	return f.r.Tick(context.Background())
}

// take returns and clears what was recorded.
func (f *fixture) take() (ran, notRecovered, events []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ran, notRecovered, events = f.ran, f.notRecovered, f.events
	f.ran, f.notRecovered, f.events = nil, nil, nil
	slices.Sort(ran)
	slices.Sort(notRecovered)
	return ran, notRecovered, events
}

func (f *fixture) active(check string, d time.Duration) []string {
	var c nightowl.Check
	for _, v := range f.checks() {
		if v.Check.Name == check {
			c = v.Check
		}
	}
	var out []string
	for _, w := range f.r.Active(&c, t0.Add(d)) {
		out = append(out, w.Name)
	}
	return out
}

// failover is the SPEC's window: one hour from t0+1h, web checks, writable.
func failover() nightowl.Window {
	return nightowl.Window{
		ID: "march-failover", Name: "march-failover", Source: SourceConfig,
		Start: t0.Add(time.Hour), End: t0.Add(2 * time.Hour),
		Checks: nightowl.Selector{Labels: map[string]string{"tier": "web"}},
		Expect: []string{"writable"},
		Verify: nightowl.Verify{Within: 10 * time.Minute, AgainAfter: []time.Duration{time.Hour}},
	}
}

func TestOneOffWindowEndsAndVerifies(t *testing.T) {
	f := newFixture(t, failover())
	if next := f.at(0); !next.Equal(t0.Add(time.Hour)) {
		t.Fatalf("next boundary %s, want the start", next)
	}
	if got := f.active("math-site", 59*time.Minute); len(got) != 0 {
		t.Fatalf("active before the start: %v", got)
	}
	if got := f.active("math-site", time.Hour); !slices.Equal(got, []string{"march-failover"}) {
		t.Fatalf("active at the start: %v", got)
	}
	if got := f.active("math-db", 90*time.Minute); len(got) != 0 {
		t.Fatalf("a check out of scope is in the window: %v", got)
	}
	if next := f.at(time.Hour); !next.Equal(t0.Add(2 * time.Hour)) {
		t.Fatalf("next boundary %s, want the end", next)
	}
	_, _, events := f.take()
	if len(events) != 2 || !strings.Contains(events[0], "march-failover started; expects writable") {
		t.Fatalf("start events: %v", events)
	}

	// The end: every check in scope runs at once.
	f.status["bio-site"] = nightowl.StatusDown
	f.status["math-site"] = nightowl.StatusDown
	next := f.at(2 * time.Hour)
	ran, nr, events := f.take()
	if !slices.Equal(ran, []string{"bio-site", "math-site"}) || len(nr) != 0 {
		t.Fatalf("at the end: ran %v, not recovered %v", ran, nr)
	}
	if len(events) != 2 || !strings.Contains(events[0], "ended; running every check in scope") {
		t.Fatalf("end events: %v", events)
	}
	if !next.Equal(t0.Add(2*time.Hour + 10*time.Minute)) {
		t.Fatalf("next %s, want verify.within after the end", next)
	}
	// math-site recovered; bio-site did not.
	f.status["math-site"] = nightowl.StatusUp
	f.at(2*time.Hour + 9*time.Minute)
	if _, nr, _ := f.take(); len(nr) != 0 {
		t.Fatalf("verified early: %v", nr)
	}
	next = f.at(2*time.Hour + 10*time.Minute)
	_, nr, events = f.take()
	if !slices.Equal(nr, []string{"bio-site march-failover 0"}) {
		t.Fatalf("not recovered after within: %v", nr)
	}
	if !strings.Contains(events[0], "verified 10m after maintenance march-failover: not recovered: bio-site") {
		t.Fatalf("verify events: %v", events)
	}
	if !next.Equal(t0.Add(3 * time.Hour)) {
		t.Fatalf("next %s, want again_after", next)
	}
	// A restart between verifications neither repeats nor skips one.
	f.restart()
	f.at(2*time.Hour + 30*time.Minute)
	if ran, nr, _ := f.take(); len(ran)+len(nr) != 0 {
		t.Fatalf("a restart repeated work: ran %v, not recovered %v", ran, nr)
	}
	next = f.at(3 * time.Hour)
	if _, nr, _ := f.take(); !slices.Equal(nr, []string{"bio-site march-failover 1"}) {
		t.Fatalf("again_after: %v", nr)
	}
	if !next.IsZero() {
		t.Fatalf("next %s after the last verification, want nothing", next)
	}
}

func TestEndWhileDown(t *testing.T) {
	f := newFixture(t, failover())
	f.at(90 * time.Minute) // seen in force
	f.take()
	// The server is down from 1h30 to 5h; the window ended at 2h.
	f.clock.Set(t0.Add(5 * time.Hour))
	f.restart()
	f.status["math-site"] = nightowl.StatusDown
	next := f.r.Tick(context.Background())
	ran, _, events := f.take()
	if !slices.Equal(ran, []string{"bio-site", "math-site"}) || !strings.Contains(events[0], "while nightowl was not running") {
		t.Fatalf("at the next start: ran %v, events %v", ran, events)
	}
	// Checks get verify.within from now, not from the long-past end.
	if !next.Equal(t0.Add(5*time.Hour + 10*time.Minute)) {
		t.Fatalf("next %s", next)
	}
	f.at(5*time.Hour + 10*time.Minute)
	if _, nr, _ := f.take(); !slices.Equal(nr, []string{"math-site march-failover 0"}) {
		t.Fatalf("not recovered: %v", nr)
	}
}

func TestWindowsFirstSeenAfterTheyEndedAreLeftAlone(t *testing.T) {
	f := newFixture(t, failover())
	f.clock.Set(t0.Add(5 * time.Hour))
	f.restart()
	f.r.Tick(context.Background())
	if ran, nr, _ := f.take(); len(ran)+len(nr) != 0 {
		t.Fatalf("a window that ended before nightowl knew it: ran %v, not recovered %v", ran, nr)
	}
}

func TestAdHocWindowEndedByHand(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.at(0)
	bad := []struct {
		w    nightowl.Window
		want string
	}{
		{nightowl.Window{Checks: nightowl.Selector{Labels: map[string]string{"tier": "web"}}, Expect: []string{"writeable"}, End: t0.Add(time.Hour)},
			`no check in scope has an assertion "writeable" (assertions in scope: ok_status, site_writable, writable)`},
		{nightowl.Window{Checks: nightowl.Selector{Labels: map[string]string{"tier": "cache"}}, Expect: []string{"*"}, End: t0.Add(time.Hour)},
			"checks tier=cache selects no configured check"},
		{nightowl.Window{Checks: nightowl.Selector{Names: []string{"math-db"}}, Expect: []string{"writable"}, End: t0.Add(time.Hour)},
			`no check in scope has an assertion "writable" (assertions in scope: replicating)`},
		{nightowl.Window{Checks: nightowl.Selector{Names: []string{"math-db"}}, Expect: []string{"*"}, End: t0.Add(-time.Hour)},
			"the window must end in the future"},
	}
	for _, b := range bad {
		if _, err := f.r.Start(ctx, b.w); nightowl.ErrorCode(err) != nightowl.EInvalid || !strings.Contains(err.Error(), b.want) {
			t.Errorf("Start: %v, want invalid: %s", err, b.want)
		}
	}
	w, err := f.r.Start(ctx, nightowl.Window{Name: "db-upgrade", CreatedBy: "ana",
		Checks: nightowl.Selector{Names: []string{"math-db"}}, Expect: []string{"replicating"},
		End: t0.Add(2 * time.Hour), Verify: nightowl.Verify{Within: 5 * time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(w.ID, "m-") || !w.Start.Equal(t0) {
		t.Fatalf("window = %+v", w)
	}
	f.at(time.Minute)
	if got := f.active("math-db", time.Minute); !slices.Equal(got, []string{"db-upgrade"}) {
		t.Fatalf("active: %v", got)
	}
	// A restart keeps it.
	f.restart()
	if got := f.active("math-db", 2*time.Minute); !slices.Equal(got, []string{"db-upgrade"}) {
		t.Fatalf("active after restart: %v", got)
	}
	f.clock.Set(t0.Add(30 * time.Minute))
	if _, err := f.r.End(ctx, "db-upgrade", "bo"); err != nil {
		t.Fatal(err)
	}
	if got := f.active("math-db", 31*time.Minute); len(got) != 0 {
		t.Fatalf("active after its end: %v", got)
	}
	f.status["math-db"] = nightowl.StatusDown
	next := f.r.Tick(ctx)
	ran, _, events := f.take()
	if !slices.Equal(ran, []string{"math-db"}) || !strings.Contains(events[len(events)-1], "was ended by bo") {
		t.Fatalf("ran %v, events %v", ran, events)
	}
	if !next.Equal(t0.Add(35 * time.Minute)) {
		t.Fatalf("next %s", next)
	}
	if _, err := f.r.End(ctx, "db-upgrade", "bo"); nightowl.ErrorCode(err) != nightowl.EConflict {
		t.Fatalf("ending it twice: %v", err)
	}
	if _, err := f.r.End(ctx, "nosuch", "bo"); nightowl.ErrorCode(err) != nightowl.ENotFound {
		t.Fatalf("ending an unknown window: %v", err)
	}
	list := f.r.List()
	if len(list) != 1 || list[0].Active || !slices.Equal(list[0].Scope, []string{"math-db"}) {
		t.Fatalf("list: %+v", list)
	}
}

func TestOverlappingWindows(t *testing.T) {
	repl := nightowl.Window{ID: "repl", Name: "repl", Source: SourceConfig,
		Start: t0.Add(90 * time.Minute), End: t0.Add(3 * time.Hour),
		Checks: nightowl.Selector{Names: []string{"math-site"}}, Expect: []string{"ok_status"},
		Verify: nightowl.Verify{Within: 10 * time.Minute}}
	f := newFixture(t, failover(), repl)
	if got := f.active("math-site", 100*time.Minute); !slices.Equal(got, []string{"march-failover", "repl"}) {
		t.Fatalf("active: %v", got)
	}
	f.at(time.Hour)
	f.at(2 * time.Hour)
	// math-site is still in repl's window, failing as it expects: the
	// end of march-failover does not call it unrecovered.
	f.status["math-site"] = nightowl.StatusMaintenance
	f.at(2*time.Hour + 10*time.Minute)
	if _, nr, _ := f.take(); len(nr) != 0 {
		t.Fatalf("not recovered: %v", nr)
	}
}

// TestRecurringWindowAcrossDST: "0 1 * * SUN" in New York for 2h is 1 a.m.
// local every Sunday, whichever offset the clocks have.
func TestRecurringWindowAcrossDST(t *testing.T) {
	weekly := nightowl.Window{ID: "weekly", Name: "weekly", Source: SourceConfig,
		Schedule: "0 1 * * SUN", Duration: nightowl.Seconds(2 * time.Hour), Timezone: "America/New_York",
		Checks: nightowl.Selector{Labels: map[string]string{"tier": "db"}}, Expect: []string{"*"},
		Verify: nightowl.Verify{Within: 10 * time.Minute}}
	f := newFixture(t, weekly)
	c := nightowl.Check{Name: "math-db", Labels: map[string]string{"tier": "db"}}
	in := func(s string) bool {
		at, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return len(f.r.Active(&c, at)) > 0
	}
	cases := []struct {
		at   string
		want bool
	}{
		{"2026-03-01T05:59:00Z", false}, // 00:59 EST
		{"2026-03-01T06:00:00Z", true},  // 01:00 EST
		{"2026-03-01T07:59:00Z", true},
		{"2026-03-01T08:00:00Z", false},
		// Spring forward (8 March, 2 a.m. EST becomes 3 a.m. EDT): it
		// starts at 1 a.m. EST and lasts two real hours.
		{"2026-03-08T06:00:00Z", true},
		{"2026-03-08T07:59:00Z", true},
		{"2026-03-08T08:00:00Z", false},
		// A week later 1 a.m. is EDT, an hour earlier in UTC.
		{"2026-03-15T04:59:00Z", false},
		{"2026-03-15T05:00:00Z", true},
		{"2026-03-15T06:59:00Z", true},
		{"2026-03-15T07:00:00Z", false},
		// Fall back (1 November): 1 a.m. EDT comes first.
		{"2026-11-01T05:00:00Z", true},
		{"2026-11-01T06:59:00Z", true},
		{"2026-11-01T07:00:00Z", false},
	}
	for _, c := range cases {
		if got := in(c.at); got != c.want {
			t.Errorf("in force at %s: %v, want %v", c.at, got, c.want)
		}
	}
}

// TestRefreshSeesOtherNodesWindows: two runners on one store, as two nodes
// of a cluster. A window started and ended through one is in force, and
// then over, on the other once it refreshes.
func TestRefreshSeesOtherNodesWindows(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	other := f.r
	f.restart() // f.r is now the second node
	f.at(0)
	if _, err := other.Start(ctx, nightowl.Window{Name: "db-upgrade", CreatedBy: "ana",
		Checks: nightowl.Selector{Names: []string{"math-db"}}, Expect: []string{"replicating"},
		End: t0.Add(2 * time.Hour), Verify: nightowl.Verify{Within: 5 * time.Minute}}); err != nil {
		t.Fatal(err)
	}
	if got := f.active("math-db", time.Minute); len(got) != 0 {
		t.Fatalf("active before a refresh: %v", got)
	}
	if err := f.r.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if got := f.active("math-db", time.Minute); !slices.Equal(got, []string{"db-upgrade"}) {
		t.Fatalf("active after a refresh: %v", got)
	}
	f.at(time.Minute)
	f.take()
	f.clock.Set(t0.Add(30 * time.Minute))
	if _, err := other.End(ctx, "db-upgrade", "bo"); err != nil {
		t.Fatal(err)
	}
	if err := f.r.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	f.r.Tick(ctx)
	ran, _, events := f.take()
	if !slices.Equal(ran, []string{"math-db"}) || !strings.Contains(events[len(events)-1], "was ended by bo") {
		t.Fatalf("after the other node ended it: ran %v, events %v", ran, events)
	}
}

// TestMineOnly: in a cluster a node runs, records and verifies only its
// own checks in a window's scope.
func TestMineOnly(t *testing.T) {
	f := newFixture(t, failover())
	f.r.opts.Mine = func(c string) bool { return c == "bio-site" }
	f.at(30 * time.Minute)
	f.at(time.Hour + time.Minute)
	f.take()
	f.status["bio-site"] = nightowl.StatusDown
	f.status["math-site"] = nightowl.StatusDown
	f.at(2 * time.Hour)
	ran, _, events := f.take()
	if !slices.Equal(ran, []string{"bio-site"}) || len(events) != 1 || !strings.HasPrefix(events[0], "bio-site: ") {
		t.Fatalf("at the end: ran %v, events %v", ran, events)
	}
	f.at(2*time.Hour + 10*time.Minute)
	_, notRecovered, _ := f.take()
	if !slices.Equal(notRecovered, []string{"bio-site march-failover 0"}) {
		t.Fatalf("not recovered: %v", notRecovered)
	}
}
