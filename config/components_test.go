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
  - {name: Database, checks: {names: [math-db]}}
incidents: {auto_open: critical}
`
	cfg := mustParse(t, src, Options{})
	want := []nightowl.Component{
		{Name: "Website", Description: "The shop and its pages", Checks: nightowl.Selector{Labels: map[string]string{"tier": "web"}}},
		{Name: "Database", Checks: nightowl.Selector{Names: []string{"math-db"}}},
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
