package web

import (
	"net/http"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/web/admin"
	"github.com/nightowl/nightowl/web/internal/kit"
)

// Contacts manages each person's own contact methods and notification
// rules (package contact).
type Contacts = admin.Contacts

// ContactJSON is a contact method as its owner sees it.
type ContactJSON struct {
	ID         string    `json:"id"`
	Kind       string    `json:"kind"`
	Label      string    `json:"label,omitempty"`
	Address    string    `json:"address"`
	Verified   bool      `json:"verified"`
	VerifiedAt time.Time `json:"verified_at,omitzero"`
	CreatedAt  time.Time `json:"created_at"`
}

func contactJSON(c nightowl.ContactMethod) ContactJSON {
	return ContactJSON{ID: c.ID, Kind: c.Kind, Label: c.Label, Address: c.Address, Verified: c.Verified(),
		VerifiedAt: c.VerifiedAt, CreatedAt: c.CreatedAt}
}

// RuleJSON is a notification rule: after is in seconds.
type RuleJSON struct {
	Contact string  `json:"contact"`
	After   float64 `json:"after"`
}

// ContactRequest is the body of POST /api/v1/me/contacts.
type ContactRequest struct {
	Kind    string `json:"kind"`
	Address string `json:"address"`
	Label   string `json:"label"`
}

// RulesRequest is the body of PUT /api/v1/me/rules: after is seconds or
// a duration such as "5m".
type RulesRequest struct {
	Rules []struct {
		Contact string   `json:"contact"`
		After   Duration `json:"after"`
	} `json:"rules"`
}

func (a *api) contactRoutes() []Route {
	if a.contacts == nil {
		return nil
	}
	f := func(pattern string, h func(w http.ResponseWriter, r *http.Request, user string)) Route {
		// Viewer: everyone who signs in keeps their own.
		return Route{Pattern: pattern, Role: viewer, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, _ := kit.PrincipalFrom(r.Context())
			if p.User == "" {
				kit.WriteError(w, nightowl.Errorf(nightowl.EForbidden, "contact methods belong to people: sign in"))
				return
			}
			h(w, r, p.User)
		})}
	}
	return []Route{
		f("GET /api/v1/me/contacts", a.myContacts),
		kit.WithLong(f("POST /api/v1/me/contacts", a.addContact), testMessageTime),
		kit.WithLong(f("POST /api/v1/me/contacts/{id}/test", a.testContact), testMessageTime),
		f("POST /api/v1/me/contacts/{id}/verify", a.verifyContact),
		f("DELETE /api/v1/me/contacts/{id}", a.deleteContact),
		f("PUT /api/v1/me/rules", a.setRules),
	}
}

// testMessageTime is how long a request that sends a test message may
// take beyond the usual: the contact service bounds the send itself.
const testMessageTime = 25 * time.Second

func (a *api) myContacts(w http.ResponseWriter, r *http.Request, user string) {
	ms, err := a.contacts.Methods(r.Context(), user)
	if err != nil {
		kit.WriteError(w, err)
		return
	}
	rules, err := a.contacts.Rules(r.Context(), user)
	if err != nil {
		kit.WriteError(w, err)
		return
	}
	out := make([]ContactJSON, 0, len(ms))
	for _, c := range ms {
		out = append(out, contactJSON(c))
	}
	rs := make([]RuleJSON, 0, len(rules))
	for _, x := range rules {
		rs = append(rs, RuleJSON{Contact: x.Contact, After: x.After.Seconds()})
	}
	kinds := a.contacts.Kinds()
	if kinds == nil {
		kinds = []nightowl.ContactKind{}
	}
	kit.WriteJSON(w, http.StatusOK, map[string]any{"kinds": kinds, "contacts": out, "rules": rs})
}

func (a *api) addContact(w http.ResponseWriter, r *http.Request, user string) {
	var req ContactRequest
	if err := decodeBody(r, &req); err != nil {
		kit.WriteError(w, err)
		return
	}
	if err := kit.CheckTexts(kit.Field("label", req.Label, kit.LineText)); err != nil {
		kit.WriteError(w, err)
		return
	}
	c, err := a.contacts.Add(r.Context(), user, req.Kind, req.Address, req.Label)
	if err != nil {
		if c.ID != "" {
			// Kept, unverified: the answer says which, and why the
			// test message failed.
			w.Header().Set("Location", "/api/v1/me/contacts/"+c.ID)
		}
		kit.WriteError(w, err)
		return
	}
	kit.WriteJSON(w, http.StatusCreated, map[string]any{"contact": contactJSON(c)})
}

func (a *api) testContact(w http.ResponseWriter, r *http.Request, user string) {
	c, err := a.contacts.SendTest(r.Context(), user, r.PathValue("id"))
	if err != nil {
		kit.SetRetryAfter(w, err)
		kit.WriteError(w, err)
		return
	}
	kit.WriteJSON(w, http.StatusOK, map[string]any{"contact": contactJSON(c)})
}

func (a *api) verifyContact(w http.ResponseWriter, r *http.Request, user string) {
	var req struct {
		Code string `json:"code"`
	}
	if err := decodeBody(r, &req); err != nil {
		kit.WriteError(w, err)
		return
	}
	c, err := a.contacts.Verify(r.Context(), user, r.PathValue("id"), req.Code)
	if err != nil {
		kit.WriteError(w, err)
		return
	}
	kit.WriteJSON(w, http.StatusOK, map[string]any{"contact": contactJSON(c)})
}

func (a *api) deleteContact(w http.ResponseWriter, r *http.Request, user string) {
	if err := a.contacts.Delete(r.Context(), user, r.PathValue("id")); err != nil {
		kit.WriteError(w, err)
		return
	}
	kit.WriteJSON(w, http.StatusOK, map[string]any{"deleted": r.PathValue("id")})
}

func (a *api) setRules(w http.ResponseWriter, r *http.Request, user string) {
	rules, err := parseRules(r)
	if err != nil {
		kit.WriteError(w, err)
		return
	}
	if err := a.contacts.SetRules(r.Context(), user, rules); err != nil {
		kit.WriteError(w, err)
		return
	}
	kit.WriteJSON(w, http.StatusOK, map[string]any{"rules": len(rules)})
}

// parseRules reads the body of PUT /api/v1/me/rules.
func parseRules(r *http.Request) ([]nightowl.NotificationRule, error) {
	var req RulesRequest
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	rules := make([]nightowl.NotificationRule, 0, len(req.Rules))
	for _, x := range req.Rules {
		rules = append(rules, nightowl.NotificationRule{Contact: x.Contact, After: time.Duration(x.After)})
	}
	return rules, nil
}
