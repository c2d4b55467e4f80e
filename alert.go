package nightowl

import (
	"context"
	"time"
)

// AlertState is where an alert is in its life.
type AlertState string

const (
	AlertFiring       AlertState = "firing"
	AlertAcknowledged AlertState = "acknowledged"
	AlertResolved     AlertState = "resolved"
)

// Alert is opened when a check has been down (or degraded, where a route
// asks for it) for fail_after runs, and resolved when it recovers.
type Alert struct {
	// ID is stable for the alert's whole life; receivers that deduplicate
	// (PagerDuty's dedup_key, Opsgenie's alias) use it.
	ID       string            `json:"id"`
	Check    string            `json:"check"`
	Labels   map[string]string `json:"labels,omitempty"`
	State    AlertState        `json:"state"`
	Severity Severity          `json:"severity"`
	// Status is the check's status that opened the alert: down or degraded.
	Status Status `json:"status"`
	// Cause is the one-line reason, Failed every failing assertion with
	// what it observed.
	Cause  string            `json:"cause"`
	Failed []AssertionResult `json:"failed,omitempty"`
	// Maintenance says which maintenance window was active and what it did
	// not expect, when the alert fired during one.
	Maintenance string    `json:"maintenance,omitempty"`
	StartsAt    time.Time `json:"starts_at"`
	AckedAt     time.Time `json:"acked_at,omitzero"`
	AckedBy     string    `json:"acked_by,omitempty"`
	ResolvedAt  time.Time `json:"resolved_at,omitzero"`
}

// MessageKind says why a message is sent.
type MessageKind string

const (
	MessageFiring       MessageKind = "firing"
	MessageRepeat       MessageKind = "repeat"
	MessageAcknowledged MessageKind = "acknowledged"
	MessageResolved     MessageKind = "resolved"
)

// Message is one notification about an alert, ready for a receiver.
type Message struct {
	Kind  MessageKind `json:"kind"`
	Alert Alert       `json:"alert"`
	// AckURL is a signed, expiring link that acknowledges the alert;
	// DashboardURL shows the check. Empty when server.public_url is unset.
	AckURL       string `json:"ack_url,omitempty"`
	DashboardURL string `json:"dashboard_url,omitempty"`
	// IdempotencyKey is the same for every attempt to deliver this message,
	// and differs between messages.
	IdempotencyKey string `json:"idempotency_key"`
}

// Notifier delivers messages to one receiver. It says whether a failed
// delivery is worth retrying: a timeout, a 5xx or a 429 is; a 4xx that
// will fail the same way again is not.
type Notifier interface {
	Notify(ctx context.Context, m *Message) (retry bool, err error)
}
