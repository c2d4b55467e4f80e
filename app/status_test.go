package app

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/clocktest"
)

// Markers that must never reach a public page: a check's target, a DSN's
// password, the text of a failure, a private incident note, the title of an
// incident nobody published, and the names of checks that have no badge
// (one of them in a component, so that auto-opened incidents carry it in
// their titles).
const (
	markTarget      = "SECRET-TARGET-7f3a"
	markDSN         = "SECRET-DSN-PASS-4b1d"
	markError       = "SECRET-ERROR-TEXT-91c2"
	markPrivate     = "SECRET-PRIVATE-NOTE-55aa"
	markUnpublished = "SECRET-UNPUBLISHED-TITLE-0c4e"
	markDBCheck     = "db-secret-name-7e2c"
	markHiddenCheck = "hidden-secret-name-3d9b"
)

// TestPublicPagesShowNoSecrets fails checks whose targets, DSN, error text
// and names carry marker strings, opens incidents (by auto_open, whose
// titles name checks and whose private notes name the failure; one by hand
// that nobody published; one by hand with a private note), and asserts that
// no public response carries any marker, while each shows what it should.
func TestPublicPagesShowNoSecrets(t *testing.T) {
	t.Parallel()
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "database exploded: "+markError, http.StatusServiceUnavailable)
	}))
	t.Cleanup(failing.Close)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "nightowl.yaml")
	start := time.Now().Add(2 * time.Hour).UTC().Truncate(time.Second)
	writeConfig(t, cfg, fmt.Sprintf(`server: {title: Example Status, public_url: "https://status.example.com"}
storage: {sqlite: test.db}
defaults: {interval: 1s, timeout: 1s, fail_after: 1}
checks:
  - name: shop
    labels: {tier: web}
    http: {url: "%[1]s/%[2]s"}
    assert:
      up: status == 200
      healthy: 'not (body contains "%[6]s")'
  - name: api
    labels: {tier: web}
    http: {url: "http://127.0.0.1:1/%[2]s"}
  - name: %[7]s
    labels: {tier: db}
    badge: false
    postgres: {dsn: "postgres://nightowl:%[3]s@127.0.0.1:1/app?connect_timeout=1"}
  - name: %[8]s
    labels: {tier: internal}
    http: {url: "http://127.0.0.1:1/%[2]s"}
  - name: public-badge
    labels: {tier: internal}
    badge: true
    http: {url: "http://127.0.0.1:1/%[2]s"}
components:
  - {name: Website, checks: {labels: {tier: web}}, show_response_time: true}
  - {name: Database, checks: {names: [%[7]s]}, show_response_time: true}
incidents: {auto_open: critical}
maintenance:
  - name: db-upgrade
    start: %[4]s
    end: %[5]s
    checks: {names: [%[7]s]}
    expect: ["*"]
    announce: true
    reason: Upgrading the database to a new major version.
`, failing.URL, markTarget, markDSN, start.Format(time.RFC3339), start.Add(time.Hour).Format(time.RFC3339), markError,
		markDBCheck, markHiddenCheck))
	a := startApp(t, cfg)
	admin := adminToken(t, a)
	base := "http://" + a.Addr()

	waitFor(t, "an auto-opened incident for each component", func() bool {
		var list struct{ Incidents []struct{ ID, Title string } }
		getJSON(t, admin, "GET", base+"/api/v1/incidents", &list)
		return strings.Contains(fmt.Sprint(list.Incidents), "Website down") &&
			strings.Contains(fmt.Sprint(list.Incidents), "Database down: "+markDBCheck)
	})
	// Make sure the failures the markers ride on are there to leak.
	var check struct{ Error, Cause string }
	waitFor(t, "the shop check's cause to carry the error marker", func() bool {
		getJSON(t, admin, "GET", base+"/api/v1/checks/shop", &check)
		return strings.Contains(check.Cause, markError)
	})
	waitFor(t, "every check down", func() bool {
		var list struct{ Checks []struct{ Status string } }
		getJSON(t, admin, "GET", base+"/api/v1/checks", &list)
		return len(list.Checks) == 5 && strings.Count(fmt.Sprint(list.Checks), "down") == 5
	})
	// The auto-opened incident's private note names the alert's cause.
	var inc struct{ Timeline []struct{ Text string } }
	getJSON(t, admin, "GET", base+"/api/v1/incidents/inc-1", &inc)
	if !strings.Contains(fmt.Sprint(inc.Timeline), markError) {
		t.Fatalf("the auto-opened incident's timeline does not carry the error marker: %+v", inc)
	}
	post := func(path, body string) {
		t.Helper()
		resp, out := call(t, "POST", base+path, body, map[string]string{"Authorization": "Bearer " + admin})
		if resp.StatusCode/100 != 2 {
			t.Fatalf("POST %s: %d %s", path, resp.StatusCode, out)
		}
	}
	// Opened by hand, never published: a private first message, and no
	// message at all.
	post("/api/v1/incidents", `{"title": "`+markUnpublished+` one", "impact": "critical", "components": ["Website"], "message": "Looking.", "public": false}`)
	post("/api/v1/incidents", `{"title": "`+markUnpublished+` two", "impact": "critical", "components": ["Database"]}`)
	post("/api/v1/incidents", `{"title": "Checkout errors", "impact": "major", "components": ["Website"], "message": "We are investigating errors at checkout.", "public": true}`)
	var list struct{ Incidents []struct{ ID, Title string } }
	getJSON(t, admin, "GET", base+"/api/v1/incidents", &list)
	id := ""
	for _, inc := range list.Incidents {
		if inc.Title == "Checkout errors" {
			id = inc.ID
		}
	}
	post("/api/v1/incidents/"+id+"/updates", `{"message": "The card processor's `+markPrivate+` key expired.", "public": false}`)
	post("/api/v1/incidents/"+id+"/updates", `{"state": "identified", "message": "We found the cause and are fixing it.", "public": true}`)
	post("/api/v1/incidents/"+id+"/updates", `{"state": "resolved", "message": "Checkout works again.", "public": true}`)

	pages := map[string]string{}
	// Every public response: the pages, and what a stranger gets for
	// badges of checks that have none, for no check, and for a forged
	// acknowledgement link.
	secrets := []string{markTarget, markDSN, markError, markPrivate, markUnpublished, markDBCheck, markHiddenCheck,
		"127.0.0.1", "connection refused", "status == 200", "Website down", "Database down"}
	var alerts struct{ Alerts []struct{ ID string } }
	getJSON(t, admin, "GET", base+"/api/v1/alerts", &alerts)
	if len(alerts.Alerts) == 0 {
		t.Fatal("no alerts")
	}
	for _, p := range []string{"/", "/embed", "/history.atom", "/api/v2/summary.json", "/api/v2/status.json",
		"/badge/shop.svg", "/badge/api.svg", "/badge/public-badge.svg", "/static/style.css",
		"/badge/" + markDBCheck + ".svg", "/badge/" + markHiddenCheck + ".svg", "/badge/nosuch.svg",
		"/badge/component/Website.svg", "/badge/component/Database.json", "/badge/component/database.svg?metric=uptime&period=24h",
		"/badge/component/Website.json?metric=uptime&period=90d", "/badge/component/Database.svg?metric=response",
		"/badge/component/Website.json?metric=response", "/badge/component/" + markHiddenCheck + ".json",
		"/badge/component/" + markDBCheck + ".svg?metric=" + markError,
		"/ack/" + alerts.Alerts[0].ID + "?exp=9999999999&sig=forged"} {
		resp, body := call(t, "GET", base+p, "", nil)
		if resp.StatusCode != 200 && !strings.HasPrefix(p, "/badge/") && !strings.HasPrefix(p, "/ack/") {
			t.Fatalf("GET %s: %d %s", p, resp.StatusCode, body)
		}
		pages[p] = body
		for _, m := range secrets {
			if strings.Contains(body, m) {
				t.Errorf("GET %s shows %q", p, m)
			}
		}
	}
	// A check without a badge is answered exactly as a check that does
	// not exist: the answer does not confirm the name.
	nosuch, _ := call(t, "GET", base+"/badge/nosuch.svg", "", nil)
	if nosuch.StatusCode != 404 {
		t.Errorf("badge of an unknown check: %d", nosuch.StatusCode)
	}
	for _, name := range []string{markDBCheck, markHiddenCheck} {
		resp, body := call(t, "GET", base+"/badge/"+name+".svg", "", nil)
		if resp.StatusCode != nosuch.StatusCode || body != pages["/badge/nosuch.svg"] ||
			resp.Header.Get("Content-Type") != nosuch.Header.Get("Content-Type") {
			t.Errorf("badge of %s, which has none: %d %q, unlike an unknown check's", name, resp.StatusCode, body)
		}
	}
	for _, name := range []string{"shop", "api", "public-badge"} {
		if b := pages["/badge/"+name+".svg"]; !strings.Contains(b, "<svg") || !strings.Contains(b, name) {
			t.Errorf("badge of %s: %s", name, b)
		}
	}

	for _, p := range []string{"/badge/component/Website.svg", "/badge/component/Database.json", "/badge/component/Database.svg?metric=response"} {
		if b := pages[p]; !strings.Contains(b, "major outage") && !strings.Contains(b, "response time") {
			t.Errorf("GET %s: %s", p, b)
		}
	}

	home := pages["/"]
	for _, want := range []string{"Example Status", "Website", "Database", "major outage", "Checkout errors",
		"We found the cause and are fixing it.", "Checkout works again.", "Scheduled maintenance: db-upgrade",
		"Upgrading the database to a new major version."} {
		if !strings.Contains(home, want) {
			t.Errorf("the status page lacks %q", want)
		}
	}
	if strings.Count(home, `class="bar `) != 2*90 {
		t.Errorf("want 90 uptime bars per component, got %d in all", strings.Count(home, `class="bar `))
	}
	// The uptime windows, the bars' tooltips and the response charts are
	// there (and, above, carry no marker).
	if strings.Count(home, `role="tooltip"`) != 2*90 || strings.Count(home, `data-testid="response-chart"`) != 2 ||
		!strings.Contains(home, "30d</span>") || !strings.Contains(home, "no incidents") {
		t.Errorf("the status page lacks its uptime windows, tooltips or response charts")
	}

	var summary struct {
		Page       struct{ Name string }
		Status     struct{ Indicator, Description string }
		Components []struct{ Name, Status string }
		Incidents  []struct {
			Name, Status    string
			IncidentUpdates []struct{ Body string } `json:"incident_updates"`
		}
		Maintenance []struct{ Name, Status string } `json:"scheduled_maintenances"`
	}
	if err := json.Unmarshal([]byte(pages["/api/v2/summary.json"]), &summary); err != nil {
		t.Fatal(err)
	}
	if summary.Page.Name != "Example Status" || summary.Status.Indicator != "critical" || len(summary.Components) != 2 ||
		summary.Components[0].Status != "major_outage" || len(summary.Maintenance) != 1 || summary.Maintenance[0].Status != "scheduled" {
		t.Errorf("summary.json: %+v", summary)
	}
	for _, inc := range summary.Incidents {
		if inc.Status == "resolved" {
			t.Errorf("summary.json lists a resolved incident as open: %+v", inc)
		}
	}
	var feed struct {
		Entries []struct {
			Title   string `xml:"title"`
			Content string `xml:"content"`
		} `xml:"entry"`
	}
	if err := xml.Unmarshal([]byte(pages["/history.atom"]), &feed); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range feed.Entries {
		if e.Title == "Checkout errors" && strings.Contains(e.Content, "Checkout works again.") {
			found = true
		}
	}
	if !found {
		t.Errorf("the feed lacks the resolved incident: %+v", feed.Entries)
	}
	if !strings.Contains(pages["/badge/shop.svg"], "down") || !strings.Contains(pages["/badge/shop.svg"], "<svg") {
		t.Errorf("badge: %s", pages["/badge/shop.svg"])
	}
}

// TestUnpublishedIncidentsDoNotCount: while every check is up, an open
// critical incident nobody published leaves the page "All Systems
// Operational" and lists nothing; once published through the API it shows,
// and the page's status follows its impact.
func TestUnpublishedIncidentsDoNotCount(t *testing.T) {
	t.Parallel()
	s := site(t)
	cfg := filepath.Join(t.TempDir(), "nightowl.yaml")
	writeConfig(t, cfg, fmt.Sprintf(`storage: {sqlite: test.db}
defaults: {interval: 1s, timeout: 1s}
checks:
  - {name: shop, labels: {tier: web}, http: {url: "%s/ok"}}
components:
  - {name: Website, checks: {labels: {tier: web}}}
`, s.URL))
	a := startApp(t, cfg)
	admin := adminToken(t, a)
	base := "http://" + a.Addr()
	auth := map[string]string{"Authorization": "Bearer " + admin}
	waitFor(t, "shop up", func() bool {
		var c struct{ Status string }
		getJSON(t, admin, "GET", base+"/api/v1/checks/shop", &c)
		return c.Status == "up"
	})
	resp, body := call(t, "POST", base+"/api/v1/incidents", `{"title": "Card data exposure", "impact": "critical",
		"components": ["Website"], "message": "Legal is looking at it.", "public": false}`, auth)
	if resp.StatusCode != 201 {
		t.Fatalf("open: %d %s", resp.StatusCode, body)
	}
	var opened struct{ Incident nightowl.Incident }
	if err := json.Unmarshal([]byte(body), &opened); err != nil {
		t.Fatal(err)
	}
	if opened.Incident.Published() {
		t.Fatalf("opened with a private note, yet published: %+v", opened.Incident)
	}
	type summary struct {
		Status    struct{ Indicator string }
		Incidents []struct{ Name string }
	}
	read := func() summary {
		t.Helper()
		var sum summary
		_, body := call(t, "GET", base+"/api/v2/summary.json", "", nil)
		if err := json.Unmarshal([]byte(body), &sum); err != nil {
			t.Fatal(err)
		}
		return sum
	}
	if sum := read(); sum.Status.Indicator != "none" || len(sum.Incidents) != 0 {
		t.Errorf("with an unpublished incident: %+v", sum)
	}
	_, status := call(t, "GET", base+"/api/v2/status.json", "", nil)
	if !strings.Contains(status, `"indicator": "none"`) && !strings.Contains(status, `"indicator":"none"`) {
		t.Errorf("status.json with an unpublished incident: %s", status)
	}

	if resp, body := call(t, "POST", base+"/api/v1/incidents/"+opened.Incident.ID+"/publish", `{"title": "  "}`, auth); resp.StatusCode != 200 {
		t.Fatalf("publish: %d %s", resp.StatusCode, body)
	}
	resp, body = call(t, "POST", base+"/api/v1/incidents/"+opened.Incident.ID+"/publish", `{"title": "Payments trouble"}`, auth)
	if resp.StatusCode != 409 {
		t.Fatalf("publish again: %d %s", resp.StatusCode, body)
	}
	var got struct{ Incident nightowl.Incident }
	getJSON(t, admin, "GET", base+"/api/v1/incidents/"+opened.Incident.ID, &got)
	if !got.Incident.Published() || got.Incident.Title != "Card data exposure" {
		t.Fatalf("after publishing: %+v", got.Incident)
	}
	if sum := read(); sum.Status.Indicator != "critical" || len(sum.Incidents) != 1 || sum.Incidents[0].Name != "Card data exposure" {
		t.Errorf("after publishing: %+v", sum)
	}
	if _, home := call(t, "GET", base+"/", "", nil); !strings.Contains(home, "Card data exposure") || strings.Contains(home, "Legal is looking") {
		t.Errorf("the page after publishing:\n%s", home)
	}
	resp, body = call(t, "POST", base+"/api/v1/incidents/"+opened.Incident.ID+"/publish", `{"message": "again"}`, auth)
	if resp.StatusCode != 409 || !strings.Contains(body, `"conflict"`) {
		t.Errorf("publishing twice: %d %s", resp.StatusCode, body)
	}
	var audit struct{ Entries []nightowl.AuditEntry }
	getJSON(t, admin, "GET", base+"/api/v1/audit", &audit)
	found := false
	for _, e := range audit.Entries {
		found = found || (e.Action == "incident.publish" && e.Subject == opened.Incident.ID && e.Actor == "test-admin")
	}
	if !found {
		t.Errorf("publishing is not audited: %+v", audit.Entries)
	}
	viewer := userToken(t, a, "vic", nightowl.RoleViewer)
	if resp, body := call(t, "POST", base+"/api/v1/incidents/"+opened.Incident.ID+"/publish", "", map[string]string{"Authorization": "Bearer " + viewer}); resp.StatusCode != 403 {
		t.Errorf("a viewer publishing: %d %s", resp.StatusCode, body)
	}
}

// TestUnpublishedIncidentsTakeNoPlaces: the status page and the feed list
// the 50 newest published incidents; sixty newer ones that nobody
// published (a flapping check opens one after another) push none of them
// out.
func TestUnpublishedIncidentsTakeNoPlaces(t *testing.T) {
	t.Parallel()
	s := site(t)
	cfg := filepath.Join(t.TempDir(), "nightowl.yaml")
	writeConfig(t, cfg, fmt.Sprintf(`storage: {sqlite: test.db}
defaults: {interval: 1h, timeout: 1s}
checks:
  - {name: shop, labels: {tier: web}, http: {url: "%s/ok"}}
components:
  - {name: Website, checks: {labels: {tier: web}}}
`, s.URL))
	a := startApp(t, cfg)
	base := "http://" + a.Addr()
	ctx := t.Context()
	inc, err := a.incidents.Open(ctx, "Checkout was slow", nightowl.ImpactMinor, []string{"Website"}, "We are looking into it.", true, "ana")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.incidents.Resolve(ctx, inc.ID, "Checkout is fast again.", "ana"); err != nil {
		t.Fatal(err)
	}
	for i := range 60 {
		quiet, err := a.incidents.Open(ctx, fmt.Sprintf("Website down: shop (%d)", i), nightowl.ImpactMajor, []string{"Website"}, "", false, "nightowl")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.incidents.Resolve(ctx, quiet.ID, "", "nightowl"); err != nil {
			t.Fatal(err)
		}
	}
	_, home := call(t, "GET", base+"/", "", nil)
	if !strings.Contains(home, "Checkout was slow") || !strings.Contains(home, "Checkout is fast again.") || strings.Contains(home, "Website down") {
		t.Errorf("the status page:\n%s", home)
	}
	_, feed := call(t, "GET", base+"/history.atom", "", nil)
	if !strings.Contains(feed, "Checkout was slow") || strings.Contains(feed, "Website down") {
		t.Errorf("the feed:\n%s", feed)
	}
}

// TestPublicTimesStartAtPublication: an incident handled quietly for hours
// and then published starts, on every public page, when it was published;
// its updated time moves with public updates and with changes the page
// shows, never with private notes. No public response tells when it was
// opened or when a private note was written.
func TestPublicTimesStartAtPublication(t *testing.T) {
	t.Parallel()
	s := site(t)
	cfg := filepath.Join(t.TempDir(), "nightowl.yaml")
	writeConfig(t, cfg, fmt.Sprintf(`server: {public_url: "https://status.example.com"}
storage: {sqlite: test.db}
defaults: {interval: 24h, timeout: 1s}
checks:
  - {name: shop, labels: {tier: web}, http: {url: "%s/ok"}}
components:
  - {name: Website, checks: {labels: {tier: web}}}
`, s.URL))
	t0 := time.Date(2026, 3, 17, 22, 0, 0, 0, time.UTC)
	clock := clocktest.New(t0)
	a, err := New(t.Context(), Options{ConfigPath: cfg, Listen: "127.0.0.1:0", Clock: clock,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), BcryptCost: testCost, PublicTTL: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Stop(context.Background()) })
	admin := adminToken(t, a)
	base := "http://" + a.Addr()
	post := func(path, body string) string {
		t.Helper()
		resp, out := call(t, "POST", base+path, body, map[string]string{"Authorization": "Bearer " + admin})
		if resp.StatusCode/100 != 2 {
			t.Fatalf("POST %s: %d %s", path, resp.StatusCode, out)
		}
		return out
	}
	var opened struct{ Incident nightowl.Incident }
	json.Unmarshal([]byte(post("/api/v1/incidents", `{"title": "Card data exposure", "impact": "critical",
		"components": ["Website"], "message": "Legal is looking at it.", "public": false}`)), &opened)
	id := opened.Incident.ID
	clock.Advance(3 * time.Hour) // 01:00, a private note that changes the state, before publication
	post("/api/v1/incidents/"+id+"/updates", `{"state": "identified", "message": "A leaked key.", "public": false}`)
	clock.Advance(time.Hour) // 02:00, published
	published := clock.Now()
	post("/api/v1/incidents/"+id+"/publish", `{"title": "Payments trouble", "message": "Some payments may fail."}`)
	clock.Advance(30 * time.Minute) // 02:30, a private note
	post("/api/v1/incidents/"+id+"/updates", `{"message": "Rotated the key.", "public": false}`)
	// The times of the quiet handling, as the JSON, the feed and the page
	// would write them.
	var quiet []string
	for _, q := range []time.Time{t0, t0.Add(3 * time.Hour)} {
		quiet = append(quiet, q.Format(time.RFC3339), q.Format("2006-01-02 15:04 UTC"))
	}

	type spIncident struct {
		Name      string
		CreatedAt time.Time `json:"created_at"`
		StartedAt time.Time `json:"started_at"`
		UpdatedAt time.Time `json:"updated_at"`
	}
	type feedEntry struct {
		Title     string `xml:"title"`
		Published string `xml:"published"`
		Updated   string `xml:"updated"`
	}
	read := func(want spIncident) {
		t.Helper()
		_, body := call(t, "GET", base+"/api/v2/summary.json", "", nil)
		var sum struct{ Incidents []spIncident }
		if err := json.Unmarshal([]byte(body), &sum); err != nil {
			t.Fatal(err)
		}
		if len(sum.Incidents) != 1 || !sum.Incidents[0].CreatedAt.Equal(want.CreatedAt) ||
			!sum.Incidents[0].StartedAt.Equal(want.StartedAt) || !sum.Incidents[0].UpdatedAt.Equal(want.UpdatedAt) {
			t.Errorf("summary.json incidents: %+v, want %+v", sum.Incidents, want)
		}
		_, atom := call(t, "GET", base+"/history.atom", "", nil)
		var feed struct {
			Entries []feedEntry `xml:"entry"`
		}
		if err := xml.Unmarshal([]byte(atom), &feed); err != nil {
			t.Fatal(err)
		}
		wantEntry := feedEntry{Title: "Payments trouble", Published: want.StartedAt.Format(time.RFC3339), Updated: want.UpdatedAt.Format(time.RFC3339)}
		if len(feed.Entries) != 1 || feed.Entries[0] != wantEntry {
			t.Errorf("feed entries: %+v, want %+v", feed.Entries, wantEntry)
		}
		_, home := call(t, "GET", base+"/", "", nil)
		for p, body := range map[string]string{"summary.json": body, "history.atom": atom, "/": home} {
			for _, q := range quiet {
				if strings.Contains(body, q) {
					t.Errorf("%s tells %s, a time of the quiet handling:\n%s", p, q, body)
				}
			}
		}
	}
	read(spIncident{CreatedAt: published, StartedAt: published, UpdatedAt: published})

	clock.Advance(15 * time.Minute) // 02:45, a private note that changes what the page shows
	post("/api/v1/incidents/"+id+"/updates", `{"impact": "major", "message": "Fewer cards affected.", "public": false}`)
	read(spIncident{CreatedAt: published, StartedAt: published, UpdatedAt: clock.Now()})
	clock.Advance(15 * time.Minute) // 03:00, a public update
	post("/api/v1/incidents/"+id+"/updates", `{"state": "monitoring", "message": "Payments work again.", "public": true}`)
	changed := clock.Now()
	clock.Advance(15 * time.Minute) // 03:15, a private note
	post("/api/v1/incidents/"+id+"/updates", `{"message": "Writing the postmortem.", "public": false}`)
	read(spIncident{CreatedAt: published, StartedAt: published, UpdatedAt: changed})

	// The updates are numbered among the public ones: the store's
	// numbers would count the private notes between them.
	_, body := call(t, "GET", base+"/api/v2/summary.json", "", nil)
	var sum struct {
		Incidents []struct {
			Updates []struct{ ID, Body string } `json:"incident_updates"`
		}
	}
	if err := json.Unmarshal([]byte(body), &sum); err != nil {
		t.Fatal(err)
	}
	if len(sum.Incidents) != 1 || fmt.Sprint(sum.Incidents[0].Updates) != "[{"+id+"-2 Payments work again.} {"+id+"-1 Some payments may fail.}]" {
		t.Errorf("public updates: %+v", sum.Incidents)
	}
}
