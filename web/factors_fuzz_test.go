package web

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/clocktest"
	"github.com/nightowl/nightowl/web/internal/kit"
)

// fakeFactors takes the code "123456" and refuses any other.
type fakeFactors struct {
	factorService // the rest panics: the handler must not call it
	got           []string
}

// factorService names Factors for embedding beside its own method of the
// same name.
type factorService = Factors

func (f *fakeFactors) VerifyFactor(_ context.Context, cookie, code, addr string) (nightowl.Session, string, int, error) {
	f.got = append(f.got, code)
	if code != "123456" {
		return nightowl.Session{}, "", 0, nightowl.Errorf(nightowl.EUnauthorized, "wrong or used code")
	}
	return nightowl.Session{User: "ana", SessionInfo: nightowl.SessionInfo{FactorAt: time.Unix(1, 0)}}, "totp", 0, nil
}

// FuzzFactorBody: whatever the body of POST /api/v1/login/factor, the
// answer is 200 only for the right code, as the body's "code" said it, and
// otherwise 400 or 401 with an error code; the code reaches the service
// only from a body that decodes.
func FuzzFactorBody(f *testing.F) {
	for _, s := range []string{"", "{}", `{"code": "123456"}`, `{"code": "000000"}`, `{"code": 123456}`,
		`{"code": "abcde-fghij"}`, `{"code": "123456", "x": 1}`, `{"code": "1"} {"code": "2"}`, "[", "null", `{"code": null}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		ff := &fakeFactors{}
		a := &api{log: slog.New(slog.DiscardHandler), factors: ff, clock: clocktest.New(time.Unix(100, 0))}
		r := httptest.NewRequest("POST", "/api/v1/login/factor", strings.NewReader(body))
		r.AddCookie(&http.Cookie{Name: SessionCookie, Value: "cookie"})
		r = r.WithContext(kit.WithPrincipal(r.Context(), Principal{User: "ana", Role: viewer, Via: "session"}))
		w := httptest.NewRecorder()
		a.loginFactor(w, r)
		var e kit.ErrorBody
		json.Unmarshal(w.Body.Bytes(), &e)
		switch w.Code {
		case http.StatusOK:
			var req factorRequest
			if err := json.Unmarshal([]byte(body), &req); err != nil || req.Code != "123456" || len(ff.got) != 1 {
				t.Fatalf("%q: 200, with %v asked", body, ff.got)
			}
		case http.StatusBadRequest:
			if e.Error.Code != nightowl.EInvalid || len(ff.got) != 0 {
				t.Fatalf("%q: 400 %q, with %v asked", body, e.Error.Code, ff.got)
			}
		case http.StatusUnauthorized:
			if e.Error.Code != nightowl.EUnauthorized || len(ff.got) != 1 || ff.got[0] == "123456" {
				t.Fatalf("%q: 401 %q, with %v asked", body, e.Error.Code, ff.got)
			}
		default:
			t.Fatalf("%q: %d %s", body, w.Code, w.Body)
		}
	})
}
