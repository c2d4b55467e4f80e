package config

import (
	"testing"
	"time"
)

// TestSchedules: a schedule as written resolves who is on call, on its
// zone's clock, through its layers, restrictions and overrides.
func TestSchedules(t *testing.T) {
	cfg, err := Parse("nightowl.yaml", []byte(`schedules:
  - name: primary
    timezone: Europe/Berlin
    layers:
      - name: weekly
        participants: [ana, bo]
        start: "2026-03-02 09:00"
        length: weekly
      - name: office
        participants: [cy]
        start: "2026-03-02 00:00"
        length: 1d
        restrictions: [{days: [weekdays], from: "09:00", to: "18:00"}]
    overrides:
      - {user: dan, from: "2026-03-03 12:00", to: "2026-03-03 13:00"}
`), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Schedules) != 1 || cfg.Schedules[0].Name != "primary" || len(cfg.Schedules[0].Layers) != 2 {
		t.Fatalf("schedules: %+v", cfg.Schedules)
	}
	s := &cfg.Schedules[0]
	berlin, _ := time.LoadLocation("Europe/Berlin")
	for when, want := range map[string]string{
		"2026-03-03 08:00": "ana", "2026-03-03 10:00": "cy", "2026-03-03 12:30": "dan",
		"2026-03-07 10:00": "ana", "2026-03-10 20:00": "bo",
	} {
		at, _ := time.ParseInLocation("2006-01-02 15:04", when, berlin)
		if got, _ := s.At(at); got != want {
			t.Errorf("%s: %q, want %q", when, got, want)
		}
	}
}
