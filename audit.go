package nightowl

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
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
	// "incident.open", "incident.update", "incident.publish",
	// "action.request",
	// "action.approve", "action.deny", "action.run", "action.result",
	// "override.add", "override.delete", "feed.create", "feed.revoke",
	// "contact.add", "contact.verify", "contact.remove", "contact.rules".
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
	// AuditChain calls fn with every entry in Seq order, for verifying,
	// and returns the head: what the newest append recorded, read in the
	// same snapshot as the entries, so that entries appended meanwhile
	// are not mistaken for tampering.
	AuditChain(ctx context.Context, fn func(AuditEntry) error) (AuditHead, error)
	// AuditHead returns the head of the log as the store keeps it.
	AuditHead(ctx context.Context) (AuditHead, error)
	// AddAuditCheckpoint keeps a signed checkpoint, unless one for its
	// seq is kept already (another node signed the same head): the first
	// stays.
	AddAuditCheckpoint(ctx context.Context, c AuditCheckpoint) error
	// AuditCheckpoints returns the checkpoints, newest (highest seq)
	// first; all when limit <= 0.
	AuditCheckpoints(ctx context.Context, limit int) ([]AuditCheckpoint, error)
}

// AuditCheckpoint is a signed statement that the log's entry Seq had hash
// Hash at Time: signed with an Ed25519 key kept outside the database, so
// that cutting or rewriting the log is found even by someone who can write
// the database (see the audit package).
type AuditCheckpoint struct {
	Seq  int64     `json:"seq"`
	Hash []byte    `json:"hash"`
	Time time.Time `json:"time"`
	// KeyID names the key that signed it (audit.KeyID).
	KeyID string `json:"key_id"`
	Sig   []byte `json:"sig"`
}

// AuditHead is the Seq and Hash of the newest entry, kept apart from the
// entries by the store as it appends: deleting the newest entries leaves the
// chain whole, but not in agreement with its head. Seq is 0 when nothing was
// ever appended.
type AuditHead struct {
	Seq  int64  `json:"seq"`
	Hash []byte `json:"hash"`
}

// auditHashVersion starts what AuditHash hashes, so that a future change
// of the encoding can never produce the same bytes as this one.
const auditHashVersion = "nightowl audit v1\x00"

// AuditHash is the hash an entry must carry: SHA-256 over a version tag and
// every field but Hash, each prefixed with its length, so that no two
// different entries encode alike (moving a character from Actor to Action
// changes it). Time counts as Unix nanoseconds, which is what stores keep.
func AuditHash(e AuditEntry) []byte {
	h := sha256.New()
	var n [8]byte
	field := func(b []byte) {
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	num := func(v int64) {
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], uint64(v))
		field(b[:])
	}
	h.Write([]byte(auditHashVersion))
	num(e.Seq)
	num(e.Time.UnixNano())
	field([]byte(e.Actor))
	field([]byte(e.Action))
	field([]byte(e.Subject))
	field([]byte(e.Detail))
	field(e.Prev)
	return h.Sum(nil)
}
