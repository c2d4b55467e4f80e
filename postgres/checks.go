package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/checkstore"
)

// The check store. Results, states, pings and heartbeat states wait in
// memory, in internal/checkstore's queue, shared with the sqlite store; one
// goroutine per Store writes what is queued in one transaction every
// FlushInterval, or sooner when the queue grows long, and writes events and
// forgets checks in turn with it, so that a status change is never written
// before a flush that holds an older state of its check. Several nodes may
// write the same check at once while it changes hands, and nothing here
// relies on a node being its only writer: ids come from identity columns,
// each check's lists are cut to their newest rows by id, rollups are merged
// under a row lock, states and heartbeat states are upserted.

var _ nightowl.Store = (*Store)(nil)

const (
	checksPruneEvery = time.Hour
	// checksAttempts is how many times a transaction that lost a deadlock
	// or a serialization conflict to another node is tried.
	checksAttempts = 3
	// writerTimeout bounds each transaction the writer goroutine makes
	// for itself: a flush of what is queued, the hourly prune. A database
	// that hangs rather than refusing would otherwise hold the writer,
	// and with it every status change, for as long as the connection
	// stays open; past this the flush fails as an outage and is tried
	// again whole. The largest flush, of the 200,000 results that queue
	// up during an outage, took 10-15 s on a small shared server: the
	// bound leaves room for a slower one, since a flush cut short every
	// time would never be written. Events are written within their
	// callers' deadlines (addEvents).
	writerTimeout = 2 * time.Minute
)

var errChecksClosed = errors.New("postgres: store is closed")

// SaveResult queues r for the check's list of recent results and counts it
// in its hourly and daily rollups, which it falls in by r.Start. It never
// waits for the database. The store keeps r.Facts and r.Assertions until
// they are written, so the caller must not change them afterwards.
func (s *Store) SaveResult(r nightowl.Result) { s.q.SaveResult(r) }

// CountResult counts r in its check's rollups without keeping it among the
// recent results.
func (s *Store) CountResult(r nightowl.Result) { s.q.CountResult(r) }

// SaveState queues the current state of a check; only the latest state of
// each check is written.
func (s *Store) SaveState(st nightowl.State) { s.q.SaveState(st) }

// SavePing queues p for the check's list of recent pings. It never waits for
// the database. A zero p.Time means now. The store keeps p.ExitCode and
// p.Duration until p is written, so the caller must not change what they
// point to afterwards.
func (s *Store) SavePing(p nightowl.Ping) {
	if p.Time.IsZero() {
		p.Time = s.opts.Now()
	}
	// As the database will keep it, so that a ping reads the same from
	// the queue as once written.
	p.Time = p.Time.Truncate(time.Microsecond)
	s.q.SavePing(p)
}

// SaveHeartbeat queues the state of a heartbeat check; only the latest of
// each check is written. It never waits for the database.
func (s *Store) SaveHeartbeat(h nightowl.Heartbeat) {
	h = checkstore.CloneHeartbeat(h)
	h.LastPing = h.LastPing.Truncate(time.Microsecond)
	h.LastSuccess = h.LastSuccess.Truncate(time.Microsecond)
	h.Since = h.Since.Truncate(time.Microsecond)
	s.q.SaveHeartbeat(h)
}

// WriteStats tells how the writer keeps up with the results, states and
// pings queued for it, for the server's metrics.
func (s *Store) WriteStats() checkstore.WriteStats { return s.q.WriteStats() }

// Dropped returns how many raw results were dropped since Open because the
// writer could not keep up. Their rollup counts were kept.
func (s *Store) Dropped() int64 { return s.q.Dropped() }

// DroppedPings returns how many pings were dropped since Open because the
// writer could not keep up, and how many lost their body first.
func (s *Store) DroppedPings() (pings, bodies int64) { return s.q.DroppedPings() }

// Flush writes everything queued so far and returns once it is committed.
func (s *Store) Flush(ctx context.Context) error {
	return s.checksDo(ctx, func() error { return s.flushChecks(true) })
}

// runChecks is the writer goroutine.
func (s *Store) runChecks() {
	defer close(s.done)
	tick := time.NewTicker(s.opts.FlushInterval)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			s.flushChecks(false)
		case <-s.q.Kick():
			s.flushChecks(false)
		case o := <-s.ops:
			o.Run()
		case r := <-s.events:
			s.addEvents(r)
		case <-s.quit:
			s.closeErr = s.flushChecks(true)
			return
		}
	}
}

// checksDo runs fn on the writer goroutine and waits for it.
func (s *Store) checksDo(ctx context.Context, fn func() error) error {
	return checkstore.Do(ctx, s.ops, s.done, errChecksClosed, fn)
}

// checksTx runs fn in a transaction, again when it loses a deadlock or a
// serialization conflict to another node writing the same rows; fn must
// leave nothing behind outside the transaction but through committed, which
// runs right after the commit succeeds.
func (s *Store) checksTx(ctx context.Context, fn func(tx pgx.Tx) error, committed func()) error {
	var err error
	for range checksAttempts {
		err = s.checksTxOnce(ctx, fn, committed)
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || (pe.Code != "40P01" && pe.Code != "40001") {
			return err
		}
	}
	return err
}

func (s *Store) checksTxOnce(ctx context.Context, fn func(tx pgx.Tx) error, committed func()) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if err := fn(tx); err != nil {
		return err
	}
	if committed == nil {
		return tx.Commit(ctx)
	}
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	committed()
	return nil
}

// flushChecks writes what is queued in one transaction. It runs on the
// writer goroutine. What fails to be written goes back in the queue, to be
// tried again with the next flush.
func (s *Store) flushChecks(durable bool) error {
	b := s.q.Take(durable)
	// Pruning after the write, and before Flush returns, lets a caller (a
	// test with a fake clock) see its effect.
	defer s.housekeepChecks()
	if b.Empty() {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), writerTimeout)
	defer cancel()
	var refused []nightowl.Heartbeat
	err := s.checksTx(ctx, func(tx pgx.Tx) error {
		w := &checksWriter{s: s, ctx: ctx, tx: tx}
		err := w.batch(b)
		refused = w.refused
		return err
	}, s.q.Landed)
	if err != nil {
		s.q.Requeue(b)
		now := time.Now()
		if s.failing.IsZero() {
			s.failing = now
		}
		if now.Sub(s.failedAt) >= time.Minute {
			s.failedAt = now
			s.log.Error("postgres: write queued results; kept to try again", "err", err,
				"failing_for", now.Sub(s.failing).Round(time.Second),
				"results", len(b.Results), "states", len(b.States), "rollups", len(b.Aggs),
				"pings", len(b.Pings), "heartbeats", len(b.Heartbeats))
		}
		return err
	}
	if !s.failing.IsZero() {
		s.log.Info("postgres: queued results written again", "after", time.Since(s.failing).Round(time.Second))
		s.failing, s.failedAt = time.Time{}, time.Time{}
	}
	s.q.Recycle(b)
	s.logRefused(ctx, refused)
	return nil
}

// housekeepChecks runs on the writer goroutine after each flush, which
// comes at least every FlushInterval.
func (s *Store) housekeepChecks() {
	now := s.opts.Now()
	if now.Sub(s.lastPrune) >= checksPruneEvery {
		if err := s.pruneChecks(now); err != nil {
			s.log.Error("postgres: prune rollups and events", "err", err)
		} else {
			s.lastPrune = now
		}
	}
	s.q.WarnDrops(s.log, "postgres")
}

// pruneChecks deletes rollups and events older than their retention. Every
// node does so once an hour; the deletes of one make those of the others
// find nothing.
func (s *Store) pruneChecks(now time.Time) error {
	ctx, cancel := context.WithTimeout(context.Background(), writerTimeout)
	defer cancel()
	return s.checksTx(ctx, func(tx pgx.Tx) error {
		for _, p := range []struct {
			period int64
			keep   time.Duration
		}{{checkstore.HourSecs, s.opts.HourlyRetention}, {checkstore.DaySecs, s.opts.DailyRetention}} {
			if _, err := tx.Exec(ctx, `DELETE FROM rollups WHERE period = $1 AND start < $2`,
				p.period, now.Add(-p.keep)); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `DELETE FROM events WHERE time < $1`, now.Add(-s.opts.EventRetention))
		return err
	}, nil)
}

// AddEvent records e and returns it with its ID once it is committed,
// together with the latest queued state of its check. A zero e.Time means
// now.
func (s *Store) AddEvent(ctx context.Context, e nightowl.Event) (nightowl.Event, error) {
	if err := checkstore.CheckEvent(&e, s.opts.Now); err != nil {
		return e, err
	}
	// As the database keeps it, so that the event returned is the one
	// read back.
	e.Time = e.Time.Truncate(time.Microsecond)
	return checkstore.SendEvent(ctx, s.events, s.done, errChecksClosed, e)
}

// addEvents writes first and every other event already waiting in one
// transaction.
func (s *Store) addEvents(first *checkstore.EventReq) {
	live := checkstore.TakeEvents(first, s.events)
	if len(live) == 0 {
		return
	}
	checks := make([]string, len(live))
	for i, r := range live {
		checks[i] = r.E.Check
	}
	states := s.q.States(checks)
	// Each caller waits for its answer (checkstore.SendEvent), so that an
	// event is written once: within the time the first of them gave.
	ctx, cancel := checkstore.EventsContext(live, writerTimeout)
	defer cancel()
	ids := make([]int64, len(live))
	err := s.checksTx(ctx, func(tx pgx.Tx) error {
		w := &checksWriter{s: s, ctx: ctx, tx: tx}
		// A status change and the state it leads to are committed
		// together: a node that dies right after recording the change
		// must not leave the state from before it.
		if err := w.resolve(checks, states); err != nil {
			return err
		}
		if err := w.States(states); err != nil {
			return err
		}
		var b pgx.Batch
		for i, r := range live {
			b.Queue(`INSERT INTO events (check_id, time, kind, from_status, to_status, cause)
				VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
				w.ids[r.E.Check], r.E.Time, r.E.Kind, string(r.E.From), string(r.E.To), r.E.Cause).
				QueryRow(func(row pgx.Row) error { return row.Scan(&ids[i]) })
		}
		return tx.SendBatch(ctx, &b).Close()
	}, nil)
	for i, r := range live {
		if err == nil {
			r.E.ID = ids[i]
		}
		r.Answer(err)
	}
}

// Forget deletes the states, results, rollups, events, pings and heartbeat
// states of the named checks, including what is still queued for them here.
// Another node that still runs one of them brings it back with its next
// write, as a node of an older configuration would.
func (s *Store) Forget(ctx context.Context, checks []string) error {
	if len(checks) == 0 {
		return nil
	}
	names := make(map[string]bool, len(checks))
	for _, c := range checks {
		names[c] = true
	}
	err := s.checksDo(ctx, func() error {
		s.q.Purge(names)
		err := s.checksTx(ctx, func(tx pgx.Tx) error {
			// Everything else goes with the check: ON DELETE CASCADE.
			_, err := tx.Exec(ctx, `DELETE FROM checks WHERE name = ANY($1)`, checks)
			return err
		}, nil)
		if err != nil {
			return err
		}
		for name := range names {
			delete(s.refused, name)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("forget checks: %w", err)
	}
	return nil
}

// logRefused logs the heartbeat states that were not written because
// another check holds their token, at most once a minute per check. It runs
// on the writer goroutine.
func (s *Store) logRefused(ctx context.Context, refused []nightowl.Heartbeat) {
	now := s.opts.Now()
	for _, h := range refused {
		if !s.refused.Due(h.Check, now) {
			continue
		}
		var holder string
		err := s.pool.QueryRow(ctx, `SELECT c.name FROM heartbeats h JOIN checks c ON c.id = h.check_id
			WHERE h.token = $1`, h.Token).Scan(&holder)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			s.log.Error("postgres: find the holder of a heartbeat token", "check", h.Check, "err", err)
		}
		checkstore.LogRefused(s.log, "postgres", h.Check, holder)
	}
}
