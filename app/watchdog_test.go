package app

import (
	"context"
	"fmt"
	"log/slog"
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
	t.Parallel()
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
	// The watchdog's decisions not to ping, as it logs them.
	skipped := make(chan struct{}, 100)
	logger := slog.New(logHook{msg: "watchdog: not pinging, this node is unhealthy", seen: skipped})
	a, err := New(context.Background(), Options{ConfigPath: cfg, Listen: "127.0.0.1:0",
		Logger: logger, BcryptCost: testCost, PublicTTL: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Stop(context.Background()) })
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
	// A ping decided while the node was healthy may still be on its way;
	// it has arrived once the watchdog has made its next decision, not to
	// ping. From then on, a whole round passes without a ping.
	decision := func() {
		t.Helper()
		select {
		case <-skipped:
		case <-time.After(10 * time.Second):
			t.Fatal("the watchdog of an unhealthy node did not say it skipped a ping")
		}
	}
	decision()
	before := pings.Load()
	decision()
	if got := pings.Load(); got != before {
		t.Errorf("%d pings while unhealthy", got-before)
	}
}

// logHook is a slog handler that signals seen for every record whose
// message is msg, and keeps nothing.
type logHook struct {
	msg  string
	seen chan<- struct{}
}

func (h logHook) Enabled(context.Context, slog.Level) bool { return true }

func (h logHook) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		select {
		case h.seen <- struct{}{}:
		default:
		}
	}
	return nil
}

func (h logHook) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h logHook) WithGroup(string) slog.Handler      { return h }
