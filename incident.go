package nightowl

import (
	"context"
	"time"
)

// Component is what the status page shows: a group of checks, under a name
// customers understand ("Website", "Database").
type Component struct {
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Checks      Selector `json:"-"`
	// DependsOn names the components this one needs: while one of them
	// is in trouble, the status page says this one is affected by it.
	DependsOn []string `json:"-"`
	// Alerts select the alerts other tools send in (integrations) that
	// belong to the component: while one is open, the component is in
	// trouble as its check would be.
	Alerts []AlertMatch `json:"-"`
	// ShowResponseTime puts a chart of its checks' response times on the
	// public status page.
	ShowResponseTime bool `json:"-"`
}

// AlertMatch selects the alerts of one integration whose labels have
// every value of Match.
type AlertMatch struct {
	Integration string
	Match       map[string]string
}

// Matches reports whether the component takes in the check with this
// name and these labels: one it selects by Checks, or the synthetic check
// of an ingested alert (whose labels name its integration) that one of
// Alerts matches.
func (c *Component) Matches(check string, labels map[string]string) bool {
	if c.Checks.Matches(check, labels) {
		return true
	}
	for _, m := range c.Alerts {
		if m.Matches(labels) {
			return true
		}
	}
	return false
}

// Matches reports whether an alert with these labels is of the
// integration and has every value of m.Match.
func (m *AlertMatch) Matches(labels map[string]string) bool {
	if labels["integration"] != m.Integration {
		return false
	}
	for k, v := range m.Match {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// ComponentStatus is a component's state as the status page shows it, with
// Statuspage's names.
type ComponentStatus string

const (
	ComponentOperational      ComponentStatus = "operational"
	ComponentDegraded         ComponentStatus = "degraded_performance"
	ComponentPartialOutage    ComponentStatus = "partial_outage"
	ComponentMajorOutage      ComponentStatus = "major_outage"
	ComponentUnderMaintenance ComponentStatus = "under_maintenance"
)

// IncidentState is where the people handling an incident are.
type IncidentState string

const (
	IncidentInvestigating IncidentState = "investigating"
	IncidentIdentified    IncidentState = "identified"
	IncidentMonitoring    IncidentState = "monitoring"
	IncidentResolved      IncidentState = "resolved"
)

// Valid reports whether s is a known state.
func (s IncidentState) Valid() bool {
	switch s {
	case IncidentInvestigating, IncidentIdentified, IncidentMonitoring, IncidentResolved:
		return true
	}
	return false
}

// Impact is how badly an incident hurts the people the status page is for.
type Impact string

const (
	ImpactNone     Impact = "none"
	ImpactMinor    Impact = "minor"
	ImpactMajor    Impact = "major"
	ImpactCritical Impact = "critical"
)

// Valid reports whether i is a known impact.
func (i Impact) Valid() bool {
	switch i {
	case ImpactNone, ImpactMinor, ImpactMajor, ImpactCritical:
		return true
	}
	return false
}

// Incident is the human story of an outage: what customers are told, and
// what the people handling it noted.
type Incident struct {
	ID     string        `json:"id"`
	Title  string        `json:"title"`
	State  IncidentState `json:"state"`
	Impact Impact        `json:"impact"`
	// Components are the names of the components it affects.
	Components []string `json:"components"`
	// Alerts are the IDs of the alerts that belong to it: the one that
	// opened it, and any that fired on its components while it was open.
	Alerts     []string  `json:"alerts,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	CreatedBy  string    `json:"created_by"`
	UpdatedAt  time.Time `json:"updated_at"`
	ResolvedAt time.Time `json:"resolved_at,omitzero"`
	// PublishedAt is when the incident went on the status page: its
	// first public update, or someone publishing it. Zero while it is
	// known only to the people handling it, who may still rename it;
	// until then it neither shows on any public page nor counts towards
	// the page's status.
	PublishedAt time.Time `json:"published_at,omitzero"`
	// Version counts the changes saved to the incident. A change is saved
	// only over the version it was made to: of two made at once (on two
	// nodes), the second is refused, and not lost in silence.
	Version int64 `json:"version"`
}

// Published reports whether the incident is on the status page.
func (inc *Incident) Published() bool { return !inc.PublishedAt.IsZero() }

// IncidentUpdate is one entry people make on an incident: a public update
// (shown on the status page) or a private note, possibly changing its state
// or impact.
type IncidentUpdate struct {
	ID         int64         `json:"id"`
	IncidentID string        `json:"incident_id"`
	Time       time.Time     `json:"time"`
	By         string        `json:"by"`
	Public     bool          `json:"public"`
	State      IncidentState `json:"state,omitempty"`  // the state it set; empty when unchanged
	Impact     Impact        `json:"impact,omitempty"` // the impact it set; empty when unchanged
	// Components are the affected components it set; nil when unchanged.
	Components []string `json:"components,omitempty"`
	Message    string   `json:"message"`
}

// TimelineEntry is one line of an incident's timeline: its own updates and
// notes, and what happened meanwhile to the checks it involves.
type TimelineEntry struct {
	Time time.Time `json:"time"`
	// Kind is "update", "note", "status", "alert", "notification",
	// "acknowledgement", "maintenance" or "action".
	Kind   string `json:"kind"`
	Check  string `json:"check,omitempty"`
	By     string `json:"by,omitempty"`
	Text   string `json:"text"`
	Public bool   `json:"public"`
}

// IncidentQuery selects incidents, newest first.
type IncidentQuery struct {
	Open  bool
	Since time.Time // created or resolved since
	// Published selects the incidents on the status page: published, or
	// (stored before publication was recorded) with a public update. The
	// others must not take the places of these under Limit.
	Published bool
	Limit     int
}

// IncidentStore keeps incidents and their updates.
type IncidentStore interface {
	// SaveIncident creates or updates an incident, with an update when u
	// is not nil, in one transaction; u's ID is set. An incident without
	// an ID is created and given the next one, "inc-N" with N counting
	// from 1; one with an ID must exist (ENotFound) and still be at
	// inc.Version, else nothing is written (EConflict). inc.Version is
	// set to the version saved.
	SaveIncident(ctx context.Context, inc *Incident, u *IncidentUpdate) error
	Incident(ctx context.Context, id string) (Incident, error)
	Incidents(ctx context.Context, q IncidentQuery) ([]Incident, error)
	// Updates returns an incident's updates and notes, oldest first.
	Updates(ctx context.Context, incident string) ([]IncidentUpdate, error)
}
