package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/records"
)

// The audit log is one chain: each append reads the head and writes the
// next entry in one durable transaction, under the dialect's LockAudit
// (SQLite's one writer needs none), so that appends follow one another,
// each reading the head the one before committed, even from another
// process or node. Nothing here updates or deletes a row of audit_log (and
// triggers refuse it): the log is kept whole, for good. Its times are kept
// to the nanosecond in both dialects, since they are hashed.

// AppendAudit sets e's Seq, Prev and Hash from the head of the log and
// appends it, durably. A zero e.Time means now; the time is kept to the
// nanosecond, in UTC.
func (db *DB) AppendAudit(ctx context.Context, e *nightowl.AuditEntry) error {
	if err := records.CheckAudit(e, db.now); err != nil {
		return err
	}
	var next nightowl.AuditEntry
	err := db.write(ctx, true, func(tx Conn) error {
		if db.d.LockAudit != "" {
			if _, err := db.exec(ctx, tx, db.d.LockAudit); err != nil {
				return err
			}
		}
		last, prev, err := db.auditHead(ctx, tx)
		if err != nil {
			return err
		}
		next = records.NextAudit(*e, last, prev)
		if _, err := db.exec(ctx, tx, `INSERT INTO audit_log (seq, `+db.d.AuditTime+`, actor, action, subject, detail, prev, hash)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			next.Seq, next.Time.UnixNano(), next.Actor, next.Action, next.Subject, next.Detail,
			records.AuditPrev(next.Prev), next.Hash); err != nil {
			return err
		}
		_, err = db.exec(ctx, tx, `INSERT INTO audit_head (id, seq, hash) VALUES (1, ?, ?)
			ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash`, next.Seq, next.Hash)
		return err
	})
	if err != nil {
		return fmt.Errorf("append %s to the audit log: %w", e.Action, err)
	}
	*e = next
	return nil
}

// auditHead returns the seq and hash that the next entry follows: the
// head's, which stays ahead of the rows when the newest were deleted, so
// that the gap stays for verify to find rather than being filled by the next
// append. Without a head (it was deleted, since only an empty log has none)
// the newest row stands in, and the log says so.
func (db *DB) auditHead(ctx context.Context, tx Conn) (int64, []byte, error) {
	var seq int64
	var hash []byte
	err := db.queryRow(ctx, tx, `SELECT seq, hash FROM audit_head WHERE id = 1`).Scan(&seq, &hash)
	if err == nil {
		return seq, hash, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return 0, nil, err
	}
	err = db.queryRow(ctx, tx, `SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1`).Scan(&seq, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil, nil
	}
	if err != nil {
		return 0, nil, err
	}
	records.WarnHeadless(db.log, db.d.Name, seq)
	return seq, hash, nil
}

func (db *DB) auditColumns() string {
	return `seq, ` + db.d.AuditTime + `, actor, action, subject, detail, prev, hash`
}

func scanAudit(sc Scanner) (nightowl.AuditEntry, error) {
	var e nightowl.AuditEntry
	var at int64
	if err := sc.Scan(&e.Seq, &at, &e.Actor, &e.Action, &e.Subject, &e.Detail, &e.Prev, &e.Hash); err != nil {
		return e, err
	}
	records.ScannedAudit(&e, at)
	return e, nil
}

// AuditEntries returns the entries q selects, newest first; a Limit <= 0
// means all.
func (db *DB) AuditEntries(ctx context.Context, q nightowl.AuditQuery) ([]nightowl.AuditEntry, error) {
	var w Where
	if q.Actor != "" {
		w.Add(`actor = ?`, q.Actor)
	}
	if q.Action != "" {
		// substr rather than LIKE, which ignores case and gives _ and %
		// meanings; substr counts characters.
		w.Add(`substr(action, 1, ?) = ?`, utf8.RuneCountInString(q.Action), q.Action)
	}
	if !q.Since.IsZero() {
		w.Add(db.d.AuditTime+` >= ?`, q.Since.UnixNano())
	}
	rows, err := db.query(ctx, db.read, `SELECT `+db.auditColumns()+` FROM audit_log`+w.SQL()+` ORDER BY seq DESC LIMIT ?`,
		append(w.Args, db.limit(q.Limit))...)
	out, err := Collect(rows, err, scanAudit)
	if err != nil {
		return nil, fmt.Errorf("read the audit log: %w", err)
	}
	return out, nil
}

// AuditChain calls fn with every entry in seq order, as the rows arrive,
// and returns the head, all read in one snapshot, however many entries are
// appended meanwhile.
func (db *DB) AuditChain(ctx context.Context, fn func(nightowl.AuditEntry) error) (nightowl.AuditHead, error) {
	var head nightowl.AuditHead
	began := false
	err := db.snapshot(ctx, func(tx Conn) error {
		began = true
		// The head first: the first read takes the snapshot.
		err := db.queryRow(ctx, tx, `SELECT seq, hash FROM audit_head WHERE id = 1`).Scan(&head.Seq, &head.Hash)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("read the audit log's head: %w", err)
		}
		rows, err := db.query(ctx, tx, `SELECT `+db.auditColumns()+` FROM audit_log ORDER BY seq`)
		if err != nil {
			return fmt.Errorf("read the audit log: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			e, err := scanAudit(rows)
			if err != nil {
				return fmt.Errorf("read the audit log: %w", err)
			}
			if err := fn(e); err != nil {
				return err
			}
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read the audit log: %w", err)
		}
		return nil
	})
	if err != nil && !began {
		return head, fmt.Errorf("read the audit log: %w", err)
	}
	return head, err
}

// AuditHead returns the head of the log; Seq 0 when there is none.
func (db *DB) AuditHead(ctx context.Context) (nightowl.AuditHead, error) {
	var head nightowl.AuditHead
	err := db.queryRow(ctx, db.read, `SELECT seq, hash FROM audit_head WHERE id = 1`).Scan(&head.Seq, &head.Hash)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return head, fmt.Errorf("read the audit log's head: %w", err)
	}
	return head, nil
}

// AddAuditCheckpoint keeps c, durably, unless a checkpoint of its seq is
// kept already: of two that sign the same head at once, the first is kept.
func (db *DB) AddAuditCheckpoint(ctx context.Context, c nightowl.AuditCheckpoint) error {
	if err := records.CheckCheckpoint(c); err != nil {
		return err
	}
	err := db.write(ctx, true, func(tx Conn) error {
		_, err := db.exec(ctx, tx, `INSERT INTO audit_checkpoints (seq, `+db.d.AuditTime+`, hash, key_id, sig) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (seq) DO NOTHING`, c.Seq, c.Time.UnixNano(), c.Hash, c.KeyID, c.Sig)
		return err
	})
	if err != nil {
		return fmt.Errorf("keep the audit checkpoint of %d: %w", c.Seq, err)
	}
	return nil
}

// AuditCheckpoints returns the checkpoints, newest first; all when limit
// <= 0.
func (db *DB) AuditCheckpoints(ctx context.Context, limit int) ([]nightowl.AuditCheckpoint, error) {
	rows, err := db.query(ctx, db.read, `SELECT seq, `+db.d.AuditTime+`, hash, key_id, sig FROM audit_checkpoints ORDER BY seq DESC LIMIT ?`,
		db.limit(limit))
	out, err := Collect(rows, err, func(sc Scanner) (nightowl.AuditCheckpoint, error) {
		var c nightowl.AuditCheckpoint
		var at int64
		if err := sc.Scan(&c.Seq, &at, &c.Hash, &c.KeyID, &c.Sig); err != nil {
			return c, err
		}
		records.ScannedCheckpoint(&c, at)
		return c, nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the audit checkpoints: %w", err)
	}
	return out, nil
}
