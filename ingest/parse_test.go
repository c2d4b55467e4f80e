package ingest_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/template"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/ingest"
)

// amPayload is what Alertmanager sends a webhook receiver, built from its
// own types.
func amPayload(t testing.TB, status string, alerts ...template.Alert) []byte {
	t.Helper()
	data := &template.Data{
		Receiver: "nightowl", Status: status, Alerts: alerts,
		GroupLabels:       template.KV{"alertname": "HighLatency"},
		CommonLabels:      template.KV{"alertname": "HighLatency"},
		CommonAnnotations: template.KV{},
		ExternalURL:       "http://alertmanager.example:9093",
	}
	// Alertmanager's notify/webhook.Message: the data with the protocol
	// version and the group's key beside it.
	msg := struct {
		*template.Data
		Version         string `json:"version"`
		GroupKey        string `json:"groupKey"`
		TruncatedAlerts uint64 `json:"truncatedAlerts"`
	}{data, "4", `{}:{alertname="HighLatency"}`, 0}
	b, err := json.Marshal(&msg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func amAlert(status, fp string, labels template.KV) template.Alert {
	return template.Alert{
		Status: status, Labels: labels,
		Annotations:  template.KV{"summary": "p99 latency above 2s on " + labels["instance"], "description": "for 10 minutes"},
		StartsAt:     time.Date(2026, 12, 8, 1, 0, 0, 0, time.UTC),
		GeneratorURL: "http://prometheus.example:9090/graph?g0.expr=x", Fingerprint: fp,
	}
}

func TestParseAlertmanager(t *testing.T) {
	body := amPayload(t, "firing",
		amAlert("firing", "1a2b3c4d5e6f7a8b", template.KV{"alertname": "HighLatency", "instance": "shop-1", "severity": "critical"}),
		amAlert("resolved", "0f0f0f0f0f0f0f0f", template.KV{"alertname": "HighLatency", "instance": "shop-2", "severity": "warning"}),
	)
	got, err := ingest.ParseAlertmanager(body)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("got %d alerts, want 2", len(got))
	}
	a := got[0]
	if a.Key != "1a2b3c4d5e6f7a8b" || !a.Firing || a.Severity != ingest.Critical || a.Title != "p99 latency above 2s on shop-1" ||
		a.Description != "for 10 minutes" || a.Labels["instance"] != "shop-1" || a.URL == "" || a.StartsAt.IsZero() {
		t.Errorf("first alert: %+v", a)
	}
	if b := got[1]; b.Firing || b.Severity != ingest.Warning || b.Key != "0f0f0f0f0f0f0f0f" {
		t.Errorf("second alert: %+v", b)
	}
}

// A Grafana webhook contact point's payload, in the shape its docs give.
const grafanaBody = `{
  "receiver": "nightowl", "status": "firing", "orgId": 1,
  "alerts": [{
    "status": "firing",
    "labels": {"alertname": "High memory usage", "team": "blue", "zone": "us-1"},
    "annotations": {"description": "The system has high memory usage", "runbook_url": "https://runbooks.example/1234", "summary": "This alert was triggered for zone us-1"},
    "startsAt": "2021-10-12T09:51:03.157076+02:00", "endsAt": "0001-01-01T00:00:00Z",
    "generatorURL": "https://grafana.example/alerting/1afz29v7z/edit",
    "fingerprint": "c6eadffa33fcdf37",
    "silenceURL": "https://grafana.example/alerting/silence/new?alertmanager=grafana&matchers=alertname%3DT2",
    "dashboardURL": "https://grafana.example/d/abc", "panelURL": "https://grafana.example/d/abc?viewPanel=3",
    "values": {"B": 44.23943737541908, "C": 1},
    "valueString": "[ var='B' labels={} value=44.2 ]"
  }, {
    "status": "resolved",
    "labels": {"alertname": "High CPU usage", "team": "blue", "zone": "eu-1", "severity": "info"},
    "annotations": {},
    "startsAt": "2021-10-12T09:56:03.157076+02:00", "endsAt": "2021-10-12T10:06:03.157076+02:00",
    "generatorURL": "", "fingerprint": "bc97ff14869b13e3", "silenceURL": "", "dashboardURL": "", "panelURL": "", "values": null
  }],
  "groupLabels": {}, "commonLabels": {"team": "blue"}, "commonAnnotations": {},
  "externalURL": "https://grafana.example/", "version": "1",
  "groupKey": "{}:{}", "truncatedAlerts": 0,
  "title": "[FIRING:1, RESOLVED:1]  (blue)", "state": "alerting",
  "message": "**Firing**\n\nValue: B=44.2\nLabels:\n - alertname = High memory usage\n"
}`

func TestParseGrafana(t *testing.T) {
	got, err := ingest.ParseGrafana([]byte(grafanaBody))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("got %d alerts", len(got))
	}
	a := got[0]
	if a.Key != "c6eadffa33fcdf37" || !a.Firing || a.Title != "This alert was triggered for zone us-1" ||
		a.URL != "https://grafana.example/d/abc?viewPanel=3" || !strings.Contains(a.Description, "value=44.2") || a.Labels["team"] != "blue" {
		t.Errorf("first alert: %+v", a)
	}
	if b := got[1]; b.Firing || b.Severity != ingest.Info || b.Title != "High CPU usage" || b.URL != "" {
		t.Errorf("second alert: %+v", b)
	}
}

func TestParseGeneric(t *testing.T) {
	one, err := ingest.ParseGeneric([]byte(`{"title": "Backup failed", "severity": "warning", "labels": {"service": "db"}, "dedup_key": "backup-db", "description": "exit 1", "url": "https://ci.example/1"}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(one) != 1 || !one[0].Firing || one[0].Severity != ingest.Warning || one[0].Key != "backup-db" || one[0].Labels["service"] != "db" {
		t.Errorf("one: %+v", one)
	}
	many, err := ingest.ParseGeneric([]byte(`{"alerts": [{"dedup_key": "a", "state": "resolved"}, {"dedup_key": "b", "title": "B down"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(many) != 2 || many[0].Firing || !many[1].Firing || many[1].Severity != ingest.Critical {
		t.Errorf("many: %+v", many)
	}
}

func TestParseErrors(t *testing.T) {
	fired := amAlert("firing", "aa", template.KV{"alertname": "X"})
	noFP := fired
	noFP.Fingerprint = ""
	badStatus := fired
	badStatus.Status = "pending"
	tooMany := make([]template.Alert, ingest.MaxAlerts+1)
	for i := range tooMany {
		tooMany[i] = fired
	}
	manyLabels := template.KV{}
	for i := range ingest.MaxLabels + 1 {
		manyLabels[strings.Repeat("l", i+1)] = "v"
	}
	bigLabels := fired
	bigLabels.Labels = manyLabels
	for _, tc := range []struct {
		name   string
		parse  ingest.Parser
		body   string
		prefix string
	}{
		{"am fingerprint", ingest.ParseAlertmanager, string(amPayload(t, "firing", fired, fired, noFP)), "alerts[2].fingerprint: required"},
		{"am status", ingest.ParseAlertmanager, string(amPayload(t, "firing", badStatus)), `alerts[0].status: must be firing or resolved, not "pending"`},
		{"am version", ingest.ParseAlertmanager, `{"version": "3", "alerts": []}`, "version: must be 4"},
		{"am no alerts", ingest.ParseAlertmanager, `{"version": "4"}`, "alerts: required"},
		{"am alerts not a list", ingest.ParseAlertmanager, `{"version": "4", "alerts": {}}`, "alerts: must be a list"},
		{"am too many", ingest.ParseAlertmanager, string(amPayload(t, "firing", tooMany...)), "alerts: at most 1000 alerts"},
		{"am too many labels", ingest.ParseAlertmanager, string(amPayload(t, "firing", bigLabels)), "alerts[0].labels: at most 64 labels"},
		{"am label type", ingest.ParseAlertmanager, `{"alerts": [{"status": "firing", "fingerprint": "x", "labels": {"a": 1}}]}`, "alerts[0].labels: must be a string"},
		{"am time", ingest.ParseAlertmanager, `{"alerts": [{"status": "firing", "fingerprint": "x", "startsAt": "yesterday"}]}`, "alerts[0]: a time is not RFC 3339"},
		{"am not json", ingest.ParseAlertmanager, `{"alerts": [`, "not valid JSON"},
		{"am trailing", ingest.ParseAlertmanager, `{"alerts": []} {}`, "must be one JSON value"},
		{"grafana fingerprint", ingest.ParseGrafana, `{"alerts": [{"status": "firing"}]}`, "alerts[0].fingerprint: required"},
		{"generic state", ingest.ParseGeneric, `{"dedup_key": "k", "title": "t", "state": "open"}`, `state: must be firing or resolved, not "open"`},
		{"generic severity", ingest.ParseGeneric, `{"dedup_key": "k", "title": "t", "severity": "high"}`, `severity: must be critical, warning or info`},
		{"generic key", ingest.ParseGeneric, `{"title": "t"}`, "dedup_key: required"},
		{"generic title", ingest.ParseGeneric, `{"dedup_key": "k"}`, "title: required for a firing alert"},
		{"generic unknown", ingest.ParseGeneric, `{"dedup_key": "k", "title": "t", "dedupkey": "x"}`, "dedupkey: unknown field"},
		{"generic batch", ingest.ParseGeneric, `{"alerts": [{"dedup_key": "k", "title": "t"}, {"title": "t"}]}`, "alerts[1].dedup_key: required"},
		{"generic batch extra", ingest.ParseGeneric, `{"alerts": [], "title": "t"}`, "title: unknown field"},
		{"generic not object", ingest.ParseGeneric, `[1]`, "must be an object"},
		{"generic key control", ingest.ParseGeneric, `{"dedup_key": "a\nb", "title": "t"}`, "dedup_key: has control characters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.parse([]byte(tc.body))
			if err == nil {
				t.Fatal("no error")
			}
			if nightowl.ErrorCode(err) != nightowl.EInvalid {
				t.Errorf("code %q, want invalid", nightowl.ErrorCode(err))
			}
			if !strings.HasPrefix(err.Error(), tc.prefix) && !strings.Contains(err.Error(), tc.prefix) {
				t.Errorf("error %q, want it to begin %q", err, tc.prefix)
			}
		})
	}
}

func TestTitlesAreBounded(t *testing.T) {
	long := strings.Repeat("é", ingest.MaxTitle)
	got, err := ingest.ParseGeneric([]byte(`{"dedup_key": "k", "title": "` + long + "\\nsecond line" + `"}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(got[0].Title) > ingest.MaxTitle || strings.Contains(got[0].Title, "\n") || !strings.HasSuffix(got[0].Title, "…") {
		t.Errorf("title of %d bytes: %q", len(got[0].Title), got[0].Title[len(got[0].Title)-10:])
	}
}

func TestCheckNames(t *testing.T) {
	name := ingest.CheckName("prometheus", "ab:cd")
	in, key, ok := ingest.Split(name)
	if !ok || in != "prometheus" || key != "ab:cd" {
		t.Errorf("Split(%q) = %q, %q, %v", name, in, key, ok)
	}
	for _, n := range []string{"shop", "node:a", "integration:", "integration:x:", "integration::k"} {
		if _, _, ok := ingest.Split(n); ok {
			t.Errorf("Split(%q) ok", n)
		}
	}
}

func TestParseRate(t *testing.T) {
	for in, want := range map[string]ingest.Rate{"10/s": {N: 10, Per: time.Second}, "600/m": {N: 600, Per: time.Minute}, "5/h": {N: 5, Per: time.Hour}} {
		if got, err := ingest.ParseRate(in); err != nil || got != want {
			t.Errorf("ParseRate(%q) = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "10", "0/s", "-1/s", "10/d", "1.5/s", "10/s/s", " 10/s"} {
		if _, err := ingest.ParseRate(in); err == nil {
			t.Errorf("ParseRate(%q) took it", in)
		}
	}
}
