package nightowl

import (
	"context"
	"time"
)

// AuditEntry is one line of the audit log: who did what to what, when. The
// log is append-only and hash-chained: each entry carries the SHA-256 of the
// one before it, so that an entry altered, deleted or moved in the store is
// found by verifying the chain.
type AuditEntry struct {
	// Seq numbers the entries from 1, without gaps.
	Seq   int64     `json:"seq"`
	Time  time.Time `json:"time"`
	Actor string    `json:"actor"` // a user, or "nightowl" for what it did itself
	// Action says what was done, as noun.verb: "login", "login.failed",
	// "user.add", "user.remove", "user.role", "token.create",
	// "token.revoke", "alert.ack", "maintenance.start", "maintenance.end",
	// "incident.open", "incident.update", "action.request",
	// "action.approve", "action.deny", "action.run", "action.result".
	Action string `json:"action"`
	// Subject is what it was done to: an alert, window, incident or
	// request ID, a user name.
	Subject string `json:"subject,omitempty"`
	// Detail says more, for people: parameters, the outcome, the
	// address a sign-in came from. Never a secret.
	Detail string `json:"detail,omitempty"`
	// Prev is the hash of the entry before (zero for the first); Hash is
	// this entry's, over Prev and every field above.
	Prev []byte `json:"prev"`
	Hash []byte `json:"hash"`
}

// AuditQuery selects audit entries, newest first.
type AuditQuery struct {
	Actor  string
	Action string // a prefix: "action." selects every action entry
	Since  time.Time
	Limit  int
}

// Auditor records what people (and nightowl) do. Recording must not fail
// quietly: a caller that cannot record refuses to act where it can.
type Auditor interface {
	Audit(ctx context.Context, e AuditEntry) error
}

// AuditStore keeps the audit log.
type AuditStore interface {
	// AppendAudit sets e's Seq, Prev and Hash from the last entry and
	// appends it, in one transaction, durably.
	AppendAudit(ctx context.Context, e *AuditEntry) error
	AuditEntries(ctx context.Context, q AuditQuery) ([]AuditEntry, error)
	// AuditChain calls fn with every entry in Seq order, for verifying.
	AuditChain(ctx context.Context, fn func(AuditEntry) error) error
}
