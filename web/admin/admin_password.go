package admin

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/web/internal/kit"
)

// PasswordChanger lets people signed in with a password change it; the
// Authenticator implements it when the server keeps people.
type PasswordChanger interface {
	// ChangePassword checks name's current password, sets the new one,
	// ends every session of theirs and starts a new one, returned with
	// its cookie, for the browser that made the change. When the change
	// was made but what follows it failed, the error wraps
	// nightowl.ErrPasswordChanged, with the new session's cookie if one
	// was started.
	ChangePassword(ctx context.Context, name, current, password string) (nightowl.Session, string, error)
}

// Tries of the current password on the password page, per user: a stolen
// session must not become a way to guess the password it came with.
const (
	passwordBurst = 5
	passwordEvery = time.Minute
)

func (a *pages) passwordRoutes() []kit.Route {
	pc, ok := a.auth.(PasswordChanger)
	if !ok {
		return nil
	}
	limit := kit.NewBuckets(passwordBurst, passwordEvery, kit.MaxKeys)
	return []kit.Route{
		{Pattern: "GET /admin/password", Role: viewer, Handler: http.HandlerFunc(a.adminPassword)},
		{Pattern: "POST /admin/password", Role: viewer, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			a.adminChangePassword(w, r, pc, limit)
		})},
	}
}

func (a *pages) showPassword(w http.ResponseWriter, r *http.Request, status int, errText string) {
	p, _ := kit.PrincipalFrom(r.Context())
	a.render(w, r, status, "admin_password.html", &adminPage{Title: "Password", Section: "password", Error: errText,
		Data: struct{ Session bool }{p.Via == "session"}})
}

func (a *pages) adminPassword(w http.ResponseWriter, r *http.Request) {
	a.showPassword(w, r, http.StatusOK, "")
}

func (a *pages) adminChangePassword(w http.ResponseWriter, r *http.Request, pc PasswordChanger, limit *kit.Buckets) {
	p, _ := kit.PrincipalFrom(r.Context())
	if p.Via != "session" {
		// Not 403: the role allows it; an API token is simply no password.
		a.showPassword(w, r, http.StatusBadRequest, "Sign in with your name and password to change it.")
		return
	}
	if wait, ok := limit.Take(p.User, a.clock.Now()); !ok {
		err := kit.TooMany(wait, "too many tries of your current password")
		kit.SetRetryAfter(w, err)
		a.showPassword(w, r, http.StatusTooManyRequests, nightowl.ErrorMessage(err))
		return
	}
	current, next := r.PostFormValue("current"), r.PostFormValue("password")
	if next != r.PostFormValue("again") {
		a.showPassword(w, r, http.StatusBadRequest, "The new passwords differ: type the same one twice.")
		return
	}
	s, cookie, err := pc.ChangePassword(r.Context(), p.User, current, next)
	if cookie != "" {
		kit.SetSession(w, r, a.publicURL, cookie, s)
	}
	switch {
	case err == nil:
		a.log.Info("password changed", "user", p.User)
		done(w, r, "/admin/password", "password-changed", p.User)
	case errors.Is(err, nightowl.ErrPasswordChanged):
		a.log.Info("password changed", "user", p.User)
		a.showPassword(w, r, kit.StatusOf(err), "Your password was changed, but "+nightowl.ErrorMessage(err)+".")
	default:
		a.showPassword(w, r, kit.StatusOf(err), "Your password was not changed: "+nightowl.ErrorMessage(err))
	}
}
