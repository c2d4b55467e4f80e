package admin

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/web/internal/kit"
)

// LoginCookie carries the sign-in form's CSRF token. Before signing in
// there is no session to hold one, so the form is protected by a double
// submit: a short-lived cookie that another site can neither read nor set,
// repeated in a hidden field. Without it, a page elsewhere could sign a
// browser in as the attacker (login CSRF) and watch what its owner does.
// The token is also signed with the server's key and carries its expiry
// (loginToken), so that only a form this server handed out, lately, passes.
const LoginCookie = "nightowl_login"

// loginTTL is how long a sign-in form stays good.
const loginTTL = 30 * time.Minute

type loginPageData struct {
	Title, Name, Next, Token, Error string
	Status                          int
	Unavailable                     bool
	// SSO names the identity provider of the single sign-on button;
	// PasswordsOff keeps the password form for the break-glass account.
	SSO          string
	PasswordsOff bool
}

// loginTokenLabel keeps the key's MACs here apart from any other use of it.
const loginTokenLabel = "nightowl sign-in form\x00"

// Sizes of the parts of a sign-in token: its expiry (Unix seconds), a
// random nonce and the HMAC-SHA256 of both.
const (
	loginExpSize   = 8
	loginNonceSize = 16
	loginTokenSize = loginExpSize + loginNonceSize + sha256.Size
)

// newLoginToken makes a sign-in token that expires at exp.
func newLoginToken(key []byte, exp time.Time) string {
	b := make([]byte, loginExpSize+loginNonceSize, loginTokenSize)
	binary.BigEndian.PutUint64(b, uint64(exp.Unix()))
	rand.Read(b[loginExpSize:])
	return base64.RawURLEncoding.EncodeToString(loginMAC(key, b))
}

func loginMAC(key, msg []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(loginTokenLabel))
	m.Write(msg)
	return m.Sum(msg)
}

// validLoginToken reports whether tok was made with key and has not
// expired at now.
func validLoginToken(key []byte, tok string, now time.Time) bool {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(b) != loginTokenSize {
		return false
	}
	body := b[:loginExpSize+loginNonceSize]
	if !hmac.Equal(loginMAC(key, append([]byte(nil), body...)), b) {
		return false
	}
	exp := int64(binary.BigEndian.Uint64(b))
	return now.Unix() < exp
}

func (a *pages) showLogin(w http.ResponseWriter, r *http.Request, status int, d loginPageData) {
	a.showLoginErr(w, r, status, d, nil)
}

func (a *pages) showLoginErr(w http.ResponseWriter, r *http.Request, status int, d loginPageData, err error) {
	d.Title = "Sign in – nightowl"
	d.Unavailable = a.auth == nil
	d.PasswordsOff = a.pwOff
	if a.sso != nil {
		d.SSO = a.sso.Name()
	}
	d.Token = newLoginToken(a.loginKey, a.clock.Now().Add(loginTTL))
	http.SetCookie(w, &http.Cookie{Name: LoginCookie, Value: d.Token, Path: "/login", MaxAge: int(loginTTL / time.Second),
		HttpOnly: true, Secure: kit.SecureCookies(r, a.publicURL), SameSite: http.SameSiteStrictMode})
	kit.SetRetryAfter(w, err)
	a.renderBare(w, status, "login.html", d)
}

func (a *pages) loginPage(w http.ResponseWriter, r *http.Request) {
	next := localAdminPath(r.URL.Query().Get("next"))
	// Someone already signed in goes on where they were headed.
	if c, err := r.Cookie(kit.SessionCookie); err == nil && c.Value != "" && a.auth != nil {
		if _, _, err := a.auth.Session(r.Context(), c.Value); err == nil {
			if next == "" {
				next = "/admin"
			}
			http.Redirect(w, r, next, http.StatusSeeOther)
			return
		}
	}
	a.showLogin(w, r, http.StatusOK, loginPageData{Next: next})
}

func (a *pages) loginSubmit(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	name := strings.TrimSpace(r.PostFormValue("name"))
	d := loginPageData{Name: name, Next: localAdminPath(r.PostFormValue("next"))}
	c, err := r.Cookie(LoginCookie)
	if err != nil || c.Value == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostFormValue("csrf"))) != 1 ||
		!validLoginToken(a.loginKey, c.Value, a.clock.Now()) {
		d.Error = "This sign-in form has expired or came from elsewhere. Please try again."
		a.showLogin(w, r, http.StatusForbidden, d)
		return
	}
	if a.auth == nil {
		d.Error = "Signing in is not available on this server."
		a.showLogin(w, r, http.StatusUnauthorized, d)
		return
	}
	s, cookie, err := a.auth.LoginWith(r.Context(), name, r.PostFormValue("password"), kit.SessionInfoOf(r, a.clientAddr(r)))
	if err != nil {
		switch nightowl.ErrorCode(err) {
		case nightowl.ERateLimited:
			d.Error = nightowl.ErrorMessage(err)
			a.showLoginErr(w, r, http.StatusTooManyRequests, d, err)
		case nightowl.EUnauthorized, nightowl.EInvalid, nightowl.ENotFound:
			d.Error = "Wrong name or password."
			if a.pwOff && a.sso != nil {
				d.Error = "Wrong name or password. Signing in with a password is only for the break-glass account here: use single sign-on."
			}
			a.showLogin(w, r, http.StatusUnauthorized, d)
		default:
			a.log.Error("sign in", "err", err)
			d.Error = "Signing in failed on the server; try again shortly."
			a.showLogin(w, r, http.StatusInternalServerError, d)
		}
		return
	}
	kit.SetSession(w, r, a.publicURL, cookie, s)
	http.SetCookie(w, &http.Cookie{Name: LoginCookie, Value: "", Path: "/login", MaxAge: -1,
		HttpOnly: true, Secure: kit.SecureCookies(r, a.publicURL), SameSite: http.SameSiteStrictMode})
	next := d.Next
	if next == "" {
		next = "/admin"
	}
	// The password was right; the session waits for what comes next.
	switch s.Pending {
	case nightowl.SessionNeedsFactor:
		next = "/login/factor?next=" + url.QueryEscape(next)
	case nightowl.SessionNeedsEnrolment:
		next = "/admin/security?next=" + url.QueryEscape(next)
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// logoutSubmit ends the browser's session. It needs the session's CSRF
// token, or any page could sign people out; without a valid session there
// is nothing to end, and it just goes to the sign-in page.
func (a *pages) logoutSubmit(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(kit.SessionCookie); err == nil && c.Value != "" && a.auth != nil {
		if s, _, err := a.auth.Session(r.Context(), c.Value); err == nil {
			if err := kit.CheckCSRF(w, r, s.CSRF); err != nil {
				kit.Deny(w, r, err)
				return
			}
			if err := a.auth.Logout(r.Context(), c.Value); err != nil {
				a.log.Error("sign out", "err", err)
			}
		}
	}
	http.SetCookie(w, &http.Cookie{Name: kit.SessionCookie, Value: "", Path: "/", MaxAge: -1, Expires: time.Unix(0, 0),
		HttpOnly: true, Secure: kit.SecureCookies(r, a.publicURL), SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}
