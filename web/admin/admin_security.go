package admin

import (
	"context"
	"encoding/base64"
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/web/internal/kit"
)

// Factors keeps each person's second factors and sessions; the audited
// access service implements it. Every method that acts on "the session of
// cookie" acts for the person of that session only.
type Factors interface {
	// Factors lists a user's confirmed second factors, without secrets.
	Factors(ctx context.Context, user string) ([]nightowl.Factor, error)
	RecoveryCodesLeft(ctx context.Context, user string) (int, error)
	BeginTOTP(ctx context.Context, cookie, name string) (nightowl.TOTPEnrolment, error)
	// ConfirmTOTP returns the session, which has given a second factor
	// now, and new recovery codes when there were none left.
	ConfirmTOTP(ctx context.Context, cookie, id, code, addr string) (nightowl.Session, []string, error)
	// VerifyFactor takes a TOTP or recovery code, and says which
	// (CodeTOTP, CodeRecovery) and how many recovery codes are left.
	VerifyFactor(ctx context.Context, cookie, code, addr string) (nightowl.Session, string, int, error)
	RemoveFactor(ctx context.Context, cookie, id string) (nightowl.Factor, error)
	NewRecoveryCodes(ctx context.Context, cookie string) ([]string, error)
	// BeginPasskey and BeginPasskeyLogin return the options of a WebAuthn
	// ceremony for the relying party rpID at origin, as JSON; the Finish
	// methods check the browser's answer (body).
	BeginPasskey(ctx context.Context, cookie, rpID, origin string) ([]byte, error)
	FinishPasskey(ctx context.Context, cookie, name, rpID, origin string, body []byte) (nightowl.Session, []string, error)
	BeginPasskeyLogin(ctx context.Context, cookie, rpID, origin string) ([]byte, error)
	FinishPasskeyLogin(ctx context.Context, cookie, rpID, origin string, body []byte, addr string) (nightowl.Session, error)
	// Sessions lists a user's live sessions (everyone's for ""), and
	// EndSession ends one of a user's (anyone's for "").
	Sessions(ctx context.Context, user string) ([]nightowl.Session, error)
	EndSession(ctx context.Context, user, id string) (nightowl.Session, error)
}

// The kinds of code VerifyFactor reports, as package access names them.
const (
	CodeTOTP     = "totp"
	CodeRecovery = "recovery code"
)

// securityCSP is adminCSP with data: images: the enrolment's QR code is a
// PNG in a data: URL, made here, never one a visitor chose.
const securityCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

func (a *pages) securityRoutes() []kit.Route {
	if a.factors == nil {
		return nil
	}
	f := func(pattern string, role nightowl.Role, h http.HandlerFunc) kit.Route {
		return kit.Route{Pattern: pattern, Role: role, Handler: h}
	}
	return []kit.Route{
		// The second factor's page reads the session itself: it is
		// where a session that waits for its factor is sent.
		f("GET /login/factor", public, a.factorPage),
		f("POST /login/factor", public, a.factorSubmit),
		kit.WhilePending(f("GET /admin/security", viewer, a.adminSecurity)),
		kit.WhilePending(f("POST /admin/security/totp", viewer, a.adminBeginTOTP)),
		kit.WhilePending(f("POST /admin/security/totp/confirm", viewer, a.adminConfirmTOTP)),
		kit.WithStepUp(f("POST /admin/security/factors/{id}/remove", viewer, a.adminRemoveFactor)),
		kit.WithStepUp(f("POST /admin/security/recovery", viewer, a.adminNewRecoveryCodes)),
		f("POST /admin/security/sessions/{id}/end", viewer, a.adminEndSession),
	}
}

type factorPageData struct {
	Title, CSRF, Next, Error, User string
	StepUp                         bool
}

// sessionOf is the live session of the request's cookie.
func (a *pages) sessionOf(r *http.Request) (nightowl.Session, string, bool) {
	c, err := r.Cookie(kit.SessionCookie)
	if err != nil || c.Value == "" || a.auth == nil {
		return nightowl.Session{}, "", false
	}
	s, _, err := a.auth.Session(r.Context(), c.Value)
	return s, c.Value, err == nil
}

// nextOf is where a page goes after the second factor: a local admin page,
// /admin otherwise.
func nextOf(v string) string {
	if n := localAdminPath(v); n != "" {
		return n
	}
	return "/admin"
}

func (a *pages) showFactor(w http.ResponseWriter, r *http.Request, status int, s nightowl.Session, d factorPageData) {
	d.Title, d.CSRF, d.User = "Second factor – nightowl", s.CSRF, s.User
	a.renderBare(w, status, "login_factor.html", d)
}

func (a *pages) factorPage(w http.ResponseWriter, r *http.Request) {
	s, _, ok := a.sessionOf(r)
	if !ok {
		http.Redirect(w, r, "/login?next="+url.QueryEscape(nextOf(r.URL.Query().Get("next"))), http.StatusSeeOther)
		return
	}
	if s.Pending == nightowl.SessionNeedsEnrolment {
		http.Redirect(w, r, "/admin/security?next="+url.QueryEscape(nextOf(r.URL.Query().Get("next"))), http.StatusSeeOther)
		return
	}
	a.showFactor(w, r, http.StatusOK, s, factorPageData{Next: nextOf(r.URL.Query().Get("next")),
		StepUp: s.Pending == "" && r.URL.Query().Get("step_up") != ""})
}

func (a *pages) factorSubmit(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	s, cookie, ok := a.sessionOf(r)
	if !ok {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	if err := kit.CheckCSRF(w, r, s.CSRF); err != nil {
		kit.Deny(w, r, err)
		return
	}
	d := factorPageData{Next: nextOf(r.PostFormValue("next")), StepUp: s.Pending == "" && r.PostFormValue("step_up") != ""}
	_, used, left, err := a.factors.VerifyFactor(r.Context(), cookie, r.PostFormValue("code"), a.clientAddr(r))
	if err != nil {
		switch nightowl.ErrorCode(err) {
		case nightowl.ERateLimited:
			kit.SetRetryAfter(w, err)
			d.Error = nightowl.ErrorMessage(err)
		case nightowl.EUnauthorized:
			d.Error = "Wrong or already used code."
		default:
			a.log.Error("second factor", "err", err)
			d.Error = "Checking the code failed on the server; try again shortly."
		}
		a.showFactor(w, r, kit.StatusOf(err), s, d)
		return
	}
	to := d.Next
	if used == CodeRecovery {
		// Say how many are left, on the security page, where new ones
		// are made.
		v := url.Values{"done": {"recovery-used"}, "what": {itoa(left)}, "next": {d.Next}}
		to = "/admin/security?" + v.Encode()
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

func itoa(n int) string {
	if n <= 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

type factorRow struct {
	ID, Kind, Name string
	Created, Used  *stamp
}

type sessionRow struct {
	ID, Device, Address, Method string
	Created, Expires, FactorAt  *stamp
	Current                     bool
}

type securityData struct {
	Factors       []factorRow
	RecoveryLeft  int
	Sessions      []sessionRow
	MustEnrol     bool
	Next          string
	Enrol         *enrolData
	RecoveryCodes []string
	SignedIn      bool
}

type enrolData struct {
	ID, Secret, URL string
	QR              template.URL
	Error           string
}

func (a *pages) security(r *http.Request, p kit.Principal) (securityData, error) {
	d := securityData{Next: nextOf(r.FormValue("next")), SignedIn: p.Via == "session"}
	d.MustEnrol = p.Session.Pending == nightowl.SessionNeedsEnrolment
	fs, err := a.factors.Factors(r.Context(), p.User)
	if err != nil {
		return d, err
	}
	for _, f := range fs {
		d.Factors = append(d.Factors, factorRow{ID: f.ID, Kind: f.Kind, Name: f.Name, Created: at(f.CreatedAt), Used: at(f.LastUsed)})
	}
	if d.RecoveryLeft, err = a.factors.RecoveryCodesLeft(r.Context(), p.User); err != nil {
		return d, err
	}
	ss, err := a.factors.Sessions(r.Context(), p.User)
	if err != nil {
		return d, err
	}
	for _, s := range ss {
		d.Sessions = append(d.Sessions, sessionRow{ID: s.ID, Device: Device(s.UserAgent), Address: s.Address, Method: s.Method,
			Created: at(s.CreatedAt), Expires: at(s.ExpiresAt), FactorAt: at(s.FactorAt), Current: s.ID == p.Session.ID})
	}
	return d, nil
}

func (a *pages) showSecurity(w http.ResponseWriter, r *http.Request, status int, d securityData, errText string) {
	p := &adminPage{Title: "Security", Section: "security", Error: errText, Data: d}
	if d.RecoveryCodes != nil {
		p.Flash = "Keep these recovery codes somewhere safe: they are shown only this once."
	}
	a.frame(r, p)
	a.renderBareCSP(w, status, "admin_security.html", p, securityCSP)
}

func (a *pages) adminSecurity(w http.ResponseWriter, r *http.Request) {
	p, _ := kit.PrincipalFrom(r.Context())
	d, err := a.security(r, p)
	if err != nil {
		a.fail(w, r, "Security", err)
		return
	}
	a.showSecurity(w, r, http.StatusOK, d, "")
}

// mustSession refuses what only a browser's session can do: a second
// factor belongs to a person signed in with their password.
func (a *pages) mustSession(w http.ResponseWriter, r *http.Request) (kit.Principal, string, bool) {
	p, _ := kit.PrincipalFrom(r.Context())
	c, err := r.Cookie(kit.SessionCookie)
	if p.Via != "session" || err != nil {
		a.fail(w, r, "Security", nightowl.Errorf(nightowl.EInvalid, "sign in with your name and password to manage your second factors"))
		return p, "", false
	}
	return p, c.Value, true
}

func (a *pages) adminBeginTOTP(w http.ResponseWriter, r *http.Request) {
	p, cookie, ok := a.mustSession(w, r)
	if !ok {
		return
	}
	e, err := a.factors.BeginTOTP(r.Context(), cookie, r.PostFormValue("name"))
	if err != nil {
		a.fail(w, r, "Security", err)
		return
	}
	d, err := a.security(r, p)
	if err != nil {
		a.fail(w, r, "Security", err)
		return
	}
	d.Enrol = &enrolData{ID: e.ID, Secret: e.Secret, URL: e.URL,
		QR: template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(e.QR))}
	a.showSecurity(w, r, http.StatusOK, d, "")
}

func (a *pages) adminConfirmTOTP(w http.ResponseWriter, r *http.Request) {
	p, cookie, ok := a.mustSession(w, r)
	if !ok {
		return
	}
	id := r.PostFormValue("id")
	s, codes, err := a.factors.ConfirmTOTP(r.Context(), cookie, id, r.PostFormValue("code"), a.clientAddr(r))
	if err != nil {
		d, derr := a.security(r, p)
		if derr != nil {
			a.fail(w, r, "Security", derr)
			return
		}
		// The key is still being enrolled: its secret is not shown
		// again; start over for a new one.
		msg := "The code did not match: start again, and type the code your app shows now."
		if nightowl.ErrorCode(err) == nightowl.ERateLimited {
			kit.SetRetryAfter(w, err)
			msg = nightowl.ErrorMessage(err)
		}
		a.showSecurity(w, r, kit.StatusOf(err), d, msg)
		return
	}
	p.Session = s
	d, err := a.security(r, p)
	if err != nil {
		a.fail(w, r, "Security", err)
		return
	}
	d.MustEnrol = false
	d.RecoveryCodes = codes
	a.showSecurity(w, r, http.StatusOK, d, "")
}

func (a *pages) adminRemoveFactor(w http.ResponseWriter, r *http.Request) {
	_, cookie, ok := a.mustSession(w, r)
	if !ok {
		return
	}
	f, err := a.factors.RemoveFactor(r.Context(), cookie, r.PathValue("id"))
	if err != nil {
		a.fail(w, r, "Security", err)
		return
	}
	done(w, r, "/admin/security", "factor-removed", f.Name)
}

func (a *pages) adminNewRecoveryCodes(w http.ResponseWriter, r *http.Request) {
	p, cookie, ok := a.mustSession(w, r)
	if !ok {
		return
	}
	codes, err := a.factors.NewRecoveryCodes(r.Context(), cookie)
	if err != nil {
		a.fail(w, r, "Security", err)
		return
	}
	d, err := a.security(r, p)
	if err != nil {
		a.fail(w, r, "Security", err)
		return
	}
	d.RecoveryCodes = codes
	a.showSecurity(w, r, http.StatusOK, d, "")
}

func (a *pages) adminEndSession(w http.ResponseWriter, r *http.Request) {
	p, _ := kit.PrincipalFrom(r.Context())
	if p.User == "" {
		a.fail(w, r, "Security", nightowl.Errorf(nightowl.EForbidden, "an anonymous viewer has no sessions"))
		return
	}
	s, err := a.factors.EndSession(r.Context(), p.User, r.PathValue("id"))
	if err != nil {
		a.fail(w, r, "Security", err)
		return
	}
	if s.ID == p.Session.ID {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	done(w, r, "/admin/security", "session-ended", s.ID)
}

// Device names the browser and system of a user agent for a list of
// sessions: a guess for people to recognise, never used to decide.
func Device(ua string) string {
	if ua == "" {
		return ""
	}
	browser := "Unknown browser"
	for _, b := range []struct{ token, name string }{
		{"Edg/", "Edge"}, {"OPR/", "Opera"}, {"Firefox/", "Firefox"}, {"Chrome/", "Chrome"}, {"Safari/", "Safari"},
		{"curl/", "curl"}, {"nightowl/", "nightowl CLI"}, {"Go-http-client", "Go client"},
	} {
		if strings.Contains(ua, b.token) {
			browser = b.name
			break
		}
	}
	for _, o := range []struct{ token, name string }{
		{"Android", "Android"}, {"iPhone", "iPhone"}, {"iPad", "iPad"}, {"Windows", "Windows"},
		{"Mac OS X", "macOS"}, {"CrOS", "ChromeOS"}, {"Linux", "Linux"},
	} {
		if strings.Contains(ua, o.token) {
			return browser + " on " + o.name
		}
	}
	return browser
}
