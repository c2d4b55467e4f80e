package crashtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/template"

	"github.com/nightowl/nightowl"
)

// amToken is the integration's secret in the test's config.
const amToken = "s3cret-alertmanager-token"

// alertmanagerPost posts an Alertmanager webhook (version 4) built from
// Alertmanager's own types to the integration, and returns the status.
func alertmanagerPost(t *testing.T, s *server, status string) int {
	t.Helper()
	a := template.Alert{Status: status, Fingerprint: "d3adb33fc0ffee00",
		Labels:      template.KV{"alertname": "ShopErrors", "service": "shop", "severity": "critical"},
		Annotations: template.KV{"summary": "5xx above 5% on the shop"},
		StartsAt:    time.Now().Add(-time.Minute).UTC(), GeneratorURL: "http://prometheus.invalid:9090/graph"}
	if status == "resolved" {
		a.EndsAt = time.Now().UTC()
	}
	data := &template.Data{Receiver: "nightowl", Status: status, Alerts: template.Alerts{a},
		GroupLabels: template.KV{"alertname": "ShopErrors"}, CommonLabels: a.Labels, CommonAnnotations: a.Annotations,
		ExternalURL: "http://alertmanager.invalid:9093"}
	// Alertmanager's notify/webhook.Message: the data, the protocol's
	// version and the group's key.
	body, err := json.Marshal(struct {
		*template.Data
		Version         string `json:"version"`
		GroupKey        string `json:"groupKey"`
		TruncatedAlerts uint64 `json:"truncatedAlerts"`
	}{data, "4", `{}:{alertname="ShopErrors"}`, 0})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", "http://"+s.addr+"/api/v1/integrations/prometheus", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+amToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

var codeRE = regexp.MustCompile(`code is ([0-9]{6})`)

// addWebhookContact adds, as the token's user, a webhook contact method
// that posts to the inbox's receiver name, and verifies it with the code
// of its test message.
func addWebhookContact(t *testing.T, s *server, in *inbox, tok, name string) {
	t.Helper()
	do := func(method, path, body string) (int, []byte) {
		req, _ := http.NewRequest(method, "http://"+s.addr+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := s.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	code, b := do("POST", "/api/v1/me/contacts", fmt.Sprintf(`{"kind": "hook", "address": %q}`, in.url(name)))
	if code != http.StatusCreated {
		t.Fatalf("add %s's contact method: %d %s", name, code, b)
	}
	var added struct{ Contact struct{ ID string } }
	json.Unmarshal(b, &added)
	tests := in.find(name, nightowl.MessageTest, "")
	if len(tests) != 1 {
		t.Fatalf("%s's test messages: %s", name, in)
	}
	m := codeRE.FindStringSubmatch(tests[0].alert.Cause)
	if m == nil {
		t.Fatalf("no code in %q", tests[0].alert.Cause)
	}
	if code, b := do("POST", "/api/v1/me/contacts/"+added.Contact.ID+"/verify", `{"code": "`+m[1]+`"}`); code != http.StatusOK {
		t.Fatalf("verify %s's contact method: %d %s", name, code, b)
	}
}

// TestAlertmanagerPagesWhoIsOnCall, through the real binary: Alertmanager
// sends an alert; Ana, on call in primary, is paged on her own webhook
// contact method, by name; nobody acknowledges, so Bo, on call in
// secondary, is paged after the step's delay; the link in Ana's page
// acknowledges; Alertmanager sends the resolution; both hear it.
func TestAlertmanagerPagesWhoIsOnCall(t *testing.T) {
	in := newInbox(t)
	srv := newServer(t, filepath.Join(t.TempDir(), "nightowl.db"), fmt.Sprintf(`integrations:
  - {name: prometheus, format: alertmanager, token: %q}
schedules:
  - name: primary
    timezone: Europe/Berlin
    layers: [{participants: [ana], start: "2026-01-05 09:00", length: weekly}]
  - name: secondary
    timezone: America/New_York
    layers: [{participants: [bo], start: "2026-01-05 09:00", length: weekly}]
notify:
  contacts:
    hook: {label: Webhook, webhook: {}}
  routes: [{escalation: oncall}]
  escalations:
    oncall:
      steps:
        - {schedule: primary}
        - {after: 4s, schedule: secondary}
  send_resolved: true
`, amToken))
	// Links in messages point at public_url; the test posts to the
	// same path here.
	withPublicURL(t, srv, "http://owl.invalid")
	srv.start()
	addWebhookContact(t, srv, in, srv.token, "ana")
	addWebhookContact(t, srv, in, cliToken(t, srv.bin, srv.cfg, "bo"), "bo")

	if code := alertmanagerPost(t, srv, "firing"); code != http.StatusOK {
		t.Fatalf("the firing payload: %d", code)
	}
	fired := time.Now()
	waitFor(t, 20*time.Second, "Ana's page", in.String, func() bool { return len(in.find("ana", nightowl.MessageFiring, "")) > 0 })
	page := in.find("ana", nightowl.MessageFiring, "")[0]
	if strings.Join(page.alert.OnCall, ",") != "ana (primary)" || page.alert.Labels["alertname"] != "ShopErrors" ||
		page.alert.Labels["integration"] != "prometheus" || !strings.Contains(page.alert.Cause, "5xx above 5%") {
		t.Fatalf("Ana's page: %+v", page.alert)
	}
	// The same alert again (Alertmanager repeats itself) is no new page.
	if code := alertmanagerPost(t, srv, "firing"); code != http.StatusOK {
		t.Fatalf("the repeated payload: %d", code)
	}
	waitFor(t, 20*time.Second, "Bo's page", in.String, func() bool { return len(in.find("bo", nightowl.MessageFiring, "")) > 0 })
	if waited := time.Since(fired); waited < 3*time.Second {
		t.Errorf("Bo was paged %s after the alert, before the step's 4s", waited)
	}
	bo := in.find("bo", nightowl.MessageFiring, "")[0]
	if strings.Join(bo.alert.OnCall, ",") != "ana (primary),bo (secondary)" || bo.alert.ID != page.alert.ID {
		t.Fatalf("Bo's page: %+v", bo.alert)
	}
	// Ana acknowledges by the link in her page.
	ackURL := page.ackURL
	link, err := url.Parse(ackURL)
	if err != nil || ackURL == "" {
		t.Fatalf("no acknowledgement link in Ana's page: %q", ackURL)
	}
	resp, err := http.PostForm("http://"+srv.addr+link.Path+"?"+link.RawQuery, url.Values{"by": {"ana"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("ack by link: %d", resp.StatusCode)
	}
	waitFor(t, 20*time.Second, "the acknowledgements", in.String, func() bool {
		return len(in.find("ana", nightowl.MessageAcknowledged, "")) == 1 && len(in.find("bo", nightowl.MessageAcknowledged, "")) == 1
	})
	if code := alertmanagerPost(t, srv, "resolved"); code != http.StatusOK {
		t.Fatalf("the resolved payload: %d", code)
	}
	waitFor(t, 20*time.Second, "the resolutions", in.String, func() bool {
		return len(in.find("ana", nightowl.MessageResolved, "")) == 1 && len(in.find("bo", nightowl.MessageResolved, "")) == 1
	})
	time.Sleep(time.Second)
	for _, who := range []string{"ana", "bo"} {
		if n := len(in.find(who, nightowl.MessageFiring, "")); n != 1 {
			t.Errorf("%s was paged %d times, want once; %s", who, n, in)
		}
	}
}

// withPublicURL adds server.public_url to the server's config.
func withPublicURL(t *testing.T, s *server, u string) {
	t.Helper()
	b, err := os.ReadFile(s.cfg)
	if err != nil {
		t.Fatal(err)
	}
	listen := fmt.Sprintf("server: {listen: %q}", s.addr)
	if !bytes.Contains(b, []byte(listen)) {
		t.Fatalf("no %s in the config", listen)
	}
	b = bytes.Replace(b, []byte(listen), []byte(fmt.Sprintf("server: {listen: %q, public_url: %q}", s.addr, u)), 1)
	if err := os.WriteFile(s.cfg, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
