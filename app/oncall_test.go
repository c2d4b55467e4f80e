package app

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	ics "github.com/arran4/golang-ical"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/web"
)

// TestOncallAPI: the API says who is on call in a schedule at a time, with
// the shifts after it on the schedule's clock; it answers viewers only, an
// unknown schedule with not_found and a bad time with invalid.
func TestOncallAPI(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "nightowl.yaml")
	writeConfig(t, cfg, `storage: {sqlite: test.db}
schedules:
  - name: primary
    timezone: America/New_York
    layers:
      - {name: daily, participants: [ana, bo], start: "2026-11-01 00:00", length: daily}
`)
	a := startApp(t, cfg)
	base := "http://" + a.Addr()
	tok := userToken(t, a, "vic", nightowl.RoleViewer)

	var got web.OncallJSON
	// 2026-11-01 is the change back from summer time in New York: the
	// first shift is 25 hours long.
	if code := getJSON(t, tok, "GET", base+"/api/v1/schedules/primary/oncall?at=2026-11-01T00:00:00-04:00&days=2", &got); code != http.StatusOK {
		t.Fatalf("oncall: %d", code)
	}
	if got.User != "ana" || got.Layer != "daily" || got.Timezone != "America/New_York" || len(got.Shifts) != 2 {
		t.Fatalf("oncall: %+v", got)
	}
	if first := got.Shifts[0]; first.User != "ana" || first.To.Sub(first.From) != 25*time.Hour {
		t.Errorf("the first shift, midnight to midnight across the change: %+v (%s)", first, first.To.Sub(first.From))
	}
	if second := got.Shifts[1]; second.User != "bo" || second.To.Sub(second.From) != 24*time.Hour {
		t.Errorf("the second shift: %+v", second)
	}
	var list struct{ Schedules []web.OncallJSON }
	if code := getJSON(t, tok, "GET", base+"/api/v1/schedules", &list); code != http.StatusOK || len(list.Schedules) != 1 || list.Schedules[0].Schedule != "primary" {
		t.Errorf("schedules: %d %+v", code, list)
	}
	var e errorJSON
	if code := getJSON(t, tok, "GET", base+"/api/v1/schedules/secondary/oncall", &e); code != http.StatusNotFound || e.Error.Code != "not_found" {
		t.Errorf("an unknown schedule: %d %+v", code, e)
	}
	if code := getJSON(t, tok, "GET", base+"/api/v1/schedules/primary/oncall?at=tomorrow", &e); code != http.StatusBadRequest || e.Error.Code != "invalid" {
		t.Errorf("a bad time: %d %+v", code, e)
	}
	if code := getJSON(t, "", "GET", base+"/api/v1/schedules/primary/oncall", nil); code != http.StatusUnauthorized {
		t.Errorf("without credentials: %d", code)
	}
}

// sendJSON makes a request with the API token tok and a JSON body, and
// decodes the answer into out, unless out is nil.
func sendJSON(t *testing.T, tok, method, url, body string, out any) int {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("%s %s: %v", method, url, err)
		}
	}
	return resp.StatusCode
}

// TestOverridesAPI: a responder adds an override through the API; it puts
// its user on call above the layers, is listed, refused with the field
// named when wrong, recorded in the audit log, and deleted.
func TestOverridesAPI(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "nightowl.yaml")
	writeConfig(t, cfg, `storage: {sqlite: test.db}
schedules:
  - name: primary
    timezone: Europe/Berlin
    layers:
      - {name: weekly, participants: [ana, bo], start: "2020-01-06 09:00", length: weekly}
`)
	a := startApp(t, cfg)
	base := "http://" + a.Addr()
	viewer := userToken(t, a, "vic", nightowl.RoleViewer)
	cy := userToken(t, a, "cy", nightowl.RoleResponder)
	now := time.Now()
	from, to := now.Add(-time.Hour).Format(time.RFC3339), now.Add(2*time.Hour).Format(time.RFC3339)

	var o nightowl.ScheduleOverride
	body := fmt.Sprintf(`{"user": "cy", "from": %q, "to": %q, "reason": "swap with ana"}`, from, to)
	if code := sendJSON(t, cy, "POST", base+"/api/v1/schedules/primary/overrides", body, &o); code != http.StatusCreated {
		t.Fatalf("add: %d %+v", code, o)
	}
	if o.ID == "" || o.User != "cy" || o.CreatedBy != "cy" || o.Reason != "swap with ana" {
		t.Fatalf("added %+v", o)
	}
	var got web.OncallJSON
	if code := getJSON(t, viewer, "GET", base+"/api/v1/schedules/primary/oncall", &got); code != http.StatusOK || got.User != "cy" || got.Layer != "override" {
		t.Errorf("on call now: %d %+v", code, got)
	}
	if u, ok, err := a.Roster().OnCall(t.Context(), "primary", now); u != "cy" || !ok || err != nil {
		t.Errorf("the roster: %s %t %v", u, ok, err)
	}
	var list struct{ Overrides []nightowl.ScheduleOverride }
	if code := getJSON(t, viewer, "GET", base+"/api/v1/schedules/primary/overrides", &list); code != http.StatusOK || len(list.Overrides) != 1 || list.Overrides[0].ID != o.ID {
		t.Errorf("list: %d %+v", code, list)
	}
	for _, tt := range []struct {
		name, schedule, body string
		code                 int
		message              string
	}{
		{"to before from", "primary", fmt.Sprintf(`{"user": "cy", "from": %q, "to": %q}`, to, from), 400, "to: must be after from"},
		{"bad time", "primary", fmt.Sprintf(`{"user": "cy", "from": "tomorrow", "to": %q}`, to), 400, "from: must be a time in RFC 3339"},
		{"no user", "primary", fmt.Sprintf(`{"from": %q, "to": %q}`, from, to), 400, "user: required"},
		{"unknown user", "primary", fmt.Sprintf(`{"user": "mallory", "from": %q, "to": %q}`, from, to), 400, "user: "},
		{"unknown field", "primary", `{"who": "cy"}`, 400, "body: "},
		{"unknown schedule", "secondary", fmt.Sprintf(`{"user": "cy", "from": %q, "to": %q}`, from, to), 404, `schedule "secondary" not found`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var e errorJSON
			code := sendJSON(t, cy, "POST", base+"/api/v1/schedules/"+tt.schedule+"/overrides", tt.body, &e)
			if code != tt.code || e.Error.Code == "" || !strings.HasPrefix(e.Error.Message, tt.message) {
				t.Errorf("%d %+v; want %d beginning %q", code, e, tt.code, tt.message)
			}
		})
	}
	if code := sendJSON(t, viewer, "POST", base+"/api/v1/schedules/primary/overrides", body, nil); code != http.StatusForbidden {
		t.Errorf("a viewer adds: %d", code)
	}
	if code := sendJSON(t, cy, "DELETE", base+"/api/v1/schedules/primary/overrides/"+o.ID, "", nil); code != http.StatusOK {
		t.Errorf("delete: %d", code)
	}
	if code := sendJSON(t, cy, "DELETE", base+"/api/v1/schedules/primary/overrides/"+o.ID, "", nil); code != http.StatusNotFound {
		t.Errorf("delete again: %d", code)
	}
	if code := getJSON(t, viewer, "GET", base+"/api/v1/schedules/primary/oncall", &got); code != http.StatusOK || got.User == "cy" {
		t.Errorf("on call after the delete: %d %+v", code, got)
	}
	entries, err := a.store.AuditEntries(t.Context(), nightowl.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range entries {
		if strings.HasPrefix(e.Action, "override.") {
			actions = append(actions, e.Actor+" "+e.Action+" "+e.Subject)
		}
	}
	if want := []string{"cy override.add " + o.ID, "cy override.delete " + o.ID}; !slices.Equal(slices.Sorted(slices.Values(actions)), want) {
		t.Errorf("audit log: %q, want %q", actions, want)
	}
}

// TestCalendarFeedAPI: people make their own feed, responders a
// schedule's; the feed is public at its secret address and parses as
// iCalendar with the shifts; a new secret retires the old, a revoked or
// wrong one is 404.
func TestCalendarFeedAPI(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "nightowl.yaml")
	writeConfig(t, cfg, `storage: {sqlite: test.db}
schedules:
  - name: primary
    timezone: Europe/Berlin
    layers:
      - {name: daily, participants: [ana, bo], start: "2020-01-06 09:00", length: daily}
`)
	a := startApp(t, cfg)
	base := "http://" + a.Addr()
	ana := userToken(t, a, "ana", nightowl.RoleViewer)
	rex := userToken(t, a, "rex", nightowl.RoleResponder)

	var feed web.FeedJSON
	if code := sendJSON(t, ana, "POST", base+"/api/v1/calendar/user/ana", "", &feed); code != http.StatusCreated || !strings.HasPrefix(feed.URL, base+"/calendar/") {
		t.Fatalf("ana's feed: %d %+v", code, feed)
	}
	for _, tt := range []struct {
		tok, path string
		code      int
	}{
		{ana, "/api/v1/calendar/user/bo", http.StatusForbidden},
		{ana, "/api/v1/calendar/schedule/primary", http.StatusForbidden},
		{rex, "/api/v1/calendar/schedule/nope", http.StatusNotFound},
		{rex, "/api/v1/calendar/team/primary", http.StatusNotFound},
	} {
		if code := sendJSON(t, tt.tok, "POST", base+tt.path, "", nil); code != tt.code {
			t.Errorf("POST %s: %d, want %d", tt.path, code, tt.code)
		}
	}
	fetch := func(url string) (int, string) {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode == http.StatusOK && !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/calendar") {
			t.Errorf("served as %s", resp.Header.Get("Content-Type"))
		}
		return resp.StatusCode, string(b)
	}
	code, doc := fetch(feed.URL)
	if code != http.StatusOK {
		t.Fatalf("fetch: %d %s", code, doc)
	}
	cal, err := ics.ParseCalendar(strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	events := cal.Events()
	// ana has every other day from a week back to 90 days ahead.
	if len(events) < 45 || len(events) > 51 {
		t.Errorf("%d shifts of ana", len(events))
	}
	for _, e := range events {
		if s := e.GetProperty(ics.ComponentPropertySummary).Value; s != "On call: primary (ana)" {
			t.Errorf("summary %q", s)
		}
	}

	var sched web.FeedJSON
	if code := sendJSON(t, rex, "POST", base+"/api/v1/calendar/schedule/primary", "", &sched); code != http.StatusCreated {
		t.Fatalf("the schedule's feed: %d", code)
	}
	if code, doc := fetch(sched.URL); code != http.StatusOK || strings.Count(doc, "BEGIN:VEVENT") < 95 {
		t.Errorf("the schedule's feed: %d, %d events", code, strings.Count(doc, "BEGIN:VEVENT"))
	}
	var listed struct{ Feeds []nightowl.CalendarFeed }
	if code := getJSON(t, ana, "GET", base+"/api/v1/calendar", &listed); code != http.StatusOK || len(listed.Feeds) != 1 || listed.Feeds[0].Name != "ana" {
		t.Errorf("ana's list: %d %+v", code, listed)
	}
	var again web.FeedJSON
	if code := sendJSON(t, ana, "POST", base+"/api/v1/calendar/user/ana", "", &again); code != http.StatusCreated || again.URL == feed.URL {
		t.Fatalf("a new secret: %d %+v", code, again)
	}
	if code, _ := fetch(feed.URL); code != http.StatusNotFound {
		t.Errorf("the replaced address: %d", code)
	}
	if code := sendJSON(t, ana, "DELETE", base+"/api/v1/calendar/user/ana", "", nil); code != http.StatusOK {
		t.Errorf("revoke: %d", code)
	}
	if code, _ := fetch(again.URL); code != http.StatusNotFound {
		t.Errorf("the revoked address: %d", code)
	}
	wrong := base + "/calendar/" + strings.Repeat("x", len(sched.Secret)) + ".ics"
	if code, body := fetch(wrong); code != http.StatusNotFound || strings.Contains(body, "x") {
		t.Errorf("a wrong secret: %d %q", code, body)
	}
}

// TestOverrideFormRefused: the dashboard's override form, refused, shows
// the page again with the field named and the form as it was filled; a
// viewer may not post it, but makes their own calendar feed and not
// another's.
func TestOverrideFormRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "nightowl.yaml")
	writeConfig(t, cfg, `storage: {sqlite: test.db}
schedules:
  - name: primary
    layers:
      - {name: weekly, participants: [ana, bo], start: "2020-01-06 09:00", length: weekly}
`)
	a := startApp(t, cfg)
	base := "http://" + a.Addr()
	rex := userToken(t, a, "rex", nightowl.RoleResponder)
	vic := userToken(t, a, "vic", nightowl.RoleViewer)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	post := func(tok, path string, form url.Values) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("POST", base+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	form := url.Values{"user": {"bo"}, "from": {"2030-01-02T10:00"}, "to": {"2030-01-01T10:00"}, "reason": {"dentist"}}
	code, body := post(rex, "/admin/oncall/primary/overrides", form)
	if code != http.StatusBadRequest || !strings.Contains(body, "to: must be after from") || !strings.Contains(body, `value="dentist"`) {
		t.Errorf("refused form: %d\n%s", code, body)
	}
	if code, _ := post(vic, "/admin/oncall/primary/overrides", form); code != http.StatusForbidden {
		t.Errorf("a viewer posts the form: %d", code)
	}
	form.Set("to", "2030-01-03T10:00")
	if code, _ := post(rex, "/admin/oncall/primary/overrides", form); code != http.StatusSeeOther {
		t.Errorf("a good form: %d", code)
	}
	if code, body := post(vic, "/admin/oncall/feeds/user/vic", nil); code != http.StatusOK || !strings.Contains(body, base+"/calendar/") {
		t.Errorf("a viewer's own feed: %d", code)
	}
	if code, _ := post(vic, "/admin/oncall/feeds/user/rex", nil); code != http.StatusForbidden {
		t.Errorf("a viewer makes another's feed: %d", code)
	}
	if code, _ := post(vic, "/admin/oncall/feeds/schedule/primary", nil); code != http.StatusForbidden {
		t.Errorf("a viewer makes a schedule's feed: %d", code)
	}
}

// TestPagesTheOverride: an override added through the API decides whom a
// schedule's escalation step pages: bo, not ana whose turn it is.
func TestPagesTheOverride(t *testing.T) {
	t.Parallel()
	s, down := switchSite(t)
	anaHook, boHook := newHook(t), newHook(t)
	cfg := filepath.Join(t.TempDir(), "nightowl.yaml")
	writeConfig(t, cfg, fmt.Sprintf(`storage: {sqlite: test.db}
defaults: {interval: 1s, timeout: 1s, fail_after: 1}
checks:
  - name: shop
    http: {url: "%s/"}
schedules:
  - name: primary
    layers: [{participants: [ana], start: "2026-01-05 09:00", length: weekly}]
notify:
  contacts:
    hook: {webhook: {}}
  routes: [{escalation: oncall}]
  escalations:
    oncall:
      steps: [{schedule: primary}]
`, s.URL))
	a := startApp(t, cfg)
	base := "http://" + a.Addr()
	addContact(t, base, userToken(t, a, "ana", nightowl.RoleResponder), anaHook)
	bo := userToken(t, a, "bo", nightowl.RoleResponder)
	addContact(t, base, bo, boHook)
	now := time.Now()
	body := fmt.Sprintf(`{"user": "bo", "from": %q, "to": %q, "reason": "ana is on a plane"}`,
		now.Add(-time.Minute).Format(time.RFC3339), now.Add(time.Hour).Format(time.RFC3339))
	if code := sendJSON(t, bo, "POST", base+"/api/v1/schedules/primary/overrides", body, nil); code != http.StatusCreated {
		t.Fatalf("add the override: %d", code)
	}
	down.Store(true)
	waitFor(t, "bo's page", func() bool { return len(boHook.kinds()) >= 2 })
	if m := boHook.last(); m.Kind != nightowl.MessageFiring || strings.Join(m.Alert.OnCall, ",") != "bo (primary)" {
		t.Fatalf("bo's page: %+v", m)
	}
	if got := anaHook.kinds(); len(got) != 1 {
		t.Errorf("ana heard %v", got)
	}
}
