package app

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cdpwebauthn "github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/clocktest"
)

// chromeEnrol adds a TOTP key on the security page in the tab, signed in,
// with a code the test computes, and returns its secret and the recovery
// codes the page shows once.
func chromeEnrol(t *testing.T, ctx context.Context, base string) (string, []string) {
	t.Helper()
	err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/admin/security"),
		chromedp.WaitVisible(css("#begin-totp")),
		chromedp.Click(css("#begin-totp-submit")),
		chromedp.WaitVisible(css("#totp-qr")),
	)
	if err != nil {
		t.Fatalf("begin enrolling: %v", err)
	}
	secret, err := chromedp.Run(ctx, chromedp.Text(css("#totp-secret")))
	if err != nil || secret == "" {
		t.Fatalf("the key shown: %q %v", secret, err)
	}
	screenshot(t, ctx, t.TempDir(), "security-enrol.png")
	// The QR code is an image the page's policy lets it show.
	if w, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelector("#totp-qr").naturalWidth`)); err != nil || w == 0 {
		t.Fatalf("the QR code did not load: %d %v", w, err)
	}
	code, _ := totp.GenerateCode(secret, time.Now())
	err = chromedp.Do(ctx,
		chromedp.SendKeys(css("#totp-code"), code),
		chromedp.Click(css("#confirm-totp-submit")),
		chromedp.WaitVisible(css("#recovery-codes")),
	)
	if err != nil {
		t.Fatalf("confirm the key: %v", err)
	}
	codes, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('[data-testid="recovery-code"]')].map(c => c.textContent)`))
	if err != nil || len(codes) != 10 {
		t.Fatalf("recovery codes: %q %v", codes, err)
	}
	screenshot(t, ctx, t.TempDir(), "security-codes.png")
	return secret, codes
}

// chromeSignInWithCode signs in with the password, then gives code on the
// second factor's page.
func chromeSignInWithCode(t *testing.T, ctx context.Context, base, name, code string) {
	t.Helper()
	err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(css("#login")),
		chromedp.SendKeys(css("#name"), name),
		chromedp.SendKeys(css("#password"), "correct horse battery staple"),
		chromedp.Click(css("#login-submit")),
		chromedp.WaitVisible(css("#factor")),
		chromedp.SendKeys(css("#code"), code),
		chromedp.Click(css("#factor-submit")),
		chromedp.WaitVisible(css("#logout")),
	)
	if err != nil {
		t.Fatalf("sign in as %s with a code: %v", name, err)
	}
}

// nextCode is the code of the step after the current one, which the
// server takes (it allows one step of skew) even when the current one was
// just used.
func nextCode(secret string) string {
	c, _ := totp.GenerateCode(secret, time.Now().Add(30*time.Second))
	return c
}

// TestSecondFactorInBrowser: enrolling a TOTP key on the security page,
// signing out and in again with password and code, a recovery code that
// works once, and require_second_factor sending an admin to enrol first.
func TestSecondFactorInBrowser(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("drives Chromium")
	}
	ctx := chromeTab(t)
	s := site(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "nightowl.yaml")
	writeConfig(t, cfg, fmt.Sprintf(checksYAML, s.URL)+"access:\n  require_second_factor: [admin]\n")
	a := startApp(t, cfg)
	base := "http://" + a.Addr()
	userToken(t, a, "ana", nightowl.RoleResponder)
	userToken(t, a, "root", nightowl.RoleAdmin)
	signOut := func() {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Click(css("#logout")), chromedp.WaitVisible(css("#login"))); err != nil {
			t.Fatalf("sign out: %v", err)
		}
	}

	signIn(t, ctx, base, "ana")
	secret, codes := chromeEnrol(t, ctx, base)
	if err := chromedp.Do(ctx, chromedp.Click(css("#security-continue")), chromedp.WaitVisible(css("#checks"))); err != nil {
		t.Fatal(err)
	}
	signOut()
	// The password alone leads to the code's page, which lets nothing
	// else through.
	err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(css("#login")),
		chromedp.SendKeys(css("#name"), "ana"),
		chromedp.SendKeys(css("#password"), "correct horse battery staple"),
		chromedp.Click(css("#login-submit")),
		chromedp.WaitVisible(css("#factor")),
		chromedp.Navigate(base+"/admin/alerts"),
		chromedp.WaitVisible(css("#factor")),
		chromedp.SendKeys(css("#code"), "000000"),
		chromedp.Click(css("#factor-submit")),
		chromedp.WaitVisible(css("#error")),
		chromedp.SendKeys(css("#code"), nextCode(secret)),
		chromedp.Click(css("#factor-submit")),
	)
	if err != nil {
		t.Fatalf("sign in with password and code: %v", err)
	}
	waitLocation(t, ctx, "the page asked for", func(u string) bool { return strings.HasSuffix(u, "/admin/alerts") })
	signOut()

	// A recovery code works once.
	chromeSignInWithCode(t, ctx, base, "ana", codes[0])
	if err := chromedp.Do(ctx, chromedp.WaitVisible(css("#recovery-left"))); err != nil {
		t.Fatal(err)
	}
	if left, err := chromedp.Run(ctx, chromedp.Text(css("#recovery-left"))); err != nil || left != "9" {
		t.Fatalf("recovery codes left: %q %v", left, err)
	}
	signOut()
	err = chromedp.Do(ctx,
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(css("#login")),
		chromedp.SendKeys(css("#name"), "ana"),
		chromedp.SendKeys(css("#password"), "correct horse battery staple"),
		chromedp.Click(css("#login-submit")),
		chromedp.WaitVisible(css("#factor")),
		chromedp.SendKeys(css("#code"), codes[0]),
		chromedp.Click(css("#factor-submit")),
		chromedp.WaitVisible(css("#error")),
		chromedp.Click(css("#factor-signout")),
		chromedp.WaitVisible(css("#login")),
	)
	if err != nil {
		t.Fatalf("a used recovery code: %v", err)
	}

	// An admin without a factor must enrol before anything else.
	err = chromedp.Do(ctx,
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(css("#login")),
		chromedp.SendKeys(css("#name"), "root"),
		chromedp.SendKeys(css("#password"), "correct horse battery staple"),
		chromedp.Click(css("#login-submit")),
		chromedp.WaitVisible(css("#must-enrol")),
		chromedp.Navigate(base+"/admin/users"),
		chromedp.WaitVisible(css("#must-enrol")),
	)
	if err != nil {
		t.Fatalf("an admin without a factor: %v", err)
	}
	chromeEnrol(t, ctx, base)
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/admin/users"), chromedp.WaitVisible(css("#users"))); err != nil {
		t.Fatalf("after enrolling: %v", err)
	}
}

// TestDashboardStepUp: approving on the dashboard with a factor older than
// access.step_up goes to the second factor's page, which comes back to the
// request's page, where the approval then passes.
func TestDashboardStepUp(t *testing.T) {
	t.Parallel()
	s := site(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "nightowl.yaml")
	writeConfig(t, cfg, fmt.Sprintf(checksYAML, s.URL)+actionsYAML)
	clock := clocktest.New(time.Now().Truncate(time.Second))
	a := startClocked(t, cfg, clock, &lockedBuffer{})
	base := "http://" + a.Addr()
	ana := actionAPI{t, base, userToken(t, a, "ana", nightowl.RoleResponder)}
	userToken(t, a, "bo", nightowl.RoleResponder)
	secret, _ := enrolTOTP(t, a, base, "bo", clock.Now())
	_, req, msg := ana.request("say", map[string]string{"word": "hello"}, "hello", "to greet")
	if req.ID == "" {
		t.Fatalf("request: %q", msg)
	}

	bo := newBrowser(t, base)
	_, page := bo.get("/login")
	resp, _ := bo.post("/login", url.Values{"csrf": {csrfIn(t, page)}, "name": {"bo"}, "password": {"correct horse battery staple"}})
	if loc := resp.Header.Get("Location"); loc != "/login/factor?next=%2Fadmin" {
		t.Fatalf("sign-in with a factor goes to %q", loc)
	}
	clock.Advance(30 * time.Second)
	code, _ := totp.GenerateCode(secret, clock.Now())
	_, page = bo.get("/login/factor?next=%2Fadmin")
	resp, _ = bo.post("/login/factor", url.Values{"csrf": {csrfIn(t, page)}, "next": {"/admin"}, "code": {code}})
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc != "/admin" {
		t.Fatalf("the code: %d to %q", resp.StatusCode, loc)
	}

	clock.Advance(11 * time.Minute)
	reqPage := "/admin/actions/requests/" + req.ID
	_, page = bo.get(reqPage)
	csrf := csrfIn(t, page)
	r, _ := http.NewRequest("POST", base+reqPage+"/approve", strings.NewReader(url.Values{"csrf": {csrf}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Referer", base+reqPage)
	resp, err := bo.c.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	want := "/login/factor?next=" + url.QueryEscape(reqPage) + "&step_up=1"
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc != want {
		t.Fatalf("a stale approval: %d to %q, want %q", resp.StatusCode, loc, want)
	}
	_, page = bo.get(want)
	if !strings.Contains(page, `id="step-up-note"`) {
		t.Fatalf("the step-up page:\n%s", page)
	}
	code, _ = totp.GenerateCode(secret, clock.Now())
	resp, _ = bo.post("/login/factor", url.Values{"csrf": {csrfIn(t, page)}, "next": {reqPage}, "step_up": {"1"}, "code": {code}})
	if loc := resp.Header.Get("Location"); loc != reqPage {
		t.Fatalf("after the step-up: %d to %q, want back to %s", resp.StatusCode, loc, reqPage)
	}
	resp, body := bo.post(reqPage+"/approve", url.Values{"csrf": {csrf}})
	wantRedirect(t, resp, body, reqPage+"?")
}

// enrol adds a TOTP key on the security page for the browser's person,
// which also makes its session's second factor fresh, and returns its
// secret.
func (b *browser) enrol() string {
	b.t.Helper()
	_, page := b.get("/admin/security")
	csrf := csrfIn(b.t, page)
	_, page = b.post("/admin/security/totp", url.Values{"csrf": {csrf}})
	secret := between(page, `id="totp-secret">`, "<")
	id := between(page, `name="id" value="`, `"`)
	code, _ := totp.GenerateCode(secret, time.Now())
	resp, page := b.post("/admin/security/totp/confirm", url.Values{"csrf": {csrf}, "id": {id}, "code": {code}})
	if resp.StatusCode != 200 || !strings.Contains(page, `id="recovery-codes"`) {
		b.t.Fatalf("enrol: %d\n%s", resp.StatusCode, page)
	}
	return secret
}

// TestPasskeyInBrowser: a passkey is added on the security page with
// Chromium's virtual authenticator, and then gives the second factor at
// sign-in. The page is reached as localhost: WebAuthn refuses an IP
// address as the relying party.
func TestPasskeyInBrowser(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("drives Chromium")
	}
	ctx := chromeTab(t)
	s := site(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "nightowl.yaml")
	writeConfig(t, cfg, fmt.Sprintf(checksYAML, s.URL))
	a := startApp(t, cfg)
	_, port, _ := strings.Cut(a.Addr(), ":")
	base := "http://localhost:" + port
	userToken(t, a, "ana", nightowl.RoleResponder)
	if _, err := chromedp.Call(ctx, cdpwebauthn.Enable, cdpwebauthn.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	_, err := chromedp.Call(ctx, cdpwebauthn.AddVirtualAuthenticator, cdpwebauthn.AddVirtualAuthenticatorParams{
		Options: &cdpwebauthn.VirtualAuthenticatorOptions{Protocol: cdpwebauthn.AuthenticatorProtocolCtap2,
			Transport: cdpwebauthn.AuthenticatorTransportInternal, HasResidentKey: true, HasUserVerification: true,
			IsUserVerified: true, AutomaticPresenceSimulation: true}})
	if err != nil {
		t.Fatal(err)
	}

	signIn(t, ctx, base, "ana")
	err = chromedp.Do(ctx,
		chromedp.Navigate(base+"/admin/security"),
		chromedp.WaitVisible(css("#add-passkey")),
		chromedp.SendKeys(css("#passkey-name"), "laptop"),
		chromedp.Click(css("#add-passkey")),
		chromedp.WaitVisible(css("#passkey-codes")),
	)
	if err != nil {
		msg, _ := chromedp.Run(ctx, chromedp.Text(css("#passkey-status")))
		t.Fatalf("add a passkey: %v (%s)", err, msg)
	}
	fs, err := a.Access().Factors(t.Context(), "ana")
	if err != nil || len(fs) != 1 || fs[0].Kind != nightowl.FactorWebAuthn || fs[0].Name != "laptop" {
		t.Fatalf("ana's factors: %+v %v", fs, err)
	}
	err = chromedp.Do(ctx,
		chromedp.Click(css("#passkey-continue")),
		chromedp.WaitVisible(css("#logout")),
		chromedp.Click(css("#logout")),
		chromedp.WaitVisible(css("#login")),
		chromedp.SendKeys(css("#name"), "ana"),
		chromedp.SendKeys(css("#password"), "correct horse battery staple"),
		chromedp.Click(css("#login-submit")),
		chromedp.WaitVisible(css("#use-passkey")),
		chromedp.Click(css("#use-passkey")),
		chromedp.WaitVisible(css("#checks")),
	)
	if err != nil {
		msg, _ := chromedp.Run(ctx, chromedp.Text(css("body")))
		t.Fatalf("sign in with the passkey: %v\n%s", err, msg)
	}
}
