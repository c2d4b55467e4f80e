package heartbeat

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/clocktest"
	"github.com/nightowl/nightowl/probe"
)

// memStore keeps pings and heartbeat states in memory. With discard set it
// keeps nothing, for benchmarks that measure the tracker alone.
type memStore struct {
	discard bool

	mu    sync.Mutex
	pings []nightowl.Ping
	beats map[string]nightowl.Heartbeat
}

func newMemStore() *memStore { return &memStore{beats: map[string]nightowl.Heartbeat{}} }

func (m *memStore) SavePing(p nightowl.Ping) {
	if m.discard {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pings = append(m.pings, p)
}

func (m *memStore) SaveHeartbeat(h nightowl.Heartbeat) {
	if m.discard {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.beats[h.Check] = h
}

func (m *memStore) Pings(_ context.Context, check string, limit int) ([]nightowl.Ping, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []nightowl.Ping
	for i := len(m.pings) - 1; i >= 0 && len(out) < limit; i-- {
		if m.pings[i].Check == check {
			out = append(out, m.pings[i])
		}
	}
	return out, nil
}

func (m *memStore) Heartbeats(context.Context) ([]nightowl.Heartbeat, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]nightowl.Heartbeat, 0, len(m.beats))
	for _, h := range m.beats {
		out = append(out, h)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Check < out[j].Check })
	return out, nil
}

func (m *memStore) SaveResult(nightowl.Result)  {}
func (m *memStore) CountResult(nightowl.Result) {}
func (m *memStore) SaveState(nightowl.State)    {}
func (m *memStore) Flush(context.Context) error { return nil }
func (m *memStore) AddEvent(_ context.Context, e nightowl.Event) (nightowl.Event, error) {
	return e, nil
}
func (m *memStore) States(context.Context) ([]nightowl.State, error) { return nil, nil }
func (m *memStore) Results(context.Context, string, int) ([]nightowl.Result, error) {
	return nil, nil
}
func (m *memStore) Events(context.Context, string, int) ([]nightowl.Event, error) { return nil, nil }
func (m *memStore) Rollups(context.Context, string, nightowl.Period, time.Time) ([]nightowl.Rollup, error) {
	return nil, nil
}
func (m *memStore) Forget(context.Context, []string) error { return nil }
func (m *memStore) Close() error                           { return nil }

type report struct {
	check string
	at    time.Time
	facts nightowl.Facts
}

// harness is a tracker on a fake clock whose reports arrive on a channel.
// A harness whose tracker runs (start) lives in a synctest bubble: next and
// quiet first wait until the dispatcher and every other goroutine of the
// test are blocked, so they see every report the tracker will make at that
// moment, however slow the machine, and no later one.
type harness struct {
	t       *testing.T
	clk     *clocktest.Fake
	store   *memStore
	tr      *Tracker
	reports chan report
	pending []report
	last    map[string]report
}

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

func newHarness(t *testing.T, at time.Time) *harness {
	t.Helper()
	return newHarnessWith(t, at, newMemStore())
}

func newHarnessWith(t *testing.T, at time.Time, store *memStore) *harness {
	t.Helper()
	h := &harness{
		t: t, clk: clocktest.New(at), store: store,
		reports: make(chan report, 10000), last: map[string]report{},
	}
	tr, err := New(Options{Clock: h.clk, Store: h.store, Logger: quietLog,
		Report: func(check string, at time.Time, f nightowl.Facts) { h.reports <- report{check, at, f} }})
	if err != nil {
		t.Fatal(err)
	}
	h.tr = tr
	return h
}

// start installs checks and runs the dispatcher.
func (h *harness) start(checks []Check, stored []nightowl.Heartbeat) {
	h.t.Helper()
	if err := h.tr.SetChecks(checks, stored); err != nil {
		h.t.Fatal(err)
	}
	h.tr.Start(context.Background())
	h.t.Cleanup(h.tr.Stop)
}

// settle waits until the tracker has done all it will do at the clock's
// present time and takes the reports made so far.
func (h *harness) settle() {
	synctest.Wait()
	for {
		select {
		case r := <-h.reports:
			h.pending = append(h.pending, r)
		default:
			return
		}
	}
}

// next returns the next report for check, and fails if none was made. A
// report identical to the one before it (same time, same facts) is
// skipped: it tells the engine nothing new.
func (h *harness) next(check string) report {
	h.t.Helper()
	h.settle()
	for {
		i := h.indexPending(check)
		if i < 0 {
			h.t.Fatalf("no report for %s at %s", check, h.clk.Now().UTC())
		}
		r := h.pending[i]
		h.pending = slices.Delete(h.pending, i, i+1)
		if prev, ok := h.last[check]; ok && sameReport(prev, r) {
			continue
		}
		h.last[check] = r
		return r
	}
}

func sameReport(a, b report) bool { return a.at.Equal(b.at) && reflect.DeepEqual(a.facts, b.facts) }

func (h *harness) indexPending(check string) int {
	for i, r := range h.pending {
		if r.check == check {
			return i
		}
	}
	return -1
}

// quiet fails if a report with new facts was made for check.
func (h *harness) quiet(check string) {
	h.t.Helper()
	h.settle()
	for i := h.indexPending(check); i >= 0; i = h.indexPending(check) {
		r := h.pending[i]
		h.pending = slices.Delete(h.pending, i, i+1)
		if prev, ok := h.last[check]; !ok || !sameReport(prev, r) {
			h.t.Fatalf("unexpected report at %s: %v", h.clk.Now().UTC(), r.facts)
		}
	}
}

func (h *harness) ping(token string, kind nightowl.PingKind, rid string, exit *int) nightowl.Ping {
	h.t.Helper()
	p, err := h.tr.Ping(token, nightowl.Ping{Kind: kind, RID: rid, ExitCode: exit})
	if err != nil {
		h.t.Fatalf("ping %s: %v", kind, err)
	}
	return p
}

// want is a heartbeat's full set of facts; nil fields are nil facts.
type want struct {
	age, lastDuration          any // float64 seconds or nil
	exit                       any // int or nil
	late, overdue, failed, run bool
}

func (w want) facts() nightowl.Facts {
	return nightowl.Facts{
		"last_ping_age": w.age, "last_duration": w.lastDuration, "exit_code": w.exit,
		"late": w.late, "overdue": w.overdue, "failed": w.failed, "running": w.run, "duration": 0.0,
	}
}

func code(n int) *int { return &n }

func period(p, grace time.Duration) *probe.Heartbeat {
	h := &probe.Heartbeat{Period: p, Grace: grace}
	if errs := h.Validate(); len(errs) > 0 {
		panic(fmt.Sprint(errs))
	}
	return h
}

func schedule(t *testing.T, expr, tz string, grace time.Duration) *probe.Heartbeat {
	t.Helper()
	h := &probe.Heartbeat{Schedule: expr, Timezone: tz, Grace: grace}
	if errs := h.Validate(); len(errs) > 0 {
		t.Fatal(errs)
	}
	return h
}

func withToken(h *probe.Heartbeat, tok string) *probe.Heartbeat { h.Token = tok; return h }

var t0 = time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)

const tok = "job-token-0123456789"

// step moves the clock to t0+at, optionally pings, then expects either a
// report with exactly these facts or none (checking Facts instead).
type step struct {
	at     time.Duration
	kind   nightowl.PingKind // "" for no ping
	rid    string
	exit   *int
	report bool
	want   want
	// pingDuration is the Duration the ping must come back with, nil
	// when it must have none.
	pingDuration *time.Duration
}

func dur(d time.Duration) *time.Duration { return &d }

func TestScenarios(t *testing.T) {
	initial := step{report: true, want: want{}}
	cases := []struct {
		name  string
		spec  *probe.Heartbeat
		steps []step
	}{
		{"period: up, late, overdue, and back up on a success", period(time.Hour, 10*time.Minute), []step{
			initial,
			{at: 59 * time.Minute, want: want{}},
			{at: time.Hour, report: true, want: want{late: true}},
			{at: 69 * time.Minute, want: want{late: true}},
			{at: 70 * time.Minute, report: true, want: want{overdue: true}},
			{at: 75 * time.Minute, kind: nightowl.PingSuccess, report: true, want: want{age: 0.0}},
			// Due one period after the success, not after the old due time.
			{at: 2*time.Hour + 14*time.Minute, want: want{age: 59 * 60.0}},
			{at: 2*time.Hour + 15*time.Minute, report: true, want: want{age: 60 * 60.0, late: true}},
			{at: 2*time.Hour + 20*time.Minute, kind: nightowl.PingSuccess, report: true, want: want{age: 0.0}},
		}},
		{"a success in grace clears late and moves the due time", period(time.Hour, 30*time.Minute), []step{
			initial,
			{at: time.Hour, report: true, want: want{late: true}},
			{at: 80 * time.Minute, kind: nightowl.PingSuccess, report: true, want: want{age: 0.0}},
			{at: 90 * time.Minute, want: want{age: 600.0}},
			{at: 140 * time.Minute, report: true, want: want{age: 3600.0, late: true}},
		}},
		{"start without finish is overdue after grace", period(time.Hour, 10*time.Minute), []step{
			initial,
			{at: 5 * time.Minute, kind: nightowl.PingStart, report: true, want: want{age: 0.0, run: true}},
			{at: 14 * time.Minute, want: want{age: 540.0, run: true}},
			{at: 15 * time.Minute, report: true, want: want{age: 600.0, run: true, overdue: true}},
			{at: 20 * time.Minute, kind: nightowl.PingSuccess, report: true, want: want{age: 0.0, lastDuration: 900.0},
				pingDuration: dur(15 * time.Minute)},
		}},
		{"a run that ends within grace leaves no deadline behind", period(time.Hour, 10*time.Minute), []step{
			initial,
			{at: 5 * time.Minute, kind: nightowl.PingStart, report: true, want: want{age: 0.0, run: true}},
			{at: 8 * time.Minute, kind: nightowl.PingSuccess, report: true, want: want{age: 0.0, lastDuration: 180.0},
				pingDuration: dur(3 * time.Minute)},
			{at: 15 * time.Minute, want: want{age: 420.0, lastDuration: 180.0}},
			{at: 68 * time.Minute, report: true, want: want{age: 3600.0, lastDuration: 180.0, late: true}},
		}},
		{"a second start without rid restarts the run", period(time.Hour, 10*time.Minute), []step{
			initial,
			{at: 1 * time.Minute, kind: nightowl.PingStart, report: true, want: want{age: 0.0, run: true}},
			{at: 8 * time.Minute, kind: nightowl.PingStart, report: true, want: want{age: 0.0, run: true}},
			{at: 11 * time.Minute, want: want{age: 180.0, run: true}},
			{at: 12 * time.Minute, kind: nightowl.PingSuccess, report: true, want: want{age: 0.0, lastDuration: 240.0},
				pingDuration: dur(4 * time.Minute)},
		}},
		{"rid pairs overlapping runs", period(time.Hour, 20*time.Minute), []step{
			initial,
			{at: 1 * time.Minute, kind: nightowl.PingStart, rid: "a", report: true, want: want{age: 0.0, run: true}},
			{at: 2 * time.Minute, kind: nightowl.PingStart, rid: "b", report: true, want: want{age: 0.0, run: true}},
			{at: 4 * time.Minute, kind: nightowl.PingSuccess, rid: "b", report: true,
				want: want{age: 0.0, lastDuration: 120.0, run: true}, pingDuration: dur(2 * time.Minute)},
			{at: 11 * time.Minute, kind: nightowl.PingSuccess, rid: "a", report: true,
				want: want{age: 0.0, lastDuration: 600.0}, pingDuration: dur(10 * time.Minute)},
		}},
		{"an end without rid ends only the start without rid", period(time.Hour, 20*time.Minute), []step{
			initial,
			{at: 1 * time.Minute, kind: nightowl.PingStart, report: true, want: want{age: 0.0, run: true}},
			{at: 2 * time.Minute, kind: nightowl.PingStart, rid: "x", report: true, want: want{age: 0.0, run: true}},
			{at: 5 * time.Minute, kind: nightowl.PingSuccess, report: true,
				want: want{age: 0.0, lastDuration: 240.0, run: true}, pingDuration: dur(4 * time.Minute)},
			{at: 7 * time.Minute, kind: nightowl.PingSuccess, rid: "x", report: true,
				want: want{age: 0.0, lastDuration: 300.0}, pingDuration: dur(5 * time.Minute)},
			// Nothing is open for this rid: no duration, the last one stays.
			{at: 8 * time.Minute, kind: nightowl.PingSuccess, rid: "y", report: true,
				want: want{age: 0.0, lastDuration: 300.0}},
		}},
		{"fail and exit codes", period(time.Hour, 10*time.Minute), []step{
			initial,
			{at: 1 * time.Minute, kind: nightowl.PingFail, report: true, want: want{age: 0.0, failed: true}},
			{at: 2 * time.Minute, exit: code(0), kind: nightowl.PingSuccess, report: true, want: want{age: 0.0, exit: 0}},
			{at: 3 * time.Minute, exit: code(1), kind: nightowl.PingSuccess, report: true, want: want{age: 0.0, exit: 1, failed: true}},
			{at: 4 * time.Minute, exit: code(255), kind: nightowl.PingFail, report: true, want: want{age: 0.0, exit: 255, failed: true}},
			{at: 5 * time.Minute, kind: nightowl.PingSuccess, report: true, want: want{age: 0.0}},
			{at: 6 * time.Minute, kind: nightowl.PingStart, report: true, want: want{age: 0.0, run: true}},
			{at: 7 * time.Minute, exit: code(2), kind: nightowl.PingSuccess, report: true,
				want: want{age: 0.0, exit: 2, failed: true, lastDuration: 60.0}, pingDuration: dur(time.Minute)},
			// A failure does not count as a success: due stays one
			// period after the last success (5m).
			{at: 65 * time.Minute, report: true, want: want{age: 58 * 60.0, exit: 2, failed: true, lastDuration: 60.0, late: true}},
		}},
		{"log changes nothing but the last ping", period(time.Hour, 10*time.Minute), []step{
			initial,
			{at: 30 * time.Minute, kind: nightowl.PingLog, want: want{age: 0.0}},
			{at: time.Hour, report: true, want: want{age: 1800.0, late: true}},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newHarness(t, t0)
				h.start([]Check{{Name: "job", Spec: withToken(tc.spec, tok)}}, nil)
				for i, s := range tc.steps {
					h.clk.Set(t0.Add(s.at))
					if s.kind != "" {
						p := h.ping(tok, s.kind, s.rid, s.exit)
						if p.Check != "job" || !p.Time.Equal(t0.Add(s.at)) {
							t.Errorf("step %d: ping came back as %+v", i, p)
						}
						switch {
						case s.pingDuration == nil && p.Duration != nil:
							t.Errorf("step %d: ping duration %v, want none", i, time.Duration(*p.Duration))
						case s.pingDuration != nil && (p.Duration == nil || time.Duration(*p.Duration) != *s.pingDuration):
							t.Errorf("step %d: ping duration %v, want %v", i, p.Duration, *s.pingDuration)
						}
					}
					if s.report {
						r := h.next("job")
						if !r.at.Equal(t0.Add(s.at)) {
							t.Errorf("step %d: report at %s, want %s", i, r.at, t0.Add(s.at))
						}
						if !reflect.DeepEqual(r.facts, s.want.facts()) {
							t.Fatalf("step %d (t0+%s): reported\n%v\nwant\n%v", i, s.at, r.facts, s.want.facts())
						}
					} else {
						h.quiet("job")
					}
					got, _ := h.tr.Facts("job")
					if !reflect.DeepEqual(got, s.want.facts()) {
						t.Fatalf("step %d (t0+%s): facts\n%v\nwant\n%v", i, s.at, got, s.want.facts())
					}
				}
			})
		})
	}
}

func TestPingsAndStateAreStored(t *testing.T) {
	h := newHarness(t, t0)
	h.start([]Check{{Name: "job", Spec: withToken(period(time.Hour, 0), tok)}}, nil)
	h.clk.Set(t0.Add(time.Minute))
	h.ping(tok, nightowl.PingStart, "r1", nil)
	h.clk.Set(t0.Add(3 * time.Minute))
	if _, err := h.tr.Ping(tok, nightowl.Ping{Kind: nightowl.PingSuccess, ExitCode: code(0), RID: "r1",
		Body: "done", Method: "POST", UserAgent: "curl/8", Remote: "192.0.2.1:5000"}); err != nil {
		t.Fatal(err)
	}
	pings, _ := h.store.Pings(context.Background(), "job", 10)
	if len(pings) != 2 || pings[1].Kind != nightowl.PingStart || pings[0].Body != "done" ||
		pings[0].Duration == nil || time.Duration(*pings[0].Duration) != 2*time.Minute ||
		pings[0].Remote != "192.0.2.1:5000" || !pings[0].Time.Equal(t0.Add(3*time.Minute)) {
		t.Fatalf("stored pings = %+v", pings)
	}
	beats, _ := h.store.Heartbeats(context.Background())
	d := nightowl.Seconds(2 * time.Minute)
	want := nightowl.Heartbeat{Check: "job", Token: tok, LastPing: t0.Add(3 * time.Minute),
		LastSuccess: t0.Add(3 * time.Minute), LastDuration: &d, ExitCode: code(0), Since: t0}
	if len(beats) != 1 || !reflect.DeepEqual(beats[0], want) {
		t.Fatalf("stored state = %+v, want %+v", beats, want)
	}
}

func TestPingErrors(t *testing.T) {
	h := newHarness(t, t0)
	h.start([]Check{{Name: "job", Spec: withToken(period(time.Hour, 0), tok)}}, nil)
	cases := []struct {
		name, token string
		ping        nightowl.Ping
		code        string
	}{
		{"unknown token", "no-such-token-0000000", nightowl.Ping{}, nightowl.ENotFound},
		{"empty token", "", nightowl.Ping{}, nightowl.ENotFound},
		{"exit code 256", tok, nightowl.Ping{ExitCode: code(256)}, nightowl.EInvalid},
		{"negative exit code", tok, nightowl.Ping{ExitCode: code(-1)}, nightowl.EInvalid},
		{"exit code on a start", tok, nightowl.Ping{Kind: nightowl.PingStart, ExitCode: code(0)}, nightowl.EInvalid},
		{"unknown kind", tok, nightowl.Ping{Kind: "restart"}, nightowl.EInvalid},
		{"rid too long", tok, nightowl.Ping{RID: strings.Repeat("r", maxRID+1)}, nightowl.EInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.tr.Ping(tc.token, tc.ping)
			if got := nightowl.ErrorCode(err); got != tc.code {
				t.Fatalf("error %v has code %q, want %q", err, got, tc.code)
			}
		})
	}
	if pings, _ := h.store.Pings(context.Background(), "job", 10); len(pings) != 0 {
		t.Errorf("refused pings were stored: %+v", pings)
	}
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestScheduleDueTimes pins the due times of cron schedules in
// America/New_York across the 2026 transitions: clocks spring forward at
// 2026-03-08 02:00 EST (to 03:00 EDT) and fall back at 2026-11-01 02:00 EDT
// (to 01:00 EST).
func TestScheduleDueTimes(t *testing.T) {
	const ny = "America/New_York"
	cases := []struct {
		name, expr string
		since      string
		successes  []string
		// due[0] is due after since, due[i] after successes[i-1].
		due []string
	}{
		{"0 3 across spring-forward", "0 3 * * *", "2026-03-07T12:00:00-05:00",
			[]string{"2026-03-08T03:02:00-04:00"},
			[]string{"2026-03-08T07:00:00Z", "2026-03-09T07:00:00Z"}},
		{"0 3 across fall-back", "0 3 * * *", "2026-10-31T12:00:00-04:00",
			[]string{"2026-11-01T03:01:00-05:00"},
			[]string{"2026-11-01T08:00:00Z", "2026-11-02T08:00:00Z"}},
		// 02:30 does not exist on 2026-03-08: the schedule is due at
		// 03:30 EDT, one hour later by the wall clock. Cron daemons run
		// such a job at 03:00; a success then is on time and the next
		// one is due at 02:30 EDT the day after.
		{"30 2 on spring-forward day", "30 2 * * *", "2026-03-07T12:00:00-05:00",
			[]string{"2026-03-08T03:00:05-04:00"},
			[]string{"2026-03-08T07:30:00Z", "2026-03-09T06:30:00Z"}},
		{"30 2 across fall-back", "30 2 * * *", "2026-10-31T12:00:00-04:00",
			[]string{"2026-11-01T02:30:09-05:00"},
			[]string{"2026-11-01T07:30:00Z", "2026-11-02T07:30:00Z"}},
		// 01:30 happens twice on 2026-11-01. It is due at the first;
		// after a success then, the repeat an hour later is not due.
		{"30 1 on fall-back day is due once", "30 1 * * *", "2026-10-31T12:00:00-04:00",
			[]string{"2026-11-01T01:30:05-04:00"},
			[]string{"2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"}},
		{"every 30 minutes skips the repeated hour", "*/30 * * * *", "2026-11-01T01:10:00-04:00",
			[]string{"2026-11-01T01:30:05-04:00", "2026-11-01T02:00:04-05:00"},
			[]string{"2026-11-01T05:30:00Z", "2026-11-01T07:00:00Z", "2026-11-01T07:30:00Z"}},
		{"every 30 minutes across spring-forward", "*/30 * * * *", "2026-03-08T01:10:00-05:00",
			[]string{"2026-03-08T01:30:05-05:00"},
			[]string{"2026-03-08T06:30:00Z", "2026-03-08T07:00:00Z"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, mustTime(t, tc.since))
			if err := h.tr.SetChecks([]Check{{Name: "job", Spec: withToken(schedule(t, tc.expr, ny, time.Hour), tok)}}, nil); err != nil {
				t.Fatal(err)
			}
			for i, want := range tc.due {
				if i > 0 {
					h.clk.Set(mustTime(t, tc.successes[i-1]))
					h.ping(tok, nightowl.PingSuccess, "", nil)
				}
				got, _ := h.tr.Due("job")
				if !got.Equal(mustTime(t, want)) {
					t.Errorf("due #%d = %s, want %s", i, got.UTC(), want)
				}
			}
		})
	}
	t.Run("period counts from the last success", func(t *testing.T) {
		h := newHarness(t, t0)
		if err := h.tr.SetChecks([]Check{{Name: "job", Spec: withToken(period(time.Hour, 0), tok)}}, nil); err != nil {
			t.Fatal(err)
		}
		if got, _ := h.tr.Due("job"); !got.Equal(t0.Add(time.Hour)) {
			t.Errorf("due = %s", got)
		}
		h.clk.Set(t0.Add(20 * time.Minute))
		h.ping(tok, nightowl.PingSuccess, "", nil)
		if got, _ := h.tr.Due("job"); !got.Equal(t0.Add(80 * time.Minute)) {
			t.Errorf("due after success = %s", got)
		}
	})
}

// TestScheduleDeadlines drives the dispatcher across the transitions: the
// late and overdue reports come at the exact instants, and grace is
// elapsed time, not wall-clock time.
func TestScheduleDeadlines(t *testing.T) {
	cases := []struct {
		name, expr      string
		grace           time.Duration
		since           string
		late, overdue   string
		lateWallClockNY string
	}{
		{"0 3 on spring-forward day", "0 3 * * *", time.Hour, "2026-03-07T12:00:00-05:00",
			"2026-03-08T07:00:00Z", "2026-03-08T08:00:00Z", "03:00 EDT"},
		{"30 2 on spring-forward day runs at 03:30", "30 2 * * *", time.Hour, "2026-03-07T12:00:00-05:00",
			"2026-03-08T07:30:00Z", "2026-03-08T08:30:00Z", "03:30 EDT"},
		{"grace spans the jump", "0 1 * * *", 2 * time.Hour, "2026-03-07T12:00:00-05:00",
			"2026-03-08T06:00:00Z", "2026-03-08T08:00:00Z", "01:00 EST"},
		{"0 3 on fall-back day", "0 3 * * *", time.Hour, "2026-10-31T12:00:00-04:00",
			"2026-11-01T08:00:00Z", "2026-11-01T09:00:00Z", "03:00 EST"},
		{"grace spans the repeated hour", "30 0 * * *", 2 * time.Hour, "2026-10-31T12:00:00-04:00",
			"2026-11-01T04:30:00Z", "2026-11-01T06:30:00Z", "00:30 EDT"},
	}
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			late, overdue := mustTime(t, tc.late), mustTime(t, tc.overdue)
			if got := late.In(ny).Format("15:04 MST"); got != tc.lateWallClockNY {
				t.Fatalf("case is wrong: %s is %s in New York", late, got)
			}
			synctest.Test(t, func(t *testing.T) {
				h := newHarness(t, mustTime(t, tc.since))
				h.start([]Check{{Name: "job", Spec: withToken(schedule(t, tc.expr, "America/New_York", tc.grace), tok)}}, nil)
				if r := h.next("job"); !reflect.DeepEqual(r.facts, want{}.facts()) {
					t.Fatalf("first report: %v", r.facts)
				}
				for _, s := range []struct {
					at     time.Time
					report bool
					want   want
				}{
					{late.Add(-time.Second), false, want{}},
					{late, true, want{late: true}},
					{overdue.Add(-time.Second), false, want{late: true}},
					{overdue, true, want{overdue: true}},
				} {
					h.clk.Set(s.at)
					if s.report {
						r := h.next("job")
						if !r.at.Equal(s.at) || !reflect.DeepEqual(r.facts, s.want.facts()) {
							t.Fatalf("at %s: report at %s with %v, want %v", s.at, r.at.UTC(), r.facts, s.want.facts())
						}
					} else {
						h.quiet("job")
					}
				}
			})
		})
	}
}

func TestRestartKeepsStateAndTokens(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		checks := func() []Check {
			return []Check{
				{Name: "job", Spec: period(time.Hour, 20*time.Minute)},
				{Name: "idle", Spec: period(time.Hour, 20*time.Minute)},
				{Name: "nightly", Spec: schedule(t, "0 3 * * *", "America/New_York", time.Hour)},
			}
		}
		a := newHarness(t, t0)
		a.start(checks(), nil)
		tokens := map[string]string{}
		for _, c := range checks() {
			tokens[c.Name], _ = a.tr.Token(c.Name)
		}
		a.clk.Set(t0.Add(10 * time.Minute))
		a.ping(tokens["job"], nightowl.PingStart, "", nil)
		a.clk.Set(t0.Add(12 * time.Minute))
		a.ping(tokens["job"], nightowl.PingSuccess, "", code(0))
		a.clk.Set(t0.Add(30 * time.Minute))
		a.ping(tokens["job"], nightowl.PingStart, "r", nil)
		a.tr.Stop()
		stored, _ := a.store.Heartbeats(context.Background())

		// A new process, 10 minutes later, with a config built afresh.
		b := newHarnessWith(t, t0.Add(40*time.Minute), a.store)
		b.start(checks(), stored)
		for name, want := range tokens {
			if got, _ := b.tr.Token(name); got != want {
				t.Errorf("token of %s changed across a restart: %q → %q", name, want, got)
			}
		}
		for name, want := range map[string]time.Time{
			"job":     t0.Add(72 * time.Minute),
			"idle":    t0.Add(time.Hour), // since t0, not since the restart
			"nightly": mustTime(t, "2026-05-05T07:00:00Z"),
		} {
			if got, _ := b.tr.Due(name); !got.Equal(want) {
				t.Errorf("due of %s = %s, want %s", name, got, want)
			}
		}
		jobAt40 := want{age: 600.0, lastDuration: 120.0, exit: 0, run: true}
		if r := b.next("job"); !reflect.DeepEqual(r.facts, jobAt40.facts()) {
			t.Errorf("first report after restart: %v, want %v", r.facts, jobAt40.facts())
		}
		// The run started at 30m before the restart is overdue at 50m.
		b.clk.Set(t0.Add(50 * time.Minute))
		if r := b.next("job"); r.facts["overdue"] != true {
			t.Errorf("open run not overdue after grace: %v", r.facts)
		}
		// And it still pairs with its end.
		p := b.ping(tokens["job"], nightowl.PingSuccess, "r", nil)
		if p.Duration == nil || time.Duration(*p.Duration) != 20*time.Minute {
			t.Errorf("restored run ended with duration %v", p.Duration)
		}
	})
}

func TestTokens(t *testing.T) {
	t.Run("generated tokens are 128 random bits, distinct and saved", func(t *testing.T) {
		h := newHarness(t, t0)
		var checks []Check
		for i := range 1000 {
			checks = append(checks, Check{Name: fmt.Sprintf("job-%d", i), Spec: period(time.Hour, 0)})
		}
		if err := h.tr.SetChecks(checks, nil); err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, c := range checks {
			tok, ok := h.tr.Token(c.Name)
			raw, err := base64.RawURLEncoding.DecodeString(tok)
			if !ok || err != nil || len(raw) < 16 || len(tok) != 22 {
				t.Fatalf("token of %s = %q (%d bytes, %v)", c.Name, tok, len(raw), err)
			}
			if seen[tok] {
				t.Fatalf("token %q given twice", tok)
			}
			seen[tok] = true
			if h.store.beats[c.Name].Token != tok {
				t.Fatalf("token of %s not saved", c.Name)
			}
			if _, err := h.tr.Ping(tok, nightowl.Ping{}); err != nil {
				t.Fatalf("ping with generated token: %v", err)
			}
		}
	})
	t.Run("configured beats stored beats generated", func(t *testing.T) {
		h := newHarness(t, t0)
		stored := []nightowl.Heartbeat{
			{Check: "configured", Token: "old-stored-token-aaaa", Since: t0},
			{Check: "stored", Token: "kept-stored-token-bbbb", Since: t0},
		}
		err := h.tr.SetChecks([]Check{
			{Name: "configured", Spec: withToken(period(time.Hour, 0), "from-config-token-cccc")},
			{Name: "stored", Spec: period(time.Hour, 0)},
		}, stored)
		if err != nil {
			t.Fatal(err)
		}
		for name, want := range map[string]string{"configured": "from-config-token-cccc", "stored": "kept-stored-token-bbbb"} {
			if got, _ := h.tr.Token(name); got != want {
				t.Errorf("token of %s = %q, want %q", name, got, want)
			}
		}
		if h.store.beats["configured"].Token != "from-config-token-cccc" {
			t.Errorf("the new configured token was not saved: %+v", h.store.beats["configured"])
		}
		if _, err := h.tr.Ping("old-stored-token-aaaa", nightowl.Ping{}); nightowl.ErrorCode(err) != nightowl.ENotFound {
			t.Errorf("the replaced token still works: %v", err)
		}
	})
}

func TestSetChecksRefusals(t *testing.T) {
	same := "same-token-0123456789"
	cases := []struct {
		name     string
		checks   func() []Check
		stored   []nightowl.Heartbeat
		newToken func() (string, error)
		code     string
		message  string
	}{
		{name: "two configured tokens alike",
			checks: func() []Check {
				return []Check{
					{Name: "a", Spec: withToken(period(time.Hour, 0), same)},
					{Name: "b", Spec: withToken(period(time.Hour, 0), same)},
				}
			},
			code: nightowl.EInvalid, message: `checks "a" and "b" have the same heartbeat token`},
		{name: "a configured token that is another check's stored one",
			checks: func() []Check {
				return []Check{
					{Name: "a", Spec: period(time.Hour, 0)},
					{Name: "b", Spec: withToken(period(time.Hour, 0), same)},
				}
			},
			stored: []nightowl.Heartbeat{{Check: "a", Token: same}},
			code:   nightowl.EInvalid, message: `checks "a" and "b" have the same heartbeat token`},
		{name: "a generator that fails",
			checks:   func() []Check { return []Check{{Name: "a", Spec: period(time.Hour, 0)}} },
			newToken: func() (string, error) { return "", errors.New("no entropy") },
			code:     nightowl.EInternal, message: "generate a ping token for a: no entropy"},
		{name: "a generator that repeats itself",
			checks: func() []Check {
				return []Check{{Name: "a", Spec: period(time.Hour, 0)}, {Name: "b", Spec: period(time.Hour, 0)}}
			},
			newToken: func() (string, error) { return "always-the-same-token", nil },
			code:     nightowl.EInternal, message: "generate a ping token for b: the generator keeps returning tokens in use"},
		{name: "a name listed twice",
			checks: func() []Check {
				return []Check{{Name: "a", Spec: period(time.Hour, 0)}, {Name: "a", Spec: period(time.Hour, 0)}}
			},
			code: nightowl.EInvalid, message: `heartbeat check "a" is listed twice`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, t0)
			h.start([]Check{{Name: "running", Spec: withToken(period(time.Hour, 0), tok)}}, nil)
			if tc.newToken != nil {
				h.tr.opts.NewToken = tc.newToken
			}
			err := h.tr.SetChecks(tc.checks(), tc.stored)
			if err == nil || nightowl.ErrorCode(err) != tc.code || err.Error() != tc.message {
				t.Fatalf("SetChecks = %v (code %q), want %q (code %q)", err, nightowl.ErrorCode(err), tc.message, tc.code)
			}
			// The running config is untouched.
			if _, ok := h.tr.Token("a"); ok {
				t.Error("a refused check was installed")
			}
			if _, err := h.tr.Ping(tok, nightowl.Ping{}); err != nil {
				t.Errorf("the running check stopped working: %v", err)
			}
		})
	}
}

func TestReload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, t0)
		h.start([]Check{
			{Name: "job", Spec: period(time.Hour, 10*time.Minute)},
			{Name: "gone", Spec: period(time.Hour, 10*time.Minute)},
		}, nil)
		h.next("job")
		h.next("gone")
		jobTok, _ := h.tr.Token("job")
		goneTok, _ := h.tr.Token("gone")
		h.clk.Set(t0.Add(5 * time.Minute))
		h.ping(jobTok, nightowl.PingStart, "", nil)
		h.clk.Set(t0.Add(7 * time.Minute))
		h.ping(jobTok, nightowl.PingSuccess, "", nil)
		h.next("job")
		h.next("job")
		before, _ := h.tr.Facts("job")

		// Unchanged timing keeps state, token and due time.
		err := h.tr.SetChecks([]Check{
			{Name: "job", Spec: period(time.Hour, 10*time.Minute)},
			{Name: "added", Spec: period(time.Minute, 0)},
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := h.tr.Token("job"); got != jobTok {
			t.Errorf("token changed on reload: %q → %q", jobTok, got)
		}
		if got, _ := h.tr.Due("job"); !got.Equal(t0.Add(67 * time.Minute)) {
			t.Errorf("due = %s", got)
		}
		if got, _ := h.tr.Facts("job"); !reflect.DeepEqual(got, before) {
			t.Errorf("facts changed on reload: %v → %v", before, got)
		}
		if r := h.next("added"); r.facts["late"] != false {
			t.Errorf("added check first report: %v", r.facts)
		}
		h.quiet("job")

		// A removed check's token stops working.
		if _, err := h.tr.Ping(goneTok, nightowl.Ping{}); nightowl.ErrorCode(err) != nightowl.ENotFound {
			t.Errorf("ping to removed check: %v", err)
		}
		if _, ok := h.tr.Token("gone"); ok {
			t.Error("removed check still has a token")
		}
		// Its old deadline (t0+1h) must not report it.
		h.clk.Set(t0.Add(61 * time.Minute))
		h.quiet("gone")

		// Changed timing recomputes the due time and reports.
		err = h.tr.SetChecks([]Check{
			{Name: "job", Spec: period(30*time.Minute, 10*time.Minute)},
			{Name: "added", Spec: period(time.Minute, 0)},
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := h.tr.Due("job"); !got.Equal(t0.Add(37 * time.Minute)) {
			t.Errorf("due = %s, want 30m after the last success", got)
		}
		w := want{age: 54 * 60.0, lastDuration: 120.0, overdue: true}
		if r := h.next("job"); !reflect.DeepEqual(r.facts, w.facts()) {
			t.Errorf("report after reload: %v, want %v", r.facts, w.facts())
		}
	})
}

// TestStaleReportIsCorrected races pings against a deadline: whatever the
// interleaving, the last report must carry the latest facts.
func TestStaleReportIsCorrected(t *testing.T) {
	for i := range 50 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				clk := clocktest.New(t0)
				var mu sync.Mutex
				var last nightowl.Facts
				tr, err := New(Options{Clock: clk, Store: newMemStore(), Logger: quietLog,
					Report: func(_ string, _ time.Time, f nightowl.Facts) {
						mu.Lock()
						last = f
						mu.Unlock()
					}})
				if err != nil {
					t.Fatal(err)
				}
				if err := tr.SetChecks([]Check{{Name: "job", Spec: withToken(period(time.Hour, time.Minute), tok)}}, nil); err != nil {
					t.Fatal(err)
				}
				tr.Start(context.Background())
				defer tr.Stop()
				clk.Set(t0.Add(61 * time.Minute)) // overdue, reported by the dispatcher
				if _, err := tr.Ping(tok, nightowl.Ping{}); err != nil {
					t.Fatal(err)
				}
				synctest.Wait()
				mu.Lock()
				f := last
				mu.Unlock()
				if now, _ := tr.Facts("job"); !reflect.DeepEqual(f, now) {
					t.Fatalf("last report %v, facts %v", f, now)
				}
			})
		})
	}
}

// signalStore tells when a ping has been stored: Ping stores it after it
// has changed the check's state and before it reports.
type signalStore struct {
	*memStore
	pinged chan nightowl.Ping
}

func (s signalStore) SavePing(p nightowl.Ping) {
	s.memStore.SavePing(p)
	s.pinged <- p
}

// TestReportsFollowChanges: a ping that comes while the dispatcher is
// still reporting a deadline is reported after it, and nothing is
// reported again later: the engine hears of each change once, at the
// moment it happened, in order.
func TestReportsFollowChanges(t *testing.T) {
	clk := clocktest.New(t0)
	store := signalStore{newMemStore(), make(chan nightowl.Ping, 1)}
	entered, release := make(chan struct{}), make(chan struct{})
	var (
		mu      sync.Mutex
		reports []report
		first   sync.Once
	)
	tr, err := New(Options{Clock: clk, Store: store, Logger: quietLog,
		Report: func(check string, at time.Time, f nightowl.Facts) {
			mu.Lock()
			reports = append(reports, report{check, at, f})
			mu.Unlock()
			// The first report (the dispatcher's, of the check
			// being tracked) takes its time.
			first.Do(func() {
				close(entered)
				<-release
			})
		}})
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.SetChecks([]Check{{Name: "job", Spec: withToken(period(time.Hour, 10*time.Minute), tok)}}, nil); err != nil {
		t.Fatal(err)
	}
	tr.Start(context.Background())
	defer tr.Stop()
	<-entered

	clk.Set(t0.Add(5 * time.Minute))
	var pinged sync.WaitGroup
	pinged.Go(func() {
		if _, err := tr.Ping(tok, nightowl.Ping{Kind: nightowl.PingStart}); err != nil {
			t.Error(err)
		}
	})
	<-store.pinged
	// Time passes before the dispatcher's report is done; nothing falls
	// due meanwhile (the run is overdue at 15m).
	clk.Set(t0.Add(14 * time.Minute))
	close(release)
	pinged.Wait()
	tr.Stop()

	wantReports := []report{
		{"job", t0, want{}.facts()},
		{"job", t0.Add(5 * time.Minute), want{age: 0.0, run: true}.facts()},
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reports) != len(wantReports) {
		t.Fatalf("%d reports, want %d: %v", len(reports), len(wantReports), reports)
	}
	for i, r := range reports {
		if !sameReport(r, wantReports[i]) {
			t.Errorf("report %d at %s: %v, want at %s: %v", i, r.at.UTC(), r.facts, wantReports[i].at, wantReports[i].facts)
		}
	}
}

func TestOpenRunsAreBounded(t *testing.T) {
	h := newHarness(t, t0)
	h.start([]Check{{Name: "job", Spec: withToken(period(time.Hour, time.Hour), tok)}}, nil)
	for i := range maxRuns + 10 {
		h.clk.Set(t0.Add(time.Duration(i) * time.Second))
		h.ping(tok, nightowl.PingStart, fmt.Sprint("r", i), nil)
	}
	// The oldest ten were dropped: their end pairs with nothing.
	if p := h.ping(tok, nightowl.PingSuccess, "r9", nil); p.Duration != nil {
		t.Errorf("dropped run r9 still open: %v", *p.Duration)
	}
	if p := h.ping(tok, nightowl.PingSuccess, "r10", nil); p.Duration == nil {
		t.Error("run r10 was dropped")
	}
	if n := len(h.store.beats["job"].Started); n != maxRuns-1 {
		t.Errorf("%d runs stored, want %d", n, maxRuns-1)
	}
}

// TestWallClockStepped: a step of the wall clock, forward or back, brings
// no heartbeat nearer to being late or takes it further away: a period and
// a grace are time that passes, and a step is no time passing. A
// schedule's due time is a time of day and stays where it is.
func TestWallClockStepped(t *testing.T) {
	clk, err := clocktest.NewStepped()
	if err != nil {
		t.Fatal(err)
	}
	tr, err := New(Options{Clock: clk, Store: newMemStore(), Logger: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	const nightlyTok, workerTok = "nightly-token-0123456789", "worker-token-0123456789"
	err = tr.SetChecks([]Check{
		{Name: "job", Spec: withToken(period(30*time.Minute, 5*time.Minute), tok)},
		{Name: "nightly", Spec: withToken(schedule(t, "0 3 * * *", "UTC", time.Hour), nightlyTok)},
		{Name: "worker", Spec: withToken(period(30*time.Minute, 5*time.Minute), workerTok)},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ping := func(token string, at time.Time) {
		t.Helper()
		if _, err := tr.Ping(token, nightowl.Ping{Time: at}); err != nil {
			t.Fatal(err)
		}
	}
	due := func(check string) time.Time {
		t.Helper()
		d, _ := tr.Due(check)
		return d
	}
	near := func(a, b time.Time) bool { return a.Sub(b).Abs() < time.Second }
	ping(tok, time.Time{})
	ping(nightlyTok, time.Time{})
	job, nightly := due("job"), due("nightly")

	for _, step := range []time.Duration{time.Hour, 0, -time.Hour, 0} {
		clk.Step(step)
		f, _ := tr.Facts("job")
		if f["late"] != false || f["overdue"] != false || f["last_ping_age"].(float64) > 1 {
			t.Errorf("wall clock at %s: the job pinged a moment ago is %v", step, f)
		}
		if got := due("job"); !near(got, job.Add(step)) {
			t.Errorf("wall clock at %s: the job is due at %s, want %s", step, got, job.Add(step))
		}
		if got := due("nightly"); !got.Equal(nightly) {
			t.Errorf("wall clock at %s: the nightly job is due at %s, want %s", step, got, nightly)
		}
	}

	// A ping whose request arrived before a step and was handled after it
	// is placed by the time that passed since it arrived.
	arrived := clk.Now()
	clk.Step(time.Hour)
	ping(workerTok, arrived)
	if got, want := due("worker"), arrived.Round(0).Add(time.Hour+30*time.Minute); !near(got, want) {
		t.Errorf("a ping that arrived before a step: due at %s, want %s", got, want)
	}
	if f, _ := tr.Facts("worker"); f["last_ping_age"].(float64) > 1 {
		t.Errorf("a ping that arrived before a step: %v", f)
	}
}
