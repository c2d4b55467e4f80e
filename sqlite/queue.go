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

// batch is what waits for the writer: raw results and pings in arrival
// order, the latest state and heartbeat per check and the rollups
// accumulated since the last write.
type batch struct {
	results    []nightowl.Result
	states     map[string]nightowl.State
	aggs       map[aggKey]*agg
	pings      []nightowl.Ping
	heartbeats map[string]nightowl.Heartbeat
	// pingBytes is about the memory that pings hold, and bare how many
	// of the oldest have had their bodies dropped to bound it; being the
	// oldest, they are always a prefix of pings.
	pingBytes int
	bare      int
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
		states:     make(map[string]nightowl.State, min(len(last.states), 2*flushAt)),
		aggs:       make(map[aggKey]*agg, min(len(last.aggs), 4*flushAt)),
		heartbeats: make(map[string]nightowl.Heartbeat, min(len(last.heartbeats), 2*flushAtPings)),
	}
}

func (b *batch) empty() bool {
	return len(b.results) == 0 && len(b.states) == 0 && len(b.aggs) == 0 &&
		len(b.pings) == 0 && len(b.heartbeats) == 0
}

// flushAtPings queued pings or heartbeat states wake the writer early: more
// than flushAt, because what a flush costs per ping falls as the batch
// grows. The pings of a check share the page of its ring's index and of its
// state, so a batch in which a check pings twice rewrites those pages once,
// and its state is written once. At the 20,000 pings a second that the ping
// endpoint is built for, this is a batch a second, as FlushInterval gives
// anyway; flushAtBytes still bounds pings with large bodies.
const flushAtPings = 4 * flushAt

// full reports whether the batch is worth writing now. Each kind of row is
// bounded on its own: a heartbeat ping brings a ping, a heartbeat state and
// (through the engine) a result, and counting them together would cut the
// batch to a third, with three times the commits and less coalescing of
// states and rollups.
func (b *batch) full() bool {
	return len(b.results) >= flushAt || max(len(b.pings), len(b.heartbeats)) >= flushAtPings ||
		b.pingBytes >= flushAtBytes
}

// wake tells the writer not to wait for its interval.
func (s *Store) wake() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// SaveResult queues r for the check's ring of recent results and counts it in
// its hourly and daily rollups, which it falls in by r.Start. It never waits
// for the disk. The store keeps r.Facts and r.Assertions until they are
// written, so the caller must not change them afterwards.
func (s *Store) SaveResult(r nightowl.Result) { s.saveResult(r, true) }

// CountResult counts r in its check's hourly and daily rollups without
// keeping it among the recent results: a heartbeat's raw history is its
// pings, and a result row per ping would double what a flood of pings
// writes.
func (s *Store) CountResult(r nightowl.Result) { s.saveResult(r, false) }

func (s *Store) saveResult(r nightowl.Result, keep bool) {
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
	if keep {
		s.q.results = append(s.q.results, r)
		s.dropOldest()
	}
	full := s.q.full()
	s.mu.Unlock()

	if full {
		s.wake()
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

// pingOverhead is about what a queued ping holds besides its strings: the
// struct in the queue's array, its exit code and duration.
const pingOverhead = 200

// pingSize estimates the memory a queued ping holds. The check name is left
// out: it is the caller's, shared with every ping of the check.
func pingSize(p *nightowl.Ping) int {
	return pingOverhead + len(p.Body) + len(p.RID) + len(p.Method) + len(p.UserAgent) + len(p.Remote)
}

// SavePing queues p for the check's ring of recent pings. It never waits for
// the disk: the ping endpoint calls it for every request. A zero p.Time means
// now. The store keeps p.ExitCode and p.Duration until p is written, so the
// caller must not change what they point to afterwards.
func (s *Store) SavePing(p nightowl.Ping) {
	if p.Time.IsZero() {
		p.Time = s.opts.Now()
	}
	size := pingSize(&p)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.q.pings = append(s.q.pings, p)
	s.q.pingBytes += size
	s.boundPings()
	full := s.q.full()
	s.mu.Unlock()

	if full {
		s.wake()
	}
}

// boundPings keeps the queued pings within their count and their memory. A
// ping's body is most of it and the least of what matters (when, what kind,
// which exit code), so the oldest pings lose their bodies first, and only
// then whole pings go. s.mu must be held.
func (s *Store) boundPings() {
	q := &s.q
	if over := len(q.pings) - s.opts.maxQueuedPings; over > 0 {
		s.dropPings(over)
	}
	for q.pingBytes > s.opts.maxPingBytes && q.bare < len(q.pings) {
		if p := &q.pings[q.bare]; p.Body != "" {
			q.pingBytes -= len(p.Body)
			// Truncated, with nothing left, tells a reader that the
			// job sent a body that is not shown.
			p.Body, p.Truncated = "", true
			s.droppedBodies++
		}
		q.bare++
	}
	over := 0
	for bytes := q.pingBytes; bytes > s.opts.maxPingBytes && over < len(q.pings); over++ {
		bytes -= pingSize(&q.pings[over])
	}
	if over > 0 {
		s.dropPings(over)
	}
}

// dropPings drops the n oldest queued pings. s.mu must be held.
func (s *Store) dropPings(n int) {
	q := &s.q
	for i := range n {
		q.pingBytes -= pingSize(&q.pings[i])
	}
	// Clearing lets the bodies be collected before append next moves the
	// slice.
	clear(q.pings[:n])
	q.pings = q.pings[n:]
	q.bare = max(q.bare-n, 0)
	s.droppedPings += int64(n)
}

// SaveHeartbeat queues the state of a heartbeat check; only the latest of
// each check is written. It never waits for the disk.
func (s *Store) SaveHeartbeat(h nightowl.Heartbeat) {
	// The caller goes on changing its own state (runs start and end in
	// Started) while this copy waits for the writer.
	h = cloneHeartbeat(h)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.q.heartbeats[h.Check] = h
	full := s.q.full()
	s.mu.Unlock()

	if full {
		s.wake()
	}
}

// cloneHeartbeat copies h with nothing shared, and its times as they read
// back from disk: in UTC, no runs started a nil map.
func cloneHeartbeat(h nightowl.Heartbeat) nightowl.Heartbeat {
	started := h.Started
	h.Started = nil
	if len(started) > 0 {
		h.Started = make(map[string]time.Time, len(started))
		for rid, at := range started {
			h.Started[rid] = at.UTC()
		}
	}
	h.LastPing, h.LastSuccess, h.Since = h.LastPing.UTC(), h.LastSuccess.UTC(), h.Since.UTC()
	h.LastDuration = clonePtr(h.LastDuration)
	h.ExitCode = clonePtr(h.ExitCode)
	return h
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// flush writes what is queued in one transaction. It runs on the writer
// goroutine. What fails to be written goes back in the queue, to be tried
// again with the next flush.
func (s *Store) flush(durable bool) error {
	s.mu.Lock()
	b := s.q
	s.q = newBatch(b)
	// Rollups change with every result of every check, but nobody reads
	// this hour's before it is over: writing them once a minute rather than
	// every flush saves two row writes per check per second under load, at
	// the price of up to a minute of counts lost in a crash.
	if now := s.opts.Now(); !durable && now.Sub(s.rollupsAt) < s.opts.RollupInterval {
		s.q.aggs, b.aggs = b.aggs, nil
	} else {
		s.rollupsAt = now
	}
	// Reusing the last batch's array spares SaveResult from growing a new
	// one, copying every queued result each time it doubles.
	s.q.results, s.spare = s.spare, nil
	s.q.pings, s.sparePings = s.sparePings, nil
	s.inflight = batch{pings: b.pings, heartbeats: b.heartbeats}
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
	err := s.inTx(ctx, durable, func(w *txWriter) error {
		w.committed = s.landed
		return w.batch(b)
	})
	if err != nil {
		s.requeue(b)
		s.log.Error("sqlite: write queued results", "err", err,
			"results", len(b.results), "states", len(b.states), "rollups", len(b.aggs),
			"pings", len(b.pings), "heartbeats", len(b.heartbeats))
		return err
	}
	// A batch swollen by a stall is not worth keeping.
	if cap(b.results) <= 4*flushAt {
		clear(b.results)
		s.mu.Lock()
		s.spare = b.results[:0]
		s.mu.Unlock()
	}
	if cap(b.pings) <= 2*flushAtPings {
		clear(b.pings)
		s.mu.Lock()
		s.sparePings = b.pings[:0]
		s.mu.Unlock()
	}
	return nil
}

// landed forgets the pings and heartbeats in flight once they are committed;
// it runs under commitMu, so that readers find them in one place or the
// other.
func (s *Store) landed() {
	s.mu.Lock()
	s.inflight = batch{}
	s.mu.Unlock()
}

// requeue puts back a batch that could not be written, behind anything newer
// that arrived meanwhile.
func (s *Store) requeue(b batch) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inflight = batch{}
	s.q.results = append(b.results, s.q.results...)
	s.dropOldest()
	s.q.pings = append(b.pings, s.q.pings...)
	s.q.pingBytes += b.pingBytes
	// The pings put back may have kept bodies that newer ones lost.
	s.q.bare = 0
	s.boundPings()
	for name, st := range b.states {
		if _, newer := s.q.states[name]; !newer {
			s.q.states[name] = st
		}
	}
	for name, h := range b.heartbeats {
		if _, newer := s.q.heartbeats[name]; !newer {
			s.q.heartbeats[name] = h
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
	pings := s.q.pings[:0]
	s.q.pingBytes, s.q.bare = 0, 0
	for _, p := range s.q.pings {
		if !names[p.Check] {
			pings = append(pings, p)
			s.q.pingBytes += pingSize(&p)
		}
	}
	clear(s.q.pings[len(pings):])
	s.q.pings = pings
	for name := range names {
		delete(s.q.states, name)
		delete(s.q.heartbeats, name)
	}
	for k := range s.q.aggs {
		if names[k.check] {
			delete(s.q.aggs, k)
		}
	}
}
