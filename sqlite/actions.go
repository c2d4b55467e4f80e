package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/records"
)

// Action requests are few (people make them by hand) and each change is a
// promise someone acts on: an approval, a run about to start. So each is
// written at once and durably, on the writer goroutine.

var _ nightowl.ActionStore = (*Store)(nil)

// saveRequestSQL writes a request over the version it was read at.
const saveRequestSQL = `INSERT INTO action_requests (id, action, state, requested_at, started_at, data, version)
	VALUES (?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (id) DO UPDATE SET state = excluded.state, started_at = excluded.started_at,
		data = excluded.data, version = excluded.version
	WHERE action_requests.version = ?`

// SaveRequest creates or updates r in one durable transaction, as a
// compare-and-set on its version (see nightowl.ActionStore). The action and
// the time of the request are fixed when it is created.
func (s *Store) SaveRequest(ctx context.Context, r *nightowl.ActionRequest) error {
	err := records.SaveRequest(r, func(data []byte, from int64) (n int64, err error) {
		err = s.do(ctx, func() error {
			return s.inTx(ctx, true, func(w *txWriter) error {
				n, err = w.execCount(saveRequestSQL,
					r.ID, r.Action, string(r.State), r.RequestedAt.UnixNano(), nanos(r.StartedAt), data, r.Version, from)
				return err
			})
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
// the write are one transaction on the writer goroutine, which runs one at
// a time.
func (s *Store) StartRequest(ctx context.Context, r *nightowl.ActionRequest, cooldown time.Duration) (time.Time, error) {
	last, err := records.StartRequest(r, cooldown, func(data []byte, from int64, since time.Time) (n int64, last time.Time, err error) {
		err = s.do(ctx, func() error {
			return s.inTx(ctx, true, func(w *txWriter) error {
				if !since.IsZero() {
					var ns sql.NullInt64
					if err := w.queryRow(`SELECT MAX(started_at) FROM action_requests WHERE action = ? AND id <> ? AND started_at > ?`,
						r.Action, r.ID, since.UnixNano()).Scan(&ns); err != nil {
						return err
					}
					if last = fromNanos(ns); !last.IsZero() {
						return nil
					}
				}
				n, err = w.execCount(saveRequestSQL, r.ID, r.Action, string(r.State), r.RequestedAt.UnixNano(), nanos(r.StartedAt), data, r.Version, from)
				return err
			})
		})
		return n, last, err
	})
	if err != nil && nightowl.ErrorCode(err) == nightowl.EInternal {
		return last, fmt.Errorf("start action request %s: %w", r.ID, err)
	}
	return last, err
}

// Request returns the request with the given ID.
func (s *Store) Request(ctx context.Context, id string) (nightowl.ActionRequest, error) {
	var data []byte
	err := s.rdb.QueryRowContext(ctx, `SELECT data FROM action_requests WHERE id = ?`, id).Scan(&data)
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
func (s *Store) Requests(ctx context.Context, q nightowl.ActionQuery) ([]nightowl.ActionRequest, error) {
	var where []string
	var args []any
	if q.Open {
		where = append(where, `state IN ('pending', 'approved')`)
	}
	if q.Action != "" {
		where = append(where, `action = ?`)
		args = append(args, q.Action)
	}
	query := `SELECT data FROM action_requests`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, ` AND `)
	}
	query += ` ORDER BY requested_at DESC, id DESC LIMIT ?`
	args = append(args, sqlLimit(records.RequestLimit(q)))
	return readJSON[nightowl.ActionRequest](ctx, s.rdb, "action requests", query, args...)
}

// LastRun returns when a request for the action last started running; the
// zero time when none has.
func (s *Store) LastRun(ctx context.Context, action string) (time.Time, error) {
	var last sql.NullInt64
	err := s.rdb.QueryRowContext(ctx, `SELECT MAX(started_at) FROM action_requests WHERE action = ?`, action).Scan(&last)
	if err != nil {
		return time.Time{}, fmt.Errorf("read last run of action %s: %w", action, err)
	}
	return fromNanos(last), nil
}
