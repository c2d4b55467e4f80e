package app

import (
	"net/http"
	"path/filepath"
	"testing"
	"time"

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
