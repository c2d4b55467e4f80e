package app

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nightowl/nightowl"
)

// TestHeaderCredentialsStayOutOfFacts: a monitored site that sets cookies
// and hands out tokens; neither the API nor the dashboard shows their
// values, the headers are still there for assertions, and the one header
// the check keeps on purpose is shown.
func TestHeaderCredentialsStayOutOfFacts(t *testing.T) {
	t.Parallel()
	const (
		cookie = "COOKIE-VALUE-6f1e"
		token  = "TOKEN-VALUE-02ab"
		kept   = "KEPT-SESSION-9c3d"
	)
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "sid", Value: cookie, HttpOnly: true, Secure: true})
		w.Header().Set("X-Auth-Token", token)
		w.Header().Set("X-Session-Id", kept)
		fmt.Fprint(w, "<p>sign in</p>")
	}))
	t.Cleanup(site.Close)
	cfg := filepath.Join(t.TempDir(), "nightowl.yaml")
	writeConfig(t, cfg, fmt.Sprintf(`storage: {sqlite: test.db}
defaults: {interval: 1s, timeout: 1s}
checks:
  - name: login
    http: {url: "%s/login", keep_headers: [X-Session-Id]}
    assert:
      ok: status == 200
      issues_cookie: '"set-cookie" in headers and headers["set-cookie"] != ""'
      issues_session: headers["x-session-id"] startsWith "KEPT-"
`, site.URL))
	a := startApp(t, cfg)
	admin := adminToken(t, a)
	base := "http://" + a.Addr()

	var body string
	waitFor(t, "the login check up", func() bool {
		_, body = call(t, "GET", base+"/api/v1/checks/login", "", map[string]string{"Authorization": "Bearer " + admin})
		return strings.Contains(body, `"status": "up"`) || strings.Contains(body, `"status":"up"`)
	})
	if strings.Contains(body, cookie) || strings.Contains(body, token) {
		t.Errorf("the API shows a credential of the site:\n%s", body)
	}
	if !strings.Contains(body, kept) || !strings.Contains(body, "[redacted]") {
		t.Errorf("the API lacks the kept header or the redacted ones:\n%s", body)
	}

	userToken(t, a, "vic", nightowl.RoleViewer)
	vic := newBrowser(t, base)
	vic.signIn("vic")
	for _, path := range []string{"/admin/checks/login", "/admin", "/api/v1/checks"} {
		resp, page := vic.get(path)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d", path, resp.StatusCode)
		}
		if strings.Contains(page, cookie) || strings.Contains(page, token) {
			t.Errorf("GET %s shows a credential of the site", path)
		}
	}
	if _, page := vic.get("/admin/checks/login"); !strings.Contains(page, kept) {
		t.Errorf("the check page lacks the kept header:\n%s", page)
	}
}
