package admin_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/web"
)

// changerAuth signs every cookie in as ana and changes her password with
// the outcome change gives.
type changerAuth struct {
	change func() (nightowl.Session, string, error)
}

func (changerAuth) Session(context.Context, string) (nightowl.Session, nightowl.User, error) {
	return nightowl.Session{User: "ana", CSRF: "tok", MaxUntil: time.Now().Add(time.Hour)}, nightowl.User{Name: "ana", Role: nightowl.RoleViewer}, nil
}
func (changerAuth) Authenticate(context.Context, string) (nightowl.Token, nightowl.User, nightowl.Role, error) {
	return nightowl.Token{}, nightowl.User{}, "", nightowl.Errorf(nightowl.EUnauthorized, "no tokens here")
}
func (changerAuth) LoginWith(context.Context, string, string, nightowl.SessionInfo) (nightowl.Session, string, error) {
	return nightowl.Session{}, "", nightowl.Errorf(nightowl.EUnauthorized, "no")
}
func (changerAuth) Logout(context.Context, string) error { return nil }
func (c changerAuth) ChangePassword(context.Context, string, string, string) (nightowl.Session, string, error) {
	return c.change()
}

// noChecks is a server without checks; the page frame asks for them.
type noChecks struct{ web.Backend }

func (noChecks) Checks() []nightowl.CheckView { return nil }

// TestPasswordChangedButNotRecorded: a change that was made but could
// not be recorded says that it was made, and keeps the browser signed in
// with its new session; a change that was not made says so.
func TestPasswordChangedButNotRecorded(t *testing.T) {
	post := func(c changerAuth) *httptest.ResponseRecorder {
		h := web.Handler(web.Options{Auth: c, Backend: noChecks{}})
		form := url.Values{"csrf": {"tok"}, "current": {"old passphrase!"}, "password": {"new passphrase!"}, "again": {"new passphrase!"}}
		r := httptest.NewRequest("POST", "/admin/password", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.AddCookie(&http.Cookie{Name: web.SessionCookie, Value: "old"})
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	w := post(changerAuth{change: func() (nightowl.Session, string, error) {
		return nightowl.Session{User: "ana", MaxUntil: time.Now().Add(time.Hour)}, "new-cookie",
			fmt.Errorf("%w, but %w", nightowl.ErrPasswordChanged, nightowl.Errorf(nightowl.EInternal, "the change could not be recorded in the audit log: disk full"))
	}})
	if !strings.Contains(w.Body.String(), "Your password was changed, but the change could not be recorded in the audit log") ||
		strings.Contains(w.Body.String(), "not changed") {
		t.Errorf("changed, not recorded: %d\n%s", w.Code, w.Body)
	}
	if c := w.Header().Get("Set-Cookie"); !strings.HasPrefix(c, web.SessionCookie+"=new-cookie") {
		t.Errorf("the new session's cookie: %q", c)
	}
	w = post(changerAuth{change: func() (nightowl.Session, string, error) {
		return nightowl.Session{}, "", errors.New("database down")
	}})
	if !strings.Contains(w.Body.String(), "Your password was not changed") || w.Header().Get("Set-Cookie") != "" {
		t.Errorf("not changed: %d %q\n%s", w.Code, w.Header().Get("Set-Cookie"), w.Body)
	}
}
