package app

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/audit"
)

// TestAuditRecordsWhatPeopleDo signs in (and fails to), acknowledges an
// alert, starts and ends maintenance, opens and updates an incident, adds a
// user on the dashboard and signs out, and finds each in the audit log,
// which verifies.
func TestAuditRecordsWhatPeopleDo(t *testing.T) {
	s, down := switchSite(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "nightowl.yaml")
	writeConfig(t, cfg, fmt.Sprintf(`storage: {sqlite: test.db}
defaults: {interval: 1s, timeout: 1s, fail_after: 1}
checks:
  - name: shop
    labels: {tier: web}
    http: {url: "%s/"}
components:
  - {name: Website, checks: {labels: {tier: web}}}
`, s.URL))
	a := startApp(t, cfg)
	base := "http://" + a.Addr()
	userToken(t, a, "ana", nightowl.RoleResponder)
	down.Store(true)

	login := func(name, password string) *http.Response {
		resp, _ := call(t, "POST", base+"/api/v1/login", fmt.Sprintf(`{"name": %q, "password": %q}`, name, password), jsonType)
		return resp
	}
	if resp := login("ana", "not her password"); resp.StatusCode != 401 {
		t.Fatalf("wrong password: %d", resp.StatusCode)
	}
	// A password typed into the name field must not be kept.
	if resp := login("hunter2-my-secret", "x"); resp.StatusCode != 401 {
		t.Fatalf("unknown name: %d", resp.StatusCode)
	}
	resp := login("ana", "correct horse battery staple")
	if resp.StatusCode != 200 {
		t.Fatalf("sign in: %d", resp.StatusCode)
	}
	cookie := resp.Cookies()[0]
	csrf := map[string]string{"X-CSRF-Token": csrfOf(t, a, base, cookie), "Content-Type": "application/json"}

	var alertID string
	waitFor(t, "the alert", func() bool {
		open := a.Alerts().Open()
		if len(open) == 1 {
			alertID = open[0].ID
		}
		return alertID != ""
	})
	if resp, body := call(t, "POST", base+"/api/v1/alerts/"+alertID+"/ack", "", csrf, cookie); resp.StatusCode != 200 {
		t.Fatalf("ack: %d %s", resp.StatusCode, body)
	}
	resp, body := call(t, "POST", base+"/api/v1/maintenance", `{"name": "failover", "checks": "tier=web", "expect": ["*"], "for": "1h", "reason": "db move"}`, csrf, cookie)
	if resp.StatusCode != 200 && resp.StatusCode != 201 {
		t.Fatalf("start maintenance: %d %s", resp.StatusCode, body)
	}
	var started struct{ Maintenance nightowl.Window }
	json.Unmarshal([]byte(body), &started)
	if resp, body := call(t, "POST", base+"/api/v1/maintenance/failover/end", "", csrf, cookie); resp.StatusCode != 200 {
		t.Fatalf("end maintenance: %d %s", resp.StatusCode, body)
	}
	resp, body = call(t, "POST", base+"/api/v1/incidents", `{"title": "Shop down", "impact": "major", "components": ["Website"], "message": "Looking."}`, csrf, cookie)
	if resp.StatusCode != 200 && resp.StatusCode != 201 {
		t.Fatalf("open incident: %d %s", resp.StatusCode, body)
	}
	var opened struct{ Incident nightowl.Incident }
	json.Unmarshal([]byte(body), &opened)
	if resp, body := call(t, "POST", base+"/api/v1/incidents/"+opened.Incident.ID+"/updates", `{"state": "identified", "message": "Found it."}`, csrf, cookie); resp.StatusCode != 200 && resp.StatusCode != 201 {
		t.Fatalf("update incident: %d %s", resp.StatusCode, body)
	}
	if resp, _ := call(t, "POST", base+"/api/v1/logout", "", csrf, cookie); resp.StatusCode != 200 {
		t.Fatalf("sign out: %d", resp.StatusCode)
	}
	// Signing out again with the ended session is nothing to record.
	call(t, "POST", base+"/api/v1/logout", "", csrf, cookie)

	// An admin adds a user on the dashboard.
	userToken(t, a, "root", nightowl.RoleAdmin)
	admin := newBrowser(t, base)
	admin.signIn("root")
	_, page := admin.get("/admin/users")
	if resp, body := admin.post("/admin/users", url.Values{"csrf": {csrfIn(t, page)}, "name": {"vic"}, "role": {"viewer"}, "password": {"another good password"}}); resp.StatusCode >= 400 {
		t.Fatalf("add user on the dashboard: %d %s", resp.StatusCode, body)
	}

	var got struct{ Entries []nightowl.AuditEntry }
	if code := getJSON(t, "GET", base+"/api/v1/audit?limit=1000", &got); code != 200 {
		t.Fatalf("GET /api/v1/audit: %d", code)
	}
	var lines []string
	for i := len(got.Entries) - 1; i >= 0; i-- {
		e := got.Entries[i]
		lines = append(lines, strings.Join([]string{e.Actor, e.Action, e.Subject, e.Detail}, " | "))
	}
	want := []string{
		"ana | login.failed | ana | wrong password, from 127.0.0.1",
		"unknown | login.failed | unknown | unknown name, from 127.0.0.1",
		"ana | login | ana | from 127.0.0.1",
		"ana | alert.ack | " + alertID + " | check shop",
		"ana | maintenance.start | " + started.Maintenance.ID + " | name failover; checks tier=web; expect *; until " + started.Maintenance.End.UTC().Format("2006-01-02T15:04:05Z07:00") + "; reason db move",
		"ana | maintenance.end | " + started.Maintenance.ID + " | name failover",
		"ana | incident.open | " + opened.Incident.ID + ` | "Shop down"; impact major; components Website; public true`,
		"ana | incident.update | " + opened.Incident.ID + " | note; state identified",
		"ana | logout | ana | ",
		"root | login | root | from 127.0.0.1",
		"root | user.add | vic | role viewer",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("the audit log:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	for _, e := range got.Entries {
		if strings.Contains(e.Actor+e.Subject+e.Detail, "hunter2") || strings.Contains(e.Detail, "horse") {
			t.Errorf("a secret in the log: %+v", e)
		}
	}

	if code := getJSON(t, "GET", base+"/api/v1/audit?action=login&actor=ana", &got); code != 200 || len(got.Entries) != 2 {
		t.Errorf("filtered: %d %+v", code, got.Entries)
	}
	if code := getJSON(t, "GET", base+"/api/v1/audit?since=yesterday", nil); code != 400 {
		t.Errorf("a bad since: %d", code)
	}
	if resp, _ := call(t, "GET", base+"/api/v1/audit", "", map[string]string{"Authorization": "Bearer " + userToken(t, a, "ana", nightowl.RoleResponder)}); resp.StatusCode != 403 {
		t.Errorf("a responder reading the audit log: %d, want 403", resp.StatusCode)
	}

	rep, err := audit.Verify(t.Context(), a.store)
	if err != nil || !rep.OK() || rep.Entries != int64(len(want)) {
		t.Fatalf("verify: %v %s", err, rep)
	}
}
