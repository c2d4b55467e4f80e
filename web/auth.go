package web

import (
	"context"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/web/internal/kit"
)

// Authenticator tells who is asking, from a session cookie or an API
// token, and signs people in and out.
type Authenticator interface {
	Session(ctx context.Context, cookie string) (nightowl.Session, nightowl.User, error)
	Authenticate(ctx context.Context, secret string) (nightowl.Token, nightowl.User, nightowl.Role, error)
	LoginWith(ctx context.Context, name, password string, info nightowl.SessionInfo) (nightowl.Session, string, error)
	Logout(ctx context.Context, cookie string) error
}

// SessionCookie is the name of the cookie that carries a signed-in
// browser's session.
const SessionCookie = kit.SessionCookie

// CSRFHeader carries the session's CSRF token on requests a signed-in
// browser's scripts make; forms carry it in the field "csrf".
const CSRFHeader = kit.CSRFHeader

// Principal is who a request acts for.
type Principal = kit.Principal

// PrincipalFrom returns who the request acts for; false on public routes.
func PrincipalFrom(ctx context.Context) (Principal, bool) { return kit.PrincipalFrom(ctx) }

// unsafe reports whether a method changes something, and so needs CSRF
// protection when a browser's cookie authenticates it.
func unsafe(method string) bool {
	return method != http.MethodGet && method != http.MethodHead && method != http.MethodOptions
}

// require wraps h so that it runs only for a request whose principal has
// at least the route's role; a session still waiting for its second factor
// only on the routes marked Pending, and a dangerous route (StepUp) only for
// a session whose second factor is recent.
func (a *api) require(rt Route, h http.Handler) http.Handler {
	need := rt.Role
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Who asks, and whether they may, is known from the headers:
		// nothing of the body is read before both are settled.
		p, err := a.principal(r)
		if err != nil {
			kit.Deny(w, r, err)
			return
		}
		if !p.Role.Allows(need) {
			kit.Deny(w, r, nightowl.Errorf(nightowl.EForbidden, "this needs the %s role; %s has %s", need, orAnonymous(p.User), p.Role))
			return
		}
		if (p.Via == "session" || p.Via == "proxy") && unsafe(r.Method) {
			if err := kit.CheckCSRF(w, r, p.CSRF); err != nil {
				kit.Deny(w, r, err)
				return
			}
		}
		ctx := kit.WithPrincipal(r.Context(), p)
		if p.Via == "session" {
			if page, err := a.sessionMay(rt, p.Session); err != nil {
				a.denyFactor(w, r, err, page)
				return
			}
			if rt.StepUp {
				ctx = nightowl.WithStepUp(ctx, p.Session.FactorAt)
			}
		}
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

// sessionMay says why a session may not use rt yet: it waits for its
// second factor or to enrol one, or the route is dangerous and its last
// second factor is older than access.step_up (or it never gave one). It
// also says which page a browser goes to: the second factor's, or the
// security page to enrol one.
func (a *api) sessionMay(rt Route, s nightowl.Session) (page string, err error) {
	switch {
	case s.Pending == nightowl.SessionNeedsFactor && !rt.Pending:
		return "/login/factor", nightowl.Errorf(nightowl.EFactorPending, "give your second factor first: POST /api/v1/login/factor")
	case s.Pending != "" && !rt.Pending:
		return "/admin/security", nightowl.Errorf(nightowl.EFactorPending, "enrol a second factor first, on the dashboard's security page")
	case rt.StepUp && s.Method == nightowl.SignInOIDC && (s.FactorAt.IsZero() || a.clock.Now().Sub(s.FactorAt) > a.stepUp):
		// The identity provider is the second factor: a fresh sign-in
		// there sets the session's FactorAt.
		return "/login/oidc", nightowl.Errorf(nightowl.EStepUp, "this needs a sign-in at the identity provider in the last %s: sign in there again at /login/oidc?step_up=1", a.stepUp)
	case rt.StepUp && s.FactorAt.IsZero():
		return "/admin/security", nightowl.Errorf(nightowl.EStepUp, "this needs a second factor, and this session has given none: enrol one on the dashboard's security page, then give it at POST /api/v1/login/factor")
	case rt.StepUp && a.clock.Now().Sub(s.FactorAt) > a.stepUp:
		return "/login/factor", nightowl.Errorf(nightowl.EStepUp, "this needs a second factor given in the last %s: give one again at POST /api/v1/login/factor", a.stepUp)
	}
	return "", nil
}

// denyFactor refuses a session that must give a second factor first. The
// API answers with the error; a page goes to page (the second factor's, or
// the security page), which comes back to the page the person was on.
func (a *api) denyFactor(w http.ResponseWriter, r *http.Request, err error, page string) {
	if strings.HasPrefix(r.URL.Path, "/api/") {
		kit.Deny(w, r, err)
		return
	}
	kit.CloseUnread(w, r)
	back := r.URL.RequestURI()
	if r.Method != http.MethodGet {
		// A form's own address answers only its POST: go back to the
		// page it was on.
		back = "/admin"
		if ref, perr := url.Parse(r.Referer()); perr == nil && ref.Host == r.Host && strings.HasPrefix(ref.Path, "/admin") {
			back = ref.RequestURI()
		}
	}
	to := page + "?next=" + url.QueryEscape(back)
	switch {
	case page == "/login/oidc":
		// The identity provider's fresh sign-in renews the session's
		// factor and comes back (web/admin/admin_oidc.go).
		to = page + "?step_up=1&back=" + url.QueryEscape(back)
	case nightowl.ErrorCode(err) == nightowl.EStepUp:
		to += "&step_up=1"
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

func orAnonymous(user string) string {
	if user == "" {
		return "an anonymous request"
	}
	return user
}

// principal finds who a request acts for from its headers: a bearer token,
// else the user a trusted authenticating proxy names (proxyauth.go), else
// a session cookie (whose CSRF token require checks, once the role
// allows the route), else the anonymous role the config grants, if any.
func (a *api) principal(r *http.Request) (Principal, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		secret, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || a.auth == nil {
			return Principal{}, nightowl.Errorf(nightowl.EUnauthorized, "give an API token as Authorization: Bearer TOKEN")
		}
		t, u, role, err := a.auth.Authenticate(r.Context(), strings.TrimSpace(secret))
		if err != nil {
			return Principal{}, unauthorized(err)
		}
		return Principal{User: u.Name, Role: role, Via: "token", CanApprove: t.CanApprove}, nil
	}
	if p, ok, err := a.proxyPrincipal(r); ok {
		if err != nil {
			return Principal{}, unauthorized(err)
		}
		return p, nil
	}
	if c, err := r.Cookie(SessionCookie); err == nil && c.Value != "" && a.auth != nil {
		s, u, err := a.auth.Session(r.Context(), c.Value)
		if err != nil {
			return Principal{}, unauthorized(err)
		}
		return Principal{User: u.Name, Role: u.Role, Via: "session", CSRF: s.CSRF, Session: s}, nil
	}
	if a.anonymous.Valid() {
		return Principal{Role: a.anonymous, Via: "anonymous"}, nil
	}
	return Principal{}, nightowl.Errorf(nightowl.EUnauthorized, "sign in, or give an API token as Authorization: Bearer TOKEN")
}

// unauthorized keeps the reason a credential was refused (unknown,
// expired) but never a store failure's detail.
func unauthorized(err error) error {
	switch nightowl.ErrorCode(err) {
	case nightowl.EUnauthorized, nightowl.ENotFound:
		return nightowl.Errorf(nightowl.EUnauthorized, "%s", nightowl.ErrorMessage(err))
	}
	return err
}

// loginRequest is the body of POST /api/v1/login.
type loginRequest struct {
	Name     string `json:"name"`
	Password string `json:"password"`
}

// jsonBody reports whether a request says its body is JSON. A form on
// another site can send text/plain that reads as JSON, but not
// application/json without the server's say-so (CORS), so this is what
// keeps such a form from signing a browser in as someone else.
func jsonBody(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "application/json"
}

func (a *api) login(w http.ResponseWriter, r *http.Request) {
	if !jsonBody(r) {
		kit.WriteError(w, nightowl.Errorf(nightowl.EInvalid, "send the name and password as JSON, with Content-Type: application/json"))
		return
	}
	var req loginRequest
	if err := decodeBody(r, &req); err != nil {
		kit.WriteError(w, err)
		return
	}
	if a.auth == nil {
		kit.WriteError(w, nightowl.Errorf(nightowl.EUnauthorized, "signing in is not available"))
		return
	}
	s, cookie, err := a.auth.LoginWith(r.Context(), req.Name, req.Password, kit.SessionInfoOf(r, a.clientAddr(r)))
	if err != nil {
		kit.WriteError(w, err)
		return
	}
	kit.SetSession(w, r, a.publicURL, cookie, s)
	body := map[string]any{"user": s.User, "csrf": s.CSRF, "expires_at": s.ExpiresAt}
	if s.Pending != "" {
		// Signed in with the password, but the session may do nothing
		// else until the second factor: POST /api/v1/login/factor.
		body["pending"] = s.Pending
	}
	kit.WriteJSON(w, http.StatusOK, body)
}

// logout ends the browser's session. Like the sign-out form, it needs the
// session's CSRF token, or any page could sign people out; without a live
// session there is nothing to end, and it only clears the cookie.
func (a *api) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(SessionCookie); err == nil && c.Value != "" && a.auth != nil {
		s, _, err := a.auth.Session(r.Context(), c.Value)
		switch nightowl.ErrorCode(err) {
		case "":
			if err := kit.CheckCSRF(w, r, s.CSRF); err != nil {
				kit.WriteError(w, err)
				return
			}
			if err := a.auth.Logout(r.Context(), c.Value); err != nil {
				a.log.Error("sign out", "err", err)
			}
		case nightowl.EUnauthorized, nightowl.ENotFound:
		default:
			// Not known to have ended: say so rather than pretend.
			a.log.Error("sign out", "err", err)
			kit.WriteError(w, err)
			return
		}
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1, Expires: time.Unix(0, 0),
		HttpOnly: true, Secure: kit.SecureCookies(r, a.publicURL), SameSite: http.SameSiteLaxMode})
	kit.WriteJSON(w, http.StatusOK, map[string]any{"signed_out": true})
}

func (a *api) whoami(w http.ResponseWriter, r *http.Request) {
	p, _ := PrincipalFrom(r.Context())
	body := map[string]any{"user": p.User, "role": p.Role, "via": p.Via}
	if p.Session.Pending != "" {
		body["pending"] = p.Session.Pending
	}
	if !p.Session.FactorAt.IsZero() {
		body["factor_at"] = p.Session.FactorAt
	}
	kit.WriteJSON(w, http.StatusOK, body)
}
