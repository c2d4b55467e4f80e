package app

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Markers that must never reach a public page: a check's target, a DSN's
// password, the text of a failure, and a private incident note.
const (
	markTarget  = "SECRET-TARGET-7f3a"
	markDSN     = "SECRET-DSN-PASS-4b1d"
	markError   = "SECRET-ERROR-TEXT-91c2"
	markPrivate = "SECRET-PRIVATE-NOTE-55aa"
)

// TestPublicPagesShowNoSecrets fails checks whose targets, DSN and error
// text carry marker strings, opens incidents (one by auto_open, whose
// private note names the failure, one by hand with a private note), and
// asserts that no public response carries any marker, while each shows
// what it should.
func TestPublicPagesShowNoSecrets(t *testing.T) {
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
  - name: db
    labels: {tier: db}
    postgres: {dsn: "postgres://nightowl:%[3]s@127.0.0.1:1/app?connect_timeout=1"}
components:
  - {name: Website, checks: {labels: {tier: web}}}
  - {name: Database, checks: {names: [db]}}
incidents: {auto_open: critical}
maintenance:
  - name: db-upgrade
    start: %[4]s
    end: %[5]s
    checks: {names: [db]}
    expect: ["*"]
    announce: true
    reason: Upgrading the database to a new major version.
`, failing.URL, markTarget, markDSN, start.Format(time.RFC3339), start.Add(time.Hour).Format(time.RFC3339), markError))
	a := startApp(t, cfg)
	base := "http://" + a.Addr()

	waitFor(t, "the auto-opened incident", func() bool {
		var list struct{ Incidents []struct{ ID string } }
		getJSON(t, "GET", base+"/api/v1/incidents", &list)
		return len(list.Incidents) > 0
	})
	// Make sure the failures the markers ride on are there to leak.
	var check struct{ Error, Cause string }
	waitFor(t, "the shop check's cause to carry the error marker", func() bool {
		getJSON(t, "GET", base+"/api/v1/checks/shop", &check)
		return strings.Contains(check.Cause, markError)
	})
	waitFor(t, "every check down", func() bool {
		var list struct{ Checks []struct{ Status string } }
		getJSON(t, "GET", base+"/api/v1/checks", &list)
		return len(list.Checks) == 3 && strings.Count(fmt.Sprint(list.Checks), "down") == 3
	})
	// The auto-opened incident's private note names the alert's cause.
	var inc struct{ Timeline []struct{ Text string } }
	getJSON(t, "GET", base+"/api/v1/incidents/inc-1", &inc)
	if !strings.Contains(fmt.Sprint(inc.Timeline), markError) {
		t.Fatalf("the auto-opened incident's timeline does not carry the error marker: %+v", inc)
	}
	post := func(path, body string) {
		t.Helper()
		resp, out := call(t, "POST", base+path, body, map[string]string{"Authorization": "Bearer " + adminToken})
		if resp.StatusCode/100 != 2 {
			t.Fatalf("POST %s: %d %s", path, resp.StatusCode, out)
		}
	}
	post("/api/v1/incidents", `{"title": "Checkout errors", "impact": "major", "components": ["Website"], "message": "We are investigating errors at checkout.", "public": true}`)
	var list struct{ Incidents []struct{ ID, Title string } }
	getJSON(t, "GET", base+"/api/v1/incidents", &list)
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
	for _, p := range []string{"/", "/history.atom", "/api/v2/summary.json", "/api/v2/status.json",
		"/badge/shop.svg", "/badge/api.svg", "/badge/db.svg", "/static/style.css"} {
		resp, body := call(t, "GET", base+p, "", nil)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", p, resp.StatusCode, body)
		}
		pages[p] = body
		for _, m := range []string{markTarget, markDSN, markError, markPrivate, "127.0.0.1", "connection refused", "status == 200"} {
			if strings.Contains(body, m) {
				t.Errorf("GET %s shows %q", p, m)
			}
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
	if resp, _ := call(t, "GET", base+"/badge/nosuch.svg", "", nil); resp.StatusCode != 404 {
		t.Errorf("badge of an unknown check: %d", resp.StatusCode)
	}
}
