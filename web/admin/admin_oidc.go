package admin

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/sso"
	"github.com/nightowl/nightowl/web/internal/kit"
)

// SingleSignOn signs people in at an OpenID Connect provider (sso.Provider).
type SingleSignOn interface {
	// Name is what the sign-in button calls the provider.
	Name() string
	Start(ctx context.Context, redirect, back string, stepUp bool) (authURL, cookie string, err error)
	Finish(ctx context.Context, cookie string, q url.Values) (sso.Identity, sso.Flow, error)
}

// OIDCAccounts makes, updates and signs in the accounts of people the
// identity provider vouched for, and records it (audited.Access).
type OIDCAccounts interface {
	// SignInOIDC makes name's account at their first sign-in, gives it
	// role, and starts a session.
	SignInOIDC(ctx context.Context, name string, role nightowl.Role, info nightowl.SessionInfo) (nightowl.Session, string, error)
	// OIDCFailed records a refused sign-in: name when known, why, and
	// from where.
	OIDCFailed(ctx context.Context, name, why, addr string)
	// RenewFactor records a fresh sign-in at the provider (a step-up)
	// on the session whose cookie is cookie, which must be user's.
	RenewFactor(ctx context.Context, cookie, user string, at time.Time) (nightowl.Session, error)
}

// OIDCCookie carries a sign-in's state, nonce and PKCE verifier from
// /login/oidc to its callback, signed with the sign-in key.
const OIDCCookie = "nightowl_oidc"

// oidcPath is where the provider sends the browser back to.
const oidcPath = "/login/oidc/callback"

// Bounds of how often one address may start or finish single sign-ons:
// each finish costs a call to the provider.
const (
	oidcBurst   = 20
	oidcEvery   = 3 * time.Second
	oidcMaxKeys = 10000
)

func (a *pages) oidcRoutes() []kit.Route {
	if a.sso == nil || a.oidc == nil {
		return nil
	}
	return []kit.Route{
		{Pattern: "GET /login/oidc", Handler: http.HandlerFunc(a.oidcStart)},
		{Pattern: "GET " + oidcPath, Handler: http.HandlerFunc(a.oidcCallback)},
	}
}

// oidcAllowed takes one from the address's bucket, or shows the sign-in
// page with the wait.
func (a *pages) oidcAllowed(w http.ResponseWriter, r *http.Request) bool {
	if wait, ok := a.oidcLimit.Take(nightowl.ClientKey(a.clientAddr(r)), a.clock.Now()); !ok {
		err := kit.TooMany(wait, "too many single sign-ons from your address")
		a.showLoginErr(w, r, http.StatusTooManyRequests, loginPageData{Error: nightowl.ErrorMessage(err)}, err)
		return false
	}
	return true
}

// redirectURL is the callback's absolute URL: under server.public_url, or
// else the host the browser asked for.
func (a *pages) redirectURL(r *http.Request) string {
	if a.publicURL != "" {
		return strings.TrimSuffix(a.publicURL, "/") + oidcPath
	}
	scheme := "http"
	if kit.SecureCookies(r, a.publicURL) {
		scheme = "https"
	}
	return scheme + "://" + r.Host + oidcPath
}

// oidcStart sends the browser to the provider. With step_up=1 it asks for
// a fresh sign-in there, to renew the current session's factor, and goes
// back to back afterwards; otherwise to next.
func (a *pages) oidcStart(w http.ResponseWriter, r *http.Request) {
	if !a.oidcAllowed(w, r) {
		return
	}
	q := r.URL.Query()
	stepUp := q.Get("step_up") == "1"
	back := localAdminPath(q.Get("next"))
	if stepUp {
		back = localAdminPath(q.Get("back"))
	}
	authURL, cookie, err := a.sso.Start(r.Context(), a.redirectURL(r), back, stepUp)
	if err != nil {
		a.log.Warn("single sign-on: start", "err", nightowl.ErrorMessage(err))
		a.showLogin(w, r, kit.StatusOf(err), loginPageData{Next: back, Error: nightowl.ErrorMessage(err)})
		return
	}
	// Lax: the provider sends the browser back with a top-level GET from
	// its own site.
	http.SetCookie(w, &http.Cookie{Name: OIDCCookie, Value: cookie, Path: "/login/oidc", MaxAge: int(sso.FlowTTL / time.Second),
		HttpOnly: true, Secure: kit.SecureCookies(r, a.publicURL), SameSite: http.SameSiteLaxMode})
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, authURL, http.StatusFound)
}

func (a *pages) oidcCallback(w http.ResponseWriter, r *http.Request) {
	if !a.oidcAllowed(w, r) {
		return
	}
	var flowCookie string
	if c, err := r.Cookie(OIDCCookie); err == nil {
		flowCookie = c.Value
	}
	// A flow is good for one callback.
	http.SetCookie(w, &http.Cookie{Name: OIDCCookie, Value: "", Path: "/login/oidc", MaxAge: -1,
		HttpOnly: true, Secure: kit.SecureCookies(r, a.publicURL), SameSite: http.SameSiteLaxMode})
	addr := a.clientAddr(r)
	id, flow, err := a.sso.Finish(r.Context(), flowCookie, r.URL.Query())
	if err != nil {
		a.oidc.OIDCFailed(r.Context(), "", nightowl.ErrorMessage(err), addr)
		a.oidcRefused(w, r, flow.Back, err)
		return
	}
	next := flow.Back
	if next == "" {
		next = "/admin"
	}
	if flow.StepUp {
		a.oidcStepUp(w, r, id, next)
		return
	}
	info := nightowl.SessionInfo{Method: nightowl.SignInOIDC, Address: addr, UserAgent: kit.Truncate(r.UserAgent(), 256), FactorAt: id.AuthTime}
	s, cookie, err := a.oidc.SignInOIDC(r.Context(), id.Name, id.Role, info)
	if err != nil {
		a.oidcRefused(w, r, flow.Back, err)
		return
	}
	kit.SetSession(w, r, a.publicURL, cookie, s)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// oidcStepUp renews the factor of the browser's current session, which
// must be the same person's.
func (a *pages) oidcStepUp(w http.ResponseWriter, r *http.Request, id sso.Identity, next string) {
	c, err := r.Cookie(kit.SessionCookie)
	if err != nil || c.Value == "" {
		a.oidcRefused(w, r, next, nightowl.Errorf(nightowl.EUnauthorized, "You are not signed in here any more. Please sign in again."))
		return
	}
	if _, err := a.oidc.RenewFactor(r.Context(), c.Value, id.Name, id.AuthTime); err != nil {
		if nightowl.ErrorCode(err) == nightowl.EForbidden {
			a.oidc.OIDCFailed(r.Context(), id.Name, "step-up as another user", a.clientAddr(r))
		}
		a.oidcRefused(w, r, next, err)
		return
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// oidcRefused shows the sign-in page with why the provider's sign-in did
// not let the person in.
func (a *pages) oidcRefused(w http.ResponseWriter, r *http.Request, next string, err error) {
	status := kit.StatusOf(err)
	msg := nightowl.ErrorMessage(err)
	if status == http.StatusInternalServerError {
		a.log.Error("single sign-on", "err", err)
		msg = "Signing in failed on the server; try again shortly."
	}
	a.showLogin(w, r, status, loginPageData{Next: next, Error: msg})
}
