package storetest

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
)

// Times in the suite are whole milliseconds: PostgreSQL keeps microseconds,
// SQLite nanoseconds, and nightowl needs neither. Durations are kept to the
// nanosecond by both.

// The defaults that the suite relies on, as both stores have them.
const (
	checksResultsPerCheck = 100
	checksPingsPerCheck   = 100
	checksHourlyRetention = 90 * 24 * time.Hour
	checksDailyRetention  = 400 * 24 * time.Hour
	checksEventRetention  = 400 * 24 * time.Hour
	// checksHistAccuracy is how far a percentile read back may be from a
	// duration really observed.
	checksHistAccuracy = 0.02
)

// Checks tests the check store: states, results, rollups, events, pings,
// heartbeats, Flush, Forget and what a reopen keeps.
func Checks(t *testing.T, open Opener[nightowl.Store]) {
	for _, tc := range []struct {
		name string
		test func(t *testing.T, open Opener[nightowl.Store])
	}{
		{"states", checksStates},
		{"results", checksResults},
		{"results bounded", checksResultsBounded},
		{"large facts bounded", checksLargeFacts},
		{"count result", checksCountResult},
		{"rollup percentiles", checksRollupPercentiles},
		{"rollup buckets", checksRollupBuckets},
		{"events", checksEvents},
		{"event carries its state", checksEventState},
		{"concurrent events", checksConcurrentEvents},
		{"pings", checksPings},
		{"pings bounded", checksPingsBounded},
		{"heartbeats", checksHeartbeats},
		{"heartbeat token taken", checksHeartbeatTokenTaken},
		{"forget", checksForget},
		{"reopen", checksReopen},
		{"retention", checksRetention},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.test(t, open) })
	}
}

func checksFlush(t testing.TB, s nightowl.Store) {
	t.Helper()
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func checksCloseStore(t testing.TB, s nightowl.Store) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func checksWithin(got, want, rel float64) bool {
	return math.Abs(got-want) <= rel*want+1e-12
}

func checksIntp(v int) *int { return &v }

func checksSecp(d time.Duration) *nightowl.Seconds {
	s := nightowl.Seconds(d)
	return &s
}

func checksStates(t *testing.T, open Opener[nightowl.Store]) {
	ctx := context.Background()
	clock := NewClock()
	t0 := clock.Now()
	s, reopen := open(t, clock)
	older := nightowl.State{Check: "web", Status: nightowl.StatusUp, Runs: 1}
	web := nightowl.State{
		Check: "web", Status: nightowl.StatusDown, Since: t0.Add(1500 * time.Millisecond),
		Pending: nightowl.StatusUp, Streak: 1, LastRun: t0.Add(2 * time.Second),
		Cause: "ok_status: status = 503", Runs: 42, Fails: 7,
	}
	fresh := nightowl.State{Check: "a-new", Status: nightowl.StatusUnknown}
	upper := nightowl.State{Check: "Zeta", Status: nightowl.StatusUp}
	blocked := nightowl.State{Check: "worker", Status: nightowl.StatusBlocked, Since: t0,
		Cause: "blocked: redis is down", BlockedBy: "redis", Runs: 3, Fails: 1}
	flapping := nightowl.State{Check: "wobbly", Status: nightowl.StatusFlapping, Since: t0,
		Cause: "flapping: 6 status changes in 15m; now up: all assertions hold", Underlying: nightowl.StatusUp, Runs: 9, Fails: 4}
	s.SaveState(older)
	s.SaveState(blocked)
	s.SaveState(flapping)
	s.SaveState(web) // replaces older: only the latest is written
	s.SaveState(fresh)
	s.SaveState(upper)
	// Names sort as bytes, capitals first, whatever the locale.
	want := []nightowl.State{upper, fresh, web, flapping, blocked}
	for _, step := range []struct {
		name string
		prep func()
	}{
		{"written", func() { checksFlush(t, s) }},
		{"reopened", func() { checksCloseStore(t, s); s = reopen() }},
	} {
		t.Run(step.name, func(t *testing.T) {
			step.prep()
			got, err := s.States(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("states:\n got %#v\nwant %#v", got, want)
			}
		})
	}
}

func checksResults(t *testing.T, open Opener[nightowl.Store]) {
	ctx := context.Background()
	clock := NewClock()
	t0 := clock.Now()
	s, _ := open(t, clock)
	local := time.FixedZone("EST", -5*3600)
	full := nightowl.Result{
		Check:    "math-db",
		Due:      t0.Add(123 * time.Millisecond),
		Start:    t0.Add(124 * time.Millisecond).In(local),
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
			"nul":       "a\x00b",
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
	checksFlush(t, s)
	full.Start = full.Start.UTC()
	for _, tc := range []struct {
		name  string
		check string
		limit int
		want  []nightowl.Result
	}{
		{"newest first", "math-db", 0, []nightowl.Result{failed, full}},
		{"limited", "math-db", 1, []nightowl.Result{failed}},
		{"unknown check", "nope", 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Results(ctx, tc.check, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("results:\n got %#v\nwant %#v", got, tc.want)
			}
		})
	}
}

func checksResultsBounded(t *testing.T, open Opener[nightowl.Store]) {
	const ring = checksResultsPerCheck
	for _, tc := range []struct {
		name string
		// batches are written with a Flush after each; reopen closes and
		// reopens the store between batches.
		batches []int
		reopen  bool
	}{
		{"one batch beyond the bound", []int{ring + 30}, false},
		{"uneven batches", []int{60, 45, 1, 24}, false},
		{"reopen between batches", []int{60, 45, 1, 24}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			clock := NewClock()
			t0 := clock.Now()
			s, reopen := open(t, clock)
			// Another check shares the store and must not disturb the
			// list.
			s.SaveResult(nightowl.Result{Check: "other", Start: t0, Status: nightowl.StatusUp})
			n := 0
			for _, size := range tc.batches {
				for range size {
					s.SaveResult(nightowl.Result{Check: "web", Start: t0.Add(time.Duration(n) * time.Second),
						Status: nightowl.StatusUp, Facts: nightowl.Facts{"n": n}})
					n++
				}
				checksFlush(t, s)
				if tc.reopen {
					checksCloseStore(t, s)
					s = reopen()
				}
			}
			got, err := s.Results(ctx, "web", 0)
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
			if got, _ := s.Results(ctx, "web", 3); len(got) != 3 || got[0].Facts["n"] != int64(n-1) {
				t.Errorf("limit 3: %d results", len(got))
			}
			if got, _ := s.Results(ctx, "web", ring+50); len(got) != ring {
				t.Errorf("limit beyond the bound: %d results, want %d", len(got), ring)
			}
			if got, _ := s.Results(ctx, "other", 0); len(got) != 1 {
				t.Errorf("other check: %d results, want 1", len(got))
			}
		})
	}
}

func checksLargeFacts(t *testing.T, open Opener[nightowl.Store]) {
	ctx := context.Background()
	clock := NewClock()
	s, _ := open(t, clock)
	big := make([]any, 5000)
	for i := range big {
		big[i] = map[string]any{"id": i, "name": "a row that takes some room"}
	}
	s.SaveResult(nightowl.Result{Check: "db", Start: clock.Now(), OK: true, Status: nightowl.StatusUp,
		Facts: nightowl.Facts{"rows": big, "read_only": false, "version": "10.11"}})
	// A fact that JSON cannot hold costs the result its facts, not the
	// batch.
	s.SaveResult(nightowl.Result{Check: "nan", Start: clock.Now(), OK: true, Status: nightowl.StatusUp,
		Facts: nightowl.Facts{"ratio": math.NaN()}})
	checksFlush(t, s)
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
	if got, err := s.Results(ctx, "nan", 0); err != nil || len(got) != 1 || got[0].Facts != nil {
		t.Errorf("result with a NaN fact: %v, %v; want it kept without facts", got, err)
	}
}

func checksCountResult(t *testing.T, open Opener[nightowl.Store]) {
	ctx := context.Background()
	clock := NewClock()
	s, _ := open(t, clock)
	for i := range 3 {
		s.CountResult(nightowl.Result{Check: "beat", Start: clock.Now().Add(time.Duration(i) * time.Second),
			Duration: nightowl.Seconds(time.Second), Status: nightowl.StatusDown})
	}
	checksFlush(t, s)
	if got, err := s.Results(ctx, "beat", 0); err != nil || len(got) != 0 {
		t.Errorf("results %v, %v: want none kept", got, err)
	}
	got, err := s.Rollups(ctx, "beat", nightowl.Hourly, time.Time{})
	if err != nil || len(got) != 1 || got[0].Runs != 3 || got[0].Failures != 3 || got[0].Max != 1 {
		t.Errorf("rollups %+v, %v: want 3 runs, 3 failures, max 1", got, err)
	}
}

func checksRollupPercentiles(t *testing.T, open Opener[nightowl.Store]) {
	ctx := context.Background()
	clock := NewClock()
	t0 := clock.Now().Truncate(time.Hour)
	s, reopen := open(t, clock)
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
	checksFlush(t, s)
	save(30, 59)
	checksFlush(t, s)
	checksCloseStore(t, s)
	s = reopen()
	save(60, 99)
	checksFlush(t, s)

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
			if r.Check != "web" || r.Period != p || r.Runs != 100 || r.Failures != 10 {
				t.Errorf("got %+v, want 100 runs and 10 failures", r)
			}
			if r.Max != 0.1 {
				t.Errorf("max %v, want exactly 0.1", r.Max)
			}
			if !checksWithin(r.P50, 0.050, checksHistAccuracy) {
				t.Errorf("p50 %v, want 0.050 within %v", r.P50, checksHistAccuracy)
			}
			if !checksWithin(r.P95, 0.095, checksHistAccuracy) {
				t.Errorf("p95 %v, want 0.095 within %v", r.P95, checksHistAccuracy)
			}
		})
	}
	t.Run("unknown period", func(t *testing.T) {
		if _, err := s.Rollups(ctx, "web", "week", t0); nightowl.ErrorCode(err) != nightowl.EInvalid {
			t.Errorf("got %v, want an invalid error", err)
		}
	})
}

func checksRollupBuckets(t *testing.T, open Opener[nightowl.Store]) {
	ctx := context.Background()
	clock := NewClock()
	s, _ := open(t, clock)
	day := time.Date(2026, 3, 17, 0, 0, 0, 0, time.UTC)
	now := clock.Now().Truncate(time.Hour)
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
	checksFlush(t, s)
	for _, tc := range []struct {
		name   string
		period nightowl.Period
		since  time.Time
		want   map[time.Time]int64 // runs by bucket start
	}{
		{"hourly", nightowl.Hourly, time.Time{}, map[time.Time]int64{
			day.Add(23 * time.Hour): 2, day.Add(24 * time.Hour): 1, day.Add(25 * time.Hour): 2, now: 1}},
		{"daily", nightowl.Daily, time.Time{}, map[time.Time]int64{
			now.Truncate(24 * time.Hour): 1, day: 2, day.Add(24 * time.Hour): 3}},
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

func checksEvents(t *testing.T, open Opener[nightowl.Store]) {
	ctx := context.Background()
	clock := NewClock()
	t0 := clock.Now()
	s, reopen := open(t, clock)
	local := time.FixedZone("EST", -5*3600)
	e1, err := s.AddEvent(ctx, nightowl.Event{Check: "web", Time: t0.In(local).Add(time.Millisecond),
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
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.AddEvent(cancelled, nightowl.Event{Check: "web", Kind: nightowl.EventStatus}); err == nil {
		t.Error("event added with a cancelled context")
	}
	for _, step := range []string{"written", "reopened"} {
		if step == "reopened" {
			checksCloseStore(t, s)
			s = reopen()
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
			t.Run(step+"/"+tc.name, func(t *testing.T) {
				got, err := s.Events(ctx, tc.check, tc.limit)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, tc.want) {
					t.Errorf("got %#v\nwant %#v", got, tc.want)
				}
			})
		}
	}
}

// checksEventState checks that a status change reaches the store together
// with the state it leads to, without waiting for a flush: after a crash, a
// check's state is never older than its last recorded change.
func checksEventState(t *testing.T, open Opener[nightowl.Store]) {
	ctx := context.Background()
	clock := NewClock()
	s, _ := open(t, clock)
	down := nightowl.State{Check: "web", Status: nightowl.StatusDown, Since: clock.Now(), Cause: "status = 503", Runs: 3, Fails: 1}
	s.SaveState(nightowl.State{Check: "web", Status: nightowl.StatusUp})
	s.SaveState(down)
	if _, err := s.AddEvent(ctx, nightowl.Event{Check: "web", Kind: nightowl.EventStatus,
		From: nightowl.StatusUp, To: nightowl.StatusDown}); err != nil {
		t.Fatal(err)
	}
	// Reads of states see what is written, not what is queued.
	got, err := s.States(ctx)
	if err != nil || !reflect.DeepEqual(got, []nightowl.State{down}) {
		t.Errorf("states %#v, %v: want the state queued before the event", got, err)
	}
}

func checksConcurrentEvents(t *testing.T, open Opener[nightowl.Store]) {
	ctx := context.Background()
	clock := NewClock()
	s, _ := open(t, clock)
	// A fleet going down at once: every worker records an event together,
	// while results keep arriving.
	const n = 300
	type added struct {
		id  int64
		err error
	}
	out := make(chan added, n)
	for i := range n {
		go func() {
			check := fmt.Sprintf("c%d", i%7)
			s.SaveResult(nightowl.Result{Check: check, Start: clock.Now(), Status: nightowl.StatusDown})
			e, err := s.AddEvent(ctx, nightowl.Event{Check: check, Kind: nightowl.EventStatus,
				From: nightowl.StatusUp, To: nightowl.StatusDown})
			out <- added{e.ID, err}
		}()
	}
	seen := map[int64]bool{}
	for range n {
		a := <-out
		if a.err != nil {
			t.Fatal(a.err)
		}
		if a.id == 0 || seen[a.id] {
			t.Errorf("id %d: zero or given twice", a.id)
		}
		seen[a.id] = true
	}
	got, err := s.Events(ctx, "", 0)
	if err != nil || len(got) != n {
		t.Errorf("%d events stored, %v; want %d", len(got), err, n)
	}
}

// checksFullBody is a body of the largest size kept, with every byte value
// in it: NULs and bytes that are not UTF-8 must come back as they were sent.
func checksFullBody() string {
	b := make([]byte, nightowl.MaxPingBody)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return string(b)
}

func checksPings(t *testing.T, open Opener[nightowl.Store]) {
	ctx := context.Background()
	clock := NewClock()
	t0 := clock.Now()
	s, reopen := open(t, clock)
	local := time.FixedZone("CET", 3600)
	pings := []nightowl.Ping{
		{Check: "backup", Time: t0.Add(time.Millisecond).In(local), Kind: nightowl.PingStart,
			RID: "5f0c7a8e-1b2d-4c3e-9f40-123456789abc", Method: "GET", UserAgent: "curl/8.5.0", Remote: "192.0.2.7"},
		{Check: "backup", Time: t0.Add(time.Minute), Kind: nightowl.PingSuccess, ExitCode: checksIntp(0),
			RID: "5f0c7a8e-1b2d-4c3e-9f40-123456789abc", Duration: checksSecp(59*time.Second + 999*time.Nanosecond),
			Method: "POST", Body: "1234 files, 5.6 GB\n", UserAgent: "curl/8.5.0", Remote: "[2001:db8::7]:51234"},
		// No exit code at all, which is not the same as 0.
		{Check: "backup", Time: t0.Add(2 * time.Minute), Kind: nightowl.PingFail, Method: "HEAD"},
		{Check: "backup", Time: t0.Add(3 * time.Minute), Kind: nightowl.PingFail, ExitCode: checksIntp(255),
			Method: "POST", Body: checksFullBody(), Truncated: true},
		{Check: "backup", Time: t0.Add(4 * time.Minute), Kind: nightowl.PingLog, Method: "POST", Body: "still going"},
		// Another check's ping must not show.
		{Check: "worker", Time: t0.Add(5 * time.Minute), Kind: nightowl.PingSuccess},
	}
	var want []nightowl.Ping
	for i := len(pings) - 2; i >= 0; i-- {
		p := pings[i]
		p.Time = p.Time.UTC()
		want = append(want, p)
	}
	for _, p := range pings {
		s.SavePing(p)
	}
	for _, tc := range []struct {
		name string
		prep func()
	}{
		{"queued", func() {}},
		{"written", func() { checksFlush(t, s) }},
		{"reopened", func() { checksCloseStore(t, s); s = reopen() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.prep()
			got, err := s.Pings(ctx, "backup", 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("%d pings, want %d", len(got), len(want))
			}
			for i := range want {
				if !reflect.DeepEqual(got[i], want[i]) {
					g, w := got[i], want[i]
					g.Body, w.Body = fmt.Sprintf("%d bytes", len(g.Body)), fmt.Sprintf("%d bytes", len(w.Body))
					t.Errorf("ping %d:\n got %#v\nwant %#v (bodies equal: %v)", i, g, w, got[i].Body == want[i].Body)
				}
			}
			if got, _ := s.Pings(ctx, "backup", 2); !reflect.DeepEqual(got, want[:2]) {
				t.Errorf("limit 2: got %d pings, not the newest two", len(got))
			}
			if got, err := s.Pings(ctx, "nope", 0); err != nil || len(got) != 0 {
				t.Errorf("unknown check: %v, %v", got, err)
			}
		})
	}
	t.Run("zero time is now", func(t *testing.T) {
		clock.Advance(time.Hour)
		s.SavePing(nightowl.Ping{Check: "worker", Kind: nightowl.PingSuccess})
		got, err := s.Pings(ctx, "worker", 1)
		if err != nil || len(got) != 1 || !got[0].Time.Equal(clock.Now()) {
			t.Errorf("got %v, %v; want the ping at %v", got, err, clock.Now())
		}
	})
}

// checksBodyN is the number a test wrote in a ping's body.
func checksBodyN(t *testing.T, p nightowl.Ping) int {
	t.Helper()
	n, err := strconv.Atoi(p.Body)
	if err != nil {
		t.Fatalf("body %q", p.Body)
	}
	return n
}

func checksPingsBounded(t *testing.T, open Opener[nightowl.Store]) {
	const ring = checksPingsPerCheck
	for _, tc := range []struct {
		name    string
		batches []int // pings written between flushes
		reopen  bool  // close and reopen between batches
		queued  int   // pings left queued at the end
	}{
		{"one batch beyond the bound", []int{ring + 30}, false, 0},
		{"uneven batches", []int{60, 45, 1, 24}, false, 0},
		{"reopen between batches", []int{60, 45, 1, 24}, true, 0},
		{"some still queued", []int{70, 20}, false, 40},
		{"more queued than the bound", []int{70}, false, ring + 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			clock := NewClock()
			t0 := clock.Now()
			s, reopen := open(t, clock)
			s.SavePing(nightowl.Ping{Check: "other", Time: t0, Kind: nightowl.PingSuccess})
			n := 0
			save := func(k int) {
				for range k {
					s.SavePing(nightowl.Ping{Check: "job", Time: t0.Add(time.Duration(n) * time.Second),
						Kind: nightowl.PingSuccess, Body: strconv.Itoa(n)})
					n++
				}
			}
			for _, size := range tc.batches {
				save(size)
				checksFlush(t, s)
				if tc.reopen {
					checksCloseStore(t, s)
					s = reopen()
				}
			}
			save(tc.queued)
			check := func(t *testing.T) {
				got, err := s.Pings(ctx, "job", 0)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != ring {
					t.Fatalf("%d pings, want %d", len(got), ring)
				}
				for i, p := range got {
					if b := checksBodyN(t, p); b != n-1-i {
						t.Errorf("ping %d is number %d, want %d (newest first)", i, b, n-1-i)
					}
				}
				if got, _ := s.Pings(ctx, "job", 3); len(got) != 3 || checksBodyN(t, got[0]) != n-1 {
					t.Errorf("limit 3: %d pings", len(got))
				}
				if got, _ := s.Pings(ctx, "other", 0); len(got) != 1 {
					t.Errorf("other check: %d pings, want 1", len(got))
				}
			}
			t.Run("before the last flush", check)
			checksFlush(t, s)
			t.Run("after it", check)
		})
	}
}

func checksHeartbeats(t *testing.T, open Opener[nightowl.Store]) {
	ctx := context.Background()
	clock := NewClock()
	t0 := clock.Now()
	s, reopen := open(t, clock)
	local := time.FixedZone("PDT", -7*3600)
	full := nightowl.Heartbeat{
		Check: "backup", Token: "k3Jd9-Qw_xZ0aB1cD2eF3g",
		LastPing: t0.Add(time.Millisecond).In(local), LastSuccess: t0.Add(-time.Hour),
		Started: map[string]time.Time{
			"":                                     t0.Add(-time.Minute).In(local),
			"5f0c7a8e-1b2d-4c3e-9f40-123456789abc": t0.Add(-2 * time.Minute),
		},
		LastDuration: checksSecp(90*time.Second + 7), ExitCode: checksIntp(0), Since: t0.Add(-24 * time.Hour),
	}
	failed := nightowl.Heartbeat{Check: "nightly", Token: "another-token", LastPing: t0,
		ExitCode: checksIntp(3), Failed: true, Since: t0.Add(-time.Hour)}
	// Tracked, never pinged, no runs open: nil pointers, zero times.
	fresh := nightowl.Heartbeat{Check: "new", Token: "a-third-token", Since: t0, Started: map[string]time.Time{}}

	utc := func(h nightowl.Heartbeat) nightowl.Heartbeat {
		h.LastPing, h.LastSuccess, h.Since = h.LastPing.UTC(), h.LastSuccess.UTC(), h.Since.UTC()
		if h.ExitCode != nil {
			h.ExitCode = checksIntp(*h.ExitCode)
		}
		if h.LastDuration != nil {
			h.LastDuration = checksSecp(time.Duration(*h.LastDuration))
		}
		if len(h.Started) == 0 {
			h.Started = nil
		} else {
			m := map[string]time.Time{}
			for k, v := range h.Started {
				m[k] = v.UTC()
			}
			h.Started = m
		}
		return h
	}
	want := []nightowl.Heartbeat{utc(full), utc(fresh), utc(failed)}

	older := full
	older.LastPing, older.Started = t0.Add(-time.Hour), nil
	s.SaveHeartbeat(older)
	s.SaveHeartbeat(full) // replaces older: only the latest is written
	s.SaveHeartbeat(failed)
	s.SaveHeartbeat(fresh)
	// The store keeps its own copy: the caller's state goes on changing.
	full.Started["later"] = t0
	*full.ExitCode = 1
	check := func(t *testing.T, want []nightowl.Heartbeat) {
		t.Helper()
		got, err := s.Heartbeats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("heartbeats:\n got %#v\nwant %#v", got, want)
		}
	}
	t.Run("queued", func(t *testing.T) { check(t, want) })
	t.Run("written", func(t *testing.T) {
		checksFlush(t, s)
		check(t, want)
	})
	t.Run("queued wins over written", func(t *testing.T) {
		newer := failed
		newer.Failed, newer.ExitCode, newer.LastSuccess = false, checksIntp(0), t0.Add(time.Minute)
		s.SaveHeartbeat(newer)
		check(t, []nightowl.Heartbeat{want[0], want[1], utc(newer)})
		checksFlush(t, s)
		check(t, []nightowl.Heartbeat{want[0], want[1], utc(newer)})
		want[2] = utc(newer)
	})
	t.Run("new token", func(t *testing.T) {
		moved := fresh
		moved.Token = "a-new-token"
		s.SaveHeartbeat(moved)
		checksFlush(t, s)
		want[1] = utc(moved)
		check(t, want)
	})
	t.Run("reopened", func(t *testing.T) {
		checksCloseStore(t, s)
		s = reopen()
		check(t, want)
	})
}

// checksHeartbeatTokenTaken checks that a heartbeat state whose token another
// check holds is refused, and that the rest of its batch is written.
func checksHeartbeatTokenTaken(t *testing.T, open Opener[nightowl.Store]) {
	const secret = "the-secret-token-of-a"
	for _, tc := range []struct {
		name string
		// first is written and flushed, then second in one batch with a
		// ping and a state of a third check.
		first, second []nightowl.Heartbeat
		// want is the token by check, after both; or any of wants, when
		// which check wins is up to the store.
		want  map[string]string
		wants []map[string]string
	}{
		{
			name:   "another check's token",
			first:  []nightowl.Heartbeat{{Check: "a", Token: secret}},
			second: []nightowl.Heartbeat{{Check: "b", Token: secret}, {Check: "c", Token: "c-token"}},
			want:   map[string]string{"a": secret, "c": "c-token"},
		},
		{
			name:   "a new check takes it while the holder is updated",
			first:  []nightowl.Heartbeat{{Check: "a", Token: secret}},
			second: []nightowl.Heartbeat{{Check: "a", Token: secret, Failed: true}, {Check: "b", Token: secret}},
			want:   map[string]string{"a": secret},
		},
		{
			name:   "two new checks want one token",
			first:  nil,
			second: []nightowl.Heartbeat{{Check: "a", Token: secret}, {Check: "b", Token: secret}},
			wants:  []map[string]string{{"a": secret}, {"b": secret}},
		},
		{
			// Whichever of the two is written first, both end up saved.
			name:   "moved from one check to another in one batch",
			first:  []nightowl.Heartbeat{{Check: "a", Token: secret}},
			second: []nightowl.Heartbeat{{Check: "a", Token: "a-new-token"}, {Check: "b", Token: secret}},
			want:   map[string]string{"a": "a-new-token", "b": secret},
		},
		{
			name:   "no token yet is no conflict",
			first:  []nightowl.Heartbeat{{Check: "a"}},
			second: []nightowl.Heartbeat{{Check: "b"}, {Check: "c"}},
			want:   map[string]string{"a": "", "b": "", "c": ""},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			clock := NewClock()
			s, _ := open(t, clock)
			for _, h := range tc.first {
				s.SaveHeartbeat(h)
			}
			checksFlush(t, s)
			for _, h := range tc.second {
				s.SaveHeartbeat(h)
			}
			s.SavePing(nightowl.Ping{Check: "z", Time: clock.Now(), Kind: nightowl.PingSuccess})
			s.SaveState(nightowl.State{Check: "z", Status: nightowl.StatusUp})
			// The rest of the batch is written: the refusal is not an
			// error, retried for ever.
			checksFlush(t, s)
			got := map[string]string{}
			hbs, err := s.Heartbeats(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, h := range hbs {
				got[h.Check] = h.Token
			}
			wants := tc.wants
			if tc.want != nil {
				wants = append(wants, tc.want)
			}
			if !slices.ContainsFunc(wants, func(w map[string]string) bool { return reflect.DeepEqual(got, w) }) {
				t.Errorf("tokens %v, want one of %v", got, wants)
			}
			if p, _ := s.Pings(ctx, "z", 0); len(p) != 1 {
				t.Errorf("pings of z: %v, want 1", p)
			}
			if st, _ := s.States(ctx); len(st) != 1 {
				t.Errorf("states: %v, want z's", st)
			}
			// The refused state is not queued again.
			checksFlush(t, s)
			if hbs, _ := s.Heartbeats(ctx); len(hbs) != len(got) {
				t.Errorf("after another flush: %v", hbs)
			}
		})
	}
}

func checksForget(t *testing.T, open Opener[nightowl.Store]) {
	ctx := context.Background()
	clock := NewClock()
	t0 := clock.Now()
	s, reopen := open(t, clock)
	save := func(c string) {
		s.SaveResult(nightowl.Result{Check: c, Start: t0, Status: nightowl.StatusUp})
		s.SaveState(nightowl.State{Check: c, Status: nightowl.StatusUp})
		s.SavePing(nightowl.Ping{Check: c, Time: t0, Kind: nightowl.PingStart, Body: "x"})
		s.SaveHeartbeat(nightowl.Heartbeat{Check: c, Token: c + "-token", Since: t0})
		if _, err := s.AddEvent(ctx, nightowl.Event{Check: c, Kind: nightowl.EventStatus}); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []string{"gone", "kept"} {
		save(c)
	}
	checksFlush(t, s)
	// "queued" has a result, a state, a ping and a heartbeat state not yet
	// written: Forget must drop them too, or the next flush would bring
	// the check back.
	save("queued")
	if err := s.Forget(ctx, []string{"gone", "queued", "never-existed"}); err != nil {
		t.Fatal(err)
	}
	checksFlush(t, s)
	for _, step := range []string{"forgotten", "reopened"} {
		if step == "reopened" {
			checksCloseStore(t, s)
			s = reopen()
		}
		for _, c := range []string{"gone", "queued"} {
			t.Run(step+"/"+c, func(t *testing.T) {
				if r, _ := s.Results(ctx, c, 0); len(r) != 0 {
					t.Errorf("results remain: %v", r)
				}
				if e, _ := s.Events(ctx, c, 0); len(e) != 0 {
					t.Errorf("events remain: %v", e)
				}
				if r, _ := s.Rollups(ctx, c, nightowl.Daily, time.Time{}); len(r) != 0 {
					t.Errorf("rollups remain: %v", r)
				}
				if p, _ := s.Pings(ctx, c, 0); len(p) != 0 {
					t.Errorf("pings remain: %v", p)
				}
			})
		}
		t.Run(step+"/kept", func(t *testing.T) {
			st, err := s.States(ctx)
			if err != nil || len(st) != 1 || st[0].Check != "kept" {
				t.Errorf("states: got %v, %v; want only kept", st, err)
			}
			hbs, err := s.Heartbeats(ctx)
			if err != nil || len(hbs) != 1 || hbs[0].Check != "kept" {
				t.Errorf("heartbeats %v, %v: want only kept's", hbs, err)
			}
			if e, _ := s.Events(ctx, "", 0); len(e) != 1 {
				t.Errorf("events: %v, want kept's", e)
			}
			if r, _ := s.Rollups(ctx, "kept", nightowl.Hourly, time.Time{}); len(r) != 1 {
				t.Errorf("rollups of kept: %v", r)
			}
		})
	}
	t.Run("comes back afresh", func(t *testing.T) {
		// A forgotten check that comes back starts afresh, its token
		// free.
		s.SaveResult(nightowl.Result{Check: "gone", Start: t0, Status: nightowl.StatusDown})
		s.SavePing(nightowl.Ping{Check: "gone", Time: t0.Add(time.Hour), Kind: nightowl.PingFail})
		s.SaveHeartbeat(nightowl.Heartbeat{Check: "gone", Token: "gone-token"})
		checksFlush(t, s)
		if r, _ := s.Results(ctx, "gone", 0); len(r) != 1 || r[0].Status != nightowl.StatusDown {
			t.Errorf("results: %v", r)
		}
		if p, _ := s.Pings(ctx, "gone", 0); len(p) != 1 || p[0].Kind != nightowl.PingFail {
			t.Errorf("pings: %v", p)
		}
		if r, _ := s.Rollups(ctx, "gone", nightowl.Hourly, time.Time{}); len(r) != 1 || r[0].Runs != 1 {
			t.Errorf("rollups: %v", r)
		}
		if hbs, _ := s.Heartbeats(ctx); len(hbs) != 2 {
			t.Errorf("heartbeats %v: want gone's back", hbs)
		}
	})
}

func checksReopen(t *testing.T, open Opener[nightowl.Store]) {
	ctx := context.Background()
	clock := NewClock()
	t0 := clock.Now()
	s, reopen := open(t, clock)
	s.SaveResult(nightowl.Result{Check: "web", Start: t0, Status: nightowl.StatusUp, Duration: nightowl.Seconds(time.Second)})
	s.SaveState(nightowl.State{Check: "web", Status: nightowl.StatusUp, Since: t0})
	s.SavePing(nightowl.Ping{Check: "job", Time: t0, Kind: nightowl.PingSuccess})
	s.SaveHeartbeat(nightowl.Heartbeat{Check: "job", Token: "job-token", Since: t0})
	// Close writes what is queued.
	checksCloseStore(t, s)
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	s.SaveResult(nightowl.Result{Check: "late", Start: t0}) // ignored, must not panic
	s.SavePing(nightowl.Ping{Check: "late", Time: t0})
	if err := s.Flush(ctx); err == nil {
		t.Error("Flush after Close succeeded")
	}
	if _, err := s.AddEvent(ctx, nightowl.Event{Check: "web", Kind: nightowl.EventStatus}); err == nil {
		t.Error("AddEvent after Close succeeded")
	}

	s = reopen()
	for _, tc := range []struct {
		name string
		got  func() (int, error)
	}{
		{"results", func() (int, error) { r, err := s.Results(ctx, "web", 0); return len(r), err }},
		{"states", func() (int, error) { r, err := s.States(ctx); return len(r), err }},
		{"rollups", func() (int, error) { r, err := s.Rollups(ctx, "web", nightowl.Hourly, t0); return len(r), err }},
		{"pings", func() (int, error) { r, err := s.Pings(ctx, "job", 0); return len(r), err }},
		{"heartbeats", func() (int, error) { r, err := s.Heartbeats(ctx); return len(r), err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if n, err := tc.got(); n != 1 || err != nil {
				t.Errorf("got %d, %v; want 1 after reopen", n, err)
			}
		})
	}
}

// checksRetention drives the clock past the default retention of rollups and
// events. A store prunes once an hour: each step moves the clock by more.
func checksRetention(t *testing.T, open Opener[nightowl.Store]) {
	ctx := context.Background()
	clock := NewClock()
	t0 := clock.Now()
	s, _ := open(t, clock)
	day := 24 * time.Hour
	for _, age := range []time.Duration{time.Hour, checksHourlyRetention - day, checksHourlyRetention + day,
		checksDailyRetention - 2*day, checksDailyRetention + 2*day} {
		s.SaveResult(nightowl.Result{Check: "web", Start: t0.Add(-age), Status: nightowl.StatusUp})
	}
	for _, age := range []time.Duration{time.Hour, checksEventRetention - day, checksEventRetention + day} {
		if _, err := s.AddEvent(ctx, nightowl.Event{Check: "web", Time: t0.Add(-age), Kind: nightowl.EventStatus,
			From: nightowl.StatusUp, To: nightowl.StatusDown, Cause: "boom"}); err != nil {
			t.Fatal(err)
		}
	}
	count := func(t *testing.T, p nightowl.Period) int {
		got, err := s.Rollups(ctx, "web", p, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		return len(got)
	}
	for _, tc := range []struct {
		name                  string
		advance               time.Duration
		hourly, daily, events int
	}{
		{"hours later", 2 * time.Hour, 2, 4, 2},
		{"two days later", 2 * day, 1, 3, 1},
		{"beyond every retention", checksDailyRetention, 0, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock.Advance(tc.advance)
			s.SaveState(nightowl.State{Check: "web", Status: nightowl.StatusUp}) // something to flush
			checksFlush(t, s)
			if h, d := count(t, nightowl.Hourly), count(t, nightowl.Daily); h != tc.hourly || d != tc.daily {
				t.Errorf("hourly %d daily %d, want %d and %d", h, d, tc.hourly, tc.daily)
			}
			if e, err := s.Events(ctx, "web", 0); err != nil || len(e) != tc.events {
				t.Errorf("%d events, %v; want %d", len(e), err, tc.events)
			}
			// Retention is for rollups and events: the recent results
			// stay, however old.
			if r, err := s.Results(ctx, "web", 0); err != nil || len(r) != 5 {
				t.Errorf("%d results, %v; want 5", len(r), err)
			}
		})
	}
}
