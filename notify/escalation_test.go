package notify

import (
	"testing"
	"time"
)

// TestEscalationStepByStep walks the SPEC's default policy on a clock:
// chat at once, primary after 5m, secondary after 15m, then the last step
// again every 30m while nobody acknowledges.
func TestEscalationStepByStep(t *testing.T) {
	e := Escalation{Steps: []Step{{After: 15 * time.Minute, Notify: "secondary"}, {Notify: "chat"}, {After: 5 * time.Minute, Notify: "primary"}}, Repeat: 30 * time.Minute}
	e.Sort()
	start := time.Date(2026, 3, 18, 1, 28, 0, 0, time.UTC)
	want := []struct {
		notify string
		at     time.Duration
	}{
		{"chat", 0}, {"primary", 5 * time.Minute}, {"secondary", 15 * time.Minute},
		{"secondary", 45 * time.Minute}, {"secondary", 75 * time.Minute},
	}
	for sent, w := range want {
		step, at, ok := e.Next(start, sent)
		if !ok || e.Steps[step].Notify != w.notify || !at.Equal(start.Add(w.at)) {
			t.Fatalf("notification %d: %v %s at +%v, want %s at +%v", sent, ok, e.Steps[step].Notify, at.Sub(start), w.notify, w.at)
		}
	}
	once := Escalation{Steps: []Step{{Notify: "chat"}}}
	if _, _, ok := once.Next(start, 1); ok {
		t.Error("an escalation without repeat went on after its last step")
	}
	if _, _, ok := (&Escalation{}).Next(start, 0); ok {
		t.Error("an empty escalation has a step")
	}
}

func TestFirstRoute(t *testing.T) {
	routes := []Route{
		{Match: map[string]string{"tier": "db"}, Escalation: "database"},
		{Match: map[string]string{"tier": "web", "site": "math"}, Escalation: "math"},
		{Escalation: "default"},
	}
	tests := []struct {
		name   string
		labels map[string]string
		want   int
	}{
		{"db", map[string]string{"tier": "db", "site": "math"}, 0},
		{"all labels must match", map[string]string{"tier": "web", "site": "math"}, 1},
		{"falls through", map[string]string{"tier": "web", "site": "physics"}, 2},
		{"no labels", nil, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := FirstRoute(routes, tt.labels); got != tt.want {
				t.Errorf("FirstRoute = %d, want %d", got, tt.want)
			}
		})
	}
	if FirstRoute(routes[:2], nil) != -1 {
		t.Error("no route should match")
	}
}
