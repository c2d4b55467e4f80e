package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/checkstore"
	"github.com/nightowl/nightowl/internal/records"
)

// Alerts and notifications are written on the writer goroutine like
// everything else, but each change at once and durably: an alert change is
// rare, and what it promises (someone will be told) must survive a crash.

var _ nightowl.AlertStore = (*Store)(nil)

// SaveAlert writes a and queues out in one durable transaction, as a
// compare-and-set on a's version (see nightowl.AlertStore). When many
// alerts change at once (the network went away and every check went down),
// the changes waiting together share one transaction and one fsync.
func (s *Store) SaveAlert(ctx context.Context, a *nightowl.Alert, out []nightowl.Notification) error {
	err := records.SaveAlert(a, out, func(rec records.Alert, from int64) (int64, []int64, error) {
		r := &alertReq{ctx: ctx, a: *a, from: from, rec: rec, out: out, ids: make([]int64, len(out)), done: make(chan error, 1)}
		select {
		case s.alertReqs <- r:
		case <-s.done:
			return 0, nil, errClosed
		case <-ctx.Done():
			return 0, nil, ctx.Err()
		}
		// Once taken, the request is written whatever happens to ctx:
		// the caller must learn whether it was.
		if err := <-r.done; err != nil {
			return 0, nil, err
		}
		return r.changed, r.ids, nil
	})
	if err != nil && nightowl.ErrorCode(err) == nightowl.EInternal {
		return fmt.Errorf("save alert %s: %w", a.ID, err)
	}
	return err
}

// alertReq is an alert change on its way to the writer goroutine.
type alertReq struct {
	ctx  context.Context
	a    nightowl.Alert
	from int64 // the version it was read at
	rec  records.Alert
	out  []nightowl.Notification
	// Set by the writer: the alert rows changed (0 when another write
	// came first) and the IDs of out.
	changed int64
	ids     []int64
	done    chan error
}

// saveAlerts writes first and every other alert change already waiting in
// one durable transaction. Should that fail, each is tried alone, so that
// one bad change cannot sink the others.
func (s *Store) saveAlerts(first *alertReq) {
	reqs := checkstore.Gather(first, s.alertReqs, checkstore.MaxEvents)
	write := func(batch []*alertReq) error {
		return s.inTx(context.Background(), true, func(w *txWriter) error {
			for _, r := range batch {
				if err := w.saveAlert(r); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := write(reqs); err == nil || len(reqs) == 1 {
		for _, r := range reqs {
			r.done <- err
		}
		return
	}
	for _, r := range reqs {
		r.done <- write([]*alertReq{r})
	}
}

func (w *txWriter) saveAlert(r *alertReq) error {
	a := &r.a
	var err error
	if r.from == 0 {
		r.changed, err = w.execCount(`INSERT INTO alerts (id, check_name, state, starts_at, data, version)
			VALUES (?, ?, ?, ?, ?, 1) ON CONFLICT (id) DO NOTHING`,
			a.ID, a.Check, string(a.State), a.StartsAt.UnixNano(), r.rec.Data)
	} else {
		r.changed, err = w.execCount(`UPDATE alerts SET state = ?, data = ?, version = version + 1
			WHERE id = ? AND version = ?`, string(a.State), r.rec.Data, a.ID, r.from)
	}
	if err != nil || r.changed == 0 {
		// Lost to another write: nothing of it is written, and the
		// others in the transaction go on.
		return err
	}
	for i := range r.out {
		n := &r.out[i]
		err := w.queryRow(`INSERT INTO outbox (alert_id, receiver, state, attempts, created_at, next_at, message)
			VALUES (?, ?, 'pending', 0, ?, ?, ?) RETURNING id`,
			a.ID, n.Receiver, n.CreatedAt.UnixNano(), n.NextAt.UnixNano(), r.rec.Messages[i]).Scan(&r.ids[i])
		if err != nil {
			return err
		}
	}
	return nil
}

// Alert returns the alert with the given id.
func (s *Store) Alert(ctx context.Context, id string) (nightowl.Alert, error) {
	a, err := scanAlert(s.rdb.QueryRowContext(ctx, `SELECT data, version FROM alerts WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nightowl.Alert{}, records.NotFound("alert", id)
	}
	if err != nil {
		return nightowl.Alert{}, fmt.Errorf("read alert %s: %w", id, err)
	}
	return a, nil
}

// scanAlert reads an alert's data and its version, which the column holds
// for alerts written before versions were counted.
func scanAlert(sc interface{ Scan(...any) error }) (nightowl.Alert, error) {
	var data []byte
	var version int64
	if err := sc.Scan(&data, &version); err != nil {
		return nightowl.Alert{}, err
	}
	a, err := records.Decode[nightowl.Alert](data)
	a.Version = version
	return a, err
}

// Alerts returns the alerts q selects, newest first.
func (s *Store) Alerts(ctx context.Context, q nightowl.AlertQuery) ([]nightowl.Alert, error) {
	var where []string
	var args []any
	if q.Open {
		where = append(where, `state <> 'resolved'`)
	}
	if q.Check != "" {
		where = append(where, `check_name = ?`)
		args = append(args, q.Check)
	}
	query := `SELECT data, version FROM alerts`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, ` AND `)
	}
	query += ` ORDER BY starts_at DESC, id LIMIT ?`
	args = append(args, sqlLimit(records.AlertLimit(q)))
	rows, err := s.rdb.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("read alerts: %w", err)
	}
	defer rows.Close()
	var out []nightowl.Alert
	for rows.Next() {
		a, err := scanAlert(rows)
		if err != nil {
			return nil, fmt.Errorf("read alerts: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read alerts: %w", err)
	}
	return out, nil
}

const notificationColumns = `id, alert_id, receiver, state, attempts, created_at, next_at, sent_at, error, message`

func scanNotification(sc interface{ Scan(...any) error }) (nightowl.Notification, error) {
	var n nightowl.Notification
	var created, next, sent sql.NullInt64
	var msg []byte
	if err := sc.Scan(&n.ID, &n.AlertID, &n.Receiver, &n.State, &n.Attempts, &created, &next, &sent, &n.Error, &msg); err != nil {
		return n, err
	}
	n.CreatedAt, n.NextAt, n.SentAt = fromNanos(created), fromNanos(next), fromNanos(sent)
	return n, records.DecodeNotification(&n, msg)
}

func scanNotifications(rows *sql.Rows) ([]nightowl.Notification, error) {
	defer rows.Close()
	var out []nightowl.Notification
	for rows.Next() {
		n, err := scanNotification(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// Notifications returns the notifications q selects, newest first.
func (s *Store) Notifications(ctx context.Context, q nightowl.NotificationQuery) ([]nightowl.Notification, error) {
	var where []string
	var args []any
	if q.AlertID != "" {
		where = append(where, `alert_id = ?`)
		args = append(args, q.AlertID)
	}
	if q.State != "" {
		where = append(where, `state = ?`)
		args = append(args, string(q.State))
	}
	query := `SELECT ` + notificationColumns + ` FROM outbox`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, ` AND `)
	}
	query += ` ORDER BY id DESC LIMIT ?`
	args = append(args, records.NotificationLimit(q))
	rows, err := s.rdb.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("read notifications: %w", err)
	}
	out, err := scanNotifications(rows)
	if err != nil {
		return nil, fmt.Errorf("read notifications: %w", err)
	}
	return out, nil
}

// ClaimNotifications leases up to limit due notifications to owner.
func (s *Store) ClaimNotifications(ctx context.Context, owner string, now time.Time, limit int, lease time.Duration) ([]nightowl.Notification, error) {
	var out []nightowl.Notification
	err := s.do(ctx, func() error {
		out = out[:0]
		return s.inTx(ctx, false, func(w *txWriter) error {
			st, err := w.stmt(`UPDATE outbox SET claimed_by = ?, claimed_until = ?, attempts = attempts + 1
				WHERE id IN (SELECT id FROM outbox
					WHERE state = 'pending' AND next_at <= ? AND (claimed_until IS NULL OR claimed_until <= ?)
					ORDER BY next_at, id LIMIT ?)
				RETURNING ` + notificationColumns)
			if err != nil {
				return err
			}
			rows, err := st.QueryContext(ctx, owner, now.Add(lease).UnixNano(), now.UnixNano(), now.UnixNano(), limit)
			if err != nil {
				return err
			}
			out, err = scanNotifications(rows)
			return err
		})
	})
	if err != nil {
		return nil, fmt.Errorf("claim notifications: %w", err)
	}
	return out, nil
}

// ReleaseClaims ends the leases owner holds.
func (s *Store) ReleaseClaims(ctx context.Context, owner string) error {
	err := s.do(ctx, func() error {
		return s.inTx(ctx, false, func(w *txWriter) error {
			return w.exec(`UPDATE outbox SET claimed_by = NULL, claimed_until = NULL
				WHERE claimed_by = ? AND state = 'pending'`, owner)
		})
	})
	if err != nil {
		return fmt.Errorf("release notification claims: %w", err)
	}
	return nil
}

// FinishNotification records the outcome of an attempt at n.
func (s *Store) FinishNotification(ctx context.Context, n *nightowl.Notification) error {
	err := s.do(ctx, func() error {
		// Not synced at once: a process crash loses nothing, and after a
		// power cut the worst case is sending n again.
		return s.inTx(ctx, false, func(w *txWriter) error {
			return w.exec(`UPDATE outbox SET state = ?, next_at = ?, sent_at = ?, error = ?,
				claimed_by = NULL, claimed_until = NULL WHERE id = ?`,
				string(n.State), n.NextAt.UnixNano(), nanos(n.SentAt), n.Error, n.ID)
		})
	})
	if err != nil {
		return fmt.Errorf("finish notification %d: %w", n.ID, err)
	}
	return nil
}

// OutboxStats counts pending and failed notifications per receiver.
func (s *Store) OutboxStats(ctx context.Context) ([]nightowl.OutboxStats, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT receiver,
		SUM(state = 'pending'), MIN(CASE WHEN state = 'pending' THEN created_at END), SUM(state = 'failed')
		FROM outbox WHERE state <> 'sent' GROUP BY receiver ORDER BY receiver`)
	if err != nil {
		return nil, fmt.Errorf("read outbox: %w", err)
	}
	defer rows.Close()
	var out []nightowl.OutboxStats
	for rows.Next() {
		var o nightowl.OutboxStats
		var oldest sql.NullInt64
		if err := rows.Scan(&o.Receiver, &o.Pending, &oldest, &o.Failed); err != nil {
			return nil, fmt.Errorf("read outbox: %w", err)
		}
		o.OldestPending = fromNanos(oldest)
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read outbox: %w", err)
	}
	return out, nil
}

// Secret returns the named secret, creating it on first use.
func (s *Store) Secret(ctx context.Context, name string, size int) ([]byte, error) {
	var v []byte
	err := s.do(ctx, func() error {
		return s.inTx(ctx, true, func(w *txWriter) error {
			fresh := make([]byte, size)
			if _, err := rand.Read(fresh); err != nil {
				return err
			}
			if err := w.exec(`INSERT INTO secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`, name, fresh); err != nil {
				return err
			}
			return w.queryRow(`SELECT value FROM secrets WHERE name = ?`, name).Scan(&v)
		})
	})
	if err != nil {
		return nil, fmt.Errorf("secret %s: %w", name, err)
	}
	return v, nil
}

// queuedStates returns the queued states of the checks of these events, to
// be written with them. They stay queued: the next flush writes them again,
// or a newer state, which is no harm.
func (s *Store) queuedStates(reqs []*checkstore.EventReq) map[string]nightowl.State {
	checks := make([]string, len(reqs))
	for i, r := range reqs {
		checks[i] = r.E.Check
	}
	return s.q.States(checks)
}
