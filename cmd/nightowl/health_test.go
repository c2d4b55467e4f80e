package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestHealth runs `health` against servers that answer every way a
// supervisor must tell apart: only a 200 is healthy.
func TestHealth(t *testing.T) {
	release := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/up/healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok\n") })
	mux.HandleFunc("/up/readyz", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, "not ready: the store does not answer\n")
	})
	mux.HandleFunc("/moved/healthz", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/up/healthz", http.StatusFound)
	})
	mux.HandleFunc("/hung/healthz", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	s := httptest.NewServer(mux)
	t.Cleanup(s.Close)
	t.Cleanup(func() { close(release) })
	gone := "http://" + freePort(t)

	for _, tc := range []struct {
		name    string
		environ map[string]string
		args    []string
		code    int
		out     string // in standard output, or with a non-zero code in standard error
	}{
		{"healthy", nil, []string{"--url", s.URL + "/up"}, 0, s.URL + "/up/healthz: ok"},
		{"trailing slash", nil, []string{"--url", s.URL + "/up/"}, 0, s.URL + "/up/healthz: ok"},
		{"NIGHTOWL_URL", map[string]string{"NIGHTOWL_URL": s.URL + "/up"}, nil, 0, s.URL + "/up/healthz: ok"},
		{"--url wins over NIGHTOWL_URL", map[string]string{"NIGHTOWL_URL": gone}, []string{"--url", s.URL + "/up"}, 0, "/up/healthz: ok"},
		{"not ready", nil, []string{"--url", s.URL + "/up", "--ready"}, 1, "/up/readyz answered 503 Service Unavailable: not ready: the store does not answer"},
		{"redirect", nil, []string{"--url", s.URL + "/moved"}, 1, "/moved/healthz answered 302 Found"},
		{"not found", nil, []string{"--url", s.URL + "/nothing"}, 1, "answered 404 Not Found"},
		{"nobody listens", nil, []string{"--url", gone}, 1, gone + "/healthz: "},
		{"hung", nil, []string{"--url", s.URL + "/hung", "--timeout", "200ms"}, 1, "/hung/healthz: no answer within 200ms"},
		{"positional argument", nil, []string{s.URL}, 2, "usage: nightowl health"},
		{"zero timeout", nil, []string{"--timeout", "0s"}, 2, "usage: nightowl health"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			code, out, errOut := runCmd(t, tc.environ, append([]string{"health"}, tc.args...)...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d: %s%s", code, tc.code, out, errOut)
			}
			got := out
			if code != 0 {
				got = errOut
				if out != "" {
					t.Errorf("printed %q on standard output", out)
				}
			}
			if !strings.Contains(got, tc.out) {
				t.Errorf("printed %q, want %q in it", got, tc.out)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("took %s", d)
			}
		})
	}
}

// TestHealthOfARealServer asks a server started by `serve` for both its
// health and its readiness.
func TestHealthOfARealServer(t *testing.T) {
	addr := freePort(t)
	cfg := writeFile(t, t.TempDir(), "nightowl.yaml", fmt.Sprintf("server: {listen: %q}\n", addr))
	stop := serveReady(t, cfg, addr)
	environ := map[string]string{"NIGHTOWL_URL": "http://" + addr}
	if code, out, errOut := runCmd(t, environ, "health"); code != 0 || out != "http://"+addr+"/healthz: ok\n" {
		t.Errorf("health: exit %d: %q %q", code, out, errOut)
	}
	if code, out, errOut := runCmd(t, environ, "health", "--ready"); code != 0 || out != "http://"+addr+"/readyz: ready\n" {
		t.Errorf("health --ready: exit %d: %q %q", code, out, errOut)
	}
	if code, serveErr := stop(); code != 0 {
		t.Fatalf("serve exited %d: %s", code, serveErr)
	}
	if code, _, errOut := runCmd(t, environ, "health"); code != 1 || !strings.Contains(errOut, "connection refused") {
		t.Errorf("health of a stopped server: exit %d: %q", code, errOut)
	}
}
