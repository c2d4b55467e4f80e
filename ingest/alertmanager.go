package ingest

import (
	"cmp"
	"encoding/json"
	"fmt"
	"time"
)

// amBody is Alertmanager's webhook payload, version 4 (its
// notify/webhook.Message, template.Data within). Only what nightowl uses
// is read; the rest (receiver, groupKey, groupLabels, commonAnnotations,
// externalURL, truncatedAlerts) is taken and ignored.
type amBody struct {
	Version      string            `json:"version"`
	Status       string            `json:"status"`
	CommonLabels map[string]string `json:"commonLabels"`
	Alerts       json.RawMessage   `json:"alerts"`
}

// amAlert is one alert of the payload: template.Alert, and for Grafana
// the fields it adds (grafana.go).
type amAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`

	// Grafana's own.
	DashboardURL string `json:"dashboardURL"`
	PanelURL     string `json:"panelURL"`
	SilenceURL   string `json:"silenceURL"`
	ValueString  string `json:"valueString"`
}

// ParseAlertmanager reads Alertmanager's webhook payload, version 4. Each
// alert is keyed by its fingerprint; its title is the summary annotation
// (else the alertname label), its description the description annotation,
// its severity the severity label.
func ParseAlertmanager(body []byte) ([]Alert, error) {
	var b amBody
	if err := decode(body, &b, "", false); err != nil {
		return nil, err
	}
	if b.Version != "" && b.Version != "4" {
		return nil, invalid("version", "must be 4, not %.16q: the webhook payload this server reads", b.Version)
	}
	return parseAM(b.Alerts, false)
}

// parseAM reads the alerts of an Alertmanager-shaped payload.
func parseAM(raw json.RawMessage, grafana bool) ([]Alert, error) {
	list, err := alertList("alerts", raw)
	if err != nil {
		return nil, err
	}
	out := make([]Alert, 0, len(list))
	for i, r := range list {
		field := fmt.Sprintf("alerts[%d]", i)
		var a amAlert
		if err := decode(r, &a, field, false); err != nil {
			return nil, err
		}
		al, err := a.alert(field, grafana)
		if err != nil {
			return nil, err
		}
		out = append(out, al)
	}
	return out, nil
}

func (a *amAlert) alert(field string, grafana bool) (Alert, error) {
	var out Alert
	var err error
	if out.Firing, err = status(join(field, "status"), a.Status); err != nil {
		return out, err
	}
	if err := key(join(field, "fingerprint"), a.Fingerprint); err != nil {
		return out, err
	}
	if out.Labels, err = labels(join(field, "labels"), a.Labels); err != nil {
		return out, err
	}
	out.Key, out.Severity = a.Fingerprint, severityOf(a.Labels)
	out.StartsAt, out.EndsAt = a.StartsAt, a.EndsAt
	title := cmp.Or(a.Annotations["summary"], a.Annotations["title"], a.Labels["alertname"], a.Fingerprint)
	out.Title = oneLine(title, MaxTitle)
	desc := cmp.Or(a.Annotations["description"], a.Annotations["message"])
	if grafana && a.ValueString != "" {
		desc = cmp.Or(desc+"\n", "") + "Values: " + a.ValueString
	}
	out.Description = cut(desc, MaxDescription)
	out.URL = a.GeneratorURL
	if grafana {
		out.URL = cmp.Or(a.PanelURL, a.DashboardURL, a.GeneratorURL)
	}
	return out, nil
}
