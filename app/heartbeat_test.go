package app

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// wrapper is a cron job wrapper as users write them: report the start, run
// the job, report its exit code with its output.
const wrapper = `#!/bin/sh
url="$1"; shift
curl -fsS -m 10 --retry 5 -o /dev/null "$url/start"
out=$("$@" 2>&1)
code=$?
printf '%s' "$out" | curl -fsS -m 10 --retry 5 -o /dev/null --data-binary @- "$url/$code"
`

type hbCheck struct {
	Status  string `json:"status"`
	PingURL string `json:"ping_url"`
	Facts   struct {
		ExitCode     *int     `json:"exit_code"`
		LastDuration *float64 `json:"last_duration"`
		Overdue      bool     `json:"overdue"`
		Failed       bool     `json:"failed"`
	} `json:"facts"`
	Pings []struct {
		Kind     string   `json:"kind"`
		ExitCode *int     `json:"exit_code"`
		Body     string   `json:"body"`
		Duration *float64 `json:"duration"`
	} `json:"pings"`
}

func TestHeartbeatEndToEnd(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("curl"); err != nil {
		skipUnlessCI(t, "curl is needed for the job wrapper test (scripts/test installs it)")
	}
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "nightowl.yaml")
	writeConfig(t, cfgPath, `storage: {sqlite: test.db}
checks:
  - name: backup
    heartbeat: {period: 3s, grace: 2s, token: backup-token-0123456789}
  - name: worker
    heartbeat: {period: 1h}
`)
	job := filepath.Join(dir, "with-nightowl")
	if err := os.WriteFile(job, []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	a := startApp(t, cfgPath)
	admin := adminToken(t, a)
	base := "http://" + a.Addr()
	get := func(name string) hbCheck {
		var c hbCheck
		getJSON(t, admin, "GET", base+"/api/v1/checks/"+name, &c)
		return c
	}
	runJob := func(args ...string) {
		t.Helper()
		cmd := exec.Command(job, append([]string{base + "/ping/backup-token-0123456789"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("job wrapper: %v\n%s", err, out)
		}
	}

	t.Run("a successful run", func(t *testing.T) {
		runJob("sh", "-c", "sleep 0.2; echo backed up 42 files")
		c := get("backup")
		if c.Status != "up" || c.Facts.ExitCode == nil || *c.Facts.ExitCode != 0 ||
			c.Facts.LastDuration == nil || *c.Facts.LastDuration < 0.2 {
			t.Fatalf("after success: %+v", c)
		}
		if len(c.Pings) < 2 || c.Pings[0].Kind != "success" || c.Pings[0].Body != "backed up 42 files" || c.Pings[1].Kind != "start" {
			t.Errorf("pings = %+v", c.Pings)
		}
		if c.PingURL != "/ping/backup-token-0123456789" {
			t.Errorf("ping_url = %q", c.PingURL)
		}
	})
	t.Run("a failing run", func(t *testing.T) {
		runJob("sh", "-c", "echo disk full; exit 3")
		c := get("backup")
		if c.Status != "down" || !c.Facts.Failed || c.Facts.ExitCode == nil || *c.Facts.ExitCode != 3 {
			t.Fatalf("after exit 3: %+v", c)
		}
		if c.Pings[0].Kind != "fail" || c.Pings[0].Body != "disk full" {
			t.Errorf("pings = %+v", c.Pings)
		}
	})
	t.Run("recovers, then goes down when the job stops", func(t *testing.T) {
		runJob("true")
		if c := get("backup"); c.Status != "up" {
			t.Fatalf("after success: %s", c.Status)
		}
		waitFor(t, "the missed heartbeat to be down", func() bool {
			c := get("backup")
			return c.Status == "down" && c.Facts.Overdue
		})
	})
	t.Run("unknown token", func(t *testing.T) {
		resp, err := http.Get(base + "/ping/no-such-token-000000")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 404 {
			t.Errorf("unknown token: %d %s", resp.StatusCode, body)
		}
	})
	t.Run("generated token survives a restart", func(t *testing.T) {
		tok := get("worker").PingURL
		if len(strings.TrimPrefix(tok, "/ping/")) < 22 {
			t.Fatalf("generated ping URL %q is too short for 128 bits", tok)
		}
		a.Stop(context.Background())
		b, err := New(context.Background(), Options{ConfigPath: cfgPath, Listen: "127.0.0.1:0",
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Stop(context.Background())
		if got, _ := b.PingURL("worker"); got != tok {
			t.Errorf("after restart the token changed: %q → %q", tok, got)
		}
	})
}

func TestStatusShowsPingURLs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "nightowl.yaml")
	writeConfig(t, cfgPath, "server: {public_url: \"https://status.example.com\"}\nstorage: {sqlite: test.db}\nchecks:\n  - name: nightly\n    heartbeat: {schedule: \"0 3 * * *\", timezone: America/New_York, token: nightly-token-0123456789}\n")
	a := startApp(t, cfgPath)
	admin := adminToken(t, a)
	var list struct {
		Checks []hbCheck `json:"checks"`
	}
	getJSON(t, admin, "GET", "http://"+a.Addr()+"/api/v1/checks", &list)
	if len(list.Checks) != 1 || list.Checks[0].PingURL != "https://status.example.com/ping/nightly-token-0123456789" {
		b, _ := json.Marshal(list)
		t.Errorf("checks = %s", b)
	}
}
