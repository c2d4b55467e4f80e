package config

import (
	"reflect"
	"testing"

	"github.com/nightowl/nightowl"
)

func TestComponents(t *testing.T) {
	const src = `
checks:
  - name: shop
    labels: {tier: web}
    http: {url: "https://shop.example.com/"}
  - name: math-db
    labels: {tier: db}
    tcp: {addr: "db.example.com:3306"}
components:
  - {name: Website, checks: {labels: {tier: web}}, description: "The shop and its pages"}
  - {name: Database, checks: {names: [math-db]}, show_response_time: true}
incidents: {auto_open: critical}
`
	cfg := mustParse(t, src, Options{})
	want := []nightowl.Component{
		{Name: "Website", Description: "The shop and its pages", Checks: nightowl.Selector{Labels: map[string]string{"tier": "web"}}},
		{Name: "Database", Checks: nightowl.Selector{Names: []string{"math-db"}}, ShowResponseTime: true},
	}
	if !reflect.DeepEqual(cfg.Components, want) {
		t.Errorf("components = %+v\nwant %+v", cfg.Components, want)
	}
	if cfg.Incidents.AutoOpen != AutoOpenCritical {
		t.Errorf("auto_open = %q", cfg.Incidents.AutoOpen)
	}

	t.Run("defaults", func(t *testing.T) {
		cfg := mustParse(t, "checks: [{name: a, tcp: {addr: 'a:1'}}]\nincidents:\n", Options{})
		if cfg.Components != nil || cfg.Incidents.AutoOpen != AutoOpenOff {
			t.Errorf("components = %v, auto_open = %q; want none, off", cfg.Components, cfg.Incidents.AutoOpen)
		}
	})
}

// TestHasBadge: a check has a public badge when a component selects it or
// it says badge: true, and not when it says badge: false or is on no
// component; a name that is no check has none.
func TestHasBadge(t *testing.T) {
	cfg := mustParse(t, `checks:
  - {name: shop, labels: {tier: web}, http: {url: "https://example.com/"}}
  - {name: shop-admin, labels: {tier: web}, badge: false, http: {url: "https://example.com/admin"}}
  - {name: billing-db, tcp: {addr: "db:5432"}}
  - {name: docs, badge: true, http: {url: "https://docs.example.com/"}}
components:
  - {name: Website, checks: {labels: {tier: web}}}
`, Options{})
	for name, want := range map[string]bool{"shop": true, "shop-admin": false, "billing-db": false, "docs": true, "nosuch": false} {
		t.Run(name, func(t *testing.T) {
			if got := cfg.HasBadge(name); got != want {
				t.Errorf("HasBadge(%q) = %v, want %v", name, got, want)
			}
		})
	}
}
