package statuspage

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/config"
	"github.com/nightowl/nightowl/internal/clocktest"
)

// The page as a whole is tested end to end in app (status_test.go): what
// reaches the public pages, and what must never. These tests pin the model
// on hand-written fakes.

type fakeChecks []nightowl.CheckView

func (f fakeChecks) Checks() []nightowl.CheckView { return f }
func (f fakeChecks) Check(name string) (nightowl.CheckView, bool) {
	for _, v := range f {
		if v.Check.Name == name {
			return v, true
		}
	}
	return nightowl.CheckView{}, false
}

type fakeIncidents struct {
	incs    []nightowl.Incident
	updates map[string][]nightowl.IncidentUpdate
	lists   int
}

func (f *fakeIncidents) List(_ context.Context, q nightowl.IncidentQuery) ([]nightowl.Incident, error) {
	f.lists++
	var out []nightowl.Incident
	for _, inc := range f.incs {
		if q.Open && inc.State == nightowl.IncidentResolved {
			continue
		}
		if q.Published && !inc.Published() {
			continue
		}
		out = append(out, inc)
	}
	return out, nil
}

func (f *fakeIncidents) Get(_ context.Context, id string) (nightowl.Incident, []nightowl.IncidentUpdate, error) {
	for _, inc := range f.incs {
		if inc.ID == id {
			return inc, f.updates[id], nil
		}
	}
	return nightowl.Incident{}, nil, nightowl.Errorf(nightowl.ENotFound, "no incident %s", id)
}

type fakeWindows []nightowl.MaintenanceView

func (f fakeWindows) List() []nightowl.MaintenanceView { return f }

type fakeRollups map[string][]nightowl.Rollup

func (f fakeRollups) Rollups(_ context.Context, check string, _ nightowl.Period, _ time.Time) ([]nightowl.Rollup, error) {
	return f[check], nil
}

var t0 = time.Date(2026, 3, 17, 12, 0, 0, 0, time.UTC)

func view(name, tier string, st nightowl.Status) nightowl.CheckView {
	return nightowl.CheckView{Check: nightowl.Check{Name: name, Labels: map[string]string{"tier": tier}},
		State: nightowl.State{Check: name, Status: st}}
}

func testConfig() *config.Config {
	no := false
	return &config.Config{
		Checks: []config.Check{{Name: "shop", Labels: map[string]string{"tier": "web"}}, {Name: "db", Labels: map[string]string{"tier": "db"}},
			{Name: "hidden", Labels: map[string]string{"tier": "web"}, Badge: &no}},
		Components: []nightowl.Component{
			{Name: "Website", Checks: nightowl.Selector{Labels: map[string]string{"tier": "web"}}},
			{Name: "Database", Checks: nightowl.Selector{Labels: map[string]string{"tier": "db"}}},
		},
	}
}

func TestOverall(t *testing.T) {
	published := nightowl.Incident{ID: "i1", Title: "Payments fail", State: nightowl.IncidentIdentified,
		Impact: nightowl.ImpactCritical, CreatedAt: t0.Add(-time.Hour), PublishedAt: t0.Add(-time.Minute)}
	quiet := nightowl.Incident{ID: "i2", Title: "db-secret-name", State: nightowl.IncidentInvestigating,
		Impact: nightowl.ImpactCritical, CreatedAt: t0.Add(-time.Hour)}
	for _, tc := range []struct {
		name      string
		checks    fakeChecks
		incidents []nightowl.Incident
		want      nightowl.ComponentStatus
		indicator string
	}{
		{name: "all up", checks: fakeChecks{view("shop", "web", nightowl.StatusUp), view("db", "db", nightowl.StatusUp)},
			want: nightowl.ComponentOperational, indicator: "none"},
		{name: "one component down", checks: fakeChecks{view("shop", "web", nightowl.StatusUp), view("db", "db", nightowl.StatusDown)},
			want: nightowl.ComponentMajorOutage, indicator: "critical"},
		{name: "a published incident", checks: fakeChecks{view("shop", "web", nightowl.StatusUp), view("db", "db", nightowl.StatusUp)},
			incidents: []nightowl.Incident{published}, want: nightowl.ComponentMajorOutage, indicator: "critical"},
		{name: "an unpublished incident counts for nothing", checks: fakeChecks{view("shop", "web", nightowl.StatusUp), view("db", "db", nightowl.StatusUp)},
			incidents: []nightowl.Incident{quiet}, want: nightowl.ComponentOperational, indicator: "none"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			s := New(Options{Settings: settingsOf(cfg), Checks: tc.checks,
				Incidents: &fakeIncidents{incs: tc.incidents}, Maintenance: fakeWindows{}, Rollups: fakeRollups{},
				Clock: clocktest.New(t0), TTL: -1})
			ps, err := s.PublicStatus(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if ps.Overall != tc.want || ps.Indicator != tc.indicator {
				t.Errorf("overall %s (%s), want %s (%s)", ps.Overall, ps.Indicator, tc.want, tc.indicator)
			}
			for _, inc := range append(ps.Incidents, ps.History...) {
				if !inc.PublishedAt.Equal(published.PublishedAt) || inc.Title != published.Title {
					t.Errorf("incident on the page: %+v", inc)
				}
			}
		})
	}
}

// TestAffectedBy: a component in trouble is shown as affected by the
// components its blocked checks depend on, and by those it depends on
// that are in trouble too; an operational one by none.
func TestAffectedBy(t *testing.T) {
	cfg := testConfig()
	cfg.Components = append(cfg.Components, nightowl.Component{Name: "Network",
		Checks: nightowl.Selector{Labels: map[string]string{"tier": "net"}}})
	cfg.Components[0].DependsOn = []string{"Network"}
	shop := view("shop", "web", nightowl.StatusBlocked)
	shop.State.BlockedBy = "db"
	page := func(checks fakeChecks) map[string][]string {
		t.Helper()
		s := New(Options{Settings: settingsOf(cfg), Checks: checks, Incidents: &fakeIncidents{},
			Maintenance: fakeWindows{}, Rollups: fakeRollups{}, Clock: clocktest.New(t0), TTL: -1})
		ps, err := s.PublicStatus(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		out := map[string][]string{}
		for _, c := range ps.Components {
			if c.AffectedBy != nil {
				out[c.Name] = c.AffectedBy
			}
		}
		return out
	}
	got := page(fakeChecks{shop, view("db", "db", nightowl.StatusDown), view("router", "net", nightowl.StatusDown)})
	if want := []string{"Database", "Network"}; len(got) != 1 || strings.Join(got["Website"], ",") != strings.Join(want, ",") {
		t.Errorf("affected by: %v, want Website by %v", got, want)
	}
	got = page(fakeChecks{view("shop", "web", nightowl.StatusUp), view("db", "db", nightowl.StatusUp), view("router", "net", nightowl.StatusDown)})
	if len(got) != 0 {
		t.Errorf("an operational component is shown affected: %v", got)
	}
}

func TestCachedForTTL(t *testing.T) {
	cfg := testConfig()
	clock := clocktest.New(t0)
	incs := &fakeIncidents{}
	s := New(Options{Settings: settingsOf(cfg), Checks: fakeChecks{view("shop", "web", nightowl.StatusUp)},
		Incidents: incs, Maintenance: fakeWindows{}, Rollups: fakeRollups{}, Clock: clock})
	for range 3 {
		if _, err := s.PublicStatus(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if incs.lists != 2 {
		t.Fatalf("three reads within the TTL listed incidents %d times, want 2 (one build)", incs.lists)
	}
	clock.Advance(5 * time.Second)
	s.PublicStatus(t.Context())
	if incs.lists != 4 {
		t.Errorf("a read after the TTL listed incidents %d times in all, want 4 (two builds)", incs.lists)
	}
}

func TestUptimeBars(t *testing.T) {
	cfg := testConfig()
	day := t0.Truncate(24 * time.Hour)
	s := New(Options{Settings: settingsOf(cfg),
		Checks:    fakeChecks{view("shop", "web", nightowl.StatusUp), view("db", "db", nightowl.StatusUp)},
		Incidents: &fakeIncidents{}, Maintenance: fakeWindows{},
		Rollups: fakeRollups{"shop": {{Start: day, Runs: 100, Failures: 1}, {Start: day.AddDate(0, 0, -200), Runs: 5, Failures: 5}}},
		Clock:   clocktest.New(t0), TTL: -1})
	ps, err := s.PublicStatus(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	web, db := ps.Components[0], ps.Components[1]
	if len(web.Days) != uptimeDays || web.Uptime != 99 || web.Days[uptimeDays-1].Runs != 100 {
		t.Errorf("Website: %d days, uptime %v, today %+v", len(web.Days), web.Uptime, web.Days[uptimeDays-1])
	}
	if db.Uptime != -1 {
		t.Errorf("Database, never run: uptime %v, want -1 (no data)", db.Uptime)
	}
}

func TestAnnouncedMaintenance(t *testing.T) {
	cfg := testConfig()
	win := func(id string, announce, active bool, from time.Time) nightowl.MaintenanceView {
		return nightowl.MaintenanceView{Window: nightowl.Window{ID: id, Name: id, Announce: announce}, Active: active,
			From: from, Until: from.Add(time.Hour), Scope: []string{"db"}}
	}
	s := New(Options{Settings: settingsOf(cfg),
		Checks:    fakeChecks{view("shop", "web", nightowl.StatusUp), view("db", "db", nightowl.StatusUp)},
		Incidents: &fakeIncidents{}, Rollups: fakeRollups{}, Clock: clocktest.New(t0), TTL: -1,
		Maintenance: fakeWindows{
			win("now", true, true, t0.Add(-time.Minute)),
			win("tonight", true, false, t0.Add(10*time.Hour)),
			win("next-week", true, false, t0.Add(7*24*time.Hour)),
			win("unannounced", false, true, t0.Add(-time.Minute)),
		}})
	ps, err := s.PublicStatus(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range ps.Maintenance {
		got = append(got, m.ID)
		if len(m.Components) != 1 || m.Components[0] != "Database" {
			t.Errorf("%s: components %v, want [Database]", m.ID, m.Components)
		}
	}
	if len(got) != 2 || got[0] != "now" || got[1] != "tonight" {
		t.Errorf("announced windows %v, want [now tonight]", got)
	}
}

func TestBadge(t *testing.T) {
	cfg := testConfig()
	s := New(Options{Settings: settingsOf(cfg),
		Checks: fakeChecks{view("shop", "web", nightowl.StatusDown), view("hidden", "web", nightowl.StatusUp)}})
	for _, tc := range []struct {
		name string
		want nightowl.Status
		ok   bool
	}{
		{"shop", nightowl.StatusDown, true},
		{"hidden", "", false},
		{"db", "", false}, // configured but not in the engine
		{"nope", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if st, ok := s.Badge(tc.name); st != tc.want || ok != tc.ok {
				t.Errorf("Badge(%q) = %q, %t; want %q, %t", tc.name, st, ok, tc.want, tc.ok)
			}
		})
	}
}

// settingsOf is what the app hands the service for cfg.
func settingsOf(cfg *config.Config) func() Settings {
	return func() Settings {
		return Settings{Title: cfg.Server.Title, URL: cfg.Server.PublicURL, Components: cfg.Components, HasBadge: cfg.HasBadge}
	}
}
