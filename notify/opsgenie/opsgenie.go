// Package opsgenie sends alerts to Opsgenie's Alert API: a firing alert
// creates an Opsgenie alert whose alias is the alert id, its
// acknowledgement acknowledges it and its recovery closes it, both found by
// that alias. Opsgenie keeps one open alert per alias, so a repeat or a
// second delivery of the same create raises its count instead of paging
// anew.
package opsgenie

import (
	"cmp"
	"context"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/notify/kit"
)

// Limits of the Alert API; a longer field is refused with a 422.
const (
	messageLimit     = 130
	descriptionLimit = 15000
	noteLimit        = 25000
	userLimit        = 100
	tagLimit         = 50
	maxTags          = 20
	// Opsgenie caps all details together at 8000 characters; a cap per
	// value keeps the few that nightowl sends well inside it.
	detailLimit = 900
)

// Notifier sends alerts to one Opsgenie API integration.
type Notifier struct {
	apiKey string
	base   string
	render *kit.Renderer
	client *http.Client
}

// createAlert is the body of POST /v2/alerts.
type createAlert struct {
	Message     string            `json:"message"`
	Alias       string            `json:"alias"`
	Description string            `json:"description,omitempty"`
	Tags        []string          `json:"tags,omitempty"`
	Details     map[string]string `json:"details,omitempty"`
	Entity      string            `json:"entity,omitempty"`
	Source      string            `json:"source"`
	Priority    string            `json:"priority"`
}

// action is the body of the acknowledge and close requests.
type action struct {
	User   string `json:"user,omitempty"`
	Source string `json:"source"`
	Note   string `json:"note,omitempty"`
}

// Notify creates, acknowledges or closes the Opsgenie alert for m.
func (n *Notifier) Notify(ctx context.Context, m *nightowl.Message) (bool, error) {
	endpoint, body := n.request(m)
	headers := map[string]string{"Authorization": "GenieKey " + n.apiKey}
	retry, err := kit.PostJSON(ctx, n.client, endpoint, headers, body)
	if err != nil {
		return retry, kit.Redact(err, n.apiKey)
	}
	return false, nil
}

func (n *Notifier) request(m *nightowl.Message) (string, any) {
	alerts := n.base + "/v2/alerts"
	// The alias goes in the path, so it is escaped; identifierType says
	// it is an alias and not Opsgenie's own alert id.
	// Every message about a group (group_by) is about one Opsgenie alert.
	alias := cmp.Or(m.Alert.Group, m.Alert.ID)
	byAlias := alerts + "/" + url.PathEscape(alias)
	switch m.Kind {
	case nightowl.MessageAcknowledged:
		return byAlias + "/acknowledge?identifierType=alias", &action{
			User:   kit.Truncate(m.Alert.AckedBy, userLimit),
			Source: "nightowl",
			Note:   kit.Truncate(n.render.Text(m), noteLimit),
		}
	case nightowl.MessageUpdate:
		// News of an open alert (more checks blocked by it) is a note
		// on it, not a second alert.
		return byAlias + "/notes?identifierType=alias", &action{
			Source: "nightowl",
			Note:   kit.Truncate(n.render.Text(m), noteLimit),
		}
	case nightowl.MessageResolved:
		return byAlias + "/close?identifierType=alias", &action{
			Source: "nightowl",
			Note:   kit.Truncate(n.render.Text(m), noteLimit),
		}
	}
	a := &m.Alert
	return alerts, &createAlert{
		Message:     kit.Truncate(n.render.Title(m), messageLimit),
		Alias:       alias,
		Description: kit.Truncate(n.render.Text(m), descriptionLimit),
		Tags:        tags(a.Labels),
		Details:     details(m),
		Entity:      a.Check,
		Source:      "nightowl",
		Priority:    priority(a.Severity),
	}
}

// priority maps an alert's severity to Opsgenie's; one nightowl does not
// know is treated as P2 rather than played down.
func priority(s nightowl.Severity) string {
	switch s {
	case nightowl.SeverityCritical:
		return "P1"
	case nightowl.SeverityWarning:
		return "P3"
	}
	return "P2"
}

// tags are the labels as key:value (a label without a value as its key
// alone), sorted so that the same alert always
// gets the same tags.
func tags(labels map[string]string) []string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []string
	for _, k := range keys {
		if len(out) == maxTags {
			break
		}
		tag := k
		if v := labels[k]; v != "" {
			tag += ":" + v
		}
		out = append(out, kit.Truncate(tag, tagLimit))
	}
	return out
}

func details(m *nightowl.Message) map[string]string {
	a := &m.Alert
	d := map[string]string{
		"check":    a.Check,
		"status":   string(a.Status),
		"severity": string(a.Severity),
	}
	if !a.StartsAt.IsZero() {
		d["since"] = a.StartsAt.UTC().Format(time.RFC3339)
	}
	var failed []string
	for _, f := range a.Failed {
		failed = append(failed, f.Name+" failed: "+f.Message)
	}
	if len(failed) > 0 {
		d["failed"] = strings.Join(failed, "\n")
	}
	if a.Maintenance != "" {
		d["maintenance"] = a.Maintenance
	}
	if m.DashboardURL != "" {
		d["dashboard"] = m.DashboardURL
	}
	if m.AckURL != "" {
		// Acknowledging in Opsgenie does not reach nightowl; this link
		// stops nightowl's own escalation to the other receivers.
		d["acknowledge"] = m.AckURL
	}
	for k, v := range d {
		d[k] = kit.Truncate(v, detailLimit)
	}
	return d
}
