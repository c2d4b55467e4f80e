package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/oidctest"
)

// oidcYAML is the access section of a server that signs people in at op.
const oidcYAML = `access:
  local: %[2]t
  break_glass: root
  oidc:
    issuer: %[1]s
    client_id: nightowl
    client_secret: s3cret-client-Zq9
    name: TestIdP
    roles: {admin: [ops-admins], responder: [oncall], viewer: [staff]}
`

// lockedBuffer is a log the server writes while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startOIDCApp starts a server whose people sign in at a new provider,
// with its log, at debug level, in the returned buffer.
func startOIDCApp(t *testing.T, local bool) (*App, *oidctest.Provider, *lockedBuffer) {
	t.Helper()
	op := oidctest.New(t, "nightowl", "s3cret-client-Zq9")
	s := site(t)
	cfg := filepath.Join(t.TempDir(), "nightowl.yaml")
	writeConfig(t, cfg, fmt.Sprintf(checksYAML, s.URL)+fmt.Sprintf(oidcYAML, op.URL, local))
	log := &lockedBuffer{}
	a, err := New(context.Background(), Options{ConfigPath: cfg, Listen: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug})), BcryptCost: testCost, PublicTTL: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Stop(context.Background()) })
	return a, op, log
}

// ssoInBrowser clicks the sign-in page's single sign-on button and
// returns where the browser ends up and the error the page shows, if any.
func ssoInBrowser(t *testing.T, ctx context.Context, base string) (string, string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/login"), chromedp.WaitVisible(css("#login-sso")),
		chromedp.Click(css("#login-sso"))); err != nil {
		t.Fatalf("single sign-on: %v", err)
	}
	var at string
	waitLocation(t, ctx, "the end of the single sign-on", func(u string) bool {
		at = u
		return strings.HasPrefix(u, base+"/admin") || strings.HasPrefix(u, base+"/login/oidc/callback")
	})
	var msg string
	if strings.HasPrefix(at, base+"/login/oidc/callback") {
		var err error
		if msg, err = chromedp.Run(ctx, chromedp.Text(css("#error"))); err != nil {
			t.Fatalf("read the refusal: %v", err)
		}
	} else if err := chromedp.Do(ctx, chromedp.WaitVisible(css("#checks"))); err != nil {
		t.Fatalf("dashboard after single sign-on: %v", err)
	}
	return at, msg
}

func signOutInBrowser(t *testing.T, ctx context.Context, base string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/admin"), chromedp.WaitVisible(css("#checks")),
		chromedp.Click(css("#logout")), chromedp.WaitVisible(css("#login"))); err != nil {
		t.Fatalf("sign out: %v", err)
	}
}

func auditOf(t *testing.T, a *App, action string) []nightowl.AuditEntry {
	t.Helper()
	es, err := a.store.AuditEntries(t.Context(), nightowl.AuditQuery{Action: action, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// TestOIDCInBrowser signs people in at a real provider from Chromium: the
// account is made at the first sign-in with the role its groups give, the
// role follows the groups at the next, and a forged state, a token signed
// with a key the provider does not publish and an unverified mail address
// are refused with a page that says why. Nothing secret reaches the log.
func TestOIDCInBrowser(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("drives Chromium")
	}
	a, op, log := startOIDCApp(t, true)
	base := "http://" + a.Addr()
	ctx := chromeTab(t)

	op.SignIn(map[string]any{"sub": "u1", "email": "Ana@Example.com", "email_verified": true, "groups": []string{"staff", "oncall"}})
	if at, msg := ssoInBrowser(t, ctx, base); msg != "" {
		t.Fatalf("first sign-in refused at %s: %s", at, msg)
	}
	u, err := a.store.User(t.Context(), "ana@example.com")
	if err != nil || u.Role != nightowl.RoleResponder || u.Source != nightowl.SourceOIDC || u.PasswordHash != "" {
		t.Fatalf("user after the first sign-in: %+v, %v", u, err)
	}
	ss, err := a.store.Sessions(t.Context(), "ana@example.com")
	if err != nil || len(ss) != 1 || ss[0].Method != nightowl.SignInOIDC || ss[0].FactorAt.IsZero() || ss[0].Address == "" {
		t.Fatalf("sessions: %+v, %v", ss, err)
	}
	if es := auditOf(t, a, "user.add"); len(es) != 1 || es[0].Actor != "oidc" || es[0].Subject != "ana@example.com" {
		t.Fatalf("user.add entries: %+v", es)
	}
	if es := auditOf(t, a, "login"); len(es) != 1 || es[0].Actor != "ana@example.com" || !strings.Contains(es[0].Detail, "oidc") {
		t.Fatalf("login entries: %+v", es)
	}

	// Her groups change at the provider: her role follows at her next
	// sign-in, recorded.
	signOutInBrowser(t, ctx, base)
	op.SignIn(map[string]any{"sub": "u1", "email": "ana@example.com", "email_verified": true, "groups": []string{"ops-admins"}})
	if at, msg := ssoInBrowser(t, ctx, base); msg != "" {
		t.Fatalf("second sign-in refused at %s: %s", at, msg)
	}
	if u, err := a.store.User(t.Context(), "ana@example.com"); err != nil || u.Role != nightowl.RoleAdmin {
		t.Fatalf("user after the groups changed: %+v, %v", u, err)
	}
	if es := auditOf(t, a, "user.role"); len(es) != 1 || es[0].Actor != "oidc" || es[0].Detail != "from responder to admin, by their groups at the identity provider" {
		t.Fatalf("user.role entries: %+v", es)
	}
	// Now an admin, she sees on the users page that her account comes
	// from single sign-on.
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/admin/users"), chromedp.WaitVisible(css(`[data-testid="sso-ana@example.com"]`))); err != nil {
		t.Fatalf("users page: %v", err)
	}
	signOutInBrowser(t, ctx, base)

	refusals := []struct {
		name string
		set  func()
		want string
	}{
		{"forged state", func() { op.ForgeState(true) }, "does not match the one your browser started"},
		{"key not published", func() { op.ForgeState(false); op.Forge(true) }, "could not be verified"},
		{"unverified email", func() {
			op.Forge(false)
			op.SignIn(map[string]any{"sub": "u2", "email": "eve@example.com", "email_verified": false, "groups": []string{"ops-admins"}})
		}, "not verified"},
		{"no group maps to a role", func() {
			op.SignIn(map[string]any{"sub": "u3", "email": "cy@example.com", "groups": []string{"visitors"}})
		}, "None of your groups"},
		{"access denied", func() { op.Deny() }, "access denied"},
	}
	for _, tc := range refusals {
		tc.set()
		at, msg := ssoInBrowser(t, ctx, base)
		if !strings.Contains(msg, tc.want) {
			t.Errorf("%s: at %s, page says %q; want %q", tc.name, at, msg, tc.want)
		}
	}
	if _, err := a.store.User(t.Context(), "eve@example.com"); nightowl.ErrorCode(err) != nightowl.ENotFound {
		t.Errorf("an unverified address got an account: %v", err)
	}
	if es := auditOf(t, a, "login.failed"); len(es) != len(refusals) {
		t.Errorf("login.failed entries: %+v", es)
	}
	// A link back to signing in is on the page.
	links, err := chromedp.Run(ctx, chromedp.Evaluate[string](`[...document.querySelectorAll("a")].map(a => a.getAttribute("href")).join(" ")`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(links, "/login/oidc") {
		t.Errorf("the refusal page has no way back to sign in: %v", links)
	}

	// Nothing secret in the log, at any level.
	logged := log.String()
	for _, s := range append(op.Issued(), op.ClientSecret) {
		if strings.Contains(logged, s) {
			t.Fatalf("the log holds a code, a token or the client secret (%d chars):\n%s", len(s), logged)
		}
	}
	if len(op.Issued()) < 6 {
		t.Fatalf("only %d codes and tokens issued", len(op.Issued()))
	}
}

// TestOIDCLocalAccounts: an account made here with a password is not
// taken over by a sign-in at the provider with the same name, and with
// access.local false only the break-glass admin signs in with a password,
// from the form and the API alike.
func TestOIDCLocalAccounts(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("drives Chromium")
	}
	a, op, _ := startOIDCApp(t, false)
	base := "http://" + a.Addr()
	ctx := chromeTab(t)
	for _, name := range []string{"root", "bo@example.com"} {
		if _, err := a.Access().AddUser(t.Context(), name, nightowl.RoleAdmin, "correct horse battery staple"); err != nil {
			t.Fatal(err)
		}
	}

	op.SignIn(map[string]any{"sub": "u9", "email": "bo@example.com", "groups": []string{"staff"}})
	if _, msg := ssoInBrowser(t, ctx, base); !strings.Contains(msg, "already a user") {
		t.Fatalf("a local account was taken over; page says %q", msg)
	}
	if u, _ := a.store.User(t.Context(), "bo@example.com"); u.Role != nightowl.RoleAdmin || u.Source != "" {
		t.Fatalf("local user changed: %+v", u)
	}

	// The password form refuses bo, and lets the break-glass admin in.
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/login"), chromedp.WaitVisible(css("#break-glass-note")),
		chromedp.SendKeys(css("#name"), "bo@example.com"), chromedp.SendKeys(css("#password"), "correct horse battery staple"),
		chromedp.Click(css("#login-submit")), chromedp.WaitVisible(css("#error"))); err != nil {
		t.Fatal(err)
	}
	msg, err := chromedp.Run(ctx, chromedp.Text(css("#error")))
	if err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, t.TempDir(), "login-sso.png")
	if !strings.Contains(msg, "break-glass") {
		t.Errorf("password sign-in of bo: %q", msg)
	}
	if es := auditOf(t, a, "login.failed"); len(es) == 0 || es[0].Actor != "bo@example.com" || !strings.Contains(es[0].Detail, "password sign-in is off") {
		t.Errorf("login.failed entries: %+v", es)
	}
	signIn(t, ctx, base, "root")

	for name, want := range map[string]int{"bo@example.com": http.StatusUnauthorized, "root": http.StatusOK} {
		resp, body := call(t, "POST", base+"/api/v1/login", `{"name":"`+name+`","password":"correct horse battery staple"}`,
			map[string]string{"Content-Type": "application/json"})
		if resp.StatusCode != want {
			t.Errorf("API sign-in of %s: %d %s, want %d", name, resp.StatusCode, body, want)
		}
	}
}

// oidcSession signs in at op without a browser, following the redirects
// with a cookie jar, and returns the session's cookie and CSRF token.
func oidcSession(t *testing.T, a *App, base string) (*http.Cookie, string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	resp, err := c.Get(base + "/login/oidc")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/admin" {
		t.Fatalf("single sign-on ended at %s with %d", resp.Request.URL, resp.StatusCode)
	}
	req, _ := http.NewRequest("GET", base+"/", nil)
	for _, ck := range jar.Cookies(req.URL) {
		if ck.Name == "nightowl_session" {
			return ck, csrfOf(t, a, base, ck)
		}
	}
	t.Fatal("no session cookie after single sign-on")
	return nil, ""
}

// TestOIDCStepUp: a step-up asks the provider for a fresh sign-in and
// renews the current session's factor, without starting another session;
// the provider signing in someone else is refused.
func TestOIDCStepUp(t *testing.T) {
	t.Parallel()
	a, op, _ := startOIDCApp(t, true)
	base := "http://" + a.Addr()
	op.SignIn(map[string]any{"sub": "u1", "email": "ana@example.com", "groups": []string{"oncall"}})
	cookie, _ := oidcSession(t, a, base)
	before, _, err := a.Access().Session(t.Context(), cookie.Value)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // auth_time counts seconds

	stepUp := func() *http.Response {
		t.Helper()
		jar, _ := cookiejar.New(nil)
		u, _ := url.Parse(base)
		jar.SetCookies(u, []*http.Cookie{cookie})
		resp, err := (&http.Client{Jar: jar}).Get(base + "/login/oidc?step_up=1&back=/admin/alerts")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := stepUp(); resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/admin/alerts" {
		t.Fatalf("step-up ended at %s with %d", resp.Request.URL, resp.StatusCode)
	}
	reqs := op.Requests()
	if q := reqs[len(reqs)-1]; q.Get("prompt") != "login" || q.Get("max_age") != "600" {
		t.Fatalf("step-up asked the provider %v", q)
	}
	after, _, err := a.Access().Session(t.Context(), cookie.Value)
	if err != nil || !after.FactorAt.After(before.FactorAt) || after.ID != before.ID {
		t.Fatalf("session after step-up: %+v, %v; before %+v", after, err, before)
	}
	if ss, _ := a.store.Sessions(t.Context(), "ana@example.com"); len(ss) != 1 {
		t.Fatalf("%d sessions after a step-up", len(ss))
	}

	op.SignIn(map[string]any{"sub": "u2", "email": "bo@example.com", "groups": []string{"ops-admins"}})
	if resp := stepUp(); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a step-up as someone else answered %d at %s", resp.StatusCode, resp.Request.URL)
	}
	if again, _, _ := a.Access().Session(t.Context(), cookie.Value); !again.FactorAt.Equal(after.FactorAt) {
		t.Fatalf("a step-up as someone else renewed the factor")
	}
}

// TestProxyHeader: a trusted proxy's header names the user, with their
// role; from any other peer it is ignored, and the request has no
// credentials. Changes need the CSRF token derived for that user.
func TestProxyHeader(t *testing.T) {
	t.Parallel()
	s := site(t)
	for _, tc := range []struct {
		name, trusted string
		want          int
	}{
		{"trusted", "[127.0.0.1/32]", http.StatusOK},
		{"not trusted", "[10.0.0.0/8]", http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := filepath.Join(t.TempDir(), "nightowl.yaml")
			writeConfig(t, cfg, fmt.Sprintf(checksYAML, s.URL)+
				"access:\n  proxy_header: {header: X-Forwarded-User, trusted_proxies: "+tc.trusted+"}\n")
			a := startApp(t, cfg)
			base := "http://" + a.Addr()
			if _, err := a.Access().AddUser(t.Context(), "ana", nightowl.RoleResponder, "correct horse battery staple"); err != nil {
				t.Fatal(err)
			}
			resp, body := call(t, "GET", base+"/api/v1/whoami", "", map[string]string{"X-Forwarded-User": "ana"})
			if resp.StatusCode != tc.want {
				t.Fatalf("whoami: %d %s, want %d", resp.StatusCode, body, tc.want)
			}
			if tc.want != http.StatusOK {
				// Claiming to come through a trusted proxy changes
				// nothing: the TCP peer is what counts.
				resp, body := call(t, "GET", base+"/api/v1/whoami", "", map[string]string{"X-Forwarded-User": "ana", "X-Forwarded-For": "10.0.0.5"})
				if resp.StatusCode != http.StatusUnauthorized {
					t.Fatalf("whoami with X-Forwarded-For: %d %s", resp.StatusCode, body)
				}
				return
			}
			var who struct{ User, Role, Via string }
			if err := json.Unmarshal([]byte(body), &who); err != nil || who.User != "ana" || who.Role != "responder" || who.Via != "proxy" {
				t.Fatalf("whoami: %s", body)
			}
			// Her role lets her run a check, not reload; a change without
			// the CSRF token is refused.
			if resp, body := call(t, "POST", base+"/api/v1/reload", "", map[string]string{"X-Forwarded-User": "ana"}); resp.StatusCode != http.StatusForbidden {
				t.Fatalf("reload as a responder: %d %s", resp.StatusCode, body)
			}
			if resp, body := call(t, "POST", base+"/api/v1/checks/web-ok/run", "", map[string]string{"X-Forwarded-User": "ana"}); resp.StatusCode != http.StatusForbidden {
				t.Fatalf("run without a CSRF token: %d %s", resp.StatusCode, body)
			}
			page, html := call(t, "GET", base+"/admin/maintenance", "", map[string]string{"X-Forwarded-User": "ana"})
			m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(html)
			if page.StatusCode != http.StatusOK || m == nil {
				t.Fatalf("dashboard through the proxy: %d, no CSRF token in its forms", page.StatusCode)
			}
			// With the token its forms carry, she can.
			if resp, body := call(t, "POST", base+"/api/v1/checks/web-ok/run", "",
				map[string]string{"X-Forwarded-User": "ana", "X-CSRF-Token": m[1]}); resp.StatusCode != http.StatusOK {
				t.Fatalf("run with the CSRF token: %d %s", resp.StatusCode, body)
			}
			// Someone the server does not know is refused.
			if resp, body := call(t, "GET", base+"/api/v1/whoami", "", map[string]string{"X-Forwarded-User": "mallory"}); resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("unknown user through the proxy: %d %s", resp.StatusCode, body)
			}
		})
	}
}
