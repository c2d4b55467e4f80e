package incident

import (
	"testing"

	"github.com/nightowl/nightowl"
)

// A component takes in the ingested alerts its alerts matchers select:
// their synthetic checks count like its own checks.
func TestComponentStatusesWithIngestedAlerts(t *testing.T) {
	comps := []nightowl.Component{
		{Name: "Shop", Checks: nightowl.Selector{Names: []string{"shop"}},
			Alerts: []nightowl.AlertMatch{{Integration: "prometheus", Match: map[string]string{"service": "shop"}}}},
		{Name: "Jobs", Alerts: []nightowl.AlertMatch{{Integration: "jobs"}}},
	}
	view := func(name string, st nightowl.Status, labels map[string]string) nightowl.CheckView {
		return nightowl.CheckView{Check: nightowl.Check{Name: name, Labels: labels}, State: nightowl.State{Status: st}}
	}
	views := []nightowl.CheckView{
		view("shop", nightowl.StatusUp, nil),
		view("integration:prometheus:a1", nightowl.StatusDown, map[string]string{"integration": "prometheus", "service": "shop"}),
		view("integration:prometheus:b2", nightowl.StatusDown, map[string]string{"integration": "prometheus", "service": "cart"}),
		// A check that happens to carry the label is not of the integration's alerts for another.
		view("integration:grafana:c3", nightowl.StatusDown, map[string]string{"integration": "grafana", "service": "shop"}),
		view("integration:jobs:backup", nightowl.StatusDegraded, map[string]string{"integration": "jobs"}),
	}
	got := ComponentStatuses(comps, views)
	if got["Shop"] != nightowl.ComponentPartialOutage || got["Jobs"] != nightowl.ComponentDegraded {
		t.Errorf("statuses %v", got)
	}
	if c := componentsOf(comps, "integration:prometheus:a1", views[1].Check.Labels); len(c) != 1 || c[0] != "Shop" {
		t.Errorf("components of the shop alert: %v", c)
	}
	if c := componentsOf(comps, "integration:prometheus:b2", views[2].Check.Labels); len(c) != 0 {
		t.Errorf("components of the cart alert: %v", c)
	}
}
