package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nightowl/nightowl"
)

// TestIncidentCLI runs a server in-process whose database check fails with
// incidents.auto_open on, and drives incidents through the CLI: the one
// nightowl opened, and one opened, updated, noted, resolved and written up
// by hand.
func TestIncidentCLI(t *testing.T) {
	s := site(t)
	dir := t.TempDir()
	addr := freePort(t)
	cfg := writeFile(t, dir, "nightowl.yaml", fmt.Sprintf(`server: {listen: %q}
defaults: {interval: 1s, timeout: 1s, fail_after: 1}
checks:
  - name: shop
    labels: {tier: web}
    http: {url: "%s/ok"}
  - name: math-db
    tcp: {addr: "127.0.0.1:1"}
components:
  - {name: Website, checks: {labels: {tier: web}}}
  - {name: Database, checks: {names: [math-db]}}
incidents: {auto_open: critical}
`, addr, s.URL))
	token := adminToken(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() {
		e := &env{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}, getenv: func(string) string { return "" }}
		done <- run(ctx, e, []string{"serve", "-c", cfg})
	}()
	defer func() { cancel(); <-done }()
	env := map[string]string{"NIGHTOWL_URL": "http://" + addr, "NIGHTOWL_TOKEN": token}

	waitUntil(t, "the incident nightowl opens", func() bool {
		_, out, _ := runCmd(t, env, "incident", "list")
		return strings.Contains(out, "inc-1") && strings.Contains(out, "Database down: math-db")
	})

	code, out, errOut := runCmd(t, env, "incident", "open", "--title", "Checkout is slow", "--components", "website",
		"--impact", "minor", "--message", "Some payments take a minute.")
	if code != 0 || !strings.Contains(out, "incident inc-2 opened: Checkout is slow (investigating, impact minor)") {
		t.Fatalf("incident open: exit %d: %s%s", code, out, errOut)
	}

	steps := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unknown component", []string{"incident", "open", "--title", "x", "--components", "Websight"}, 1,
			`unknown component "Websight" (components: Website, Database)`},
		{"no title", []string{"incident", "open", "--message", "m"}, 2, "--title is required"},
		{"update without a message", []string{"incident", "update", "inc-2", "--state", "identified"}, 2, "--message is required"},
		{"bad state", []string{"incident", "update", "inc-2", "--state", "fixed", "--message", "m"}, 1, "invalid: state must be"},
		{"unknown incident", []string{"incident", "update", "inc-9", "--message", "m"}, 1, "not_found"},
		{"public update", []string{"incident", "update", "2", "--state", "identified", "--message", "A slow payment provider."}, 0,
			"public update added to incident inc-2 (identified, impact minor)"},
		{"private note", []string{"incident", "update", "inc-2", "--private", "--message", "Paged the provider's on-call."}, 0,
			"private note added to incident inc-2 (identified, impact minor)"},
		{"list", []string{"incident", "list"}, 0, "inc-2  identified"},
		{"resolve", []string{"incident", "resolve", "inc-2", "--message", "Payments are quick again."}, 0, "incident inc-2 resolved"},
		{"resolve again", []string{"incident", "resolve", "inc-2"}, 1, "conflict: incident inc-2 is already resolved"},
		{"list all", []string{"incident", "list", "--all"}, 0, "inc-2  resolved"},
		{"json", []string{"incident", "list", "--all", "--json"}, 0, `"id": "inc-1"`},
		{"open unpublished", []string{"incident", "open", "--title", "Internal only", "--private", "--message", "Staff only."}, 0,
			"incident inc-3 opened"},
		{"resolve unpublished", []string{"incident", "resolve", "inc-3"}, 0, "incident inc-3 resolved"},
		{"publish", []string{"incident", "publish", "inc-1", "--title", "Database errors", "--message", "We are looking into database errors."}, 0,
			"incident inc-1 is on the status page: Database errors (investigating, impact major)"},
		{"publish again", []string{"incident", "publish", "inc-1"}, 1, "conflict: incident inc-1 is already on the status page"},
		{"publish unknown", []string{"incident", "publish", "inc-9"}, 1, "not_found"},
		{"unknown postmortem", []string{"incident", "postmortem", "inc-9"}, 1, "not_found"},
		{"unknown subcommand", []string{"incident", "close", "inc-1"}, 2, "unknown subcommand"},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			code, out, errOut := runCmd(t, env, st.args...)
			if code != st.code || !strings.Contains(out+errOut, st.want) {
				t.Errorf("exit %d, want %d with %q:\n%s%s", code, st.code, st.want, out, errOut)
			}
		})
	}
	if _, out, _ := runCmd(t, env, "incident", "list"); strings.Contains(out, "inc-2") {
		t.Errorf("a resolved incident among the open ones:\n%s", out)
	}
	// Published by a public first message (inc-2) or by publish (inc-1);
	// resolving inc-3 did not publish it.
	_, out, _ = runCmd(t, env, "incident", "list", "--all", "--json")
	var list struct{ Incidents []nightowl.Incident }
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	published := map[string]bool{}
	for _, inc := range list.Incidents {
		published[inc.ID] = inc.Published()
	}
	if want := map[string]bool{"inc-1": true, "inc-2": true, "inc-3": false}; !maps.Equal(published, want) {
		t.Errorf("published: %v, want %v", published, want)
	}

	t.Run("postmortem", func(t *testing.T) {
		path := filepath.Join(dir, "pm.md")
		code, out, errOut := runCmd(t, env, "incident", "postmortem", "inc-2", "-o", path)
		if code != 0 || !strings.Contains(out, "written to "+path) {
			t.Fatalf("exit %d: %s%s", code, out, errOut)
		}
		md, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"# Postmortem: Checkout is slow", "- **Opened by:** ops", "- **Website**: shop",
			"**update** by ops (public): Identified: A slow payment provider.",
			"**note** by ops: Paged the provider's on-call.", "Resolved: Payments are quick again."} {
			if !strings.Contains(string(md), want) {
				t.Errorf("postmortem lacks %q:\n%s", want, md)
			}
		}
		_, out, _ = runCmd(t, env, "incident", "postmortem", "inc-1")
		for _, want := range []string{"**alert** math-db: Alert", "**status** math-db:", "| math-db | critical |"} {
			if !strings.Contains(out, want) {
				t.Errorf("postmortem of the automatic incident lacks %q:\n%s", want, out)
			}
		}
	})
}
