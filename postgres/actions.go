package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/records"
)

var _ nightowl.ActionStore = (*Store)(nil)

// recSaveRequestSQL writes a request over the version it was read at.
const recSaveRequestSQL = `INSERT INTO action_requests (id, action, state, requested_at, started_at, data, version)
	VALUES ($1, $2, $3, $4, $5, $6, $7)
	ON CONFLICT (id) DO UPDATE SET state = excluded.state, started_at = excluded.started_at,
		data = excluded.data, version = excluded.version
	WHERE action_requests.version = $8`

// recActionLock is the first key of the advisory locks that serialise the
// starts of runs, one lock per action (the second key is a hash of its
// name): each start takes its action's lock for its transaction before it
// reads when the action last started, so starts on every node follow one
// another, each reading what the one before committed. Two names with one
// hash only share a lock.
const recActionLock = 0x6e6f6163 // "noac"

// SaveRequest creates or updates r as a compare-and-set on its version
// (see nightowl.ActionStore). The action and the time of the request are
// fixed when it is created.
func (s *Store) SaveRequest(ctx context.Context, r *nightowl.ActionRequest) error {
	err := records.SaveRequest(r, func(data []byte, from int64) (int64, error) {
		tag, err := s.pool.Exec(ctx, recSaveRequestSQL,
			r.ID, r.Action, string(r.State), r.RequestedAt, recTime(r.StartedAt), data, r.Version, from)
		return tag.RowsAffected(), err
	})
	if err != nil && nightowl.ErrorCode(err) == nightowl.EInternal {
		return fmt.Errorf("save action request %s: %w", r.ID, err)
	}
	return err
}

// StartRequest saves r, moved to running, unless another request of its
// action started within cooldown (see nightowl.ActionStore): in one
// transaction, under the action's advisory lock.
func (s *Store) StartRequest(ctx context.Context, r *nightowl.ActionRequest, cooldown time.Duration) (time.Time, error) {
	last, err := records.StartRequest(r, cooldown, func(data []byte, from int64, since time.Time) (n int64, last time.Time, err error) {
		err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			if !since.IsZero() {
				// Read committed: the query after the lock sees what the
				// start before committed.
				if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, int32(recActionLock), r.Action); err != nil {
					return err
				}
				var at pgtype.Timestamptz
				if err := tx.QueryRow(ctx, `SELECT MAX(started_at) FROM action_requests WHERE action = $1 AND id <> $2 AND started_at > $3`,
					r.Action, r.ID, since).Scan(&at); err != nil {
					return err
				}
				if last = recTimeOf(at); !last.IsZero() {
					return nil
				}
			}
			tag, err := tx.Exec(ctx, recSaveRequestSQL,
				r.ID, r.Action, string(r.State), r.RequestedAt, recTime(r.StartedAt), data, r.Version, from)
			n = tag.RowsAffected()
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
func (s *Store) Request(ctx context.Context, id string) (nightowl.ActionRequest, error) {
	var data []byte
	err := s.pool.QueryRow(ctx, `SELECT data FROM action_requests WHERE id = $1`, id).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
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
	var w recWhere
	if q.Open {
		w.add(`state IN ('pending', 'approved')`)
	}
	if q.Action != "" {
		w.add(`action = ` + w.arg(q.Action))
	}
	query := `SELECT data FROM action_requests` + w.sql() + ` ORDER BY requested_at DESC, id DESC LIMIT ` +
		w.arg(recLimit(records.RequestLimit(q)))
	return recReadJSON[nightowl.ActionRequest](ctx, s.pool, "action requests", query, w.args...)
}

// LastRun returns when a request for the action last started running; the
// zero time when none has.
func (s *Store) LastRun(ctx context.Context, action string) (time.Time, error) {
	var last pgtype.Timestamptz
	err := s.pool.QueryRow(ctx, `SELECT MAX(started_at) FROM action_requests WHERE action = $1`, action).Scan(&last)
	if err != nil {
		return time.Time{}, fmt.Errorf("read last run of action %s: %w", action, err)
	}
	return recTimeOf(last), nil
}
