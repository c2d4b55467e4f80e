package app

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestWatchdog: the server pings the dead man's switch while it is healthy,
// and says why when it is not.
func TestWatchdog(t *testing.T) {
	var pings atomic.Int32
	hc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ping/c0ffee" {
			pings.Add(1)
		}
	}))
	defer hc.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "nightowl.yaml")
	writeConfig(t, cfg, fmt.Sprintf(`watchdog: {url: "%s/ping/c0ffee", every: 1s}
checks:
  - name: refused
    interval: 1s
    timeout: 1s
    tcp: {addr: "127.0.0.1:1"}
`, hc.URL))
	a := startApp(t, cfg)
	deadline := time.Now().Add(10 * time.Second)
	for pings.Load() < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("%d pings in 10s, want 2 or more", pings.Load())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := a.healthy(context.Background()); err != nil {
		t.Fatalf("healthy: %v", err)
	}
	// A stalled engine is late with its checks, and the node is not
	// healthy any more.
	a.engine.Stop()
	deadline = time.Now().Add(10 * time.Second)
	for {
		err := a.healthy(context.Background())
		if err != nil {
			if !strings.Contains(err.Error(), "checks late: 1 (refused among them)") {
				t.Fatalf("unhealthy for the wrong reason: %v", err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("still healthy 10s after the engine stopped")
		}
		time.Sleep(100 * time.Millisecond)
	}
	before := pings.Load()
	time.Sleep(1500 * time.Millisecond)
	if got := pings.Load(); got != before {
		t.Errorf("%d pings while unhealthy", got-before)
	}
}
