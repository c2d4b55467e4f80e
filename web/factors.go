package web

import (
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/web/admin"
	"github.com/nightowl/nightowl/web/internal/kit"
)

// Factors serves each person's second factors and sessions.
type Factors = admin.Factors

// defaultStepUp is config.DefaultStepUp, for servers built without a
// config (tests).
const defaultStepUp = 10 * time.Minute

// factorRoutes are the second factor's sign-in step and the sessions.
func (a *api) factorRoutes() []Route {
	if a.factors == nil {
		return nil
	}
	f := func(pattern string, role nightowl.Role, h http.HandlerFunc) Route {
		return Route{Pattern: pattern, Role: role, Handler: h}
	}
	return []Route{
		// A session that waits for its second factor may only give it
		// (and sign out); rate-limited per account and address.
		kit.WhilePending(f("POST /api/v1/login/factor", viewer, a.loginFactor)),
		// Passkeys: the dashboard's script runs these ceremonies.
		kit.WhilePending(f("POST /api/v1/me/passkeys/begin", viewer, a.beginPasskey)),
		kit.WhilePending(f("POST /api/v1/me/passkeys", viewer, a.finishPasskey)),
		kit.WhilePending(f("POST /api/v1/login/passkey/begin", viewer, a.beginPasskeyLogin)),
		kit.WhilePending(f("POST /api/v1/login/passkey", viewer, a.finishPasskeyLogin)),
		f("GET /api/v1/me/sessions", viewer, a.mySessions),
		f("DELETE /api/v1/me/sessions/{id}", viewer, a.endMySession),
		f("GET /api/v1/sessions", adminRole, a.listSessions),
		f("DELETE /api/v1/sessions/{id}", adminRole, a.endSession),
	}
}

// factorRequest is the body of POST /api/v1/login/factor.
type factorRequest struct {
	// Code is a TOTP code or a recovery code.
	Code string `json:"code"`
}

func (a *api) loginFactor(w http.ResponseWriter, r *http.Request) {
	p, _ := PrincipalFrom(r.Context())
	c, err := r.Cookie(SessionCookie)
	if p.Via != "session" || err != nil {
		kit.WriteError(w, nightowl.Errorf(nightowl.EInvalid, "a second factor is given in a session: sign in with POST /api/v1/login first"))
		return
	}
	var req factorRequest
	if err := decodeBody(r, &req); err != nil {
		kit.WriteError(w, err)
		return
	}
	if strings.TrimSpace(req.Code) == "" {
		kit.WriteError(w, nightowl.Errorf(nightowl.EInvalid, "give a code from your authenticator app, or a recovery code, as {\"code\": \"…\"}"))
		return
	}
	s, used, left, err := a.factors.VerifyFactor(r.Context(), c.Value, req.Code, a.clientAddr(r))
	if err != nil {
		kit.SetRetryAfter(w, err)
		kit.WriteError(w, err)
		return
	}
	body := map[string]any{"user": s.User, "factor": used, "factor_at": s.FactorAt}
	if used == admin.CodeRecovery {
		body["recovery_codes_left"] = left
	}
	kit.WriteJSON(w, http.StatusOK, body)
}

// SessionJSON is how the API shows a session: never its cookie, hash or
// CSRF token.
type SessionJSON struct {
	ID        string    `json:"id"`
	User      string    `json:"user"`
	Method    string    `json:"method,omitempty"`
	Address   string    `json:"address,omitempty"`
	UserAgent string    `json:"user_agent,omitempty"`
	Device    string    `json:"device,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	MaxUntil  time.Time `json:"max_until"`
	FactorAt  time.Time `json:"factor_at,omitzero"`
	Pending   string    `json:"pending,omitempty"`
	// Current marks the session the request came in.
	Current bool `json:"current,omitempty"`
}

func sessionsJSON(ss []nightowl.Session, current string) []SessionJSON {
	out := make([]SessionJSON, len(ss))
	for i, s := range ss {
		out[i] = SessionJSON{ID: s.ID, User: s.User, Method: s.Method, Address: s.Address, UserAgent: s.UserAgent,
			Device: admin.Device(s.UserAgent), CreatedAt: s.CreatedAt, ExpiresAt: s.ExpiresAt, MaxUntil: s.MaxUntil,
			FactorAt: s.FactorAt, Pending: s.Pending, Current: current != "" && s.ID == current}
	}
	return out
}

func (a *api) mySessions(w http.ResponseWriter, r *http.Request) {
	p, _ := PrincipalFrom(r.Context())
	if p.User == "" {
		kit.WriteError(w, nightowl.Errorf(nightowl.EForbidden, "an anonymous request has no sessions"))
		return
	}
	ss, err := a.factors.Sessions(r.Context(), p.User)
	if err != nil {
		kit.WriteError(w, err)
		return
	}
	kit.WriteJSON(w, http.StatusOK, map[string]any{"sessions": sessionsJSON(ss, p.Session.ID)})
}

func (a *api) endMySession(w http.ResponseWriter, r *http.Request) {
	p, _ := PrincipalFrom(r.Context())
	if p.User == "" {
		kit.WriteError(w, nightowl.Errorf(nightowl.EForbidden, "an anonymous request has no sessions"))
		return
	}
	s, err := a.factors.EndSession(r.Context(), p.User, r.PathValue("id"))
	if err != nil {
		kit.WriteError(w, err)
		return
	}
	kit.WriteJSON(w, http.StatusOK, map[string]any{"ended": s.ID, "current": s.ID == p.Session.ID})
}

func (a *api) listSessions(w http.ResponseWriter, r *http.Request) {
	p, _ := PrincipalFrom(r.Context())
	ss, err := a.factors.Sessions(r.Context(), r.URL.Query().Get("user"))
	if err != nil {
		kit.WriteError(w, err)
		return
	}
	kit.WriteJSON(w, http.StatusOK, map[string]any{"sessions": sessionsJSON(ss, p.Session.ID)})
}

func (a *api) endSession(w http.ResponseWriter, r *http.Request) {
	p, _ := PrincipalFrom(r.Context())
	s, err := a.factors.EndSession(r.Context(), "", r.PathValue("id"))
	if err != nil {
		kit.WriteError(w, err)
		return
	}
	kit.WriteJSON(w, http.StatusOK, map[string]any{"ended": s.ID, "user": s.User, "current": s.ID == p.Session.ID})
}

// relyingParty is who passkeys are made for: the host of server.public_url,
// or, when it is unset, of the request; and the origin the browser is on.
func (a *api) relyingParty(r *http.Request) (id, origin string) {
	if u, err := url.Parse(a.publicURL); err == nil && a.publicURL != "" {
		return u.Hostname(), u.Scheme + "://" + u.Host
	}
	scheme := "http"
	if kit.SecureCookies(r, "") {
		scheme = "https"
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return host, scheme + "://" + r.Host
}

// sessionCookie is the request's session cookie, for what only a session
// may do.
func sessionCookie(r *http.Request) (string, error) {
	p, _ := PrincipalFrom(r.Context())
	c, err := r.Cookie(SessionCookie)
	if p.Via != "session" || err != nil {
		return "", nightowl.Errorf(nightowl.EInvalid, "passkeys belong to a session: sign in with your name and password first")
	}
	return c.Value, nil
}

// passkeyBodyMax bounds a passkey's answer: its attestation is a few KiB.
const passkeyBodyMax = 64 << 10

func readPasskeyBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, passkeyBodyMax))
	if err != nil {
		return nil, nightowl.Errorf(nightowl.EInvalid, "the passkey's answer is more than %d bytes", passkeyBodyMax)
	}
	return b, nil
}

func writeRawJSON(w http.ResponseWriter, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(b)
}

func (a *api) beginPasskey(w http.ResponseWriter, r *http.Request) {
	cookie, err := sessionCookie(r)
	if err != nil {
		kit.WriteError(w, err)
		return
	}
	id, origin := a.relyingParty(r)
	b, err := a.factors.BeginPasskey(r.Context(), cookie, id, origin)
	if err != nil {
		kit.WriteError(w, err)
		return
	}
	writeRawJSON(w, b)
}

func (a *api) finishPasskey(w http.ResponseWriter, r *http.Request) {
	cookie, err := sessionCookie(r)
	if err != nil {
		kit.WriteError(w, err)
		return
	}
	body, err := readPasskeyBody(w, r)
	if err != nil {
		kit.WriteError(w, err)
		return
	}
	id, origin := a.relyingParty(r)
	_, codes, err := a.factors.FinishPasskey(r.Context(), cookie, r.URL.Query().Get("name"), id, origin, body)
	if err != nil {
		kit.WriteError(w, err)
		return
	}
	kit.WriteJSON(w, http.StatusOK, map[string]any{"recovery_codes": codes})
}

func (a *api) beginPasskeyLogin(w http.ResponseWriter, r *http.Request) {
	cookie, err := sessionCookie(r)
	if err != nil {
		kit.WriteError(w, err)
		return
	}
	id, origin := a.relyingParty(r)
	b, err := a.factors.BeginPasskeyLogin(r.Context(), cookie, id, origin)
	if err != nil {
		kit.WriteError(w, err)
		return
	}
	writeRawJSON(w, b)
}

func (a *api) finishPasskeyLogin(w http.ResponseWriter, r *http.Request) {
	cookie, err := sessionCookie(r)
	if err != nil {
		kit.WriteError(w, err)
		return
	}
	body, err := readPasskeyBody(w, r)
	if err != nil {
		kit.WriteError(w, err)
		return
	}
	id, origin := a.relyingParty(r)
	s, err := a.factors.FinishPasskeyLogin(r.Context(), cookie, id, origin, body, a.clientAddr(r))
	if err != nil {
		kit.SetRetryAfter(w, err)
		kit.WriteError(w, err)
		return
	}
	kit.WriteJSON(w, http.StatusOK, map[string]any{"user": s.User, "factor": "passkey", "factor_at": s.FactorAt})
}
