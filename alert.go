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
	Maintenance string `json:"maintenance,omitempty"`
	// NotRecovered names the maintenance window after which the check was
	// not up in time; such an alert resolves only when the check is up.
	NotRecovered string    `json:"not_recovered,omitempty"`
	StartsAt     time.Time `json:"starts_at"`
	AckedAt      time.Time `json:"acked_at,omitzero"`
	AckedBy      string    `json:"acked_by,omitempty"`
	ResolvedAt   time.Time `json:"resolved_at,omitzero"`

	// Escalation is the policy the alert follows, chosen by the first
	// route that matched its check when it fired.
	Escalation string `json:"escalation,omitempty"`
	// Escalated counts the escalation steps (and repeats of the last one)
	// already sent, and NextAt is when the next falls due; zero once the
	// alert is acknowledged or resolved, or nothing more is due.
	Escalated int       `json:"escalated,omitempty"`
	NextAt    time.Time `json:"next_at,omitzero"`
	// Notified lists the receivers told about the alert so far, in order:
	// they hear of its acknowledgement and its resolution.
	Notified []string `json:"notified,omitempty"`
	// Blocked lists, by name, the checks that fail because this alert's
	// check does (depends_on): they are blocked, and open no alert of
	// their own.
	Blocked []string `json:"blocked,omitempty"`
	// Group is the ID of the group the alert is in, when its route groups
	// alerts (group_by): the same for every alert of the group, and what
	// PagerDuty and Opsgenie deduplicate on. The group's Leader alert
	// escalates and is told for all of them, listing the others under
	// Grouped; the others notify nobody. GroupKey is the route and the
	// label values that make the group.
	Group    string   `json:"group,omitempty"`
	GroupKey string   `json:"group_key,omitempty"`
	Leader   bool     `json:"leader,omitempty"`
	Grouped  []string `json:"grouped,omitempty"`
	// LeaderUp says that a leader's own check recovered while others of
	// its group still fire: the group's alert stays open for them.
	LeaderUp bool `json:"leader_up,omitempty"`
	// UpdateAt is when the receivers notified so far are next told of
	// checks that joined or left the alert (zero when none are waiting to
	// be told), UpdatedAt when they last were.
	UpdateAt  time.Time `json:"update_at,omitzero"`
	UpdatedAt time.Time `json:"updated_at,omitzero"`
	// OnCall names the people escalation steps have paged, each with the
	// schedule that put them on call ("ana (primary)"): every message says
	// who has been told. Steps records each step taken: whom it reached,
	// or why it fell through to the next.
	OnCall []string     `json:"on_call,omitempty"`
	Steps  []StepRecord `json:"steps,omitempty"`
	// Version counts the writes of the alert; 0 for one not yet stored.
	// Every change is written over the version it was read at, so that of
	// two nodes changing an alert at once exactly one wins. Messages about
	// the alert do not carry it.
	Version int64 `json:"version,omitempty"`
}

// StepRecord is one escalation step an alert took.
type StepRecord struct {
	At time.Time `json:"at"`
	// Step counts from 1; repeats of the last step have its number.
	Step int `json:"step"`
	// Target is what the step notifies: "schedule primary", "user ana" or
	// "receivers team".
	Target string `json:"target"`
	// User is the person it paged, "" for none; Contacts how many of
	// their contact methods it queued.
	User     string `json:"user,omitempty"`
	Contacts int    `json:"contacts,omitempty"`
	// Note says why a step paged nobody and fell through to the next.
	Note string `json:"note,omitempty"`
}

// MaxStepRecords bounds Alert.Steps: the oldest go first.
const MaxStepRecords = 50

// Open reports whether the alert is firing or acknowledged.
func (a *Alert) Open() bool { return a.State != AlertResolved }

// MessageKind says why a message is sent.
type MessageKind string

const (
	MessageFiring       MessageKind = "firing"
	MessageRepeat       MessageKind = "repeat"
	MessageAcknowledged MessageKind = "acknowledged"
	MessageResolved     MessageKind = "resolved"
	// MessageUpdate tells those already notified of an open alert what
	// changed: more checks blocked by it. It is not a new page.
	MessageUpdate MessageKind = "update"
	// MessageTest is the test message that verifies a contact method: it
	// carries a code, and no alert of any check.
	MessageTest MessageKind = "test"
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
	// To is the person's own address when the message goes to a contact
	// method whose receiver does not hold it (a phone number for an SMS
	// gateway behind a webhook); empty otherwise.
	To string `json:"to,omitempty"`
}

// Notifier delivers messages to one receiver. It says whether a failed
// delivery is worth retrying: a timeout, a 5xx or a 429 is; a 4xx that
// will fail the same way again is not.
type Notifier interface {
	Notify(ctx context.Context, m *Message) (retry bool, err error)
}

// NotificationState is where a notification is in the outbox.
type NotificationState string

const (
	// NotificationPending is waiting to be sent, or to be retried.
	NotificationPending NotificationState = "pending"
	// NotificationSent was taken by its receiver.
	NotificationSent NotificationState = "sent"
	// NotificationFailed will not be tried again: the receiver refused it
	// in a way that will not change, or it kept failing for give_up_after.
	NotificationFailed NotificationState = "failed"
	// NotificationCancelled was a page to a person's contact method that
	// the alert's acknowledgement or resolution made moot before it was
	// sent (UntilAck).
	NotificationCancelled NotificationState = "cancelled"
)

// Notification is one message to one receiver, in the durable outbox. It is
// written in the same transaction as the alert change that causes it, and
// stays until it is sent or given up on.
type Notification struct {
	ID      int64  `json:"id"`
	AlertID string `json:"alert_id"`
	// Receiver is the receiver's ID in the config, such as "primary[1]".
	Receiver string            `json:"receiver"`
	Message  Message           `json:"message"`
	State    NotificationState `json:"state"`
	// Attempts counts the sends begun, including one a crash cut short.
	Attempts  int       `json:"attempts"`
	CreatedAt time.Time `json:"created_at"`
	// NextAt is when a pending notification is next due.
	NextAt time.Time `json:"next_at,omitzero"`
	SentAt time.Time `json:"sent_at,omitzero"`
	// Error is the last failure, with secrets redacted.
	Error string `json:"error,omitempty"`
	// UntilAck marks a page to a person's contact method: when the alert
	// is acknowledged or resolved while it is still pending, it is
	// cancelled in the same write.
	UntilAck bool `json:"until_ack,omitempty"`
}

// AlertQuery selects alerts. The zero value selects every alert, newest
// first, up to a default limit.
type AlertQuery struct {
	Open  bool   // only firing and acknowledged alerts
	Check string // only this check's
	Limit int
}

// NotificationQuery selects notifications, newest first.
type NotificationQuery struct {
	AlertID string
	State   NotificationState
	Limit   int
}

// OutboxStats describes the outbox of one receiver.
type OutboxStats struct {
	Receiver string
	Pending  int
	// OldestPending is when the oldest pending notification was created;
	// zero when none is pending.
	OldestPending time.Time
	Failed        int
}

// AlertStore keeps alerts and the outbox of notifications about them.
type AlertStore interface {
	// SaveAlert creates or updates a and adds the notifications out, in
	// one transaction that is on disk before it returns; the IDs of out are
	// set. It is a compare-and-set: an alert with Version 0 is created,
	// and one of that ID already stored is a conflict; a change is written
	// only when the stored alert still has a.Version. On success a.Version
	// is the version written; when another write came first nothing is
	// written, a is unchanged and the error is an EConflict.
	SaveAlert(ctx context.Context, a *Alert, out []Notification) error
	Alert(ctx context.Context, id string) (Alert, error)
	Alerts(ctx context.Context, q AlertQuery) ([]Alert, error)
	Notifications(ctx context.Context, q NotificationQuery) ([]Notification, error)
	// ClaimNotifications takes up to limit pending notifications due at
	// now, oldest first, for the sender of node owner, and leases them
	// until now+lease, counting an attempt; a notification leased and not
	// finished (the node crashed) is due again when its lease ends.
	ClaimNotifications(ctx context.Context, owner string, now time.Time, limit int, lease time.Duration) ([]Notification, error)
	// ReleaseClaims ends the leases node owner holds: it calls this as it
	// starts, since what it held before it restarted is not being sent.
	ReleaseClaims(ctx context.Context, owner string) error
	// FinishNotification records how an attempt ended: State sent or
	// failed, or pending with NextAt and Error for a retry.
	FinishNotification(ctx context.Context, n *Notification) error
	OutboxStats(ctx context.Context) ([]OutboxStats, error)
	// Secret returns the stored secret of the given name, creating it
	// with size random bytes the first time.
	Secret(ctx context.Context, name string, size int) ([]byte, error)
}
