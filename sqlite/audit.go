package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/records"
)

// The audit log is appended on the writer goroutine, one durable
// transaction per entry: the last entry is read and the next written under
// the one write lock, so that entries chain strictly in order even when the
// CLI appends from another process. Nothing here updates or deletes a row
// of audit_log (and triggers refuse it): the log is kept whole, for good.

var _ nightowl.AuditStore = (*Store)(nil)

// AppendAudit sets e's Seq, Prev and Hash from the head of the log and
// appends it, durably. A zero e.Time means now; the time is kept to the
// nanosecond, in UTC.
func (s *Store) AppendAudit(ctx context.Context, e *nightowl.AuditEntry) error {
	if err := records.CheckAudit(e, s.opts.Now); err != nil {
		return err
	}
	err := s.do(ctx, func() error {
		return s.inTx(ctx, true, func(w *txWriter) error {
			last, prev, err := w.auditHead()
			if err != nil {
				return err
			}
			next := records.NextAudit(*e, last, prev)
			if err := w.exec(`INSERT INTO audit_log (seq, time, actor, action, subject, detail, prev, hash)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
				next.Seq, next.Time.UnixNano(), next.Actor, next.Action, next.Subject, next.Detail,
				records.AuditPrev(next.Prev), next.Hash); err != nil {
				return err
			}
			if err := w.exec(`INSERT INTO audit_head (id, seq, hash) VALUES (1, ?, ?)
				ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash`, next.Seq, next.Hash); err != nil {
				return err
			}
			*e = next
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("append %s to the audit log: %w", e.Action, err)
	}
	return nil
}

// auditHead returns the seq and hash that the next entry follows: the
// head's, which stays ahead of the rows when the newest were deleted, so
// that the gap stays for verify to find rather than being filled by the next
// append. Without a head (it was deleted, since only an empty log has none)
// the newest row stands in, and the log says so.
func (w *txWriter) auditHead() (int64, []byte, error) {
	var seq int64
	var hash []byte
	err := w.queryRow(`SELECT seq, hash FROM audit_head WHERE id = 1`).Scan(&seq, &hash)
	if err == nil {
		return seq, hash, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return 0, nil, err
	}
	err = w.queryRow(`SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1`).Scan(&seq, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil, nil
	}
	if err != nil {
		return 0, nil, err
	}
	records.WarnHeadless(w.s.log, "sqlite", seq)
	return seq, hash, nil
}

const auditColumns = `seq, time, actor, action, subject, detail, prev, hash`

func scanAudit(sc interface{ Scan(...any) error }) (nightowl.AuditEntry, error) {
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
func (s *Store) AuditEntries(ctx context.Context, q nightowl.AuditQuery) ([]nightowl.AuditEntry, error) {
	var where []string
	var args []any
	if q.Actor != "" {
		where = append(where, `actor = ?`)
		args = append(args, q.Actor)
	}
	if q.Action != "" {
		// substr rather than LIKE, which ignores case and gives _ and %
		// meanings; substr counts characters.
		where = append(where, `substr(action, 1, ?) = ?`)
		args = append(args, utf8.RuneCountInString(q.Action), q.Action)
	}
	if !q.Since.IsZero() {
		where = append(where, `time >= ?`)
		args = append(args, q.Since.UnixNano())
	}
	query := `SELECT ` + auditColumns + ` FROM audit_log`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, ` AND `)
	}
	query += ` ORDER BY seq DESC LIMIT ?`
	args = append(args, sqlLimit(q.Limit))
	rows, err := s.rdb.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("read the audit log: %w", err)
	}
	defer rows.Close()
	var out []nightowl.AuditEntry
	for rows.Next() {
		e, err := scanAudit(rows)
		if err != nil {
			return nil, fmt.Errorf("read the audit log: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the audit log: %w", err)
	}
	return out, nil
}

// AuditChain calls fn with every entry in seq order and returns the head,
// all read in one transaction: one snapshot, however many entries the
// server appends meanwhile.
func (s *Store) AuditChain(ctx context.Context, fn func(nightowl.AuditEntry) error) (nightowl.AuditHead, error) {
	var head nightowl.AuditHead
	tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return head, fmt.Errorf("read the audit log: %w", err)
	}
	defer tx.Rollback()
	// The head first: the first read starts the snapshot.
	err = tx.QueryRowContext(ctx, `SELECT seq, hash FROM audit_head WHERE id = 1`).Scan(&head.Seq, &head.Hash)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return head, fmt.Errorf("read the audit log's head: %w", err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT `+auditColumns+` FROM audit_log ORDER BY seq`)
	if err != nil {
		return head, fmt.Errorf("read the audit log: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		e, err := scanAudit(rows)
		if err != nil {
			return head, fmt.Errorf("read the audit log: %w", err)
		}
		if err := fn(e); err != nil {
			return head, err
		}
	}
	if err := rows.Err(); err != nil {
		return head, fmt.Errorf("read the audit log: %w", err)
	}
	return head, nil
}

// AuditHead returns the head of the log; Seq 0 when there is none.
func (s *Store) AuditHead(ctx context.Context) (nightowl.AuditHead, error) {
	var head nightowl.AuditHead
	err := s.rdb.QueryRowContext(ctx, `SELECT seq, hash FROM audit_head WHERE id = 1`).Scan(&head.Seq, &head.Hash)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return head, fmt.Errorf("read the audit log's head: %w", err)
	}
	return head, nil
}

// AddAuditCheckpoint keeps c, durably, unless a checkpoint of its seq is
// kept already.
func (s *Store) AddAuditCheckpoint(ctx context.Context, c nightowl.AuditCheckpoint) error {
	if err := records.CheckCheckpoint(c); err != nil {
		return err
	}
	err := s.do(ctx, func() error {
		return s.inTx(ctx, true, func(w *txWriter) error {
			return w.exec(`INSERT INTO audit_checkpoints (seq, time, hash, key_id, sig) VALUES (?, ?, ?, ?, ?)
				ON CONFLICT (seq) DO NOTHING`, c.Seq, c.Time.UnixNano(), c.Hash, c.KeyID, c.Sig)
		})
	})
	if err != nil {
		return fmt.Errorf("keep the audit checkpoint of %d: %w", c.Seq, err)
	}
	return nil
}

// AuditCheckpoints returns the checkpoints, newest first; all when limit
// <= 0.
func (s *Store) AuditCheckpoints(ctx context.Context, limit int) ([]nightowl.AuditCheckpoint, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT seq, time, hash, key_id, sig FROM audit_checkpoints ORDER BY seq DESC LIMIT ?`, sqlLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("read the audit checkpoints: %w", err)
	}
	defer rows.Close()
	var out []nightowl.AuditCheckpoint
	for rows.Next() {
		var c nightowl.AuditCheckpoint
		var at int64
		if err := rows.Scan(&c.Seq, &at, &c.Hash, &c.KeyID, &c.Sig); err != nil {
			return nil, fmt.Errorf("read the audit checkpoints: %w", err)
		}
		records.ScannedCheckpoint(&c, at)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the audit checkpoints: %w", err)
	}
	return out, nil
}
