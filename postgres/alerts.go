package postgres

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/records"
)

// Alerts and notifications are written at once, each change in its own
// transaction: what a change promises (someone will be told) must be on
// disk before the caller goes on. Every node's sender claims from the one
// outbox; row locks taken with SKIP LOCKED hand each notification to one.

var _ nightowl.AlertStore = (*Store)(nil)

// SaveAlert writes a and queues out in one transaction, as a
// compare-and-set on a's version (see nightowl.AlertStore). Of nodes
// updating one alert at once, the first takes the row's lock; the others
// wait for it to commit, then find the version moved and change nothing.
func (s *Store) SaveAlert(ctx context.Context, a *nightowl.Alert, out []nightowl.Notification) error {
	err := records.SaveAlert(a, out, func(rec records.Alert, from int64) (changed int64, ids []int64, err error) {
		ids = make([]int64, len(out))
		err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			var tag pgconn.CommandTag
			var err error
			if from == 0 {
				tag, err = tx.Exec(ctx, `INSERT INTO alerts (id, check_name, state, starts_at, data, version)
					VALUES ($1, $2, $3, $4, $5, 1) ON CONFLICT (id) DO NOTHING`,
					a.ID, a.Check, string(a.State), a.StartsAt, rec.Data)
			} else {
				tag, err = tx.Exec(ctx, `UPDATE alerts SET state = $1, data = $2, version = version + 1
					WHERE id = $3 AND version = $4`, string(a.State), rec.Data, a.ID, from)
			}
			if err != nil {
				return err
			}
			if changed = tag.RowsAffected(); changed == 0 {
				return nil
			}
			for i := range out {
				n := &out[i]
				err := tx.QueryRow(ctx, `INSERT INTO outbox (alert_id, receiver, state, attempts, created_at, next_at, message)
					VALUES ($1, $2, 'pending', 0, $3, $4, $5) RETURNING id`,
					a.ID, n.Receiver, n.CreatedAt, n.NextAt, rec.Messages[i]).Scan(&ids[i])
				if err != nil {
					return err
				}
			}
			return nil
		})
		return changed, ids, err
	})
	if err != nil && nightowl.ErrorCode(err) == nightowl.EInternal {
		return fmt.Errorf("save alert %s: %w", a.ID, err)
	}
	return err
}

// Alert returns the alert with the given id.
func (s *Store) Alert(ctx context.Context, id string) (nightowl.Alert, error) {
	a, err := recScanAlert(s.pool.QueryRow(ctx, `SELECT data, version FROM alerts WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nightowl.Alert{}, records.NotFound("alert", id)
	}
	if err != nil {
		return nightowl.Alert{}, fmt.Errorf("read alert %s: %w", id, err)
	}
	return a, nil
}

// recScanAlert reads an alert's data and its version, which the column
// holds for alerts written before versions were counted.
func recScanAlert(r pgx.Row) (nightowl.Alert, error) {
	var data []byte
	var version int64
	if err := r.Scan(&data, &version); err != nil {
		return nightowl.Alert{}, err
	}
	a, err := records.Decode[nightowl.Alert](data)
	a.Version = version
	return a, err
}

// Alerts returns the alerts q selects, newest first.
func (s *Store) Alerts(ctx context.Context, q nightowl.AlertQuery) ([]nightowl.Alert, error) {
	var w recWhere
	if q.Open {
		w.add(`state <> 'resolved'`)
	}
	if q.Check != "" {
		w.add(`check_name = ` + w.arg(q.Check))
	}
	query := `SELECT data, version FROM alerts` + w.sql() + ` ORDER BY starts_at DESC, id LIMIT ` +
		w.arg(recLimit(records.AlertLimit(q)))
	rows, err := s.pool.Query(ctx, query, w.args...)
	if err != nil {
		return nil, fmt.Errorf("read alerts: %w", err)
	}
	out, err := recCollect(rows, func(r pgx.CollectableRow) (nightowl.Alert, error) { return recScanAlert(r) })
	if err != nil {
		return nil, fmt.Errorf("read alerts: %w", err)
	}
	return out, nil
}

const recNotificationColumns = `id, alert_id, receiver, state, attempts, created_at, next_at, sent_at, error, message`

func recScanNotification(r pgx.CollectableRow) (nightowl.Notification, error) {
	var n nightowl.Notification
	var state string
	var created, next, sent pgtype.Timestamptz
	var msg []byte
	if err := r.Scan(&n.ID, &n.AlertID, &n.Receiver, &state, &n.Attempts, &created, &next, &sent, &n.Error, &msg); err != nil {
		return n, err
	}
	n.State = nightowl.NotificationState(state)
	n.CreatedAt, n.NextAt, n.SentAt = recTimeOf(created), recTimeOf(next), recTimeOf(sent)
	return n, records.DecodeNotification(&n, msg)
}

// Notifications returns the notifications q selects, newest first.
func (s *Store) Notifications(ctx context.Context, q nightowl.NotificationQuery) ([]nightowl.Notification, error) {
	var w recWhere
	if q.AlertID != "" {
		w.add(`alert_id = ` + w.arg(q.AlertID))
	}
	if q.State != "" {
		w.add(`state = ` + w.arg(string(q.State)))
	}
	rows, err := s.pool.Query(ctx, `SELECT `+recNotificationColumns+` FROM outbox`+w.sql()+
		` ORDER BY id DESC LIMIT `+w.arg(records.NotificationLimit(q)), w.args...)
	if err != nil {
		return nil, fmt.Errorf("read notifications: %w", err)
	}
	out, err := recCollect(rows, recScanNotification)
	if err != nil {
		return nil, fmt.Errorf("read notifications: %w", err)
	}
	return out, nil
}

// ClaimNotifications leases up to limit due notifications to owner. The
// rows are chosen and locked with SKIP LOCKED and leased in the same
// statement: a node claiming at the same moment passes over the rows this
// one is taking rather than waiting for them, and a row this one leased and
// committed no longer matches when another node's scan reaches it, since
// PostgreSQL checks a locked row's condition again on its newest version.
// So each notification is claimed by one node.
func (s *Store) ClaimNotifications(ctx context.Context, owner string, now time.Time, limit int, lease time.Duration) ([]nightowl.Notification, error) {
	if limit == 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, `WITH due AS (
			SELECT id FROM outbox
			WHERE state = 'pending' AND next_at <= $1 AND (claimed_until IS NULL OR claimed_until <= $1)
			ORDER BY next_at, id LIMIT $2
			FOR UPDATE SKIP LOCKED)
		UPDATE outbox SET claimed_by = $3, claimed_until = $4, attempts = attempts + 1
		FROM due WHERE outbox.id = due.id
		RETURNING `+recQualify("outbox", recNotificationColumns),
		now, recLimit(limit), owner, now.Add(lease))
	if err != nil {
		return nil, fmt.Errorf("claim notifications: %w", err)
	}
	out, err := recCollect(rows, recScanNotification)
	if err != nil {
		return nil, fmt.Errorf("claim notifications: %w", err)
	}
	// RETURNING keeps no order: the oldest due first, as promised.
	slices.SortFunc(out, func(a, b nightowl.Notification) int {
		if c := a.NextAt.Compare(b.NextAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out, nil
}

// recQualify prefixes each of a list of columns with a table's name.
func recQualify(table, columns string) string {
	cols := strings.Split(columns, ",")
	for i, c := range cols {
		cols[i] = table + "." + strings.TrimSpace(c)
	}
	return strings.Join(cols, ", ")
}

// ReleaseClaims ends the leases owner holds, and nobody else's.
func (s *Store) ReleaseClaims(ctx context.Context, owner string) error {
	_, err := s.pool.Exec(ctx, `UPDATE outbox SET claimed_by = NULL, claimed_until = NULL
		WHERE claimed_by = $1 AND state = 'pending'`, owner)
	if err != nil {
		return fmt.Errorf("release notification claims: %w", err)
	}
	return nil
}

// FinishNotification records the outcome of an attempt at n.
func (s *Store) FinishNotification(ctx context.Context, n *nightowl.Notification) error {
	_, err := s.pool.Exec(ctx, `UPDATE outbox SET state = $1, next_at = $2, sent_at = $3, error = $4,
		claimed_by = NULL, claimed_until = NULL WHERE id = $5`,
		string(n.State), n.NextAt, recTime(n.SentAt), n.Error, n.ID)
	if err != nil {
		return fmt.Errorf("finish notification %d: %w", n.ID, err)
	}
	return nil
}

// OutboxStats counts pending and failed notifications per receiver.
func (s *Store) OutboxStats(ctx context.Context) ([]nightowl.OutboxStats, error) {
	rows, err := s.pool.Query(ctx, `SELECT receiver,
		COUNT(*) FILTER (WHERE state = 'pending'), MIN(created_at) FILTER (WHERE state = 'pending'),
		COUNT(*) FILTER (WHERE state = 'failed')
		FROM outbox WHERE state <> 'sent' GROUP BY receiver ORDER BY receiver`)
	if err != nil {
		return nil, fmt.Errorf("read outbox: %w", err)
	}
	out, err := recCollect(rows, func(r pgx.CollectableRow) (nightowl.OutboxStats, error) {
		var o nightowl.OutboxStats
		var oldest pgtype.Timestamptz
		err := r.Scan(&o.Receiver, &o.Pending, &oldest, &o.Failed)
		o.OldestPending = recTimeOf(oldest)
		return o, err
	})
	if err != nil {
		return nil, fmt.Errorf("read outbox: %w", err)
	}
	return out, nil
}

// Secret returns the named secret, creating it on first use. Nodes that
// create it at the same moment all get the one that was inserted first: the
// insert of a later one waits for the first to commit, then does nothing,
// and the select that follows, a new statement, sees the first.
func (s *Store) Secret(ctx context.Context, name string, size int) ([]byte, error) {
	fresh := make([]byte, size)
	if _, err := rand.Read(fresh); err != nil {
		return nil, fmt.Errorf("secret %s: %w", name, err)
	}
	var v []byte
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`, name, fresh); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT value FROM secrets WHERE name = $1`, name).Scan(&v)
	})
	if err != nil {
		return nil, fmt.Errorf("secret %s: %w", name, err)
	}
	return v, nil
}
