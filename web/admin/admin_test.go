package admin

import (
	"bytes"
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/web/internal/kit"
)

func TestLocalAdminPath(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/admin", "/admin"},
		{"/admin/checks/web?x=1", "/admin/checks/web?x=1"},
		{"/admin/alerts#top", "/admin/alerts"},
		{"", ""},
		{"/", ""},
		{"/adminx", ""},
		{"//evil.example/admin", ""},
		{"https://evil.example/admin", ""},
		{"/admin/../api/v1/reload", ""},
		{"/admin\\@evil.example", ""},
		{"javascript:alert(1)", ""},
		{"/admin/\r\nSet-Cookie: x=1", ""},
	} {
		t.Run(tc.in, func(t *testing.T) {
			if got := localAdminPath(tc.in); got != tc.want {
				t.Errorf("localAdminPath(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestFlashNamesOnlyKnownMessages(t *testing.T) {
	for _, tc := range []struct{ query, want string }{
		{"done=acked&what=a-1", "Acknowledged alert a-1."},
		{"done=call+555-0100+now&what=x", ""},
		{"what=x", ""},
	} {
		r := httptest.NewRequest("GET", "/admin/alerts?"+tc.query, nil)
		if got := flashOf(r); got != tc.want {
			t.Errorf("%s: flash %q, want %q", tc.query, got, tc.want)
		}
	}
}

func TestLatencyChart(t *testing.T) {
	start := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	var results []nightowl.Result
	// Newest first, as the store gives them.
	for i := 9; i >= 0; i-- {
		r := nightowl.Result{Start: start.Add(time.Duration(i) * time.Minute), OK: true, Status: nightowl.StatusUp,
			Duration: nightowl.Seconds(time.Duration(10+i) * time.Millisecond)}
		if i == 4 {
			r.OK, r.Status, r.Duration = false, nightowl.StatusDown, nightowl.Seconds(80*time.Millisecond)
		}
		results = append(results, r)
	}
	c := newLatencyChart(results)
	if c.Empty || len(strings.Fields(c.Points)) != 10 || len(c.Fails) != 1 {
		t.Fatalf("chart: %+v", c)
	}
	if c.Max != "100 ms" || c.From != "12:00:00" || c.To != "12:09:00 UTC" {
		t.Errorf("labels: max %q, from %q, to %q", c.Max, c.From, c.To)
	}
	// The oldest run is at the left edge, the slowest one highest.
	if first := strings.Fields(c.Points)[0]; !strings.HasPrefix(first, "56,") {
		t.Errorf("first point %s", first)
	}
	if !strings.Contains(c.Summary, "10 runs") || !strings.Contains(c.Summary, "1 not up") {
		t.Errorf("summary %q", c.Summary)
	}
	if e := newLatencyChart(nil); !e.Empty {
		t.Errorf("no results: %+v", e)
	}
}

func TestUptimeChart(t *testing.T) {
	since := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	c := newUptimeChart([]nightowl.Rollup{
		{Start: since, Runs: 1000, Failures: 0},
		{Start: since.AddDate(0, 0, 2), Runs: 1000, Failures: 100},
	}, since, 30)
	if len(c.Bars) != 30 {
		t.Fatalf("%d bars", len(c.Bars))
	}
	if c.Bars[0].Class != "ok" || c.Bars[1].Class != "none" || c.Bars[2].Class != "major" || c.Bars[2].Uptime != "90.00%" {
		t.Errorf("bars: %+v %+v %+v", c.Bars[0], c.Bars[1], c.Bars[2])
	}
	if c.Bars[0].DownHeight != "" || c.Bars[2].DownHeight == "" {
		t.Errorf("the down part of a bar: %+v %+v", c.Bars[0], c.Bars[2])
	}
	if len(c.Worst) != 1 || c.Worst[0].Date != "Mar 3" || !strings.Contains(c.Summary, "95.000% of 2000 runs") {
		t.Errorf("worst %+v, summary %q", c.Worst, c.Summary)
	}
}

func TestFactText(t *testing.T) {
	for _, tc := range []struct {
		in   any
		want string
	}{
		{nil, "nil"},
		{"read-only", `"read-only"`},
		{float64(200), "200"},
		{true, "true"},
		{map[string]any{"lag": 3}, `{"lag":3}`},
	} {
		if got := factText(tc.in); got != tc.want {
			t.Errorf("factText(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
	long := factText(strings.Repeat("x", 5000))
	if len(long) > maxFact+50 || !strings.Contains(long, "bytes in all") {
		t.Errorf("a long fact is shown whole: %d bytes", len(long))
	}
}

// TestAdminTemplatesRender runs every admin template with data that uses
// every branch, as a responder with a session, so that a mistake in one
// shows here rather than on a page in an outage.
func TestAdminTemplatesRender(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	down := checkRow{Name: "db <main>", Href: checkHref("db <main>"), Type: "mysql", Status: nightowl.StatusDown,
		Icon: "✖", Since: at(now), Cause: `assertion "writable" failed`, Latency: "3.0 ms", LastRun: at(now)}
	up := checkRow{Name: "web", Href: checkHref("web"), Type: "http", Status: nightowl.StatusUp, Icon: "✔", Since: at(now)}
	alerts := []alertRow{{ID: "a1", Check: "db <main>", CheckHref: down.Href, State: nightowl.AlertFiring, Firing: true,
		Status: nightowl.StatusDown, Starts: at(now), OnCall: "ana (primary)", Unreached: []string{"step 1 (schedule night): nobody is on call in night"}},
		{ID: "a2", Check: "web", State: nightowl.AlertAcknowledged, AckedBy: "ana", Acked: at(now), Starts: at(now)}}
	ctx := kit.WithPrincipal(context.Background(), kit.Principal{User: "ana", Role: responder, Via: "session", CSRF: "tok"})
	r := httptest.NewRequest("GET", "/admin", nil).WithContext(ctx)
	pages := map[string]any{
		"admin.html":       dashboard{Checks: []checkRow{down, up}, Down: []checkRow{down}, Summary: "1 down, 1 up."},
		"admin_error.html": "Not found",
		"admin_check.html": checkPage{Row: down, Facts: []fact{{"read_only", "true"}},
			Assertions: []assertionRow{{Name: "writable", Severity: "critical", Outcome: "fails", Message: "read_only is true"}},
			Results:    []resultRow{{Start: at(now), Status: nightowl.StatusDown, Icon: "✖", Latency: "3.0 ms", Error: "boom"}},
			Events:     []eventRow{{Time: at(now), Kind: "status", From: "up", To: "down", Cause: "boom"}},
			Alerts:     newAlertTable(r, "check-alerts", alerts, "/admin/checks/db"),
			Latency:    newLatencyChart([]nightowl.Result{{Start: now, Status: nightowl.StatusDown, Duration: nightowl.Seconds(time.Millisecond)}}),
			Uptime:     newUptimeChart(nil, now, 90)},
		"admin_alerts.html": alertsPage{Open: newAlertTable(r, "open-alerts", alerts, "/admin/alerts"),
			Recent: newAlertTable(r, "recent-alerts", nil, "/admin/alerts")},
		"admin_maintenance.html": maintenancePage{Active: []maintRow{{ID: "m1", Name: "failover", From: at(now), Until: at(now)}},
			Form: maintForm{For: "1h"}, Checks: []string{"web"}},
		"admin_incidents.html": incidentsPage{Open: []incidentRow{{ID: "inc-1", Href: incidentHref("inc-1"), Title: "DB down",
			State: nightowl.IncidentInvestigating, Impact: nightowl.ImpactMajor, Created: at(now)}},
			Impacts: impacts, Components: []componentChoice{{Name: "Database", ID: "c-database", Checked: true}},
			Form: incidentForm{Impact: nightowl.ImpactMinor, Public: true}},
		"admin_incident.html": incidentPage{Incident: incidentRow{ID: "inc-1", Title: "DB down", State: nightowl.IncidentIdentified,
			Impact: nightowl.ImpactMajor, Created: at(now)}, States: incidentStates, Impacts: impacts,
			Updates:  []updateRow{{Time: at(now), By: "ana", Public: true, Message: "We are on it."}},
			Timeline: []timelineRow{{Time: at(now), Kind: "alert", Check: "db", CheckHref: checkHref("db"), Text: "fired"}},
			Form:     incidentForm{State: nightowl.IncidentIdentified, Impact: nightowl.ImpactMajor}},
		"admin_users.html": usersPage{Users: []userRow{{Name: "ana", Role: admin, You: true}, {Name: "bo", Role: viewer}},
			Roles: nightowl.Roles},
		"admin_oncall.html": oncallData{User: "ana", UserFeed: true, NewFeed: &newFeed{What: "Your calendar", URL: "https://n.example/calendar/s.ics"},
			Schedules: []oncallSchedule{{Name: "primary", Zone: "Europe/Berlin", Now: "cy", Layer: "override", Until: at(now),
				Shifts:       []oncallShift{{User: "cy", Layer: "override", From: "Mon 2 Mar 09:00", To: "Mon 2 Mar 12:00", Now: true}, {From: "Mon 2 Mar 12:00", To: "Mon 2 Mar 13:00"}},
				Overrides:    []overrideRow{{ID: "ov-1", User: "cy", From: "Mon 2 Mar 09:00", To: "Mon 2 Mar 12:00", Reason: "swap <main>", By: "cy"}, {ID: "ov-2", User: "bo", Ended: true}},
				Participants: []string{"ana", "bo"}, Form: overrideForm{User: "cy", From: "2025-03-01T13:00", To: "2025-03-01T14:00"}, Refused: true, Feed: true},
				{Name: "empty", Zone: "UTC"}}},
	}
	for name, data := range pages {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			p := &adminPage{Title: "x – nightowl", User: "ana", Role: responder, SignOut: true, CSRF: "tok", CanRespond: true,
				Flash: "done", Error: "oops", Down: 1, Nav: []navItem{{Href: "/admin", Label: "Checks", Current: true, Count: 1}}, Data: data}
			if err := adminTemplates.ExecuteTemplate(&buf, name, p); err != nil {
				t.Fatal(err)
			}
			html := buf.String()
			for _, want := range []string{`<main id="main"`, `class="skip"`, `name="csrf" value="tok"`, "<h1"} {
				if !strings.Contains(html, want) {
					t.Errorf("no %s in\n%s", want, html)
				}
			}
			if strings.Contains(html, "<main>") || strings.Contains(html, "db <main>") {
				t.Errorf("a check name is not escaped")
			}
			if strings.Contains(html, " style=") || strings.Contains(html, " onclick=") || strings.Contains(html, "<script>") {
				t.Errorf("inline style or script: the CSP forbids them")
			}
		})
	}
	var login bytes.Buffer
	if err := adminTemplates.ExecuteTemplate(&login, "login.html", loginPageData{Title: "Sign in", Token: "t", Next: "/admin", Error: "Wrong"}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`name="csrf" value="t"`, `name="next" value="/admin"`, `autocomplete="current-password"`, `role="alert"`} {
		if !strings.Contains(login.String(), want) {
			t.Errorf("sign-in page lacks %s", want)
		}
	}
}

// TestFlashNamesOnlyIDs: a link cannot put words of its own into the
// message a page shows after a form did its work.
func TestFlashNamesOnlyIDs(t *testing.T) {
	r := httptest.NewRequest("GET", "/admin?done=acked&what=abc123", nil)
	if got := flashOf(r); got != "Acknowledged alert abc123." {
		t.Errorf("flash = %q", got)
	}
	r = httptest.NewRequest("GET", "/admin?done=acked&what=x.+Your+session+expired:+sign+in+at+evil.example", nil)
	if got := flashOf(r); strings.Contains(got, "evil") || strings.Contains(got, "session") {
		t.Errorf("flash = %q", got)
	}
}

// TestFoldBlocked: each blocked check follows its root cause and is listed
// on the root's row; one whose root is not shown comes after the failing
// checks, as its rank says.
func TestFoldBlocked(t *testing.T) {
	v := func(name string, st nightowl.Status, by string) nightowl.CheckView {
		return nightowl.CheckView{Check: nightowl.Check{Name: name},
			State: nightowl.State{Check: name, Status: st, BlockedBy: by}}
	}
	views := []nightowl.CheckView{
		v("redis", nightowl.StatusDown, ""), v("db", nightowl.StatusDown, ""),
		v("w1", nightowl.StatusBlocked, "redis"), v("page", nightowl.StatusBlocked, "db"),
		v("w2", nightowl.StatusBlocked, "redis"), v("lost", nightowl.StatusBlocked, "elsewhere"),
		v("site", nightowl.StatusUp, ""),
	}
	rows := foldBlocked(views)
	var got []string
	for _, r := range rows {
		got = append(got, r.Name)
	}
	if want := []string{"redis", "w1", "w2", "db", "page", "lost", "site"}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("order %v, want %v", got, want)
	}
	if len(rows[0].Blocked) != 2 || rows[0].Blocked[1].Name != "w2" || len(rows[3].Blocked) != 1 {
		t.Errorf("blocked under redis %+v, under db %+v", rows[0].Blocked, rows[3].Blocked)
	}
}
