package records

import (
	"log/slog"
	"time"

	"github.com/nightowl/nightowl"
)

// CheckAudit is the check an audit entry passes before it is appended; a
// zero e.Time becomes now.
func CheckAudit(e *nightowl.AuditEntry, now func() time.Time) error {
	if e.Actor == "" || e.Action == "" {
		return nightowl.Errorf(nightowl.EInvalid, "an audit entry needs an actor and an action")
	}
	if e.Time.IsZero() {
		e.Time = now()
	}
	return nil
}

// NextAudit returns e as the entry that follows the head of the log, whose
// seq is last and hash prev: numbered, chained and hashed, its time kept to
// the nanosecond, in UTC, as it reads back.
func NextAudit(e nightowl.AuditEntry, last int64, prev []byte) nightowl.AuditEntry {
	e.Seq, e.Time, e.Prev = last+1, time.Unix(0, e.Time.UnixNano()).UTC(), prev
	e.Hash = nightowl.AuditHash(e)
	return e
}

// AuditPrev is an entry's Prev as stored: the first entry's, nil, is an
// empty blob rather than NULL.
func AuditPrev(prev []byte) []byte {
	if prev == nil {
		return []byte{}
	}
	return prev
}

// ScannedAudit completes an entry scanned from the log, whose time is kept
// as Unix nanoseconds.
func ScannedAudit(e *nightowl.AuditEntry, at int64) {
	e.Time = time.Unix(0, at).UTC()
	if len(e.Prev) == 0 {
		e.Prev = nil
	}
}

// WarnHeadless says that the log has entries but no head, which only
// deleting the head does: the newest entry, seq, stands in for it.
func WarnHeadless(log *slog.Logger, store string, seq int64) {
	log.Error(store+": the audit log has entries but no head: it was tampered with; run nightowl audit verify",
		"last_seq", seq)
}

// CheckCheckpoint is the check a signed checkpoint of the audit log passes
// before it is kept.
func CheckCheckpoint(c nightowl.AuditCheckpoint) error {
	if c.Seq < 1 || len(c.Hash) == 0 || len(c.Sig) == 0 || c.KeyID == "" || c.Time.IsZero() {
		return nightowl.Errorf(nightowl.EInvalid, "an audit checkpoint needs a seq, a hash, a time, a key and a signature")
	}
	return nil
}

// ScannedCheckpoint completes a checkpoint scanned from the store, whose
// time is kept as Unix nanoseconds.
func ScannedCheckpoint(c *nightowl.AuditCheckpoint, at int64) {
	c.Time = time.Unix(0, at).UTC()
}
