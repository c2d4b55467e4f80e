package admin_test

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nightowl/nightowl/internal/clocktest"
	"github.com/nightowl/nightowl/web"
	"github.com/nightowl/nightowl/web/admin"
)

// TestLoginFormToken: the sign-in form passes only with a token this
// server signed and that has not expired, repeated in the cookie and the
// form; a made-up, expired, altered or other server's token is refused
// with 403 before the name and password are looked at.
func TestLoginFormToken(t *testing.T) {
	clock := clocktest.New(time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC))
	key := []byte("0123456789abcdef0123456789abcdef")
	h := web.Handler(web.Options{Clock: clock, LoginKey: key})

	// A form as the sign-in page hands it out.
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/login", nil))
	var issued string
	for _, c := range w.Result().Cookies() {
		if c.Name == admin.LoginCookie {
			issued = c.Value
		}
	}
	if issued == "" {
		t.Fatalf("the sign-in page gave no token: %v", w.Result().Cookies())
	}
	random := make([]byte, admin.LoginTokenSize)
	rand.Read(random)
	altered, _ := base64.RawURLEncoding.DecodeString(issued)
	altered[0] ^= 1 // a later expiry, with the old MAC

	submit := func(tok string) int {
		form := url.Values{"name": {"ana"}, "password": {"secret password"}, "csrf": {tok}}
		r := httptest.NewRequest("POST", "/login", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.AddCookie(&http.Cookie{Name: admin.LoginCookie, Value: tok})
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	for _, tc := range []struct {
		name  string
		token string
		after time.Duration
		want  int
	}{
		// No sign-in service here: a form that passes is told so.
		{"issued", issued, 0, http.StatusUnauthorized},
		{"issued, near its end", issued, admin.LoginTTL - time.Second, http.StatusUnauthorized},
		{"expired", issued, admin.LoginTTL, http.StatusForbidden},
		{"made up, the old shape", base64.RawURLEncoding.EncodeToString(random[:24]), 0, http.StatusForbidden},
		{"made up, the new shape", base64.RawURLEncoding.EncodeToString(random), 0, http.StatusForbidden},
		{"altered", base64.RawURLEncoding.EncodeToString(altered), 0, http.StatusForbidden},
		{"another server's", admin.NewLoginToken([]byte("another key of thirty-two bytes!"), clock.Now().Add(time.Hour)), 0, http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock.Set(time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC).Add(tc.after))
			if got := submit(tc.token); got != tc.want {
				t.Errorf("status %d, want %d", got, tc.want)
			}
		})
	}
}
