package app

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/template"

	"github.com/nightowl/nightowl"
)

const amToken = "am-token-0123456789abcdef"

// alertmanagerBody is what Alertmanager's webhook receiver sends, built
// from Alertmanager's own types (notify/webhook.Message wraps
// template.Data with the version and the group key).
func alertmanagerBody(t *testing.T, status string, alerts ...template.Alert) string {
	t.Helper()
	data := &template.Data{Receiver: "nightowl", Status: status, Alerts: alerts,
		GroupLabels: template.KV{"alertname": "ShopErrors"}, CommonLabels: template.KV{"alertname": "ShopErrors"},
		CommonAnnotations: template.KV{}, ExternalURL: "http://alertmanager.invalid:9093"}
	msg := struct {
		*template.Data
		Version  string `json:"version"`
		GroupKey string `json:"groupKey"`
	}{data, "4", `{}:{alertname="ShopErrors"}`}
	b, err := json.Marshal(&msg)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func shopAlert(status string) template.Alert {
	a := template.Alert{Status: status,
		Labels:      template.KV{"alertname": "ShopErrors", "service": "shop", "severity": "critical", "instance": "shop-1"},
		Annotations: template.KV{"summary": "Shop answers 5xx to 12% of requests"},
		StartsAt:    time.Now().Add(-time.Minute), GeneratorURL: "http://prometheus.invalid/graph", Fingerprint: "5e1f0c2a9b3d4e6f"}
	if status == "resolved" {
		a.EndsAt = time.Now()
	}
	return a
}

func postIngest(t *testing.T, u, token, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", u, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestIngestAlertmanager sends Alertmanager's payload in: the page reaches
// the webhook with the alert's labels, the same alert sent again is the
// same alert (no second page), an incident opens for the component that
// takes the integration's alerts in and the status page shows it down,
// and the resolved payload resolves it and tells the webhook.
func TestIngestAlertmanager(t *testing.T) {
	t.Parallel()
	h := newHook(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "nightowl.yaml")
	writeConfig(t, cfg, fmt.Sprintf(`storage: {sqlite: test.db}
checks:
  - name: site
    tcp: {addr: "127.0.0.1:1"}
    paused: true
integrations:
  - name: prometheus
    format: alertmanager
    token: %s
    labels: {team: infra}
components:
  - name: Shop
    alerts: [{integration: prometheus, match: {service: shop}}]
incidents: {auto_open: critical}
notify:
  send_resolved: true
  receivers:
    infra: [{webhook: {url: "%s/hook"}}]
  routes: [{match: {team: infra}, escalation: infra}]
  escalations:
    infra: {steps: [{notify: infra}]}
`, amToken, h.srv.URL))
	a := startApp(t, cfg)
	admin := adminToken(t, a)
	base := "http://" + a.Addr()
	url := base + "/api/v1/integrations/prometheus"

	if code, body := postIngest(t, url, "wrong-token-0123456789", alertmanagerBody(t, "firing", shopAlert("firing"))); code != 401 {
		t.Fatalf("wrong token: %d %s", code, body)
	}
	code, body := postIngest(t, url, amToken, alertmanagerBody(t, "firing", shopAlert("firing")))
	if code != 200 || !strings.Contains(body, `"firing": 1`) {
		t.Fatalf("firing: %d %s", code, body)
	}
	// Accepted means stored: the alert is open as the answer comes.
	open := a.Alerts().Open()
	if len(open) != 1 || open[0].Check != "integration:prometheus:5e1f0c2a9b3d4e6f" {
		t.Fatalf("open alerts after the 200: %+v", open)
	}
	waitFor(t, "the page", func() bool { return len(h.kinds()) >= 1 })
	page := h.last()
	if page.Kind != nightowl.MessageFiring || page.Alert.Labels["service"] != "shop" || page.Alert.Labels["integration"] != "prometheus" ||
		page.Alert.Labels["team"] != "infra" || page.Alert.Cause != "Shop answers 5xx to 12% of requests" || page.Alert.Severity != nightowl.SeverityCritical {
		t.Fatalf("page: %+v", page.Message)
	}

	// Alertmanager sends the group again every group_interval and
	// repeat_interval: the same alert, not a new page.
	for range 2 {
		if code, body := postIngest(t, url+"?token="+amToken, "", alertmanagerBody(t, "firing", shopAlert("firing"))); code != 200 {
			t.Fatalf("again: %d %s", code, body)
		}
	}
	if n := len(a.Alerts().Open()); n != 1 {
		t.Errorf("%d open alerts after the same alert thrice", n)
	}

	// The API shows where the alert came from.
	_, body = get(t, admin, base+"/api/v1/alerts?state=open")
	var listed struct {
		Alerts []struct {
			Check  string            `json:"check"`
			Labels map[string]string `json:"labels"`
			Source struct{ Integration, Key string }
		} `json:"alerts"`
	}
	if err := json.Unmarshal([]byte(body), &listed); err != nil || len(listed.Alerts) != 1 || listed.Alerts[0].Source.Integration != "prometheus" ||
		listed.Alerts[0].Source.Key != "5e1f0c2a9b3d4e6f" {
		t.Errorf("GET /api/v1/alerts: %s", body)
	}
	// So does the dashboard.
	if code, page := get(t, admin, base+"/admin/alerts"); code != 200 || !strings.Contains(page, `data-testid="alert-source">from prometheus`) {
		t.Errorf("admin alerts page: %d, source not shown", code)
	}
	// The dashboard link of its messages (the check's page) shows it.
	if code, page := get(t, admin, base+"/admin/checks/integration:prometheus:5e1f0c2a9b3d4e6f"); code != 200 ||
		!strings.Contains(page, "Alert from prometheus") || !strings.Contains(page, open[0].ID) {
		t.Errorf("the alert's dashboard page: %d", code)
	}

	// The component that takes the integration's shop alerts is down, and
	// an incident opened for it.
	_, summary := get(t, "", base+"/api/v2/summary.json")
	if !strings.Contains(summary, `"major_outage"`) {
		t.Errorf("status page: %s", summary)
	}
	_, incidents := get(t, admin, base+"/api/v1/incidents")
	if !strings.Contains(incidents, `"Shop"`) || !strings.Contains(incidents, open[0].ID) {
		t.Errorf("incidents: %s", incidents)
	}

	code, body = postIngest(t, url, amToken, alertmanagerBody(t, "resolved", shopAlert("resolved")))
	if code != 200 || !strings.Contains(body, `"resolved": 1`) {
		t.Fatalf("resolved: %d %s", code, body)
	}
	if n := len(a.Alerts().Open()); n != 0 {
		t.Errorf("%d open alerts after the resolution", n)
	}
	waitFor(t, "the resolved message", func() bool { return len(h.kinds()) >= 2 })
	if kinds := h.kinds(); strings.Join(kinds, ",") != "firing,resolved" {
		t.Errorf("messages: %v, want one page and its resolution", kinds)
	}
	_, summary = get(t, "", base+"/api/v2/summary.json")
	if strings.Contains(summary, `"major_outage"`) {
		t.Errorf("status page after the resolution: %s", summary)
	}
}

// TestIngestReload keeps an ingested alert open across a reload while its
// integration is configured, and resolves it once the integration is gone;
// a generic alert goes the same way as Alertmanager's.
func TestIngestReload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "nightowl.yaml")
	const head = `storage: {sqlite: test.db}
checks:
  - name: site
    tcp: {addr: "127.0.0.1:1"}
    paused: true
`
	const integrations = `integrations:
  - {name: jobs, format: generic, token: jobs-token-0123456789}
`
	writeConfig(t, cfg, head+integrations)
	a := startApp(t, cfg)
	url := "http://" + a.Addr() + "/api/v1/integrations/jobs"
	if code, body := postIngest(t, url, "jobs-token-0123456789", `{"dedup_key": "backup", "title": "Nightly backup failed"}`); code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	if code, body := postIngest(t, url, "jobs-token-0123456789", `{"dedup_key": "backup", "state": "over"}`); code != 400 || !strings.Contains(body, "state: must be firing or resolved") {
		t.Fatalf("bad state: %d %s", code, body)
	}
	ctx := t.Context()
	if err := a.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if open := a.Alerts().Open(); len(open) != 1 || open[0].Cause != "Nightly backup failed" {
		t.Fatalf("after a reload that keeps the integration: %+v", open)
	}
	writeConfig(t, cfg, head)
	if err := a.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if open := a.Alerts().Open(); len(open) != 0 {
		t.Errorf("after the integration was removed: %+v", open)
	}
	if code, _ := postIngest(t, url, "jobs-token-0123456789", `{"dedup_key": "backup", "title": "t"}`); code != 404 {
		t.Errorf("a removed integration answers %d", code)
	}
}
