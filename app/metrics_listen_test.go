package app

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// TestMetricsListen: server.metrics_listen serves /metrics without
// credentials, on its own address, while the API's /metrics still wants
// them; the second listener stops with the server.
func TestMetricsListen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "nightowl.yaml")
	writeConfig(t, cfg, fmt.Sprintf("server: {metrics_listen: %q}\nstorage: {sqlite: test.db}\n", "127.0.0.1:0"))
	a := startApp(t, cfg)
	maddr := a.MetricsAddr()
	if maddr == "" {
		t.Fatal("no metrics address")
	}
	resp, err := http.Get("http://" + maddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "nightowl_checks ") {
		t.Errorf("/metrics on metrics_listen: %d\n%.300s", resp.StatusCode, body)
	}
	status := func(url string) int {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, path := range []string{"/api/v1/checks", "/admin"} {
		if code := status("http://" + maddr + path); code != http.StatusNotFound {
			t.Errorf("%s on metrics_listen: %d, want only /metrics and /healthz there", path, code)
		}
	}
	if code := status("http://" + a.Addr() + "/metrics"); code != http.StatusUnauthorized {
		t.Errorf("/metrics on the API without credentials: %d", code)
	}
}
