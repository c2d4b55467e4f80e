package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"sort"
	"strings"
	"time"

	"github.com/nightowl/nightowl"
)

// txWriter writes within one transaction on the writer goroutine.
type txWriter struct {
	s      *Store
	ctx    context.Context
	tx     *sql.Tx
	newIDs map[string]int64 // checks inserted by this transaction
	seqs   map[int64]int64  // next seq per check, as of this transaction
	stmts  map[string]*sql.Stmt
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

// seq returns the seq of the next result of a check. The first time a check
// is written after Open it is read back from the ring, which also drops
// slots beyond a ResultsPerCheck made smaller since the last run.
func (w *txWriter) seq(id int64) (int64, error) {
	if seq, ok := w.seqs[id]; ok {
		return seq, nil
	}
	if seq, ok := w.s.seqs[id]; ok {
		return seq, nil
	}
	var seq int64
	err := w.queryRow(`SELECT COALESCE(MAX(seq) + 1, 0) FROM results WHERE check_id = ?`, id).Scan(&seq)
	if err != nil {
		return 0, err
	}
	err = w.exec(`DELETE FROM results WHERE check_id = ? AND slot >= ?`, id, w.s.opts.ResultsPerCheck)
	return seq, err
}

func (w *txWriter) batch(b batch) error {
	if err := w.states(b.states); err != nil {
		return fmt.Errorf("write states: %w", err)
	}
	if err := w.results(b.results); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	if err := w.rollups(b.aggs); err != nil {
		return fmt.Errorf("write rollups: %w", err)
	}
	return nil
}

func (w *txWriter) states(states map[string]nightowl.State) error {
	for _, st := range states {
		id, err := w.id(st.Check)
		if err != nil {
			return err
		}
		err = w.exec(`INSERT INTO states
			(check_id, status, since, pending, streak, last_run, cause, runs, failures)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (check_id) DO UPDATE SET
			status = excluded.status, since = excluded.since, pending = excluded.pending,
			streak = excluded.streak, last_run = excluded.last_run, cause = excluded.cause,
			runs = excluded.runs, failures = excluded.failures`,
			id, string(st.Status), nanos(st.Since), string(st.Pending), st.Streak,
			nanos(st.LastRun), st.Cause, st.Runs, st.Fails)
		if err != nil {
			return err
		}
	}
	return nil
}

func (w *txWriter) results(results []nightowl.Result) error {
	ring := w.s.opts.ResultsPerCheck
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
		seq, err := w.seq(id)
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

// encode turns facts and assertion outcomes into JSON. A fact that JSON
// cannot hold (a NaN) costs the result its facts, not the whole batch.
// maxStoredFacts bounds the facts of one stored result: a parsed JSON body,
// a Redis INFO or query rows can be large, and each check keeps a ring of
// results.
const maxStoredFacts = 16 << 10

// shrink encodes facts within maxStoredFacts by leaving out the largest
// values, largest first, and naming them under "_omitted".
func (w *txWriter) shrink(f nightowl.Facts) []byte {
	type sized struct {
		key string
		n   int
	}
	var all []sized
	for k, v := range f {
		b, _ := json.Marshal(v)
		all = append(all, sized{k, len(b)})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].n > all[j].n })
	kept := maps.Clone(f)
	var omitted []string
	for _, s := range all {
		delete(kept, s.key)
		omitted = append(omitted, s.key)
		kept["_omitted"] = omitted
		if b, err := json.Marshal(kept); err == nil && len(b) <= maxStoredFacts {
			return b
		}
	}
	b, _ := json.Marshal(map[string]any{"_omitted": omitted})
	return b
}

func (w *txWriter) encode(r nightowl.Result) (facts, assertions []byte) {
	var err error
	if len(r.Facts) > 0 {
		if facts, err = json.Marshal(r.Facts); err != nil {
			w.s.log.Warn("sqlite: facts not stored", "check", r.Check, "err", err)
			facts = nil
		}
		if len(facts) > maxStoredFacts {
			facts = w.shrink(r.Facts)
		}
	}
	if len(r.Assertions) > 0 {
		if assertions, err = json.Marshal(r.Assertions); err != nil {
			w.s.log.Warn("sqlite: assertion results not stored", "check", r.Check, "err", err)
			assertions = nil
		}
	}
	return facts, assertions
}

// rollups adds the aggregates of the batch to their stored rows. The merge
// happens in SQL (merge_hist), which spares reading every row back first.
func (w *txWriter) rollups(aggs map[aggKey]*agg) error {
	for k, a := range aggs {
		id, err := w.id(k.check)
		if err != nil {
			return err
		}
		err = w.exec(`INSERT INTO rollups (check_id, period, start, runs, failures, max_ns, hist)
			VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (check_id, period, start) DO UPDATE SET
			runs = runs + excluded.runs, failures = failures + excluded.failures,
			max_ns = max(max_ns, excluded.max_ns), hist = merge_hist(hist, excluded.hist)`,
			id, k.period, k.start, a.runs, a.failures, a.max, a.hist.encode())
		if err != nil {
			return err
		}
	}
	return nil
}

// AddEvent records e and returns it with its ID once it is on disk. A zero
// e.Time means now.
func (s *Store) AddEvent(ctx context.Context, e nightowl.Event) (nightowl.Event, error) {
	if e.Check == "" {
		return e, nightowl.Errorf(nightowl.EInvalid, "event has no check")
	}
	if e.Time.IsZero() {
		e.Time = s.opts.Now()
	}
	e.Time = e.Time.UTC()
	r := &eventReq{ctx: ctx, e: e, done: make(chan error, 1)}
	select {
	case s.events <- r:
	case <-s.done:
		return e, fmt.Errorf("add event of %s: %w", e.Check, errClosed)
	case <-ctx.Done():
		return e, ctx.Err()
	}
	select {
	case err := <-r.done:
		if err != nil {
			return e, fmt.Errorf("add event of %s: %w", e.Check, err)
		}
		return r.e, nil
	case <-ctx.Done():
		return e, ctx.Err()
	}
}

// eventReq is an event on its way to the writer goroutine, which sets its
// ID before it answers on done.
type eventReq struct {
	ctx  context.Context
	e    nightowl.Event
	done chan error
}

// maxEventBatch bounds how many events share one transaction.
const maxEventBatch = 1000

// addEvents writes first and every other event already waiting in one
// transaction, synced to disk once. When a whole fleet changes status at
// once (the network went away) the engine's workers all record an event at
// the same moment; one fsync each, in turn, would stall them for minutes.
func (s *Store) addEvents(first *eventReq) {
	reqs := []*eventReq{first}
gather:
	for len(reqs) < maxEventBatch {
		select {
		case r := <-s.events:
			reqs = append(reqs, r)
		default:
			break gather
		}
	}
	live := reqs[:0]
	for _, r := range reqs {
		if err := r.ctx.Err(); err != nil {
			r.done <- err
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	err := s.inTx(context.Background(), true, func(w *txWriter) error {
		for _, r := range live {
			id, err := w.id(r.e.Check)
			if err != nil {
				return err
			}
			err = w.queryRow(`INSERT INTO events (check_id, time, kind, from_status, to_status, cause)
				VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
				id, r.e.Time.UnixNano(), r.e.Kind, string(r.e.From), string(r.e.To), r.e.Cause).Scan(&r.e.ID)
			if err != nil {
				return err
			}
		}
		return nil
	})
	for _, r := range live {
		r.done <- err
	}
}

// forgetChunk keeps the number of bound parameters of one DELETE well under
// SQLite's limit.
const forgetChunk = 500

// Forget deletes the states, results, rollups and events of the named
// checks, including what is still queued for them.
func (s *Store) Forget(ctx context.Context, checks []string) error {
	if len(checks) == 0 {
		return nil
	}
	names := make(map[string]bool, len(checks))
	for _, c := range checks {
		names[c] = true
	}
	err := s.do(ctx, func() error {
		s.purge(names)
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
				delete(s.ids, name)
			}
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
