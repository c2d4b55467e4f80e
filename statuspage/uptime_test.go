package statuspage

import (
	"log/slog"
	"math"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/clocktest"
	"github.com/nightowl/nightowl/sqlite"
)

// TestUptimeWindows writes results to a real SQLite store on a fake clock
// and reads the component's uptime windows back through its rollups: the
// 24 hours from the hourly rollups, the 7, 30 and 90 days from the daily
// ones, every check's runs pooled; response times only where the
// component shows them; each day with the published incidents open on it.
func TestUptimeWindows(t *testing.T) {
	clock := clocktest.New(t0)
	store, err := sqlite.Open(t.Context(), sqlite.Options{Path: filepath.Join(t.TempDir(), "n.db"), Now: clock.Now,
		Logger: slog.New(slog.DiscardHandler), FlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	run := func(check string, ago time.Duration, n, down int, took time.Duration) {
		for i := range n {
			st := nightowl.StatusUp
			if i < down {
				st = nightowl.StatusDown
			}
			store.SaveResult(nightowl.Result{Check: check, Start: t0.Add(-ago).Add(time.Duration(i) * time.Second),
				OK: st == nightowl.StatusUp, Status: st, Duration: nightowl.Seconds(took)})
		}
	}
	day := 24 * time.Hour
	run("shop", 2*time.Hour, 10, 1, 100*time.Millisecond) // in the last 24 hours
	run("api", 30*time.Hour, 10, 0, 100*time.Millisecond) // yesterday, before the last 24 hours
	run("shop", 3*day, 10, 5, 100*time.Millisecond)       // in the last 7 days
	run("shop", 20*day, 20, 0, 100*time.Millisecond)      // in the last 30 days
	run("shop", 60*day, 60, 60, 100*time.Millisecond)     // in the last 90 days
	run("db", time.Hour, 4, 0, 200*time.Millisecond)      // today, charted
	run("db", 2*day, 4, 0, 400*time.Millisecond)          // two days ago, charted
	if err := store.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}

	cfg := testConfig()
	cfg.Checks = append(cfg.Checks, cfg.Checks[0])
	cfg.Checks[len(cfg.Checks)-1].Name = "api"
	cfg.Components[1].ShowResponseTime = true
	today := t0.Truncate(day)
	incs := &fakeIncidents{incs: []nightowl.Incident{
		{ID: "i1", Title: "Slow checkout", State: nightowl.IncidentResolved, Impact: nightowl.ImpactMinor, Components: []string{"Website"},
			CreatedAt: today.Add(-2 * day), PublishedAt: today.Add(-2*day + time.Hour), ResolvedAt: today.Add(-day + time.Hour)},
		{ID: "i2", Title: "Quiet one", State: nightowl.IncidentInvestigating, Impact: nightowl.ImpactMinor, Components: []string{"Website"},
			CreatedAt: today},
	}}
	s := New(Options{Settings: settingsOf(cfg), Rollups: store, Incidents: incs, Maintenance: fakeWindows{},
		Checks: fakeChecks{view("shop", "web", nightowl.StatusUp), view("api", "web", nightowl.StatusUp), view("db", "db", nightowl.StatusUp)},
		Clock:  clock, TTL: -1})
	ps, err := s.PublicStatus(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	web, db := ps.Components[0], ps.Components[1]
	for _, tc := range []struct {
		period         string
		runs, failures int64
		uptime         float64
	}{
		{"24h", 10, 1, 90},
		{"7d", 30, 6, 80},
		{"30d", 50, 6, 88},
		{"90d", 110, 66, 40},
	} {
		t.Run(tc.period, func(t *testing.T) {
			w, ok := web.Window(tc.period)
			if !ok || w.Runs != tc.runs || w.Failures != tc.failures || math.Abs(w.Uptime()-tc.uptime) > 1e-9 {
				t.Errorf("Website %s: %+v (uptime %v), want %d runs, %d failures, %v%%", tc.period, w, w.Uptime(), tc.runs, tc.failures, tc.uptime)
			}
		})
	}
	if got := []string{web.Windows[0].Period, web.Windows[1].Period, web.Windows[2].Period, web.Windows[3].Period}; !slices.Equal(got, Periods) {
		t.Errorf("windows in the order %v, want %v", got, Periods)
	}
	if web.Uptime != 40 {
		t.Errorf("Website's 90-day uptime %v, want 40", web.Uptime)
	}

	// Response times: none for Website, which does not show them.
	if web.Response != (Response{}) || web.Days[uptimeDays-1].Response != (Response{}) {
		t.Errorf("Website shows response times without show_response_time: %+v", web.Response)
	}
	last, before := db.Days[uptimeDays-1].Response, db.Days[uptimeDays-3].Response
	if last.Runs != 4 || before.Runs != 4 || last.P50 <= 0 || last.P95 < last.P50 || before.P50 <= last.P50 {
		t.Errorf("Database's response: today %+v, two days ago %+v; want 4 runs each, slower two days ago", last, before)
	}
	if db.Response.Runs != 4 || db.Response.P50 != last.P50 {
		t.Errorf("Database's last 24 hours: %+v, want today's %+v", db.Response, last)
	}
	for _, d := range []float64{last.P50, before.P50} {
		if d < 0.05 || d > 1 {
			t.Errorf("a median of %vs, far from the durations written", d)
		}
	}

	// The published incident is on the two days it was open; the
	// unpublished one on none.
	for i, want := range map[int][]string{uptimeDays - 3: {"Slow checkout"}, uptimeDays - 2: {"Slow checkout"}, uptimeDays - 1: nil, uptimeDays - 4: nil} {
		if got := web.Days[i].Incidents; !slices.Equal(got, want) {
			t.Errorf("day %s: incidents %v, want %v", web.Days[i].Date.Format(time.DateOnly), got, want)
		}
	}
	if db.Days[uptimeDays-2].Incidents != nil {
		t.Errorf("Database carries Website's incident: %v", db.Days[uptimeDays-2].Incidents)
	}
}

// TestResponseTimeFollowsConfig: the cached uptime is rebuilt when a
// component starts or stops showing its response time, so that a reload
// that turns it off takes the figures off the page at once.
func TestResponseTimeFollowsConfig(t *testing.T) {
	cfg := testConfig()
	cfg.Components[1].ShowResponseTime = true
	clock := clocktest.New(t0)
	s := New(Options{Settings: settingsOf(cfg), Incidents: &fakeIncidents{}, Maintenance: fakeWindows{},
		Checks:  fakeChecks{view("db", "db", nightowl.StatusUp)},
		Rollups: fakeRollups{"db": {{Start: t0.Truncate(time.Hour), Runs: 10, P50: 0.1, P95: 0.2}}},
		Clock:   clock, TTL: time.Second})
	for _, show := range []bool{true, false, true} {
		cfg.Components[1].ShowResponseTime = show
		clock.Advance(2 * time.Second) // past the page's TTL, within the uptime's
		ps, err := s.PublicStatus(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		db := ps.Components[1]
		if got := db.Response.Runs > 0 && db.Days[uptimeDays-1].Response.Runs > 0; got != show || db.ShowResponseTime != show {
			t.Errorf("show_response_time %t: response %+v, today's %+v", show, db.Response, db.Days[uptimeDays-1].Response)
		}
	}
}
