package app

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/web"
)

var verifyCodeRE = regexp.MustCompile(`code is ([0-9]{6})`)

// addContact adds a webhook contact method through the API for the
// token's user, and verifies it with the code its test message carried.
func addContact(t *testing.T, base, tok string, h *hook) web.ContactJSON {
	t.Helper()
	auth := map[string]string{"Authorization": "Bearer " + tok}
	resp, body := call(t, "POST", base+"/api/v1/me/contacts", fmt.Sprintf(`{"kind": "hook", "address": %q, "label": "phone"}`, h.srv.URL+"/page"), auth)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("add contact: %d %s", resp.StatusCode, body)
	}
	var added struct{ Contact web.ContactJSON }
	json.Unmarshal([]byte(body), &added)
	if added.Contact.Verified || added.Contact.ID == "" {
		t.Fatalf("added: %s", body)
	}
	test := h.last()
	m := verifyCodeRE.FindStringSubmatch(test.Alert.Cause)
	if test.Kind != nightowl.MessageTest || m == nil {
		t.Fatalf("test message: %+v", test)
	}
	resp, body = call(t, "POST", base+"/api/v1/me/contacts/"+added.Contact.ID+"/verify", `{"code": "`+m[1]+`"}`, auth)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"verified": true`) {
		t.Fatalf("verify: %d %s", resp.StatusCode, body)
	}
	return added.Contact
}

// TestContactMethodsAPI: each person manages their own contact methods
// and rules; nobody sees or changes another's.
func TestContactMethodsAPI(t *testing.T) {
	t.Parallel()
	h := newHook(t)
	cfg := filepath.Join(t.TempDir(), "nightowl.yaml")
	writeConfig(t, cfg, `storage: {sqlite: test.db}
notify:
  contacts:
    hook: {label: Webhook, webhook: {}}
    phone: {label: "Phone (SMS)", pattern: '\+[0-9]{8,15}', webhook: {url: "`+h.srv.URL+`/sms"}}
`)
	a := startApp(t, cfg)
	base := "http://" + a.Addr()
	ana := userToken(t, a, "ana", nightowl.RoleViewer)
	bo := userToken(t, a, "bo", nightowl.RoleViewer)
	c := addContact(t, base, ana, h)

	var mine struct {
		Kinds    []nightowl.ContactKind
		Contacts []web.ContactJSON
		Rules    []web.RuleJSON
	}
	if code := getJSON(t, ana, "GET", base+"/api/v1/me/contacts", &mine); code != 200 || len(mine.Contacts) != 1 || len(mine.Kinds) != 2 ||
		mine.Kinds[1].Name != "phone" || mine.Kinds[1].Label != "Phone (SMS)" || mine.Kinds[1].Address != "to" || mine.Rules == nil {
		t.Fatalf("ana's contacts: %d %+v", code, mine)
	}
	if code := getJSON(t, bo, "GET", base+"/api/v1/me/contacts", &mine); code != 200 || len(mine.Contacts) != 0 {
		t.Errorf("bo sees %+v", mine.Contacts)
	}
	boAuth := map[string]string{"Authorization": "Bearer " + bo}
	anaAuth := map[string]string{"Authorization": "Bearer " + ana}
	for _, tt := range []struct {
		method, path, body string
		auth               map[string]string
		status             int
		code               string
	}{
		{"DELETE", "/api/v1/me/contacts/" + c.ID, "", boAuth, 404, "not_found"},
		{"POST", "/api/v1/me/contacts/" + c.ID + "/verify", `{"code": "123456"}`, boAuth, 404, "not_found"},
		{"PUT", "/api/v1/me/rules", `{"rules": [{"contact": "` + c.ID + `"}]}`, boAuth, 400, "invalid"},
		{"POST", "/api/v1/me/contacts", `{"kind": "phone", "address": "12"}`, anaAuth, 400, "invalid"},
		{"POST", "/api/v1/me/contacts", `{"kind": "fax", "address": "12"}`, anaAuth, 400, "invalid"},
		{"POST", "/api/v1/me/contacts", `{"kind": "hook", "address": "x", "color": 1}`, anaAuth, 400, "invalid"},
		{"PUT", "/api/v1/me/rules", `{"rules": [{"contact": "` + c.ID + `", "after": "48h"}]}`, anaAuth, 400, "invalid"},
		{"GET", "/api/v1/me/contacts", "", nil, 401, "unauthorized"},
	} {
		resp, body := call(t, tt.method, base+tt.path, tt.body, tt.auth)
		var e errorJSON
		json.Unmarshal([]byte(body), &e)
		if resp.StatusCode != tt.status || e.Error.Code != tt.code || e.Error.Message == "" {
			t.Errorf("%s %s %s: %d %s, want %d %s", tt.method, tt.path, tt.body, resp.StatusCode, body, tt.status, tt.code)
		}
	}
	// A phone through the gateway: the test message carries the number.
	resp, body := call(t, "POST", base+"/api/v1/me/contacts", `{"kind": "phone", "address": "+4915112345678"}`, anaAuth)
	if resp.StatusCode != 201 || h.last().Kind != nightowl.MessageTest {
		t.Fatalf("add phone: %d %s", resp.StatusCode, body)
	}
	var phone struct{ Contact web.ContactJSON }
	json.Unmarshal([]byte(body), &phone)
	// A second test message at once is refused, and says when to retry.
	if resp, body := call(t, "POST", base+"/api/v1/me/contacts/"+phone.Contact.ID+"/test", "", anaAuth); resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" && !strings.Contains(body, "rate_limited") {
		t.Errorf("a second test message at once: %d %s", resp.StatusCode, body)
	}
	resp, body = call(t, "PUT", base+"/api/v1/me/rules", `{"rules": [{"contact": "`+c.ID+`"}, {"contact": "`+phone.Contact.ID+`", "after": "5m"}]}`, anaAuth)
	if resp.StatusCode != 200 {
		t.Fatalf("set rules: %d %s", resp.StatusCode, body)
	}
	getJSON(t, ana, "GET", base+"/api/v1/me/contacts", &mine)
	if len(mine.Rules) != 2 || mine.Rules[1].After != 300 || mine.Rules[1].Contact != phone.Contact.ID {
		t.Errorf("rules read back: %+v", mine.Rules)
	}
	if resp, body := call(t, "DELETE", base+"/api/v1/me/contacts/"+phone.Contact.ID, "", anaAuth); resp.StatusCode != 200 {
		t.Errorf("delete: %d %s", resp.StatusCode, body)
	}
	getJSON(t, ana, "GET", base+"/api/v1/me/contacts", &mine)
	if len(mine.Contacts) != 1 || len(mine.Rules) != 1 {
		t.Errorf("after deleting the phone: %+v %+v", mine.Contacts, mine.Rules)
	}
	// Each change is in the audit log under its person, without the
	// address.
	var log struct{ Entries []nightowl.AuditEntry }
	if code := getJSON(t, adminToken(t, a), "GET", base+"/api/v1/audit", &log); code != 200 {
		t.Fatalf("audit: %d", code)
	}
	var did []string
	for _, e := range log.Entries {
		if strings.HasPrefix(e.Action, "contact.") {
			did = append(did, e.Actor+" "+e.Action)
			if strings.Contains(e.Detail, "127.0.0.1") || strings.Contains(e.Detail, "+49") {
				t.Errorf("the audit log holds an address: %+v", e)
			}
		}
	}
	slices.Sort(did)
	if want := []string{"ana contact.add", "ana contact.add", "ana contact.remove", "ana contact.rules", "ana contact.verify"}; !slices.Equal(did, want) {
		t.Errorf("audited: %v, want %v", did, want)
	}
}

// TestPagesThePersonOnCall: a check goes down; the person on call in the
// primary schedule is paged on their own contact method, named in the
// message with how to acknowledge; nobody acknowledges, so the secondary
// is paged after the step's delay; the link acknowledges, both hear it,
// and both hear the recovery.
func TestPagesThePersonOnCall(t *testing.T) {
	t.Parallel()
	s, down := switchSite(t)
	anaHook, boHook := newHook(t), newHook(t)
	cfg := filepath.Join(t.TempDir(), "nightowl.yaml")
	writeConfig(t, cfg, fmt.Sprintf(`server: {public_url: "http://owl.invalid"}
storage: {sqlite: test.db}
defaults: {interval: 1s, timeout: 1s, fail_after: 1}
checks:
  - name: shop
    http: {url: "%s/"}
schedules:
  - name: primary
    timezone: Europe/Berlin
    layers: [{participants: [ana], start: "2026-01-05 09:00", length: weekly}]
  - name: secondary
    layers: [{participants: [bo], start: "2026-01-05 09:00", length: weekly}]
notify:
  contacts:
    hook: {webhook: {}}
  routes: [{escalation: oncall}]
  escalations:
    oncall:
      steps:
        - {schedule: primary}
        - {after: 3s, schedule: secondary}
`, s.URL))
	a := startApp(t, cfg)
	base := "http://" + a.Addr()
	addContact(t, base, userToken(t, a, "ana", nightowl.RoleResponder), anaHook)
	addContact(t, base, userToken(t, a, "bo", nightowl.RoleResponder), boHook)

	down.Store(true)
	waitFor(t, "ana's page", func() bool { return len(anaHook.kinds()) >= 2 })
	page := anaHook.last()
	if page.Kind != nightowl.MessageFiring || strings.Join(page.Alert.OnCall, ",") != "ana (primary)" || page.AckURL == "" {
		t.Fatalf("ana's page: %+v", page)
	}
	if len(boHook.kinds()) != 1 {
		t.Fatalf("bo was paged at once: %v", boHook.kinds())
	}
	start := time.Now()
	waitFor(t, "bo's page", func() bool { return len(boHook.kinds()) >= 2 })
	if waited := time.Since(start); waited < time.Second {
		t.Errorf("bo was paged %s after ana, before the step's delay", waited)
	}
	if m := boHook.last(); m.Kind != nightowl.MessageFiring || strings.Join(m.Alert.OnCall, ",") != "ana (primary),bo (secondary)" {
		t.Fatalf("bo's page: %+v", m)
	}
	link, _ := url.Parse(page.AckURL)
	if code, body := postForm(t, base+link.Path+"?"+link.RawQuery, url.Values{"by": {"ana"}}); code != 200 {
		t.Fatalf("ack by link: %d %s", code, body)
	}
	waitFor(t, "the acknowledgements", func() bool { return len(anaHook.kinds()) >= 3 && len(boHook.kinds()) >= 3 })
	down.Store(false)
	waitFor(t, "the recoveries", func() bool { return len(anaHook.kinds()) >= 4 && len(boHook.kinds()) >= 4 })
	for who, h := range map[string]*hook{"ana": anaHook, "bo": boHook} {
		if got := strings.Join(h.kinds(), " "); got != "test firing acknowledged resolved" {
			t.Errorf("%s heard: %s", who, got)
		}
	}
	// The alert says whom each step paged.
	var one struct{ Alert nightowl.Alert }
	getJSON(t, adminToken(t, a), "GET", base+"/api/v1/alerts/"+page.Alert.ID, &one)
	if st := one.Alert.Steps; len(st) != 2 || st[0].User != "ana" || st[1].User != "bo" || st[1].Target != "schedule secondary" {
		t.Errorf("steps: %+v", st)
	}
	if code, body := get(t, adminToken(t, a), base+"/admin/alerts"); code != 200 || !strings.Contains(body, "paged: ana (primary), bo (secondary)") {
		t.Errorf("the alerts page does not say who was paged: %d", code)
	}
}
