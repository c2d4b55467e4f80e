package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/records"
)

// The audit log is one chain however many nodes append to it: each append
// takes the advisory lock recAuditLock for its transaction before it reads
// the head, so appends from every node follow one another, each reading the
// head the one before committed. Nothing here updates or deletes a row of
// audit_log (and triggers refuse it): the log is kept whole, for good.

var _ nightowl.AuditStore = (*Store)(nil)

// recAuditLock is the key of the advisory lock that serialises appends.
const recAuditLock = 0x6e6f2d6175646974 // "no-audit"

// AppendAudit sets e's Seq, Prev and Hash from the head of the log and
// appends it. A zero e.Time means now; the time is kept to the nanosecond,
// in UTC.
func (s *Store) AppendAudit(ctx context.Context, e *nightowl.AuditEntry) error {
	if err := records.CheckAudit(e, s.opts.Now); err != nil {
		return err
	}
	var next nightowl.AuditEntry
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// Read committed: the statements after the lock see what the
		// append before committed.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(recAuditLock)); err != nil {
			return err
		}
		last, prev, err := s.recAuditHead(ctx, tx)
		if err != nil {
			return err
		}
		next = records.NextAudit(*e, last, prev)
		if _, err := tx.Exec(ctx, `INSERT INTO audit_log (seq, time_ns, actor, action, subject, detail, prev, hash)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			next.Seq, next.Time.UnixNano(), next.Actor, next.Action, next.Subject, next.Detail,
			records.AuditPrev(next.Prev), next.Hash); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO audit_head (id, seq, hash) VALUES (1, $1, $2)
			ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash`, next.Seq, next.Hash)
		return err
	})
	if err != nil {
		return fmt.Errorf("append %s to the audit log: %w", e.Action, err)
	}
	*e = next
	return nil
}

// recAuditHead returns the seq and hash that the next entry follows: the
// head's, which stays ahead of the rows when the newest were deleted, so
// that the gap stays for verify to find rather than being filled by the next
// append. Without a head (it was deleted, since only an empty log has none)
// the newest row stands in, and the log says so.
func (s *Store) recAuditHead(ctx context.Context, tx pgx.Tx) (int64, []byte, error) {
	var seq int64
	var hash []byte
	err := tx.QueryRow(ctx, `SELECT seq, hash FROM audit_head WHERE id = 1`).Scan(&seq, &hash)
	if err == nil {
		return seq, hash, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return 0, nil, err
	}
	err = tx.QueryRow(ctx, `SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1`).Scan(&seq, &hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil, nil
	}
	if err != nil {
		return 0, nil, err
	}
	records.WarnHeadless(s.log, "postgres", seq)
	return seq, hash, nil
}

const recAuditColumns = `seq, time_ns, actor, action, subject, detail, prev, hash`

func recScanAudit(r pgx.CollectableRow) (nightowl.AuditEntry, error) {
	var e nightowl.AuditEntry
	var at int64
	if err := r.Scan(&e.Seq, &at, &e.Actor, &e.Action, &e.Subject, &e.Detail, &e.Prev, &e.Hash); err != nil {
		return e, err
	}
	records.ScannedAudit(&e, at)
	return e, nil
}

// AuditEntries returns the entries q selects, newest first; a Limit <= 0
// means all.
func (s *Store) AuditEntries(ctx context.Context, q nightowl.AuditQuery) ([]nightowl.AuditEntry, error) {
	var w recWhere
	if q.Actor != "" {
		w.add(`actor = ` + w.arg(q.Actor))
	}
	if q.Action != "" {
		// starts_with rather than LIKE, which gives _ and % meanings.
		w.add(`starts_with(action, ` + w.arg(q.Action) + `)`)
	}
	if !q.Since.IsZero() {
		w.add(`time_ns >= ` + w.arg(q.Since.UnixNano()))
	}
	rows, err := s.pool.Query(ctx, `SELECT `+recAuditColumns+` FROM audit_log`+w.sql()+
		` ORDER BY seq DESC LIMIT `+w.arg(recLimit(q.Limit)), w.args...)
	if err != nil {
		return nil, fmt.Errorf("read the audit log: %w", err)
	}
	out, err := recCollect(rows, recScanAudit)
	if err != nil {
		return nil, fmt.Errorf("read the audit log: %w", err)
	}
	return out, nil
}

// AuditChain calls fn with every entry in seq order, as the rows arrive, and
// returns the head, all read in one repeatable-read transaction: one
// snapshot, however many entries the nodes append meanwhile.
func (s *Store) AuditChain(ctx context.Context, fn func(nightowl.AuditEntry) error) (nightowl.AuditHead, error) {
	var head nightowl.AuditHead
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return head, fmt.Errorf("read the audit log: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	// The head first: the first statement takes the snapshot.
	err = tx.QueryRow(ctx, `SELECT seq, hash FROM audit_head WHERE id = 1`).Scan(&head.Seq, &head.Hash)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return head, fmt.Errorf("read the audit log's head: %w", err)
	}
	rows, err := tx.Query(ctx, `SELECT `+recAuditColumns+` FROM audit_log ORDER BY seq`)
	if err != nil {
		return head, fmt.Errorf("read the audit log: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		e, err := recScanAudit(rows)
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
	err := s.pool.QueryRow(ctx, `SELECT seq, hash FROM audit_head WHERE id = 1`).Scan(&head.Seq, &head.Hash)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return head, fmt.Errorf("read the audit log's head: %w", err)
	}
	return head, nil
}

// AddAuditCheckpoint keeps c unless a checkpoint of its seq is kept
// already: nodes that sign the same head at once keep the first.
func (s *Store) AddAuditCheckpoint(ctx context.Context, c nightowl.AuditCheckpoint) error {
	if err := records.CheckCheckpoint(c); err != nil {
		return err
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO audit_checkpoints (seq, time_ns, hash, key_id, sig) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (seq) DO NOTHING`, c.Seq, c.Time.UnixNano(), c.Hash, c.KeyID, c.Sig)
	if err != nil {
		return fmt.Errorf("keep the audit checkpoint of %d: %w", c.Seq, err)
	}
	return nil
}

// AuditCheckpoints returns the checkpoints, newest first; all when limit
// <= 0.
func (s *Store) AuditCheckpoints(ctx context.Context, limit int) ([]nightowl.AuditCheckpoint, error) {
	rows, err := s.pool.Query(ctx, `SELECT seq, time_ns, hash, key_id, sig FROM audit_checkpoints ORDER BY seq DESC LIMIT $1`, recLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("read the audit checkpoints: %w", err)
	}
	out, err := recCollect(rows, func(r pgx.CollectableRow) (nightowl.AuditCheckpoint, error) {
		var c nightowl.AuditCheckpoint
		var at int64
		if err := r.Scan(&c.Seq, &at, &c.Hash, &c.KeyID, &c.Sig); err != nil {
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
