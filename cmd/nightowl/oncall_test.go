package main

import (
	"strings"
	"testing"
)

// TestOncall: nightowl oncall says who is on call at a time and lists the
// shifts after it on the schedule's clock, across the change to summer
// time; an unknown schedule, and a config without any, are refused.
func TestOncall(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "nightowl.yaml", `schedules:
  - name: primary
    timezone: Europe/Berlin
    layers:
      - {name: daily, participants: [ana, bo], start: "2026-03-27 09:00", length: daily}
    overrides:
      - {user: cy, from: "2026-03-29 12:00", to: "2026-03-29 14:00"}
`)
	code, out, errOut := runCmd(t, nil, "oncall", "-c", cfg, "--at", "2026-03-28 10:00", "--days", "2", "primary")
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, out, errOut)
	}
	for _, want := range []string{
		"primary (Europe/Berlin): bo, through daily",
		"Sat 2026-03-28 10:00  Sun 2026-03-29 09:00  bo",
		"Sun 2026-03-29 09:00  Sun 2026-03-29 12:00  ana",
		"Sun 2026-03-29 12:00  Sun 2026-03-29 14:00  cy       override",
		"Sun 2026-03-29 14:00  Mon 2026-03-30 09:00  ana",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if code, _, errOut := runCmd(t, nil, "oncall", "-c", cfg, "secondary"); code != 2 || !strings.Contains(errOut, `no schedule "secondary"`) {
		t.Errorf("an unknown schedule: exit %d: %s", code, errOut)
	}
	empty := writeFile(t, dir, "empty.yaml", "checks: []\n")
	if code, _, errOut := runCmd(t, nil, "oncall", "-c", empty); code != 2 || !strings.Contains(errOut, "has no schedules") {
		t.Errorf("a config without schedules: exit %d: %s", code, errOut)
	}
}
