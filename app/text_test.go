package app

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nightowl/nightowl"
)

// TestAPIRefusesControlCharacters: free text with escape sequences or
// characters that reorder text is refused where it is decoded, naming the
// field, and nothing is made; a newline in a message is fine.
func TestAPIRefusesControlCharacters(t *testing.T) {
	s := site(t)
	cfg := filepath.Join(t.TempDir(), "nightowl.yaml")
	writeConfig(t, cfg, fmt.Sprintf(checksYAML, s.URL))
	a := startApp(t, cfg)
	base := "http://" + a.Addr()
	auth := map[string]string{"Authorization": "Bearer " + adminToken, "Content-Type": "application/json"}
	for _, tc := range []struct{ name, path, body, field string }{
		{"maintenance reason", "/api/v1/maintenance", `{"checks": "web-ok", "for": "1h", "reason": "deploy\u001b[2J"}`, "reason"},
		{"maintenance name", "/api/v1/maintenance", `{"name": "db\u202eevil", "checks": "web-ok", "for": "1h"}`, "name"},
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
	getJSON(t, "GET", base+"/api/v1/maintenance", &ws)
	var incs struct{ Incidents []nightowl.Incident }
	getJSON(t, "GET", base+"/api/v1/incidents", &incs)
	if len(ws.Maintenance) != 0 || len(incs.Incidents) != 0 {
		t.Fatalf("a refused request made something: %+v %+v", ws, incs)
	}
	resp, body := call(t, "POST", base+"/api/v1/incidents", `{"title": "Checkout slow", "message": "Looking into it.\nMore soon."}`, auth)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("a message with a newline: %d %s", resp.StatusCode, body)
	}
}
