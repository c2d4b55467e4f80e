package config

import (
	"reflect"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
)

// maintenanceConfig holds the Maintenance example of the product contract,
// with the checks it names, and windows that use the other forms.
const maintenanceConfig = `
checks:
  - name: math-site
    labels: {site: math, tier: web}
    http: {url: "https://math.example.com/"}
    assert:
      ok_status: status == 200
      writable: 'not (body contains "read-only mode")'
  - name: math-db
    labels: {site: math, tier: db}
    tcp: {addr: "db.example.com:3306"}
  - name: sessions
    tcp: {addr: "127.0.0.1:6379"}

maintenance:
  - name: march-failover
    start: 2026-03-17T22:00:00Z      # one-off; or: schedule: "0 2 * * SUN", duration: 2h, timezone: America/New_York
    end: 2026-03-18T01:30:00Z
    checks: {labels: {tier: web}}    # selector: labels, names: [...], or both
    expect: [writable]               # assertions allowed to fail; ["*"] = anything (a plain silence, discouraged)
    verify: {within: 10m, again_after: [1h]}
    announce: true                   # show on the status page, from 24h before
    reason: "database failover"
  - name: sunday-patching
    schedule: "0 2 * * SUN"
    duration: 2h
    timezone: America/New_York
    checks: {labels: {tier: web}, names: [sessions]}
    expect: [ok_status, connected]
  - name: nightly-vacuum
    schedule: "@daily"
    duration: 15m
    checks: {names: [math-db]}
    expect: ["*"]
    verify: {within: 5m}
  - name: db-upgrade
    start: 2026-04-01T22:00:00+02:00
    end: 2026-04-01T23:00:00+02:00
    checks: {names: [math-db]}
    expect: [connected]
    verify:
`

func TestMaintenanceValid(t *testing.T) {
	cfg := mustParse(t, maintenanceConfig, Options{})
	want := []nightowl.Window{
		{
			ID: "march-failover", Name: "march-failover", Source: "config",
			Start:    time.Date(2026, 3, 17, 22, 0, 0, 0, time.UTC),
			End:      time.Date(2026, 3, 18, 1, 30, 0, 0, time.UTC),
			Checks:   nightowl.Selector{Labels: map[string]string{"tier": "web"}},
			Expect:   []string{"writable"},
			Verify:   nightowl.Verify{Within: 10 * time.Minute, AgainAfter: []time.Duration{time.Hour}},
			Announce: true,
			Reason:   "database failover",
		},
		{
			ID: "sunday-patching", Name: "sunday-patching", Source: "config",
			Schedule: "0 2 * * SUN", Duration: nightowl.Seconds(2 * time.Hour), Timezone: "America/New_York",
			// connected is the default assertion of the tcp check that
			// only the names select.
			Checks: nightowl.Selector{Labels: map[string]string{"tier": "web"}, Names: []string{"sessions"}},
			Expect: []string{"ok_status", "connected"},
			Verify: nightowl.Verify{Within: DefaultVerifyWithin},
		},
		{
			ID: "nightly-vacuum", Name: "nightly-vacuum", Source: "config",
			Schedule: "@daily", Duration: nightowl.Seconds(15 * time.Minute), Timezone: "UTC",
			Checks: nightowl.Selector{Names: []string{"math-db"}},
			Expect: []string{nightowl.ExpectAnything},
			Verify: nightowl.Verify{Within: 5 * time.Minute},
		},
		{
			// The offset is applied and dropped.
			ID: "db-upgrade", Name: "db-upgrade", Source: "config",
			Start:  time.Date(2026, 4, 1, 20, 0, 0, 0, time.UTC),
			End:    time.Date(2026, 4, 1, 21, 0, 0, 0, time.UTC),
			Checks: nightowl.Selector{Names: []string{"math-db"}},
			Expect: []string{"connected"},
			Verify: nightowl.Verify{Within: DefaultVerifyWithin},
		},
	}
	if len(cfg.Maintenance) != len(want) {
		t.Fatalf("%d windows, want %d", len(cfg.Maintenance), len(want))
	}
	for i, w := range want {
		t.Run(w.Name, func(t *testing.T) {
			if got := cfg.Maintenance[i]; !reflect.DeepEqual(got, w) {
				t.Errorf("window = %+v\nwant     %+v", got, w)
			}
		})
	}

	t.Run("loads equal twice", func(t *testing.T) {
		// A reload compares windows; parsed offsets must not make equal
		// files differ.
		again := mustParse(t, maintenanceConfig, Options{})
		for i := range again.Maintenance {
			if a, b := again.Maintenance[i], cfg.Maintenance[i]; a.Start != b.Start || a.End != b.End {
				t.Errorf("window %s: %v–%v, then %v–%v", a.Name, b.Start, b.End, a.Start, a.End)
			}
		}
	})
}

func TestLoadValidMaintenance(t *testing.T) {
	cfg, err := Load("testdata/valid.yaml", Options{Getenv: env(map[string]string{"DNS_RESOLVER": "10.0.0.53:53"})})
	if err != nil {
		t.Fatalf("Load:\n%v", err)
	}
	if len(cfg.Maintenance) != 1 || cfg.Maintenance[0].ID != "math-failover" || cfg.Maintenance[0].Timezone != "Europe/Berlin" {
		t.Errorf("Maintenance = %+v", cfg.Maintenance)
	}
}

func TestMaintenanceAbsent(t *testing.T) {
	for _, src := range []string{
		"checks: [{name: web, http: {url: 'https://example.com/'}}]",
		"maintenance:\n",
		"maintenance: []\n",
	} {
		if got := mustParse(t, src, Options{}).Maintenance; len(got) != 0 {
			t.Errorf("%q: Maintenance = %+v", src, got)
		}
	}
}

func TestSuggest(t *testing.T) {
	tests := []struct {
		name  string
		names []string
		want  string
	}{
		{"webb", []string{"web", "math-db"}, `did you mean "web"?`},
		{"math_db", []string{"web", "math-db"}, `did you mean "math-db"?`},
		{"cache", []string{"web", "math-db"}, "checks: math-db, web"},
		{"cache", []string{"f", "e", "d", "c", "b", "a"}, "checks: a, b, c, d, e and 1 more"},
		{"cache", nil, "no checks are configured"},
	}
	for _, tt := range tests {
		if got := suggest(tt.name, tt.names); got != tt.want {
			t.Errorf("suggest(%q, %v) = %q, want %q", tt.name, tt.names, got, tt.want)
		}
	}
}
