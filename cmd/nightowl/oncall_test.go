package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
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

// TestOncallOverrideCLI runs a server in-process and adds, lists and
// deletes an override through the CLI, with times on the schedule's clock;
// then makes and revokes a schedule's calendar feed, whose address answers
// until it is revoked.
func TestOncallOverrideCLI(t *testing.T) {
	dir := t.TempDir()
	addr := freePort(t)
	cfg := writeFile(t, dir, "nightowl.yaml", fmt.Sprintf(`server: {listen: %q}
schedules:
  - name: primary
    timezone: Europe/Berlin
    layers:
      - {name: weekly, participants: [ana, bo, cy], start: "2020-01-06 09:00", length: weekly}
`, addr))
	token := adminToken(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() {
		e := &env{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}, getenv: func(string) string { return "" }}
		done <- run(ctx, e, []string{"serve", "-c", cfg})
	}()
	defer func() { cancel(); <-done }()
	env := map[string]string{"NIGHTOWL_URL": "http://" + addr, "NIGHTOWL_TOKEN": token}
	waitUntil(t, "the server", func() bool {
		code, _, _ := runCmd(t, env, "oncall", "override", "list", "primary")
		return code == 0
	})

	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	from := time.Now().In(berlin).Add(24 * time.Hour).Truncate(time.Hour)
	code, out, errOut := runCmd(t, env, "oncall", "override", "add", "primary", "--user", "cy",
		"--from", from.Format("2006-01-02 15:04"), "--to", from.Add(3*time.Hour).Format(time.RFC3339), "--reason", "swap with ana")
	if code != 0 || !strings.HasPrefix(out, "override ov-") {
		t.Fatalf("override add: exit %d: %s%s", code, out, errOut)
	}
	id := strings.TrimSuffix(strings.Fields(out)[1], ":")
	code, out, errOut = runCmd(t, env, "oncall", "override", "list", "primary", "--json")
	var list struct{ Overrides []nightowl.ScheduleOverride }
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list.Overrides) != 1 {
		t.Fatalf("override list: exit %d: %s%s", code, out, errOut)
	}
	if o := list.Overrides[0]; o.ID != id || o.User != "cy" || !o.From.Equal(from) || !o.To.Equal(from.Add(3*time.Hour)) || o.Reason != "swap with ana" {
		t.Errorf("listed %+v; want %s from %s", o, id, from)
	}
	if code, out, _ := runCmd(t, env, "oncall", "override", "list", "primary"); code != 0 || !strings.Contains(out, id) || !strings.Contains(out, "swap with ana") {
		t.Errorf("override list: exit %d: %s", code, out)
	}
	if code, _, errOut := runCmd(t, env, "oncall", "override", "add", "primary", "--user", "cy", "--from", "2030-01-02 10:00", "--to", "2030-01-01 10:00"); code != exitNotUp || !strings.Contains(errOut, "to: must be after from") {
		t.Errorf("to before from: exit %d: %s", code, errOut)
	}
	if code, _, errOut := runCmd(t, env, "oncall", "override", "add", "primary", "--user", "cy", "--from", "soon", "--to", "later"); code != exitBadConfig || !strings.Contains(errOut, "--from") {
		t.Errorf("a bad time: exit %d: %s", code, errOut)
	}
	if code, out, errOut := runCmd(t, env, "oncall", "override", "delete", "primary", id); code != 0 || !strings.Contains(out, "removed override "+id) {
		t.Errorf("override delete: exit %d: %s%s", code, out, errOut)
	}
	if code, out, _ := runCmd(t, env, "oncall", "override", "list", "primary"); code != 0 || !strings.Contains(out, "no overrides") {
		t.Errorf("after the delete: exit %d: %s", code, out)
	}

	code, out, errOut = runCmd(t, env, "oncall", "feed", "create", "schedule", "primary")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 2 || !strings.HasPrefix(lines[1], "http://"+addr+"/calendar/") {
		t.Fatalf("feed create: exit %d: %s%s", code, out, errOut)
	}
	fetch := func() int {
		resp, err := http.Get(lines[1])
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := fetch(); got != http.StatusOK {
		t.Errorf("the feed: %d", got)
	}
	if code, out, errOut := runCmd(t, env, "oncall", "feed", "revoke", "schedule", "primary"); code != 0 {
		t.Errorf("feed revoke: exit %d: %s%s", code, out, errOut)
	}
	if got := fetch(); got != http.StatusNotFound {
		t.Errorf("the revoked feed: %d", got)
	}
	if code, _, _ := runCmd(t, env, "oncall", "feed", "create", "team", "primary"); code != exitBadConfig {
		t.Errorf("feed create team: exit %d", code)
	}
	// The plain command still reads the config, without the server.
	if code, out, errOut := runCmd(t, nil, "oncall", "-c", cfg, "--days", "1", "primary"); code != 0 || !strings.HasPrefix(out, "primary (Europe/Berlin):") {
		t.Errorf("oncall: exit %d: %s%s", code, out, errOut)
	}
}
