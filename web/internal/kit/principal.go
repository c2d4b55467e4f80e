package kit

import (
	"context"
	"crypto/subtle"
	"net/http"
	"net/url"
	"strings"

	"github.com/nightowl/nightowl"
)

// SessionCookie is the name of the cookie that carries a signed-in
// browser's session.
const SessionCookie = "nightowl_session"

// CSRFHeader carries the session's CSRF token on requests a signed-in
// browser's scripts make; forms carry it in the field "csrf".
const CSRFHeader = "X-CSRF-Token"

// Principal is who a request acts for.
type Principal struct {
	User string
	Role nightowl.Role
	// Via is "session", "token", "proxy" (an authenticating proxy's
	// header) or "anonymous".
	Via string
	// CSRF is the session's CSRF token, for pages to put in forms.
	CSRF string
	// Session is the session a browser's request acts in; zero for a
	// token or anonymous request. Its Pending and FactorAt decide what
	// it may do.
	Session nightowl.Session
	// CanApprove is a token's leave to approve and run guarded actions.
	CanApprove bool
}

type principalKey struct{}

// PrincipalFrom returns who the request acts for; false on public routes.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// WithPrincipal returns ctx acting for p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// Actor names who did something through a request, for alerts' AckedBy,
// maintenance's CreatedBy and the like: the user of its session or token.
func Actor(r *http.Request) string {
	if p, ok := PrincipalFrom(r.Context()); ok && p.User != "" {
		return p.User
	}
	return "anonymous"
}

// CheckCSRF compares a session's CSRF token with the request's: from the
// X-CSRF-Token header on the API, which scripts send, and else from the
// header or the form field csrf, read only within the form's bounds.
func CheckCSRF(w http.ResponseWriter, r *http.Request, want string) error {
	got := r.Header.Get(CSRFHeader)
	if got == "" && !strings.HasPrefix(r.URL.Path, "/api/") {
		if err := LimitBody(w, r); err != nil {
			return err
		}
		got = r.PostFormValue("csrf")
	}
	if want == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		CloseUnread(w, r)
		return nightowl.Errorf(nightowl.EForbidden, "missing or wrong CSRF token: reload the page and try again")
	}
	return nil
}

// Deny answers a request that may not go on: JSON for the API, the sign-in
// page for a browser that is not signed in. Its body stays unread.
func Deny(w http.ResponseWriter, r *http.Request, err error) {
	CloseUnread(w, r)
	if strings.HasPrefix(r.URL.Path, "/admin") && nightowl.ErrorCode(err) == nightowl.EUnauthorized && r.Method == http.MethodGet {
		http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		return
	}
	if nightowl.ErrorCode(err) == nightowl.EUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="nightowl"`)
	}
	WriteError(w, err)
}

// SecureCookies reports whether cookies must be Secure: behind TLS, or when
// people reach nightowl over https (publicURL is server.public_url).
func SecureCookies(r *http.Request, publicURL string) bool {
	return r.TLS != nil || strings.HasPrefix(publicURL, "https://") ||
		strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// SetSession gives the browser the cookie of session s.
func SetSession(w http.ResponseWriter, r *http.Request, publicURL, cookie string, s nightowl.Session) {
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: cookie, Path: "/",
		Expires: s.MaxUntil, HttpOnly: true, Secure: SecureCookies(r, publicURL), SameSite: http.SameSiteLaxMode,
	})
}

// userAgentMax bounds the user agent a session records: shown in lists,
// never parsed.
const userAgentMax = 256

// SessionInfoOf is what a session begun by r records of where it began:
// the client's address (addr, as the trusted proxies tell it) and its user
// agent, cut short.
func SessionInfoOf(r *http.Request, addr string) nightowl.SessionInfo {
	ua := strings.ToValidUTF8(r.UserAgent(), "")
	if len(ua) > userAgentMax {
		ua = strings.ToValidUTF8(ua[:userAgentMax], "")
	}
	return nightowl.SessionInfo{Address: addr, UserAgent: ua}
}

// MayApprove refuses an API token made without --can-approve: approving a
// guarded action is a person's decision, which a script gets only when an
// admin said so.
func MayApprove(r *http.Request) error {
	if p, ok := PrincipalFrom(r.Context()); ok && p.Via == "token" && !p.CanApprove {
		return nightowl.Errorf(nightowl.EForbidden, "this API token may not approve actions: an admin can make one that may with nightowl token create --can-approve")
	}
	return nil
}
