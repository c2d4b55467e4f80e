package sqlstore

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"

	"database/sql"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/records"
)

// WriteAlert writes one alert change in tx: rec, the alert a with its next
// version, over the version from (inserted when from is 0, unless an alert
// of its ID is stored), and, when that changed the alert's row, the
// notifications of out, whose IDs it returns. changed is 0 when another
// write came first: then nothing is written. How the transaction is run
// (alone, or with the other changes waiting) is the store's.
func WriteAlert(ctx context.Context, db *DB, tx Conn, a *nightowl.Alert, from int64, rec records.Alert, out []nightowl.Notification) (changed int64, ids []int64, err error) {
	if from == 0 {
		changed, err = db.exec(ctx, tx, `INSERT INTO alerts (id, check_name, state, starts_at, data, version)
			VALUES (?, ?, ?, ?, ?, 1) ON CONFLICT (id) DO NOTHING`,
			a.ID, a.Check, string(a.State), db.time(a.StartsAt), rec.Data)
	} else {
		changed, err = db.exec(ctx, tx, `UPDATE alerts SET state = ?, data = ?, version = version + 1
			WHERE id = ? AND version = ?`, string(a.State), rec.Data, a.ID, from)
	}
	if err != nil || changed == 0 {
		return changed, nil, err
	}
	if a.State != nightowl.AlertFiring {
		// Acknowledged or resolved: the pages to people's contact
		// methods still waiting are moot. One being sent now (claimed)
		// is left to finish.
		if _, err := db.exec(ctx, tx, `UPDATE outbox SET state = 'cancelled', error = ?
			WHERE alert_id = ? AND state = 'pending' AND until_ack = ? AND claimed_by IS NULL`,
			"alert "+string(a.State)+" before it was sent", a.ID, true); err != nil {
			return changed, nil, err
		}
	}
	ids = make([]int64, len(out))
	for i := range out {
		n := &out[i]
		err := db.queryRow(ctx, tx, `INSERT INTO outbox (alert_id, receiver, state, attempts, created_at, next_at, message, until_ack)
			VALUES (?, ?, 'pending', 0, ?, ?, ?, ?) RETURNING id`,
			a.ID, n.Receiver, db.time(n.CreatedAt), db.time(n.NextAt), rec.Messages[i], n.UntilAck).Scan(&ids[i])
		if err != nil {
			return changed, nil, err
		}
	}
	return changed, ids, nil
}

// Alert returns the alert with the given id.
func (db *DB) Alert(ctx context.Context, id string) (nightowl.Alert, error) {
	a, err := ScanAlert(db.queryRow(ctx, db.read, `SELECT data, version FROM alerts WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nightowl.Alert{}, records.NotFound("alert", id)
	}
	if err != nil {
		return nightowl.Alert{}, fmt.Errorf("read alert %s: %w", id, err)
	}
	return a, nil
}

// ScanAlert reads an alert's data and its version, which the column holds
// for alerts written before versions were counted.
func ScanAlert(sc Scanner) (nightowl.Alert, error) {
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
func (db *DB) Alerts(ctx context.Context, q nightowl.AlertQuery) ([]nightowl.Alert, error) {
	var w Where
	if q.Open {
		w.Add(`state <> 'resolved'`)
	}
	if q.Check != "" {
		w.Add(`check_name = ?`, q.Check)
	}
	rows, err := db.query(ctx, db.read, `SELECT data, version FROM alerts`+w.SQL()+` ORDER BY starts_at DESC, id LIMIT ?`,
		append(w.Args, db.limit(records.AlertLimit(q)))...)
	out, err := Collect(rows, err, ScanAlert)
	if err != nil {
		return nil, fmt.Errorf("read alerts: %w", err)
	}
	return out, nil
}

// NotificationColumns are the columns ScanNotification reads, in order.
const NotificationColumns = `id, alert_id, receiver, state, attempts, created_at, next_at, sent_at, error, message, until_ack`

// ScanNotification reads a row of NotificationColumns.
func ScanNotification(sc Scanner) (nightowl.Notification, error) {
	var n nightowl.Notification
	var msg []byte
	if err := sc.Scan(&n.ID, &n.AlertID, &n.Receiver, &n.State, &n.Attempts,
		At(&n.CreatedAt), At(&n.NextAt), At(&n.SentAt), &n.Error, &msg, &n.UntilAck); err != nil {
		return n, err
	}
	return n, records.DecodeNotification(&n, msg)
}

// Notifications returns the notifications q selects, newest first.
func (db *DB) Notifications(ctx context.Context, q nightowl.NotificationQuery) ([]nightowl.Notification, error) {
	var w Where
	if q.AlertID != "" {
		w.Add(`alert_id = ?`, q.AlertID)
	}
	if q.State != "" {
		w.Add(`state = ?`, string(q.State))
	}
	rows, err := db.query(ctx, db.read, `SELECT `+NotificationColumns+` FROM outbox`+w.SQL()+` ORDER BY id DESC LIMIT ?`,
		append(w.Args, db.limit(records.NotificationLimit(q)))...)
	out, err := Collect(rows, err, ScanNotification)
	if err != nil {
		return nil, fmt.Errorf("read notifications: %w", err)
	}
	return out, nil
}

// ReleaseClaims ends the leases owner holds, and nobody else's.
func (db *DB) ReleaseClaims(ctx context.Context, owner string) error {
	err := db.write(ctx, false, func(tx Conn) error {
		_, err := db.exec(ctx, tx, `UPDATE outbox SET claimed_by = NULL, claimed_until = NULL
			WHERE claimed_by = ? AND state = 'pending'`, owner)
		return err
	})
	if err != nil {
		return fmt.Errorf("release notification claims: %w", err)
	}
	return nil
}

// FinishNotification records the outcome of an attempt at n. Not synced
// at once: a process crash loses nothing, and after a power cut the worst
// case is sending n again.
func (db *DB) FinishNotification(ctx context.Context, n *nightowl.Notification) error {
	err := db.write(ctx, false, func(tx Conn) error {
		_, err := db.exec(ctx, tx, `UPDATE outbox SET state = ?, next_at = ?, sent_at = ?, error = ?,
			claimed_by = NULL, claimed_until = NULL WHERE id = ?`,
			string(n.State), db.time(n.NextAt), db.nullTime(n.SentAt), n.Error, n.ID)
		return err
	})
	if err != nil {
		return fmt.Errorf("finish notification %d: %w", n.ID, err)
	}
	return nil
}

// OutboxStats counts pending and failed notifications per receiver.
func (db *DB) OutboxStats(ctx context.Context) ([]nightowl.OutboxStats, error) {
	rows, err := db.query(ctx, db.read, `SELECT receiver,
		COUNT(CASE WHEN state = 'pending' THEN 1 END), MIN(CASE WHEN state = 'pending' THEN created_at END),
		COUNT(CASE WHEN state = 'failed' THEN 1 END)
		FROM outbox WHERE state <> 'sent' GROUP BY receiver ORDER BY receiver`)
	out, err := Collect(rows, err, func(sc Scanner) (nightowl.OutboxStats, error) {
		var o nightowl.OutboxStats
		err := sc.Scan(&o.Receiver, &o.Pending, At(&o.OldestPending), &o.Failed)
		return o, err
	})
	if err != nil {
		return nil, fmt.Errorf("read outbox: %w", err)
	}
	return out, nil
}

// Secret returns the named secret, creating it on first use, durably.
// Stores that create it at the same moment all get the one that was
// inserted first: the insert of a later one waits for the first to commit,
// then does nothing, and the select that follows, a new statement, sees
// the first.
func (db *DB) Secret(ctx context.Context, name string, size int) ([]byte, error) {
	fresh := make([]byte, size)
	if _, err := rand.Read(fresh); err != nil {
		return nil, fmt.Errorf("secret %s: %w", name, err)
	}
	var v []byte
	err := db.write(ctx, true, func(tx Conn) error {
		if _, err := db.exec(ctx, tx, `INSERT INTO secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`, name, fresh); err != nil {
			return err
		}
		return db.queryRow(ctx, tx, `SELECT value FROM secrets WHERE name = ?`, name).Scan(&v)
	})
	if err != nil {
		return nil, fmt.Errorf("secret %s: %w", name, err)
	}
	return v, nil
}
