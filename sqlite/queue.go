package sqlite

import (
	"context"
	"time"

	"github.com/nightowl/nightowl"
)

// Rollup periods in seconds, as stored in rollups.period.
const (
	hourSecs int64 = 3600
	daySecs  int64 = 86400
)

// batch is what waits for the writer: raw results in arrival order, the
// latest state per check and the rollups accumulated since the last write.
type batch struct {
	results []nightowl.Result
	states  map[string]nightowl.State
	aggs    map[aggKey]*agg
}

type aggKey struct {
	check  string
	period int64 // seconds
	start  int64 // Unix seconds
}

// agg is a rollup in the making, or the part of one not yet written.
type agg struct {
	runs, failures int64
	max            int64 // nanoseconds
	hist           hist
}

func (a *agg) merge(o *agg) {
	a.runs += o.runs
	a.failures += o.failures
	a.max = max(a.max, o.max)
	a.hist.merge(o.hist)
}

// newBatch sizes its maps for about as much as the last batch held: growing
// them one result at a time would be most of what SaveResult costs.
func newBatch(last batch) batch {
	return batch{
		states: make(map[string]nightowl.State, min(len(last.states), 2*flushAt)),
		aggs:   make(map[aggKey]*agg, min(len(last.aggs), 4*flushAt)),
	}
}

func (b *batch) empty() bool {
	return len(b.results) == 0 && len(b.states) == 0 && len(b.aggs) == 0
}

// SaveResult queues r for the check's ring of recent results and counts it in
// its hourly and daily rollups, which it falls in by r.Start. It never waits
// for the disk. The store keeps r.Facts and r.Assertions until they are
// written, so the caller must not change them afterwards.
func (s *Store) SaveResult(r nightowl.Result) {
	at := r.Start
	if at.IsZero() {
		at = r.Due
	}
	if at.IsZero() {
		at = s.opts.Now()
	}
	d := max(int64(time.Duration(r.Duration)), 0)
	idx := histIndex(d)
	down := r.Status == nightowl.StatusDown
	hour := aggKey{r.Check, hourSecs, at.Truncate(time.Hour).Unix()}
	// Truncating the absolute time (not its presentation) gives UTC days.
	day := aggKey{r.Check, daySecs, at.Truncate(24 * time.Hour).Unix()}

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	for _, k := range [2]aggKey{hour, day} {
		a := s.q.aggs[k]
		if a == nil {
			a = &agg{}
			s.q.aggs[k] = a
		}
		a.runs++
		if down {
			a.failures++
		}
		a.max = max(a.max, d)
		a.hist.add(idx, 1)
	}
	s.q.results = append(s.q.results, r)
	s.dropOldest()
	n := len(s.q.results)
	s.mu.Unlock()

	if n >= flushAt {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
}

// dropOldest keeps the queue of raw results within its bound. Only raw
// results go: their rollup counts are already taken, and states are
// coalesced, one per check. s.mu must be held.
func (s *Store) dropOldest() {
	over := len(s.q.results) - s.opts.maxQueued
	if over <= 0 {
		return
	}
	// Clearing lets the facts of dropped results be collected before
	// append next moves the slice.
	clear(s.q.results[:over])
	s.q.results = s.q.results[over:]
	s.dropped += int64(over)
}

// SaveState queues the current state of a check; only the latest state of
// each check is written.
func (s *Store) SaveState(st nightowl.State) {
	s.mu.Lock()
	if !s.closed {
		s.q.states[st.Check] = st
	}
	s.mu.Unlock()
}

// flush writes what is queued in one transaction. It runs on the writer
// goroutine. What fails to be written goes back in the queue, to be tried
// again with the next flush.
func (s *Store) flush(durable bool) error {
	s.mu.Lock()
	b := s.q
	s.q = newBatch(b)
	// Reusing the last batch's array spares SaveResult from growing a new
	// one, copying every queued result each time it doubles.
	s.q.results, s.spare = s.spare, nil
	s.mu.Unlock()

	// Pruning after the write, and before Flush returns, lets a caller
	// (a test with a fake clock) see its effect.
	defer s.housekeep()
	ctx := context.Background()
	if b.empty() {
		if durable {
			return s.syncWAL(ctx)
		}
		return nil
	}
	err := s.inTx(ctx, durable, func(w *txWriter) error { return w.batch(b) })
	if err != nil {
		s.requeue(b)
		s.log.Error("sqlite: write queued results", "err", err,
			"results", len(b.results), "states", len(b.states), "rollups", len(b.aggs))
		return err
	}
	// A batch swollen by a stall is not worth keeping.
	if cap(b.results) <= 4*flushAt {
		clear(b.results)
		s.mu.Lock()
		s.spare = b.results[:0]
		s.mu.Unlock()
	}
	return nil
}

// requeue puts back a batch that could not be written, behind anything newer
// that arrived meanwhile.
func (s *Store) requeue(b batch) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.q.results = append(b.results, s.q.results...)
	s.dropOldest()
	for name, st := range b.states {
		if _, newer := s.q.states[name]; !newer {
			s.q.states[name] = st
		}
	}
	for k, a := range b.aggs {
		if cur := s.q.aggs[k]; cur != nil {
			cur.merge(a)
		} else {
			s.q.aggs[k] = a
		}
	}
}

// purge removes queued writes of the named checks.
func (s *Store) purge(names map[string]bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	keep := s.q.results[:0]
	for _, r := range s.q.results {
		if !names[r.Check] {
			keep = append(keep, r)
		}
	}
	clear(s.q.results[len(keep):])
	s.q.results = keep
	for name := range names {
		delete(s.q.states, name)
	}
	for k := range s.q.aggs {
		if names[k.check] {
			delete(s.q.aggs, k)
		}
	}
}
