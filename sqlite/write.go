package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/checkstore"
	modernc "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// txWriter writes within one transaction on the writer goroutine.
type txWriter struct {
	s      *Store
	ctx    context.Context
	tx     *sql.Tx
	newIDs map[string]int64 // checks inserted by this transaction
	seqs   map[int64]int64  // next seq per check, as of this transaction
	// pingSeqs is seqs for the ring of pings.
	pingSeqs map[int64]int64
	stmts    map[string]*sql.Stmt
	// committed, when set, runs right after the commit, while readers of
	// pings wait.
	committed func()
}

func (w *txWriter) close() {
	for _, st := range w.stmts {
		st.Close()
	}
}

func (w *txWriter) exec(query string, args ...any) error {
	st, err := w.stmt(query)
	if err != nil {
		return err
	}
	_, err = st.ExecContext(w.ctx, args...)
	return err
}

func (w *txWriter) queryRow(query string, args ...any) *sql.Row {
	st, err := w.stmt(query)
	if err != nil {
		// An sql.Row cannot be given an error; run unprepared, the query
		// fails the same way and Scan reports it.
		return w.tx.QueryRowContext(w.ctx, query, args...)
	}
	return st.QueryRowContext(w.ctx, args...)
}

// stmt returns a statement prepared once for the life of the store and bound
// to this transaction: a batch runs the same few statements thousands of
// times, and the writer runs a transaction every second or for every group
// of events, so parsing SQL each time would cost more than the writes.
func (w *txWriter) stmt(query string) (*sql.Stmt, error) {
	if st := w.stmts[query]; st != nil {
		return st, nil
	}
	var st *sql.Stmt
	if ps := w.s.prepared[query]; ps != nil {
		// The writer pool has one connection, so the transaction's
		// statement reuses the one prepared on it.
		st = w.tx.StmtContext(w.ctx, ps)
	} else {
		// That one connection is this transaction's: prepare here, and
		// for good once the transaction has let go of it.
		var err error
		if st, err = w.tx.PrepareContext(w.ctx, query); err != nil {
			return nil, err
		}
		w.s.wanted = append(w.s.wanted, query)
	}
	w.stmts[query] = st
	return st, nil
}

// id returns the id of a check, inserting it when new.
func (w *txWriter) id(name string) (int64, error) {
	if id, ok := w.s.ids[name]; ok {
		return id, nil
	}
	if id, ok := w.newIDs[name]; ok {
		return id, nil
	}
	// The no-op update makes RETURNING give the id of a row that another
	// process (the CLI) inserted after this one loaded its cache.
	var id int64
	err := w.queryRow(`INSERT INTO checks (name) VALUES (?)
		ON CONFLICT (name) DO UPDATE SET name = excluded.name RETURNING id`, name).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("add check %s: %w", name, err)
	}
	w.newIDs[name] = id
	return id, nil
}

// A ring is a table that keeps the last size rows of each check, the row
// numbered seq in slot seq % size: results and pings.
type ring struct {
	table string
	size  int
	// heads holds the seq of the next row of each check as of the last
	// commit, and tx as of this transaction.
	heads, tx map[int64]int64
}

// rings are the rings, with the writer's cache of their heads.
func (s *Store) rings() [2]ring {
	return [2]ring{
		{table: "results", size: s.opts.ResultsPerCheck, heads: s.seqs},
		{table: "pings", size: s.opts.PingsPerCheck, heads: s.pingSeqs},
	}
}

func (w *txWriter) resultRing() ring {
	r := w.s.rings()[0]
	r.tx = w.seqs
	return r
}

func (w *txWriter) pingRing() ring {
	r := w.s.rings()[1]
	r.tx = w.pingSeqs
	return r
}

// seq returns the seq of the next row of a check in ring r. Unless the last
// Close saved it, the first time a check is written after Open it is read
// back from the ring, which also drops slots beyond a ring made smaller
// since.
func (w *txWriter) seq(r ring, id int64) (int64, error) {
	if seq, ok := r.tx[id]; ok {
		return seq, nil
	}
	if seq, ok := r.heads[id]; ok {
		return seq, nil
	}
	var seq int64
	err := w.queryRow(`SELECT COALESCE(MAX(seq) + 1, 0) FROM `+r.table+` WHERE check_id = ?`, id).Scan(&seq)
	if err != nil {
		return 0, err
	}
	err = w.exec(`DELETE FROM `+r.table+` WHERE check_id = ? AND slot >= ?`, id, r.size)
	return seq, err
}

func (w *txWriter) States(states map[string]nightowl.State) error {
	for _, st := range states {
		id, err := w.id(st.Check)
		if err != nil {
			return err
		}
		err = w.exec(`INSERT INTO states
			(check_id, status, since, pending, streak, last_run, cause, blocked_by, underlying, runs, failures)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (check_id) DO UPDATE SET
			status = excluded.status, since = excluded.since, pending = excluded.pending,
			streak = excluded.streak, last_run = excluded.last_run, cause = excluded.cause,
			blocked_by = excluded.blocked_by, underlying = excluded.underlying,
			runs = excluded.runs, failures = excluded.failures`,
			id, string(st.Status), nanos(st.Since), string(st.Pending), st.Streak,
			nanos(st.LastRun), st.Cause, st.BlockedBy, string(st.Underlying), st.Runs, st.Fails)
		if err != nil {
			return err
		}
	}
	return nil
}

func (w *txWriter) Results(results []nightowl.Result) error {
	rr := w.resultRing()
	ring := rr.size
	// A check with more results in the batch than its ring holds (after a
	// stall) writes only the newest ones: the rest would be overwritten in
	// the same transaction.
	left := make(map[string]int)
	for _, r := range results {
		left[r.Check]++
	}
	for _, r := range results {
		id, err := w.id(r.Check)
		if err != nil {
			return err
		}
		seq, err := w.seq(rr, id)
		if err != nil {
			return err
		}
		w.seqs[id] = seq + 1
		left[r.Check]--
		if left[r.Check] >= ring {
			continue
		}
		facts, assertions := w.encode(r)
		err = w.exec(`INSERT INTO results
			(check_id, slot, seq, due, start, ok, duration_ns, status, error, facts, assertions)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (check_id, slot) DO UPDATE SET
			seq = excluded.seq, due = excluded.due, start = excluded.start, ok = excluded.ok,
			duration_ns = excluded.duration_ns, status = excluded.status, error = excluded.error,
			facts = excluded.facts, assertions = excluded.assertions`,
			id, seq%int64(ring), seq, nanos(r.Due), nanos(r.Start), r.OK,
			int64(time.Duration(r.Duration)), string(r.Status), r.Error, facts, assertions)
		if err != nil {
			return err
		}
	}
	return nil
}

// encode turns facts and assertion outcomes into JSON, logging what JSON
// cannot hold.
func (w *txWriter) encode(r nightowl.Result) (facts, assertions []byte) {
	facts, assertions, warn := checkstore.EncodeResult(r)
	if warn != nil {
		w.s.log.Warn("sqlite: result not stored whole", "check", r.Check, "err", warn)
	}
	return facts, assertions
}

// rollups adds the aggregates of the batch to their stored rows. The merge
// happens in SQL (merge_hist), which spares reading every row back first.
func (w *txWriter) Rollups(aggs map[checkstore.Key]*checkstore.Agg) error {
	for k, a := range aggs {
		id, err := w.id(k.Check)
		if err != nil {
			return err
		}
		err = w.exec(`INSERT INTO rollups (check_id, period, start, runs, failures, max_ns, hist)
			VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (check_id, period, start) DO UPDATE SET
			runs = runs + excluded.runs, failures = failures + excluded.failures,
			max_ns = max(max_ns, excluded.max_ns), hist = merge_hist(hist, excluded.hist)`,
			id, k.Period, k.Start, a.Runs, a.Failures, a.Max, a.Hist.Encode())
		if err != nil {
			return err
		}
	}
	return nil
}

const upsertPing = `INSERT INTO pings
	(check_id, slot, seq, time, kind, exit_code, rid, duration_ns, method, body, truncated, user_agent, remote)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (check_id, slot) DO UPDATE SET
	seq = excluded.seq, time = excluded.time, kind = excluded.kind, exit_code = excluded.exit_code,
	rid = excluded.rid, duration_ns = excluded.duration_ns, method = excluded.method, body = excluded.body,
	truncated = excluded.truncated, user_agent = excluded.user_agent, remote = excluded.remote`

func (w *txWriter) Pings(pings []nightowl.Ping) error {
	pr := w.pingRing()
	// Looked up once rather than by its text for every row: hashing the
	// query costs more than binding a ping's values.
	upsert, err := w.stmt(upsertPing)
	if err != nil {
		return err
	}
	// As with results, a check with more pings in the batch than its ring
	// holds writes only the newest.
	left := make(map[string]int)
	for _, p := range pings {
		left[p.Check]++
	}
	for _, p := range pings {
		id, err := w.id(p.Check)
		if err != nil {
			return err
		}
		seq, err := w.seq(pr, id)
		if err != nil {
			return err
		}
		w.pingSeqs[id] = seq + 1
		left[p.Check]--
		if left[p.Check] >= pr.size {
			continue
		}
		var body any
		if p.Body != "" {
			body = []byte(p.Body)
		}
		_, err = upsert.ExecContext(w.ctx, id, seq%int64(pr.size), seq, p.Time.UnixNano(), string(p.Kind),
			intOrNil(p.ExitCode), p.RID, durationOrNil(p.Duration), p.Method, body, p.Truncated,
			p.UserAgent, p.Remote)
		if err != nil {
			return err
		}
	}
	return nil
}

// Both statements take the same arguments, in the same order.
const (
	// updateHeartbeat is what nearly every write is: a check that is
	// stored already, with the same token. Leaving token out of SET spares
	// SQLite from checking it is unique and rewriting its index entry,
	// which sits on a page of its own (tokens are random).
	updateHeartbeat = `UPDATE heartbeats SET
		last_ping = ?, last_success = ?, started = ?, last_duration_ns = ?, exit_code = ?, failed = ?, since = ?
		WHERE check_id = ? AND token IS ?`
	upsertHeartbeat = `INSERT INTO heartbeats
		(last_ping, last_success, started, last_duration_ns, exit_code, failed, since, check_id, token)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (check_id) DO UPDATE SET
		token = excluded.token, last_ping = excluded.last_ping, last_success = excluded.last_success,
		started = excluded.started, last_duration_ns = excluded.last_duration_ns,
		exit_code = excluded.exit_code, failed = excluded.failed, since = excluded.since`
)

// heartbeats writes the latest state of each heartbeat check. A state whose
// token another check holds is left out, and logged, rather than failing
// the whole batch: every other check's pings and states still get written,
// and the token stays with the check that had it first.
func (w *txWriter) Heartbeats(hbs map[string]nightowl.Heartbeat) error {
	update, err := w.stmt(updateHeartbeat)
	if err != nil {
		return err
	}
	var refused []nightowl.Heartbeat
	for _, h := range hbs {
		if err := w.heartbeat(update, h); isUnique(err) {
			refused = append(refused, h)
		} else if err != nil {
			return err
		}
	}
	// A token that moved from one check to another within the batch is
	// refused when the new holder comes first; it is free once the old
	// one has been written with its new token.
	for len(refused) > 0 {
		var again []nightowl.Heartbeat
		for _, h := range refused {
			if err := w.heartbeat(update, h); isUnique(err) {
				again = append(again, h)
			} else if err != nil {
				return err
			}
		}
		if len(again) == len(refused) {
			break
		}
		refused = again
	}
	now := w.s.opts.Now()
	for _, h := range refused {
		if !w.s.refused.Due(h.Check, now) {
			continue
		}
		var holder string
		err := w.queryRow(`SELECT c.name FROM heartbeats h JOIN checks c ON c.id = h.check_id WHERE h.token = ?`,
			h.Token).Scan(&holder)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		checkstore.LogRefused(w.s.log, "sqlite", h.Check, holder)
	}
	return nil
}

// heartbeat writes h with update, the prepared updateHeartbeat.
func (w *txWriter) heartbeat(update *sql.Stmt, h nightowl.Heartbeat) error {
	id, err := w.id(h.Check)
	if err != nil {
		return err
	}
	started, err := checkstore.EncodeStarted(h)
	if err != nil {
		return err
	}
	var token any
	if h.Token != "" {
		token = h.Token
	}
	args := []any{nanos(h.LastPing), nanos(h.LastSuccess), started, durationOrNil(h.LastDuration),
		intOrNil(h.ExitCode), h.Failed, nanos(h.Since), id, token}
	res, err := update.ExecContext(w.ctx, args...)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n > 0 {
		return err
	}
	return w.exec(upsertHeartbeat, args...)
}

// isUnique reports whether err is a UNIQUE constraint failing: in the
// heartbeats table, only the token can, since the upsert resolves check_id.
func isUnique(err error) bool {
	var e *modernc.Error
	return errors.As(err, &e) && e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE
}

func intOrNil(p *int) any {
	if p == nil {
		return nil
	}
	return int64(*p)
}

func durationOrNil(p *nightowl.Seconds) any {
	if p == nil {
		return nil
	}
	return int64(time.Duration(*p))
}

// AddEvent records e and returns it with its ID once it is on disk. A zero
// e.Time means now.
func (s *Store) AddEvent(ctx context.Context, e nightowl.Event) (nightowl.Event, error) {
	if err := checkstore.CheckEvent(&e, s.opts.Now); err != nil {
		return e, err
	}
	return checkstore.SendEvent(ctx, s.events, s.done, errClosed, e)
}

// addEvents writes first and every other event already waiting in one
// transaction, synced to disk once: one fsync each, in turn, would stall a
// fleet's worth of status changes for minutes.
func (s *Store) addEvents(first *checkstore.EventReq) {
	live := checkstore.TakeEvents(first, s.events)
	if len(live) == 0 {
		return
	}
	states := s.queuedStates(live)
	err := s.inTx(context.Background(), true, func(w *txWriter) error {
		// A status change and the state it leads to reach the disk
		// together: a process that crashes right after recording the
		// change must not come back with the state from before it.
		if err := w.States(states); err != nil {
			return err
		}
		for _, r := range live {
			id, err := w.id(r.E.Check)
			if err != nil {
				return err
			}
			err = w.queryRow(`INSERT INTO events (check_id, time, kind, from_status, to_status, cause)
				VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
				id, r.E.Time.UnixNano(), r.E.Kind, string(r.E.From), string(r.E.To), r.E.Cause).Scan(&r.E.ID)
			if err != nil {
				return err
			}
		}
		return nil
	})
	for _, r := range live {
		r.Answer(err)
	}
}

// forgetChunk keeps the number of bound parameters of one DELETE well under
// SQLite's limit.
const forgetChunk = 500

// Forget deletes the states, results, rollups, events, pings and heartbeat
// states of the named checks, including what is still queued for them.
func (s *Store) Forget(ctx context.Context, checks []string) error {
	if len(checks) == 0 {
		return nil
	}
	names := make(map[string]bool, len(checks))
	for _, c := range checks {
		names[c] = true
	}
	err := s.do(ctx, func() error {
		s.q.Purge(names)
		err := s.inTx(ctx, false, func(w *txWriter) error {
			for i := 0; i < len(checks); i += forgetChunk {
				chunk := checks[i:min(i+forgetChunk, len(checks))]
				args := make([]any, len(chunk))
				for j, c := range chunk {
					args[j] = c
				}
				marks := strings.TrimSuffix(strings.Repeat("?, ", len(chunk)), ", ")
				// Everything else goes with the check: ON DELETE CASCADE.
				if _, err := w.tx.ExecContext(ctx, `DELETE FROM checks WHERE name IN (`+marks+`)`, args...); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		for name := range names {
			if id, ok := s.ids[name]; ok {
				delete(s.seqs, id)
				delete(s.pingSeqs, id)
				delete(s.ids, name)
			}
			delete(s.refused, name)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("forget checks: %w", err)
	}
	return nil
}

// nanos stores a time as Unix nanoseconds; the zero time, which has none, is
// NULL.
func nanos(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixNano()
}
