package app

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// TestSecurityHeadersOnEveryRoute walks the route table: every answer,
// whatever its status, says nosniff; the dashboard, the sign-in page and
// the acknowledgement page also refuse to be framed; nothing here is
// served over TLS, so no answer asks for HSTS.
func TestSecurityHeadersOnEveryRoute(t *testing.T) {
	t.Parallel()
	s := site(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "nightowl.yaml")
	writeConfig(t, cfg, fmt.Sprintf(checksYAML, s.URL)+"  - name: job\n    heartbeat: {period: 1h, grace: 1h}\n")
	a := startApp(t, cfg)
	admin := adminToken(t, a)
	base := "http://" + a.Addr()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, rt := range a.Routes() {
		method, path, ok := strings.Cut(rt.Pattern, " ")
		if !ok {
			method, path = "GET", rt.Pattern
		}
		path = strings.NewReplacer("{name}", "web-ok", "{id}", "nosuch", "{check}", "web-ok.svg", "{$}", "").Replace(path)
		if strings.HasSuffix(path, "/") && path != "/" {
			path += "nosuch"
		}
		t.Run(rt.Pattern, func(t *testing.T) {
			for _, who := range []string{"none", "admin"} {
				req, _ := http.NewRequest(method, base+path, strings.NewReader("{}"))
				if who == "admin" {
					req.Header.Set("Authorization", "Bearer "+admin)
				}
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				h := resp.Header
				if h.Get("X-Content-Type-Options") != "nosniff" {
					t.Errorf("%s: %d without nosniff", who, resp.StatusCode)
				}
				if h.Get("Strict-Transport-Security") != "" {
					t.Errorf("%s: HSTS over plain http", who)
				}
				framed := path == "/admin" || strings.HasPrefix(path, "/admin/") || path == "/login" || path == "/logout" ||
					strings.HasPrefix(path, "/ack/")
				if !framed {
					continue
				}
				if h.Get("X-Frame-Options") != "DENY" || !strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
					t.Errorf("%s: %d may be framed: X-Frame-Options %q, CSP %q", who, resp.StatusCode,
						h.Get("X-Frame-Options"), h.Get("Content-Security-Policy"))
				}
			}
		})
	}
}
