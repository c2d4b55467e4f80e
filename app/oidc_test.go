package app

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"path/filepath"
	"strings"
	"sync"
	"testing"

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
	if !strings.Contains(msg, "break-glass") {
		t.Errorf("password sign-in of bo: %q", msg)
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
