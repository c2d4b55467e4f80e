package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/checkstore"
	"github.com/nightowl/nightowl/internal/records"
	"github.com/nightowl/nightowl/internal/sqlstore"
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
	// Lost to another write (changed 0): nothing of it is written, and
	// the others in the transaction go on.
	n, ids, err := sqlstore.WriteAlert(w.ctx, w.s.DB, w, &r.a, r.from, r.rec, r.out)
	r.changed = n
	copy(r.ids, ids)
	return err
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
				RETURNING ` + sqlstore.NotificationColumns)
			if err != nil {
				return err
			}
			rows, err := st.QueryContext(ctx, owner, now.Add(lease).UnixNano(), now.UnixNano(), now.UnixNano(), limit)
			if err != nil {
				return err
			}
			out, err = sqlstore.Collect[nightowl.Notification](sqlRows{rows}, nil, sqlstore.ScanNotification)
			return err
		})
	})
	if err != nil {
		return nil, fmt.Errorf("claim notifications: %w", err)
	}
	return out, nil
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
