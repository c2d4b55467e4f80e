package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"math"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/clocktest"
)

var t0 = time.Date(2026, 3, 17, 22, 0, 0, 0, time.UTC)

// openTest opens a store whose background flush never fires during a test, so
// that only Flush and Close write and every test is deterministic.
func openTest(t testing.TB, path string, clock *clocktest.Fake, opts Options) *Store {
	t.Helper()
	opts.Path = path
	opts.Now = clock.Now
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.FlushInterval == 0 {
		opts.FlushInterval = time.Hour
	}
	s, err := Open(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func flush(t testing.TB, s *Store) {
	t.Helper()
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func dbPath(t testing.TB) string { return filepath.Join(t.TempDir(), "nightowl.db") }

func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	clock := clocktest.New(t0)
	s := openTest(t, dbPath(t), clock, Options{})
	local := time.FixedZone("EST", -5*3600)

	t.Run("results", func(t *testing.T) {
		full := nightowl.Result{
			Check:    "math-db",
			Due:      t0.Add(123456789 * time.Nanosecond),
			Start:    t0.Add(123987654 * time.Nanosecond).In(local),
			OK:       true,
			Duration: nightowl.Seconds(1234567 * time.Nanosecond),
			Facts: nightowl.Facts{
				"read_only": false,
				"version":   "10.11.6-MariaDB",
				"uptime":    int64(86400),
				"lag_bytes": int64(1 << 60), // beyond float64's exact integers
				"ratio":     0.25,
				"replica":   map[string]any{"io_running": true, "lag": nil},
				"tables":    map[string]any{"checklistsectionline": "OK"},
				"answers":   []any{"192.0.2.1", int64(2)},
			},
			Assertions: []nightowl.AssertionResult{
				{Name: "writable", Severity: nightowl.SeverityCritical, OK: true},
				{Name: "fast", Severity: nightowl.SeverityWarning, OK: false, Message: "duration = 1.23"},
			},
			Status: nightowl.StatusDegraded,
		}
		failed := nightowl.Result{
			Check:  "math-db",
			Start:  t0.Add(time.Minute),
			Error:  "dial tcp 192.0.2.1:3306: connection refused",
			Status: nightowl.StatusDown,
		}
		s.SaveResult(full)
		s.SaveResult(failed)
		flush(t, s)
		got, err := s.Results(ctx, "math-db", 0)
		if err != nil {
			t.Fatal(err)
		}
		full.Due, full.Start = full.Due.UTC(), full.Start.UTC()
		want := []nightowl.Result{failed, full}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("results:\n got %#v\nwant %#v", got, want)
		}
	})

	t.Run("states", func(t *testing.T) {
		older := nightowl.State{Check: "web", Status: nightowl.StatusUp, Runs: 1}
		web := nightowl.State{
			Check: "web", Status: nightowl.StatusDown, Since: t0.Add(1500 * time.Millisecond),
			Pending: nightowl.StatusUp, Streak: 1, LastRun: t0.Add(2 * time.Second),
			Cause: "ok_status: status = 503", Runs: 42, Fails: 7,
		}
		fresh := nightowl.State{Check: "a-new", Status: nightowl.StatusUnknown}
		s.SaveState(older)
		s.SaveState(web) // replaces older: only the latest is written
		s.SaveState(fresh)
		flush(t, s)
		got, err := s.States(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := []nightowl.State{fresh, web}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("states:\n got %#v\nwant %#v", got, want)
		}
	})

	t.Run("events", func(t *testing.T) {
		e1, err := s.AddEvent(ctx, nightowl.Event{Check: "web", Time: t0.In(local).Add(time.Nanosecond),
			Kind: nightowl.EventStatus, From: nightowl.StatusUp, To: nightowl.StatusDown, Cause: "status = 503"})
		if err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Minute)
		e2, err := s.AddEvent(ctx, nightowl.Event{Check: "db", Kind: nightowl.EventStatus,
			From: nightowl.StatusDown, To: nightowl.StatusUp})
		if err != nil {
			t.Fatal(err)
		}
		if e1.ID == 0 || e2.ID == e1.ID {
			t.Errorf("ids %d, %d: want distinct and set", e1.ID, e2.ID)
		}
		if !e2.Time.Equal(clock.Now()) {
			t.Errorf("zero time became %v, want now %v", e2.Time, clock.Now())
		}
		if _, err := s.AddEvent(ctx, nightowl.Event{Kind: "status"}); nightowl.ErrorCode(err) != nightowl.EInvalid {
			t.Errorf("event without check: got %v, want an invalid error", err)
		}
		for _, tc := range []struct {
			name  string
			check string
			limit int
			want  []nightowl.Event
		}{
			{"all", "", 0, []nightowl.Event{e2, e1}},
			{"limited", "", 1, []nightowl.Event{e2}},
			{"one check", "web", 10, []nightowl.Event{e1}},
			{"unknown check", "nope", 10, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, err := s.Events(ctx, tc.check, tc.limit)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, tc.want) {
					t.Errorf("got %#v\nwant %#v", got, tc.want)
				}
			})
		}
	})

	t.Run("rollups", func(t *testing.T) {
		for i, d := range []time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 3 * time.Second} {
			st := nightowl.StatusUp
			if i == 2 {
				st = nightowl.StatusDown
			}
			s.SaveResult(nightowl.Result{Check: "api", Start: t0.Add(time.Duration(i) * time.Minute),
				Duration: nightowl.Seconds(d), Status: st})
		}
		flush(t, s)
		for _, p := range []nightowl.Period{nightowl.Hourly, nightowl.Daily} {
			got, err := s.Rollups(ctx, "api", p, t0)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 {
				t.Fatalf("%s: %d rollups, want 1", p, len(got))
			}
			r := got[0]
			if r.Check != "api" || r.Period != p || r.Runs != 3 || r.Failures != 1 || r.Max != 3 {
				t.Errorf("%s: got %+v", p, r)
			}
			if !within(r.P50, 0.020, histAccuracy) || !within(r.P95, 3, histAccuracy) {
				t.Errorf("%s: p50 %v p95 %v, want 0.020 and 3", p, r.P50, r.P95)
			}
		}
		if _, err := s.Rollups(ctx, "api", "week", t0); nightowl.ErrorCode(err) != nightowl.EInvalid {
			t.Errorf("unknown period: got %v, want an invalid error", err)
		}
	})
}

func within(got, want, rel float64) bool {
	return math.Abs(got-want) <= rel*want+1e-12
}

// countRows counts rows of a table directly, to check what the store keeps
// rather than what it chooses to return.
func countRows(t *testing.T, path, query string, args ...any) int {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestResultsRing(t *testing.T) {
	const ring = 10
	for _, tc := range []struct {
		name string
		// batches are written with a Flush after each; reopen closes and
		// reopens the store between batches, so the ring must find its
		// place again from what is stored.
		batches []int
		reopen  bool
	}{
		{"one batch", []int{3 * ring}, false},
		{"a flush per result", repeat(1, 3*ring), false},
		{"uneven batches", []int{7, 12, 4, 7}, false},
		{"reopen between batches", []int{7, 12, 4, 7}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := dbPath(t)
			clock := clocktest.New(t0)
			s := openTest(t, path, clock, Options{ResultsPerCheck: ring})
			// Another check shares the table and must not disturb the ring.
			s.SaveResult(nightowl.Result{Check: "other", Start: t0, Status: nightowl.StatusUp})
			n := 0
			for _, size := range tc.batches {
				for range size {
					s.SaveResult(nightowl.Result{Check: "web", Start: t0.Add(time.Duration(n) * time.Second),
						Status: nightowl.StatusUp, Facts: nightowl.Facts{"n": n}})
					n++
				}
				flush(t, s)
				if tc.reopen {
					if err := s.Close(); err != nil {
						t.Fatal(err)
					}
					s = openTest(t, path, clock, Options{ResultsPerCheck: ring})
				}
			}
			if got := countRows(t, path, `SELECT count(*) FROM results r JOIN checks c ON c.id = r.check_id WHERE c.name = 'web'`); got != ring {
				t.Errorf("%d rows kept, want %d", got, ring)
			}
			got, err := s.Results(context.Background(), "web", 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != ring {
				t.Fatalf("%d results, want %d", len(got), ring)
			}
			for i, r := range got {
				if want := int64(n - 1 - i); r.Facts["n"] != want {
					t.Errorf("result %d is number %v, want %d (newest first)", i, r.Facts["n"], want)
				}
			}
			if got, _ := s.Results(context.Background(), "web", 3); len(got) != 3 {
				t.Errorf("limit 3: %d results", len(got))
			}
			if got, _ := s.Results(context.Background(), "other", 0); len(got) != 1 {
				t.Errorf("other check: %d results, want 1", len(got))
			}
		})
	}
}

func TestResultsRingShrinks(t *testing.T) {
	path := dbPath(t)
	clock := clocktest.New(t0)
	s := openTest(t, path, clock, Options{ResultsPerCheck: 20})
	for i := range 20 {
		s.SaveResult(nightowl.Result{Check: "web", Start: t0.Add(time.Duration(i) * time.Second), Status: nightowl.StatusUp})
	}
	s.Close()
	s = openTest(t, path, clock, Options{ResultsPerCheck: 5})
	for i := range 3 {
		s.SaveResult(nightowl.Result{Check: "web", Start: t0.Add(time.Duration(20+i) * time.Second), Status: nightowl.StatusUp})
	}
	flush(t, s)
	if got := countRows(t, path, `SELECT count(*) FROM results`); got > 5 {
		t.Errorf("%d rows kept after shrinking the ring to 5", got)
	}
	got, err := s.Results(context.Background(), "web", 1)
	if err != nil || len(got) != 1 || !got[0].Start.Equal(t0.Add(22*time.Second)) {
		t.Errorf("newest: got %v, %v", got, err)
	}
}

func repeat(v, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func TestRollupPercentiles(t *testing.T) {
	ctx := context.Background()
	path := dbPath(t)
	clock := clocktest.New(t0)
	s := openTest(t, path, clock, Options{})
	// 1..100 ms in a shuffled order, written in three parts: two flushes,
	// then a reopen. The stored histogram must merge exactly.
	save := func(from, to int) {
		for i := from; i <= to; i++ {
			ms := (i*37)%100 + 1
			st := nightowl.StatusUp
			if ms%10 == 0 {
				st = nightowl.StatusDown
			}
			s.SaveResult(nightowl.Result{Check: "web", Start: t0.Add(time.Duration(i) * time.Second),
				Duration: nightowl.Seconds(time.Duration(ms) * time.Millisecond), Status: st})
		}
	}
	save(0, 29)
	flush(t, s)
	save(30, 59)
	flush(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, path, clock, Options{})
	save(60, 99)
	flush(t, s)

	for _, p := range []nightowl.Period{nightowl.Hourly, nightowl.Daily} {
		t.Run(string(p), func(t *testing.T) {
			got, err := s.Rollups(ctx, "web", p, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 {
				t.Fatalf("%d rollups, want 1", len(got))
			}
			r := got[0]
			if r.Runs != 100 || r.Failures != 10 {
				t.Errorf("runs %d failures %d, want 100 and 10", r.Runs, r.Failures)
			}
			if r.Max != 0.1 {
				t.Errorf("max %v, want exactly 0.1", r.Max)
			}
			if !within(r.P50, 0.050, histAccuracy) {
				t.Errorf("p50 %v, want 0.050 within %v", r.P50, histAccuracy)
			}
			if !within(r.P95, 0.095, histAccuracy) {
				t.Errorf("p95 %v, want 0.095 within %v", r.P95, histAccuracy)
			}
		})
	}
}

func TestRollupBuckets(t *testing.T) {
	ctx := context.Background()
	clock := clocktest.New(t0)
	s := openTest(t, dbPath(t), clock, Options{})
	day := time.Date(2026, 3, 17, 0, 0, 0, 0, time.UTC)
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		ny = time.FixedZone("EDT", -4*3600)
	}
	for _, r := range []nightowl.Result{
		{Start: day.Add(23*time.Hour + 10*time.Minute)},
		{Start: day.Add(23*time.Hour + 59*time.Minute + 59*time.Second + 999*time.Millisecond)},
		// 20:30 in New York is 00:30 UTC: the next UTC day and hour.
		{Start: day.Add(24*time.Hour + 30*time.Minute).In(ny)},
		{Start: day.Add(25*time.Hour + 5*time.Minute)},
		// No start: the due time decides, and with neither, the clock.
		{Due: day.Add(25*time.Hour + 6*time.Minute)},
		{},
	} {
		r.Check = "web"
		r.Status = nightowl.StatusUp
		s.SaveResult(r)
	}
	flush(t, s)
	for _, tc := range []struct {
		name   string
		period nightowl.Period
		since  time.Time
		want   map[time.Time]int64 // runs by bucket start
	}{
		{"hourly", nightowl.Hourly, time.Time{}, map[time.Time]int64{
			day.Add(23 * time.Hour): 2, day.Add(24 * time.Hour): 1, day.Add(25 * time.Hour): 2, t0: 1}},
		{"daily", nightowl.Daily, time.Time{}, map[time.Time]int64{
			day: 3, day.Add(24 * time.Hour): 3}},
		{"since inside a bucket includes it", nightowl.Hourly, day.Add(24*time.Hour + 45*time.Minute), map[time.Time]int64{
			day.Add(24 * time.Hour): 1, day.Add(25 * time.Hour): 2}},
		{"since a later day", nightowl.Daily, day.Add(24 * time.Hour), map[time.Time]int64{
			day.Add(24 * time.Hour): 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Rollups(ctx, "web", tc.period, tc.since)
			if err != nil {
				t.Fatal(err)
			}
			runs := map[time.Time]int64{}
			for i, r := range got {
				if i > 0 && !r.Start.After(got[i-1].Start) {
					t.Errorf("not oldest first: %v after %v", r.Start, got[i-1].Start)
				}
				if r.Start.Location() != time.UTC {
					t.Errorf("start %v not in UTC", r.Start)
				}
				runs[r.Start] = r.Runs
			}
			if !reflect.DeepEqual(runs, tc.want) {
				t.Errorf("runs by start:\n got %v\nwant %v", runs, tc.want)
			}
		})
	}
}

func TestRetention(t *testing.T) {
	ctx := context.Background()
	path := dbPath(t)
	clock := clocktest.New(t0)
	s := openTest(t, path, clock, Options{HourlyRetention: 48 * time.Hour, DailyRetention: 10 * 24 * time.Hour})
	for _, age := range []time.Duration{time.Hour, 47 * time.Hour, 49 * time.Hour, 9 * 24 * time.Hour, 11 * 24 * time.Hour} {
		s.SaveResult(nightowl.Result{Check: "web", Start: t0.Add(-age), Status: nightowl.StatusUp})
	}
	flush(t, s)
	// The first write after Open prunes at once; later ones once an hour.
	count := func(p nightowl.Period) int {
		got, err := s.Rollups(ctx, "web", p, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		return len(got)
	}
	for _, tc := range []struct {
		name          string
		advance       time.Duration
		hourly, daily int
		resultsOnDisk int
	}{
		{"just written", 0, 2, 3, 5},
		{"an hour later", 90 * time.Minute, 1, 3, 5},
		{"days later", 48 * time.Hour, 0, 2, 5},
		{"beyond every retention", 30 * 24 * time.Hour, 0, 0, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock.Advance(tc.advance)
			s.SaveState(nightowl.State{Check: "web", Status: nightowl.StatusUp}) // something to flush
			flush(t, s)
			if h, d := count(nightowl.Hourly), count(nightowl.Daily); h != tc.hourly || d != tc.daily {
				t.Errorf("hourly %d daily %d, want %d and %d", h, d, tc.hourly, tc.daily)
			}
			if n := countRows(t, path, `SELECT count(*) FROM results`); n != tc.resultsOnDisk {
				t.Errorf("%d raw results, want %d: retention is for rollups only", n, tc.resultsOnDisk)
			}
		})
	}
}

func TestForget(t *testing.T) {
	ctx := context.Background()
	path := dbPath(t)
	clock := clocktest.New(t0)
	s := openTest(t, path, clock, Options{})
	for _, c := range []string{"gone", "kept", "queued"} {
		s.SaveResult(nightowl.Result{Check: c, Start: t0, Status: nightowl.StatusUp})
		s.SaveState(nightowl.State{Check: c, Status: nightowl.StatusUp})
		if _, err := s.AddEvent(ctx, nightowl.Event{Check: c, Kind: nightowl.EventStatus}); err != nil {
			t.Fatal(err)
		}
		if c != "queued" {
			flush(t, s)
		}
	}
	// "queued" has a result and a state not yet written: Forget must drop
	// them too, or the next flush would bring the check back.
	if err := s.Forget(ctx, []string{"gone", "queued", "never-existed"}); err != nil {
		t.Fatal(err)
	}
	flush(t, s)
	for _, c := range []string{"gone", "queued"} {
		t.Run(c, func(t *testing.T) {
			if r, _ := s.Results(ctx, c, 0); len(r) != 0 {
				t.Errorf("results remain: %v", r)
			}
			if e, _ := s.Events(ctx, c, 0); len(e) != 0 {
				t.Errorf("events remain: %v", e)
			}
			if r, _ := s.Rollups(ctx, c, nightowl.Daily, time.Time{}); len(r) != 0 {
				t.Errorf("rollups remain: %v", r)
			}
		})
	}
	st, err := s.States(ctx)
	if err != nil || len(st) != 1 || st[0].Check != "kept" {
		t.Errorf("states: got %v, %v; want only kept", st, err)
	}
	for _, table := range []string{"checks", "states", "results", "events"} {
		if n := countRows(t, path, `SELECT count(*) FROM `+table); n != 1 {
			t.Errorf("%s: %d rows, want 1", table, n)
		}
	}
	if n := countRows(t, path, `SELECT count(*) FROM rollups`); n != 2 {
		t.Errorf("rollups: %d rows, want 2 (kept's hour and day)", n)
	}
	// A forgotten check that comes back starts afresh.
	s.SaveResult(nightowl.Result{Check: "gone", Start: t0, Status: nightowl.StatusDown})
	flush(t, s)
	if r, _ := s.Results(ctx, "gone", 0); len(r) != 1 || r[0].Status != nightowl.StatusDown {
		t.Errorf("returning check: %v", r)
	}
}

func TestCloseFlushes(t *testing.T) {
	ctx := context.Background()
	path := dbPath(t)
	clock := clocktest.New(t0)
	s := openTest(t, path, clock, Options{})
	s.SaveResult(nightowl.Result{Check: "web", Start: t0, Status: nightowl.StatusUp, Duration: nightowl.Seconds(time.Second)})
	s.SaveState(nightowl.State{Check: "web", Status: nightowl.StatusUp, Since: t0})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	s.SaveResult(nightowl.Result{Check: "late", Start: t0}) // ignored, must not panic
	if err := s.Flush(ctx); err == nil {
		t.Error("Flush after Close succeeded")
	}

	s = openTest(t, path, clock, Options{})
	for _, tc := range []struct {
		name string
		got  func() (int, error)
	}{
		{"results", func() (int, error) { r, err := s.Results(ctx, "web", 0); return len(r), err }},
		{"states", func() (int, error) { r, err := s.States(ctx); return len(r), err }},
		{"rollups", func() (int, error) { r, err := s.Rollups(ctx, "web", nightowl.Hourly, t0); return len(r), err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if n, err := tc.got(); n != 1 || err != nil {
				t.Errorf("got %d, %v; want 1 after reopen", n, err)
			}
		})
	}
}

func TestBackgroundFlush(t *testing.T) {
	clock := clocktest.New(t0)
	s := openTest(t, dbPath(t), clock, Options{FlushInterval: 10 * time.Millisecond})
	s.SaveState(nightowl.State{Check: "web", Status: nightowl.StatusUp})
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if st, _ := s.States(context.Background()); len(st) == 1 {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Error("state not written without an explicit Flush")
}

func TestQueueBound(t *testing.T) {
	ctx := context.Background()
	clock := clocktest.New(t0)
	s := openTest(t, dbPath(t), clock, Options{maxQueued: 10})
	for i := range 25 {
		s.SaveResult(nightowl.Result{Check: "web", Start: t0.Add(time.Duration(i) * time.Second),
			Status: nightowl.StatusUp, Facts: nightowl.Facts{"n": i}})
	}
	s.SaveState(nightowl.State{Check: "web", Status: nightowl.StatusUp})
	if got := s.Dropped(); got != 15 {
		t.Errorf("dropped %d, want 15", got)
	}
	flush(t, s)
	res, err := s.Results(ctx, "web", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 10 || res[0].Facts["n"] != int64(24) || res[9].Facts["n"] != int64(15) {
		t.Errorf("kept %d results, newest %v oldest %v; want the newest 10", len(res), res[0].Facts, res[len(res)-1].Facts)
	}
	roll, err := s.Rollups(ctx, "web", nightowl.Daily, time.Time{})
	if err != nil || len(roll) != 1 || roll[0].Runs != 25 {
		t.Errorf("rollups %v, %v: want 25 runs, dropped results still counted", roll, err)
	}
	if st, _ := s.States(ctx); len(st) != 1 {
		t.Errorf("states were dropped: %v", st)
	}
}

func TestMigrations(t *testing.T) {
	ctx := context.Background()
	clock := clocktest.New(t0)

	t.Run("newer database is refused", func(t *testing.T) {
		path := dbPath(t)
		s := openTest(t, path, clock, Options{})
		s.Close()
		db, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, '0099_future.sql', 0)`); err != nil {
			t.Fatal(err)
		}
		db.Close()
		_, err = Open(ctx, Options{Path: path})
		if err == nil {
			t.Fatal("opened a database from the future")
		}
		latest := len(mustMigrations(t))
		for _, want := range []string{path, "version 99", "version " + strconv.Itoa(latest)} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not mention %q", err, want)
			}
		}
	})

	steps := []migration{
		{1, "0001_a.sql", `CREATE TABLE a (x INTEGER); INSERT INTO a VALUES (1);`},
		{2, "0002_b.sql", `CREATE TABLE b (y INTEGER); INSERT INTO b SELECT x + 1 FROM a;`},
		{3, "0003_bad.sql", `CREATE TABLE c (z INTEGER); INSERT INTO nowhere VALUES (1);`},
	}
	for _, tc := range []struct {
		name        string
		ms          []migration
		wantErr     bool
		wantVersion int
		tables      []string
	}{
		{"in order, each recorded", steps[:2], false, 2, []string{"a", "b"}},
		{"a failing migration leaves nothing behind", steps, true, 2, []string{"a", "b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, err := sql.Open("sqlite", dbPath(t))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			err = applyMigrations(ctx, db, tc.ms, clock.Now)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if v, _ := schemaVersion(ctx, db); v != tc.wantVersion {
				t.Errorf("version %d, want %d", v, tc.wantVersion)
			}
			var tables []string
			rows, _ := db.Query(`SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('a', 'b', 'c') ORDER BY name`)
			for rows.Next() {
				var n string
				rows.Scan(&n)
				tables = append(tables, n)
			}
			rows.Close()
			if !reflect.DeepEqual(tables, tc.tables) {
				t.Errorf("tables %v, want %v", tables, tc.tables)
			}
			// Applying again is a no-op.
			if err := applyMigrations(ctx, db, tc.ms[:2], clock.Now); err != nil {
				t.Errorf("second run: %v", err)
			}
		})
	}

	t.Run("file names", func(t *testing.T) {
		for _, tc := range []struct {
			name  string
			files []string
			ok    bool
		}{
			{"numbered", []string{"0001_init.sql", "0002_more.sql"}, true},
			{"gap", []string{"0001_init.sql", "0003_more.sql"}, false},
			{"unnumbered", []string{"init.sql"}, false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				fsys := fstest.MapFS{}
				for _, f := range tc.files {
					fsys["migrations/"+f] = &fstest.MapFile{Data: []byte("SELECT 1;")}
				}
				_, err := loadMigrations(fsys)
				if (err == nil) != tc.ok {
					t.Errorf("err = %v, want ok %v", err, tc.ok)
				}
			})
		}
	})
}

func mustMigrations(t *testing.T) []migration {
	ms, err := loadMigrations(migrationFiles)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

func TestOpenErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"no path", Options{}},
		{"negative ring", Options{Path: "x.db", ResultsPerCheck: -1}},
		{"negative ping ring", Options{Path: "x.db", PingsPerCheck: -1}},
		{"missing directory", Options{Path: filepath.Join(t.TempDir(), "no", "such", "dir", "x.db")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if s, err := Open(context.Background(), tc.opts); err == nil {
				s.Close()
				t.Error("opened")
			}
		})
	}
}

func TestPathNeedsEscaping(t *testing.T) {
	path := filepath.Join(t.TempDir(), "odd?name#1%.db")
	s := openTest(t, path, clocktest.New(t0), Options{})
	s.SaveState(nightowl.State{Check: "web", Status: nightowl.StatusUp})
	flush(t, s)
	s.Close()
	if n := countRows(t, "file:"+strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path), `SELECT count(*) FROM states`); n != 1 {
		t.Errorf("%d states in %s", n, path)
	}
}

func TestDamagedHistogram(t *testing.T) {
	ctx := context.Background()
	path := dbPath(t)
	clock := clocktest.New(t0)
	s := openTest(t, path, clock, Options{})
	save := func(d time.Duration) {
		s.SaveResult(nightowl.Result{Check: "web", Start: t0, Duration: nightowl.Seconds(d), Status: nightowl.StatusUp})
		flush(t, s)
	}
	save(time.Second)
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE rollups SET hist = x'ff00'`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	// Reading a damaged row still gives counts; writing to it starts its
	// histogram afresh instead of failing every later flush.
	for _, tc := range []struct {
		name    string
		write   time.Duration
		p50     float64
		runs    int64
		maximum float64
	}{
		{"read as stored", 0, 0, 1, 1},
		{"written again", 2 * time.Second, 2, 2, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.write > 0 {
				save(tc.write)
			}
			got, err := s.Rollups(ctx, "web", nightowl.Hourly, t0)
			if err != nil || len(got) != 1 {
				t.Fatalf("got %v, %v", got, err)
			}
			r := got[0]
			if r.Runs != tc.runs || r.Max != tc.maximum || !within(r.P50, tc.p50, histAccuracy) {
				t.Errorf("got %+v, want runs %d max %v p50 %v", r, tc.runs, tc.maximum, tc.p50)
			}
		})
	}
}

func TestConcurrentEvents(t *testing.T) {
	ctx := context.Background()
	clock := clocktest.New(t0)
	s := openTest(t, dbPath(t), clock, Options{})
	// A fleet going down at once: every worker records an event together,
	// while results keep arriving.
	const n = 300
	ids := make(chan int64, n)
	errs := make(chan error, n)
	for i := range n {
		go func() {
			s.SaveResult(nightowl.Result{Check: fmt.Sprintf("c%d", i%7), Start: t0, Status: nightowl.StatusDown})
			e, err := s.AddEvent(ctx, nightowl.Event{Check: fmt.Sprintf("c%d", i%7), Kind: nightowl.EventStatus,
				From: nightowl.StatusUp, To: nightowl.StatusDown})
			errs <- err
			ids <- e.ID
		}()
	}
	seen := map[int64]bool{}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
		id := <-ids
		if id == 0 || seen[id] {
			t.Errorf("id %d: zero or given twice", id)
		}
		seen[id] = true
	}
	got, err := s.Events(ctx, "", 0)
	if err != nil || len(got) != n {
		t.Errorf("%d events stored, %v; want %d", len(got), err, n)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.AddEvent(cancelled, nightowl.Event{Check: "c1", Kind: nightowl.EventStatus}); err == nil {
		t.Error("event added with a cancelled context")
	}
}

func TestEventRetention(t *testing.T) {
	ctx := context.Background()
	path := dbPath(t)
	clock := clocktest.New(t0)
	s := openTest(t, path, clock, Options{EventRetention: 10 * 24 * time.Hour})
	for _, age := range []time.Duration{time.Hour, 9 * 24 * time.Hour, 11 * 24 * time.Hour} {
		if _, err := s.AddEvent(ctx, nightowl.Event{Check: "web", Time: t0.Add(-age), Kind: nightowl.EventStatus,
			From: nightowl.StatusUp, To: nightowl.StatusDown, Cause: "boom"}); err != nil {
			t.Fatal(err)
		}
	}
	clock.Advance(2 * time.Hour) // past the hourly prune
	s.SaveState(nightowl.State{Check: "web", Status: nightowl.StatusUp})
	flush(t, s)
	got, err := s.Events(ctx, "web", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Errorf("%d events kept, want the 2 younger than 10 days", len(got))
	}
}

func TestLargeFactsBounded(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, dbPath(t), clocktest.New(t0), Options{})
	big := make([]any, 5000)
	for i := range big {
		big[i] = map[string]any{"id": i, "name": "a row that takes some room"}
	}
	s.SaveResult(nightowl.Result{Check: "db", Start: t0, OK: true, Status: nightowl.StatusUp,
		Facts: nightowl.Facts{"rows": big, "read_only": false, "version": "10.11"}})
	flush(t, s)
	got, err := s.Results(ctx, "db", 1)
	if err != nil || len(got) != 1 {
		t.Fatalf("results %v, %v", got, err)
	}
	f := got[0].Facts
	if _, ok := f["rows"]; ok {
		t.Error("the large fact was stored whole")
	}
	if f["version"] != "10.11" || f["read_only"] != false {
		t.Errorf("small facts lost: %v", f)
	}
	if om, _ := f["_omitted"].([]any); len(om) != 1 || om[0] != "rows" {
		t.Errorf("_omitted = %v, want [rows]", f["_omitted"])
	}
}
