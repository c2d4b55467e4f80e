package admin_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/web"
)

// responderAuth signs every cookie in as ana, a responder.
type responderAuth struct{ changerAuth }

func (responderAuth) Session(context.Context, string) (nightowl.Session, nightowl.User, error) {
	return nightowl.Session{User: "ana", CSRF: "tok", MaxUntil: time.Now().Add(time.Hour)}, nightowl.User{Name: "ana", Role: nightowl.RoleResponder}, nil
}

// patternActions has one action, say, whose parameter word must match
// its pattern; it refuses a request otherwise, as the actions service does.
type patternActions struct{ web.Actioner }

var sayWord = nightowl.ActionView{Needs: 1, Action: nightowl.Action{Name: "say", Run: []string{"/bin/echo", "{{word}}"},
	Params: []nightowl.ActionParam{{Name: "word", Pattern: "^[a-z]+$"}}, Approvals: 1}}

func (patternActions) Actions(context.Context) ([]nightowl.ActionView, error) {
	return []nightowl.ActionView{sayWord}, nil
}

func (patternActions) ActionRequests(context.Context, nightowl.ActionQuery) ([]nightowl.ActionRequest, error) {
	return nil, nil
}

func (patternActions) RequestAction(_ context.Context, name string, params map[string]string, reason, confirm, by string) (nightowl.ActionRequest, error) {
	if !regexp.MustCompile(sayWord.Params[0].Pattern).MatchString(params["word"]) {
		return nightowl.ActionRequest{}, nightowl.Errorf(nightowl.EInvalid, "parameter word: %q does not match %s", params["word"], sayWord.Params[0].Pattern)
	}
	return nightowl.ActionRequest{ID: "r-1", Action: name, Params: params, Reason: reason, RequestedBy: by}, nil
}

// TestRequestRefusedOnTheForm: the request form leaves a parameter's
// pattern to the server, and a value the server refuses comes back on the
// form with why, what was typed kept, under the status the error maps to.
func TestRequestRefusedOnTheForm(t *testing.T) {
	h := web.Handler(web.Options{Auth: responderAuth{}, Backend: noChecks{}, Actions: patternActions{}})
	post := func(word string) *httptest.ResponseRecorder {
		form := url.Values{"csrf": {"tok"}, "param.word": {word}, "reason": {"to greet"}}
		r := httptest.NewRequest("POST", "/admin/actions/say/request", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.AddCookie(&http.Cookie{Name: web.SessionCookie, Value: "s"})
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	w := post("Hello world")
	body := w.Body.String()
	if w.Code != http.StatusBadRequest {
		t.Fatalf("a word the pattern refuses: %d\n%s", w.Code, body)
	}
	for _, want := range []string{`role="alert"`, `Could not request say: parameter word: &#34;Hello world&#34; does not match ^[a-z]&#43;$`,
		`class="runbook refused" id="action-say"`, `name="param.word" value="Hello world"`, `>to greet</textarea>`} {
		if !strings.Contains(body, want) {
			t.Errorf("the refused form lacks %s:\n%s", want, body)
		}
	}
	if strings.Contains(body, " pattern=") {
		t.Errorf("the form has a pattern attribute:\n%s", body)
	}
	if w := post("hello"); w.Code != http.StatusSeeOther || !strings.HasPrefix(w.Header().Get("Location"), "/admin/actions/requests/r-1") {
		t.Errorf("a word the pattern takes: %d %q", w.Code, w.Header().Get("Location"))
	}
}
