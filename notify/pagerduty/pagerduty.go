// Package pagerduty sends alerts to PagerDuty through the Events API v2: a
// firing alert is a "trigger" event, its acknowledgement an "acknowledge"
// and its recovery a "resolve", all under one dedup_key, the alert id, so
// that PagerDuty keeps a single incident per alert however often the same
// event is delivered.
package pagerduty

import (
	"cmp"
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/notify/kit"
)

// summaryLimit is PagerDuty's cap on payload.summary; longer events are
// refused with a 400.
const summaryLimit = 1024

// Notifier sends events to one PagerDuty routing key.
type Notifier struct {
	routingKey     string
	url            string
	componentLabel string
	groupLabel     string
	render         *kit.Renderer
	client         *http.Client
}

// event is the body of POST /v2/enqueue.
type event struct {
	RoutingKey  string   `json:"routing_key"`
	EventAction string   `json:"event_action"`
	DedupKey    string   `json:"dedup_key"`
	Payload     *payload `json:"payload,omitempty"`
	Client      string   `json:"client,omitempty"`
	ClientURL   string   `json:"client_url,omitempty"`
	Links       []link   `json:"links,omitempty"`
}

type payload struct {
	Summary       string  `json:"summary"`
	Source        string  `json:"source"`
	Severity      string  `json:"severity"`
	Timestamp     string  `json:"timestamp,omitempty"`
	Component     string  `json:"component,omitempty"`
	Group         string  `json:"group,omitempty"`
	Class         string  `json:"class,omitempty"`
	CustomDetails details `json:"custom_details"`
}

type details struct {
	Check       string            `json:"check"`
	Status      string            `json:"status"`
	Severity    string            `json:"severity"`
	Since       string            `json:"since,omitempty"`
	Failed      []string          `json:"failed,omitempty"`
	Maintenance string            `json:"maintenance,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Text        string            `json:"text"`
}

type link struct {
	Href string `json:"href"`
	Text string `json:"text"`
}

// Notify sends the event for m.
func (n *Notifier) Notify(ctx context.Context, m *nightowl.Message) (bool, error) {
	retry, err := kit.PostJSON(ctx, n.client, n.url, nil, n.event(m))
	if err != nil {
		return retry, kit.Redact(err, n.routingKey)
	}
	return false, nil
}

func (n *Notifier) event(m *nightowl.Message) *event {
	// Every message about a group (group_by) folds into one incident.
	e := &event{RoutingKey: n.routingKey, DedupKey: cmp.Or(m.Alert.Group, m.Alert.ID)}
	switch m.Kind {
	case nightowl.MessageAcknowledged:
		// Acknowledge and resolve events carry no payload: PagerDuty
		// finds the incident by dedup_key and ignores anything else.
		e.EventAction = "acknowledge"
		return e
	case nightowl.MessageResolved:
		e.EventAction = "resolve"
		return e
	}
	// A repeat, or an update (more checks blocked by the alert), is
	// another trigger with the same dedup_key: PagerDuty adds it to the
	// open incident instead of opening a second one.
	e.EventAction = "trigger"
	a := &m.Alert
	d := details{
		Check:       a.Check,
		Status:      string(a.Status),
		Severity:    string(a.Severity),
		Maintenance: a.Maintenance,
		Labels:      a.Labels,
		Text:        n.render.Text(m),
	}
	if !a.StartsAt.IsZero() {
		d.Since = a.StartsAt.UTC().Format(time.RFC3339)
	}
	var names []string
	for _, f := range a.Failed {
		d.Failed = append(d.Failed, f.Name+" failed: "+f.Message)
		names = append(names, f.Name)
	}
	class := strings.Join(names, ", ")
	if class == "" {
		class = string(a.Status)
	}
	e.Payload = &payload{
		Summary:       kit.Truncate(n.render.Title(m), summaryLimit),
		Source:        a.Check,
		Severity:      severity(a.Severity),
		Timestamp:     d.Since,
		Component:     label(a.Labels, n.componentLabel),
		Group:         label(a.Labels, n.groupLabel),
		Class:         class,
		CustomDetails: d,
	}
	e.Client = "nightowl"
	e.ClientURL = m.DashboardURL
	if m.AckURL != "" {
		// Acknowledging in PagerDuty does not reach nightowl; this link
		// stops nightowl's own escalation to the other receivers.
		e.Links = append(e.Links, link{Href: m.AckURL, Text: "Acknowledge in nightowl"})
	}
	if m.DashboardURL != "" {
		e.Links = append(e.Links, link{Href: m.DashboardURL, Text: "Dashboard: " + a.Check})
	}
	return e
}

// severity maps an alert's severity to PagerDuty's; one nightowl does not
// know is paged as "error" rather than dropped or played down.
func severity(s nightowl.Severity) string {
	switch s {
	case nightowl.SeverityCritical:
		return "critical"
	case nightowl.SeverityWarning:
		return "warning"
	}
	return "error"
}

func label(labels map[string]string, name string) string {
	if name == "" {
		return ""
	}
	return labels[name]
}
