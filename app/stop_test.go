package app

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// onDownConfig is a check that goes down at its first run, whose on_down
// action marks that it started, sleeps, and marks that it finished.
const onDownConfig = `storage: {sqlite: test.db}
defaults: {interval: 1s, timeout: 1s, fail_after: 1}
checks:
  - name: web-503
    http: {url: "%s/503"}
    on_down: {action: slow-fix}
actions:
  - name: slow-fix
    run: [/bin/sh, -c, 'touch "$0"; sleep %s; touch "$1"', %q, %q]
    timeout: %s
`

// startOnDown starts a server whose check goes down and whose on_down run
// sleeps for sleep; it returns once that run has started, with the file the
// run writes when it ends.
func startOnDown(t *testing.T, sleep, timeout string) (*App, string) {
	t.Helper()
	dir := t.TempDir()
	started, finished := filepath.Join(dir, "started"), filepath.Join(dir, "finished")
	cfg := filepath.Join(dir, "nightowl.yaml")
	writeConfig(t, cfg, fmt.Sprintf(onDownConfig, site(t).URL, sleep, started, finished, timeout))
	a := startApp(t, cfg)
	waitFor(t, "the on_down run to start", func() bool {
		_, err := os.Stat(started)
		return err == nil
	})
	return a, finished
}

// Stop waits for an on_down run under way: the store it records into is
// not closed under it, and the process does not exit in the middle of it.
func TestStopWaitsForOnDown(t *testing.T) {
	t.Parallel()
	a, finished := startOnDown(t, "0.5", "1m")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := a.Stop(ctx); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if _, err := os.Stat(finished); err != nil {
		t.Fatalf("Stop returned before the on_down run under way ended: %v", err)
	}
}

// When Stop's context ends first, the on_down run still under way is named
// as cut off.
func TestStopReportsOnDownCutOff(t *testing.T) {
	t.Parallel()
	a, finished := startOnDown(t, "5", "1s")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err := a.Stop(ctx)
	if err == nil || !strings.Contains(err.Error(), "on_down of web-503") {
		t.Fatalf("stop = %v, want it to name the on_down run it cut off", err)
	}
	if _, err := os.Stat(finished); err == nil {
		t.Fatal("the on_down run finished: nothing was cut off")
	}
}

// A web server that stops serving (its listener failed) is reported, not
// lost in a channel nobody reads.
func TestServeFailureReported(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "nightowl.yaml")
	writeConfig(t, cfg, fmt.Sprintf(checksYAML, site(t).URL))
	a := startApp(t, cfg)
	a.listener.Close()
	select {
	case err := <-a.Failed():
		if err == nil || !strings.Contains(err.Error(), "serve http on "+a.Addr()) {
			t.Fatalf("failure = %v, want one that says the server stopped serving", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the web server's failure was not reported")
	}
}
