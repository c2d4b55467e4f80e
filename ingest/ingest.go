// Package ingest takes alerts that other tools send to nightowl: Prometheus
// Alertmanager's webhook, Grafana alerting's webhook contact point, and
// nightowl's own generic JSON. Each format is a parser in its own file and a
// row of Formats; the Service authenticates and rate-limits what an
// integration sends and hands every alert to the alert manager as the state
// of a synthetic check named CheckPrefix+integration+":"+key, so that
// routes, groups, escalations, acknowledgements and incidents treat it like
// an alert of nightowl's own checks.
//
// Docs for users: docs/integrations.md.
package ingest

import (
	"strings"
	"time"

	"github.com/nightowl/nightowl"
)

// Alert is one alert another tool sent, as nightowl takes it.
type Alert struct {
	// Key tells this alert from the others of its integration for its
	// whole life: Alertmanager's and Grafana's fingerprint, the generic
	// format's dedup_key. Firing again with the same key is the same
	// alert.
	Key    string
	Firing bool // false: resolved
	// Severity is critical, warning or info.
	Severity Severity
	// Title is the one line people see; Description says more.
	Title       string
	Description string
	URL         string
	Labels      map[string]string
	StartsAt    time.Time
	EndsAt      time.Time
}

// Severity of an ingested alert.
type Severity string

const (
	Critical Severity = "critical"
	Warning  Severity = "warning"
	Info     Severity = "info"
)

// Status is the status of the synthetic check an alert of this severity
// puts in trouble: down for critical; degraded for warning and info, which
// page only where the route says degraded: true.
func (s Severity) Status() nightowl.Status {
	if s == Critical {
		return nightowl.StatusDown
	}
	return nightowl.StatusDegraded
}

// Parser reads one request body of a format into its alerts. Its errors are
// EInvalid and name the field at fault, such as
// "alerts[2].fingerprint: required".
type Parser func(body []byte) ([]Alert, error)

// Formats names every format an integration may take: config validation
// reads the same table.
var Formats = map[string]Parser{
	"alertmanager": ParseAlertmanager,
	"grafana":      ParseGrafana,
	"generic":      ParseGeneric,
}

// FormatNames lists the keys of Formats, for messages.
const FormatNames = "alertmanager, grafana or generic"

// Bounds of what one request may carry.
const (
	// MaxBody bounds a request's body: Alertmanager sends a whole group
	// at once, and a big group of alerts with long annotations runs to
	// hundreds of kilobytes.
	MaxBody = 1 << 20
	// MaxAlerts bounds the alerts of one request.
	MaxAlerts = 1000
	// MaxLabels bounds the labels of one alert, MaxLabelName and
	// MaxLabelValue their sizes in bytes.
	MaxLabels     = 64
	MaxLabelName  = 128
	MaxLabelValue = 1024
	// MaxKey bounds a key (fingerprint, dedup_key) in bytes.
	MaxKey = 256
	// MaxTitle and MaxDescription bound the title and the description
	// in bytes; longer ones are cut, not refused.
	MaxTitle       = 512
	MaxDescription = 4096
)

// CheckPrefix begins the name of the synthetic check of every ingested
// alert. No configured check's name has a colon.
const CheckPrefix = "integration:"

// LabelIntegration is the label every ingested alert carries, naming its
// integration: it wins over a label of that name that the sender set.
const LabelIntegration = "integration"

// CheckName is the name of the synthetic check of the alert with key from
// integration.
func CheckName(integration, key string) string {
	return CheckPrefix + integration + ":" + key
}

// Split returns the integration and key of a synthetic check's name; false
// for the name of any other check.
func Split(check string) (integration, key string, ok bool) {
	rest, ok := strings.CutPrefix(check, CheckPrefix)
	if !ok {
		return "", "", false
	}
	integration, key, ok = strings.Cut(rest, ":")
	return integration, key, ok && integration != "" && key != ""
}

// Group is the name by which the nodes of a cluster agree which of them
// handles an integration's alerts (cluster.Owner over it).
func Group(integration string) string { return CheckPrefix + integration }
