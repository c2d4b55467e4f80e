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
)

// TestAPIRefusesControlCharacters: free text with escape sequences or
// characters that reorder text is refused where it is decoded, naming the
// field, and nothing is made; a newline in a message is fine.
func TestAPIRefusesControlCharacters(t *testing.T) {
	t.Parallel()
	s := site(t)
	cfg := filepath.Join(t.TempDir(), "nightowl.yaml")
	writeConfig(t, cfg, fmt.Sprintf(checksYAML, s.URL))
	a := startApp(t, cfg)
	admin := adminToken(t, a)
	base := "http://" + a.Addr()
	auth := map[string]string{"Authorization": "Bearer " + admin, "Content-Type": "application/json"}
	for _, tc := range []struct{ name, path, body, field string }{
		{"maintenance reason", "/api/v1/maintenance", `{"checks": "web-ok", "for": "1h", "reason": "deploy\u001b[2J"}`, "reason"},
		{"maintenance name", "/api/v1/maintenance", `{"name": "db\u202eevil", "checks": "web-ok", "for": "1h"}`, "name"},
		{"maintenance check name", "/api/v1/maintenance", `{"checks": "web-ok,evil\u001b[2J", "expect": ["*"], "for": "1h"}`, "checks.names[1]"},
		{"maintenance label", "/api/v1/maintenance", `{"checks": {"names": ["web-ok"], "labels": {"tier": "web\u202e"}}, "expect": ["*"], "for": "1h"}`, "checks.labels.tier"},
		{"maintenance expect", "/api/v1/maintenance", `{"checks": "web-ok", "expect": ["*", "a\u202e"], "for": "1h"}`, "expect[1]"},
		{"incident title", "/api/v1/incidents", `{"title": "down\u0007", "message": "looking"}`, "title"},
		{"incident message", "/api/v1/incidents", `{"title": "down", "message": "looking\u009b31m"}`, "message"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := call(t, "POST", base+tc.path, tc.body, auth)
			if resp.StatusCode != 400 || !strings.Contains(body, `"code": "invalid"`) || !strings.Contains(body, `"message": "`+tc.field+` must not contain`) {
				t.Fatalf("%d %s", resp.StatusCode, body)
			}
		})
	}
	var ws struct{ Maintenance []nightowl.MaintenanceView }
	getJSON(t, admin, "GET", base+"/api/v1/maintenance", &ws)
	var incs struct{ Incidents []nightowl.Incident }
	getJSON(t, admin, "GET", base+"/api/v1/incidents", &incs)
	if len(ws.Maintenance) != 0 || len(incs.Incidents) != 0 {
		t.Fatalf("a refused request made something: %+v %+v", ws, incs)
	}
	resp, body := call(t, "POST", base+"/api/v1/incidents", `{"title": "Checkout slow", "message": "Looking into it.\nMore soon."}`, auth)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("a message with a newline: %d %s", resp.StatusCode, body)
	}
}

// TestPublishRefusesControlCharacters: the title and message of a
// publication are what everyone is shown, and are held to the same
// characters as any other free text, through the API and the admin form;
// a refused publication leaves the incident unpublished.
func TestPublishRefusesControlCharacters(t *testing.T) {
	t.Parallel()
	s := site(t)
	cfg := filepath.Join(t.TempDir(), "nightowl.yaml")
	writeConfig(t, cfg, fmt.Sprintf(checksYAML, s.URL))
	a := startApp(t, cfg)
	admin := adminToken(t, a)
	base := "http://" + a.Addr()
	auth := map[string]string{"Authorization": "Bearer " + admin, "Content-Type": "application/json"}
	resp, body := call(t, "POST", base+"/api/v1/incidents", `{"title": "Payments fail", "message": "Staff only.", "public": false}`, auth)
	var opened struct{ Incident nightowl.Incident }
	if resp.StatusCode != http.StatusCreated || json.Unmarshal([]byte(body), &opened) != nil {
		t.Fatalf("open: %d %s", resp.StatusCode, body)
	}
	id := opened.Incident.ID
	unpublished := func(t *testing.T) {
		t.Helper()
		var got struct{ Incident nightowl.Incident }
		getJSON(t, admin, "GET", base+"/api/v1/incidents/"+id, &got)
		if got.Incident.Published() || got.Incident.Title != "Payments fail" {
			t.Fatalf("a refused publication changed the incident: %+v", got.Incident)
		}
	}

	t.Run("api", func(t *testing.T) {
		for _, tc := range []struct{ name, body, field string }{
			{"override in the title", `{"title": "Payments \u202eliaf"}`, "title"},
			{"escape in the title", `{"title": "Payments\u001b[2J"}`, "title"},
			{"newline in the title", `{"title": "Payments\nfail"}`, "title"},
			{"escape in the message", `{"message": "We are on it\u001b]8;;http://x\u0007"}`, "message"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				resp, body := call(t, "POST", base+"/api/v1/incidents/"+id+"/publish", tc.body, auth)
				if resp.StatusCode != 400 || !strings.Contains(body, `"code": "invalid"`) || !strings.Contains(body, `"message": "`+tc.field+` must not contain`) {
					t.Fatalf("%d %s", resp.StatusCode, body)
				}
				unpublished(t)
			})
		}
	})

	t.Run("admin form", func(t *testing.T) {
		userToken(t, a, "ana", "responder")
		ana := newBrowser(t, base)
		ana.signIn("ana")
		path := "/admin/incidents/" + id
		for _, tc := range []struct{ name, title, message, field string }{
			{"override in the title", "Payments \u202eliaf", "", "title"},
			{"escape in the title", "Payments\x1b[2J", "", "title"},
			{"escape in the message", "Payments fail", "On it\x1b[31m", "message"},
		} {
			// One browser, bound to this test: no subtests.
			_, page := ana.get(path)
			resp, body := ana.post(path+"/publish", url.Values{"csrf": {csrfIn(t, page)}, "title": {tc.title}, "message": {tc.message}})
			if resp.StatusCode != 400 || !strings.Contains(body, "Could not publish: "+tc.field+" must not contain") {
				t.Errorf("%s: %d\n%s", tc.name, resp.StatusCode, body)
			}
			unpublished(t)
		}
	})
}

// TestActionParamsRefuseControlCharacters: a parameter whose pattern lets
// anything through still cannot carry characters that would show an
// approver a command other than the one that runs, through the API or the
// form; nothing is requested.
func TestActionParamsRefuseControlCharacters(t *testing.T) {
	t.Parallel()
	s := site(t)
	cfg := filepath.Join(t.TempDir(), "nightowl.yaml")
	writeConfig(t, cfg, fmt.Sprintf(checksYAML, s.URL)+`actions:
  - name: note
    run: [/bin/echo, "{{text}}"]
    params: {text: {pattern: "^.+$"}}
`)
	a := startApp(t, cfg)
	admin := adminToken(t, a)
	base := "http://" + a.Addr()
	ana := actionAPI{t, base, userToken(t, a, "ana", nightowl.RoleResponder)}
	for _, tc := range []struct{ name, value string }{
		{"override", "safe \u202e; rm -rf /"},
		{"escape", "safe\x1b[2K"},
	} {
		if code, _, msg := ana.request("note", map[string]string{"text": tc.value}, "", "to see"); code != 400 ||
			!strings.HasPrefix(msg, "params.text must not contain") {
			t.Errorf("api, %s: %d %q", tc.name, code, msg)
		}
	}
	b := newBrowser(t, base)
	b.signIn("ana")
	_, page := b.get("/admin/actions")
	if resp, body := b.post("/admin/actions/note/request", url.Values{"csrf": {csrfIn(t, page)}, "param.text": {"safe \u202e; rm -rf /"},
		"reason": {"to see"}}); resp.StatusCode != 400 || !strings.Contains(body, "params.text must not contain") {
		t.Errorf("form: %d\n%s", resp.StatusCode, body)
	}
	var list struct{ Requests []nightowl.ActionRequest }
	getJSON(t, admin, "GET", base+"/api/v1/action-requests", &list)
	if len(list.Requests) != 0 {
		t.Fatalf("a refused request was made: %+v", list.Requests)
	}
	if code, _, msg := ana.request("note", map[string]string{"text": "plain words"}, "", "to see"); code != 201 {
		t.Fatalf("a plain parameter: %d %q", code, msg)
	}
}

// TestMaintenanceFormRefusesControlCharacters: the dashboard's maintenance
// form holds its checks and expectations to the same characters as the
// API; nothing is started.
func TestMaintenanceFormRefusesControlCharacters(t *testing.T) {
	t.Parallel()
	s := site(t)
	cfg := filepath.Join(t.TempDir(), "nightowl.yaml")
	writeConfig(t, cfg, fmt.Sprintf(checksYAML, s.URL))
	a := startApp(t, cfg)
	admin := adminToken(t, a)
	base := "http://" + a.Addr()
	userToken(t, a, "ana", "responder")
	b := newBrowser(t, base)
	b.signIn("ana")
	for _, tc := range []struct{ field, checks, expect string }{
		{"checks", "web-ok, evil\x1b[2J", "*"},
		{"expect", "web-ok", "*, a\u202eb"},
	} {
		_, page := b.get("/admin/maintenance")
		resp, body := b.post("/admin/maintenance", url.Values{"csrf": {csrfIn(t, page)}, "checks": {tc.checks}, "expect": {tc.expect}, "for": {"1h"}})
		if resp.StatusCode != 400 || !strings.Contains(body, "Could not start maintenance: "+tc.field+" must not contain") {
			t.Errorf("%s: %d\n%s", tc.field, resp.StatusCode, body)
		}
	}
	var ws struct{ Maintenance []nightowl.MaintenanceView }
	getJSON(t, admin, "GET", base+"/api/v1/maintenance", &ws)
	if len(ws.Maintenance) != 0 {
		t.Fatalf("a refused form started maintenance: %+v", ws.Maintenance)
	}
}
