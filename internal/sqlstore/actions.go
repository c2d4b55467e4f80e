package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/records"
)

// Action requests are few (people make them by hand) and each change is a
// promise someone acts on: an approval, a run about to start. So each is
// written at once and durably.

// saveRequestSQL writes a request over the version it was read at.
const saveRequestSQL = `INSERT INTO action_requests (id, action, state, requested_at, started_at, data, version)
	VALUES (?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (id) DO UPDATE SET state = excluded.state, started_at = excluded.started_at,
		data = excluded.data, version = excluded.version
	WHERE action_requests.version = ?`

func (db *DB) saveRequest(ctx context.Context, tx Conn, r *nightowl.ActionRequest, data []byte, from int64) (int64, error) {
	return db.exec(ctx, tx, saveRequestSQL,
		r.ID, r.Action, string(r.State), db.time(r.RequestedAt), db.nullTime(r.StartedAt), data, r.Version, from)
}

// SaveRequest creates or updates r in one durable transaction, as a
// compare-and-set on its version (see nightowl.ActionStore). The action and
// the time of the request are fixed when it is created.
func (db *DB) SaveRequest(ctx context.Context, r *nightowl.ActionRequest) error {
	err := records.SaveRequest(r, func(data []byte, from int64) (n int64, err error) {
		err = db.write(ctx, true, func(tx Conn) error {
			n, err = db.saveRequest(ctx, tx, r, data, from)
			return err
		})
		return n, err
	})
	if err != nil && nightowl.ErrorCode(err) == nightowl.EInternal {
		return fmt.Errorf("save action request %s: %w", r.ID, err)
	}
	return err
}

// StartRequest saves r, moved to running, unless another request of its
// action started within cooldown (see nightowl.ActionStore). The check and
// the write are one transaction, under the dialect's LockAction: starts
// follow one another, each reading what the one before committed.
func (db *DB) StartRequest(ctx context.Context, r *nightowl.ActionRequest, cooldown time.Duration) (time.Time, error) {
	last, err := records.StartRequest(r, cooldown, func(data []byte, from int64, since time.Time) (n int64, last time.Time, err error) {
		err = db.write(ctx, true, func(tx Conn) error {
			if !since.IsZero() {
				if db.d.LockAction != "" {
					if _, err := db.exec(ctx, tx, db.d.LockAction, r.Action); err != nil {
						return err
					}
				}
				if err := db.queryRow(ctx, tx, `SELECT MAX(started_at) FROM action_requests WHERE action = ? AND id <> ? AND started_at > ?`,
					r.Action, r.ID, db.time(since)).Scan(At(&last)); err != nil {
					return err
				}
				if !last.IsZero() {
					return nil
				}
			}
			n, err = db.saveRequest(ctx, tx, r, data, from)
			return err
		})
		return n, last, err
	})
	if err != nil && nightowl.ErrorCode(err) == nightowl.EInternal {
		return last, fmt.Errorf("start action request %s: %w", r.ID, err)
	}
	return last, err
}

// Request returns the request with the given ID.
func (db *DB) Request(ctx context.Context, id string) (nightowl.ActionRequest, error) {
	var data []byte
	err := db.queryRow(ctx, db.read, `SELECT data FROM action_requests WHERE id = ?`, id).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nightowl.ActionRequest{}, records.NotFound("action request", id)
	}
	if err != nil {
		return nightowl.ActionRequest{}, fmt.Errorf("read action request %s: %w", id, err)
	}
	r, err := records.Decode[nightowl.ActionRequest](data)
	if err != nil {
		return r, fmt.Errorf("read action request %s: %w", id, err)
	}
	return r, nil
}

// Requests returns the requests q selects, newest first. Open requests are
// all returned unless q gives a limit: there are few, and each needs
// someone.
func (db *DB) Requests(ctx context.Context, q nightowl.ActionQuery) ([]nightowl.ActionRequest, error) {
	var w Where
	if q.Open {
		w.Add(`state IN ('pending', 'approved')`)
	}
	if q.Action != "" {
		w.Add(`action = ?`, q.Action)
	}
	rows, err := db.query(ctx, db.read, `SELECT data FROM action_requests`+w.SQL()+` ORDER BY requested_at DESC, id DESC LIMIT ?`,
		append(w.Args, db.limit(records.RequestLimit(q)))...)
	out, err := Collect(rows, err, func(sc Scanner) (nightowl.ActionRequest, error) {
		var data []byte
		if err := sc.Scan(&data); err != nil {
			return nightowl.ActionRequest{}, err
		}
		return records.Decode[nightowl.ActionRequest](data)
	})
	if err != nil {
		return nil, fmt.Errorf("read action requests: %w", err)
	}
	return out, nil
}

// LastRun returns when a request for the action last started running; the
// zero time when none has.
func (db *DB) LastRun(ctx context.Context, action string) (time.Time, error) {
	var last time.Time
	err := db.queryRow(ctx, db.read, `SELECT MAX(started_at) FROM action_requests WHERE action = ?`, action).Scan(At(&last))
	if err != nil {
		return time.Time{}, fmt.Errorf("read last run of action %s: %w", action, err)
	}
	return last, nil
}
