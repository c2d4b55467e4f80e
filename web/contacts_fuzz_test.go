package web

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/web/internal/kit"
)

// fakeContacts keeps the rules it was given.
type fakeContacts struct {
	Contacts
	rules []nightowl.NotificationRule
	set   int
}

func (c *fakeContacts) SetRules(_ context.Context, _ string, rules []nightowl.NotificationRule) error {
	c.rules, c.set = rules, c.set+1
	return nil
}

// FuzzRulesBody: whatever the body of PUT /api/v1/me/rules, the answer is
// 200 with the rules the body said, in its order, or 400 with a code and
// nothing set.
func FuzzRulesBody(f *testing.F) {
	for _, s := range []string{
		"", "{}", `{"rules": []}`, `{"rules": [{"contact": "c-1"}, {"contact": "c-2", "after": "5m"}]}`,
		`{"rules": [{"contact": "c-1", "after": 300}]}`, `{"rules": [{"contact": "c-1", "after": "soon"}]}`,
		`{"rules": [{"contact": 5}]}`, `{"rules": {"contact": "c-1"}}`, `{"rules": [], "x": 1}`, `{"rules": []} {}`,
		`{"rules": [{"contact": "c-1", "after": 1e300}]}`, "[", "null",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		c := &fakeContacts{}
		a := &api{log: slog.New(slog.DiscardHandler), contacts: c}
		var h http.Handler
		for _, rt := range a.contactRoutes() {
			if rt.Pattern == "PUT /api/v1/me/rules" {
				h = rt.Handler
			}
		}
		w := httptest.NewRecorder()
		r := httptest.NewRequest("PUT", "/api/v1/me/rules", strings.NewReader(body))
		r = r.WithContext(kit.WithPrincipal(r.Context(), kit.Principal{User: "ana", Role: nightowl.RoleViewer}))
		h.ServeHTTP(w, r)
		switch w.Code {
		case http.StatusOK:
			if c.set != 1 {
				t.Fatalf("%q: 200 with the rules set %d times", body, c.set)
			}
			var req struct {
				Rules []struct {
					Contact string          `json:"contact"`
					After   json.RawMessage `json:"after"`
				} `json:"rules"`
			}
			if strings.TrimSpace(body) != "" {
				if err := json.Unmarshal([]byte(body), &req); err != nil {
					t.Fatalf("%q: set from a body that is not JSON", body)
				}
			}
			if len(req.Rules) != len(c.rules) {
				t.Fatalf("%q: set %d rules, the body has %d", body, len(c.rules), len(req.Rules))
			}
			for i, r := range req.Rules {
				if c.rules[i].Contact != r.Contact {
					t.Fatalf("%q: rule %d is %q, the body says %q", body, i, c.rules[i].Contact, r.Contact)
				}
				if len(r.After) == 0 && c.rules[i].After != 0 {
					t.Fatalf("%q: rule %d waits %v with no after", body, i, c.rules[i].After)
				}
			}
		case http.StatusBadRequest:
			if c.set != 0 {
				t.Fatalf("%q: 400 and the rules set", body)
			}
			var e struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
				t.Fatalf("%q: 400 without a code and message: %s", body, w.Body)
			}
		default:
			t.Fatalf("%q: status %d", body, w.Code)
		}
	})
}
