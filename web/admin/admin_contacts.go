package admin

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/web/internal/kit"
)

// Contacts manages each person's own contact methods and notification
// rules (package contact). Every call names the person: nobody reads or
// changes another's.
type Contacts interface {
	Kinds() []nightowl.ContactKind
	Methods(ctx context.Context, user string) ([]nightowl.ContactMethod, error)
	Add(ctx context.Context, user, kind, address, label string) (nightowl.ContactMethod, error)
	SendTest(ctx context.Context, user, id string) (nightowl.ContactMethod, error)
	Verify(ctx context.Context, user, id, code string) (nightowl.ContactMethod, error)
	Delete(ctx context.Context, user, id string) error
	Rules(ctx context.Context, user string) ([]nightowl.NotificationRule, error)
	SetRules(ctx context.Context, user string, rules []nightowl.NotificationRule) error
}

// contactsPage is what the contact methods page shows.
type contactsPage struct {
	Kinds   []nightowl.ContactKind
	Methods []contactRow
	Rules   []ruleRow
	// Verified lists the methods a rule may name.
	Verified []contactRow
}

type contactRow struct {
	ID, Kind, Label, Address string
	Verified                 bool
	Since                    *stamp
}

type ruleRow struct {
	Index   int
	Contact string // as the page names it
	After   string
	Missing bool
}

func (a *pages) contactRoutes() []kit.Route {
	if a.contacts == nil {
		return nil
	}
	f := func(pattern string, h func(w http.ResponseWriter, r *http.Request, user string)) kit.Route {
		// Viewer: everyone who signs in keeps their own.
		return kit.Route{Pattern: pattern, Role: viewer, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, _ := kit.PrincipalFrom(r.Context())
			if p.User == "" {
				a.fail(w, r, "Contact methods", nightowl.Errorf(nightowl.EForbidden, "contact methods belong to people: sign in to keep yours"))
				return
			}
			h(w, r, p.User)
		})}
	}
	return []kit.Route{
		f("GET /admin/contacts", a.adminContacts),
		kit.WithLong(f("POST /admin/contacts", a.adminAddContact), testMessageTime),
		kit.WithLong(f("POST /admin/contacts/{id}/test", a.adminTestContact), testMessageTime),
		f("POST /admin/contacts/{id}/verify", a.adminVerifyContact),
		f("POST /admin/contacts/{id}/remove", a.adminRemoveContact),
		f("POST /admin/rules", a.adminAddRule),
		f("POST /admin/rules/{index}/remove", a.adminRemoveRule),
	}
}

// testMessageTime is how long a form that sends a test message may take
// beyond the usual: the contact service bounds the send itself.
const testMessageTime = 25 * time.Second

func (a *pages) showContacts(w http.ResponseWriter, r *http.Request, user string, status int, errText string) {
	ctx := r.Context()
	ms, err := a.contacts.Methods(ctx, user)
	if err != nil {
		a.fail(w, r, "Contact methods", err)
		return
	}
	rules, err := a.contacts.Rules(ctx, user)
	if err != nil {
		a.fail(w, r, "Contact methods", err)
		return
	}
	p := contactsPage{Kinds: a.contacts.Kinds()}
	names := map[string]string{}
	for _, m := range ms {
		row := contactRow{ID: m.ID, Kind: m.Kind, Label: m.Label, Address: m.Address, Verified: m.Verified(), Since: at(m.VerifiedAt)}
		p.Methods = append(p.Methods, row)
		name := m.Kind
		if m.Label != "" {
			name += " (" + m.Label + ")"
		}
		names[m.ID] = name
		if row.Verified {
			p.Verified = append(p.Verified, contactRow{ID: m.ID, Label: name})
		}
	}
	for i, rule := range rules {
		name, ok := names[rule.Contact]
		after := "at once"
		if rule.After > 0 {
			after = "after " + nightowl.FormatDuration(rule.After)
		}
		p.Rules = append(p.Rules, ruleRow{Index: i, Contact: name, After: after, Missing: !ok})
	}
	a.render(w, r, status, "admin_contacts.html", &adminPage{Title: "Contact methods", Section: "contacts", Error: errText, Data: p})
}

func (a *pages) adminContacts(w http.ResponseWriter, r *http.Request, user string) {
	a.showContacts(w, r, user, http.StatusOK, "")
}

// contactDone shows the page again after a form: with the error that
// stopped it, or, when it worked, as a fresh page with the flash message.
func (a *pages) contactDone(w http.ResponseWriter, r *http.Request, user string, err error, key, what string) {
	if err != nil {
		kit.SetRetryAfter(w, err)
		a.showContacts(w, r, user, kit.StatusOf(err), nightowl.ErrorMessage(err))
		return
	}
	done(w, r, "/admin/contacts", key, what)
}

func (a *pages) adminAddContact(w http.ResponseWriter, r *http.Request, user string) {
	label := r.PostFormValue("label")
	if err := kit.CheckTexts(kit.Field("label", label, kit.LineText)); err != nil {
		a.contactDone(w, r, user, err, "", "")
		return
	}
	c, err := a.contacts.Add(r.Context(), user, r.PostFormValue("kind"), r.PostFormValue("address"), label)
	if err != nil && c.ID != "" {
		// Kept, unverified: say so beside why the test failed.
		err = nightowl.Errorf(nightowl.ErrorCode(err), "%s. The method is kept, unverified: send the test again once it is fixed, or remove it.", nightowl.ErrorMessage(err))
	}
	a.contactDone(w, r, user, err, "contact-added", c.ID)
}

func (a *pages) adminTestContact(w http.ResponseWriter, r *http.Request, user string) {
	_, err := a.contacts.SendTest(r.Context(), user, r.PathValue("id"))
	a.contactDone(w, r, user, err, "contact-tested", r.PathValue("id"))
}

func (a *pages) adminVerifyContact(w http.ResponseWriter, r *http.Request, user string) {
	_, err := a.contacts.Verify(r.Context(), user, r.PathValue("id"), r.PostFormValue("code"))
	a.contactDone(w, r, user, err, "contact-verified", r.PathValue("id"))
}

func (a *pages) adminRemoveContact(w http.ResponseWriter, r *http.Request, user string) {
	err := a.contacts.Delete(r.Context(), user, r.PathValue("id"))
	a.contactDone(w, r, user, err, "contact-removed", r.PathValue("id"))
}

func (a *pages) adminAddRule(w http.ResponseWriter, r *http.Request, user string) {
	rules, err := a.contacts.Rules(r.Context(), user)
	if err == nil {
		var minutes float64
		minutes, err = strconv.ParseFloat(r.PostFormValue("after"), 64)
		if err != nil || minutes < 0 || minutes > 24*60 {
			err = nightowl.Errorf(nightowl.EInvalid, "after: a number of minutes from 0 to 1440")
		} else {
			rules = append(rules, nightowl.NotificationRule{Contact: r.PostFormValue("contact"), After: time.Duration(minutes * float64(time.Minute))})
			err = a.contacts.SetRules(r.Context(), user, rules)
		}
	}
	a.contactDone(w, r, user, err, "rule-added", "")
}

func (a *pages) adminRemoveRule(w http.ResponseWriter, r *http.Request, user string) {
	rules, err := a.contacts.Rules(r.Context(), user)
	if err == nil {
		i, perr := strconv.Atoi(r.PathValue("index"))
		if perr != nil || i < 0 || i >= len(rules) {
			err = nightowl.Errorf(nightowl.ENotFound, "no such rule: the page was out of date")
		} else {
			err = a.contacts.SetRules(r.Context(), user, append(rules[:i:i], rules[i+1:]...))
		}
	}
	a.contactDone(w, r, user, err, "rule-removed", "")
}
