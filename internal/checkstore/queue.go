// Package checkstore holds what nightowl's check stores (sqlite, postgres)
// share that has nothing to do with SQL: the queue in which results, states,
// pings and heartbeat states wait for a store's writer, with its bounds and
// what it drops when the writer falls behind; the hourly and daily rollups
// aggregated in memory, and the mergeable latency histogram behind their
// percentiles, whose encoding is what both stores keep in the database; the
// encoding of a result's facts and of a heartbeat's started runs; how work,
// events and batches reach a store's writer goroutine; and the defaults of
// the options both stores take. Keeping one copy is what keeps the stores
// behaving alike.
package checkstore

import (
	"log/slog"
	"sync"
	"time"

	"github.com/nightowl/nightowl"
)

// Rollup periods in seconds, as the stores keep them.
const (
	HourSecs int64 = 3600
	DaySecs  int64 = 86400
)

const (
	// FlushAt queued results wake the writer before its interval is up, so
	// that a burst goes out in batches of a bounded size.
	FlushAt = 5000
	// flushAtPings queued pings or heartbeat states wake the writer early:
	// more than FlushAt, because what a flush costs per ping falls as the
	// batch grows. The pings of a check share the pages of its list's index
	// and of its state, so a batch in which a check pings twice rewrites
	// those pages once, and its state is written once. At the 20,000 pings
	// a second that the ping endpoint is built for, this is a batch a
	// second, as the flush interval gives anyway; flushAtBytes still bounds
	// pings with large bodies.
	flushAtPings = 4 * FlushAt
	// flushAtBytes of queued pings wake the writer too, so that pings with
	// large bodies go out long before they reach DefaultMaxPingBytes.
	flushAtBytes = 4 << 20

	// DefaultMaxResults is about 100 s of results at 2,000 a second: far
	// more than a healthy database ever lets pile up, small enough (with
	// facts, some hundreds of MB at worst) not to take the process down
	// with it.
	DefaultMaxResults = 200_000
	// DefaultMaxPings is some 10 s of pings at the 20,000 a second that
	// the ping endpoint is built for, and minutes at any rate a real fleet
	// of jobs sends.
	DefaultMaxPings = 200_000
	// DefaultMaxPingBytes bounds the memory that queued pings hold: a ping
	// can carry a body of up to 100 KB, so a count alone would allow 20 GB.
	DefaultMaxPingBytes = 64 << 20
	// DefaultRollupInterval is how often rollups are written, besides
	// every durable flush.
	DefaultRollupInterval = time.Minute
)

// Key names a rollup: a check's hour or day.
type Key struct {
	Check  string
	Period int64 // seconds
	Start  int64 // Unix seconds
}

// Agg is a rollup in the making, or the part of one not yet written.
type Agg struct {
	Runs, Failures int64
	Max            int64 // nanoseconds
	Hist           Hist
}

// Merge adds o to a.
func (a *Agg) Merge(o *Agg) {
	a.Runs += o.Runs
	a.Failures += o.Failures
	a.Max = max(a.Max, o.Max)
	a.Hist.Merge(o.Hist)
}

// Batch is what a writer takes from the queue to write in one transaction:
// raw results and pings in arrival order, the latest state and heartbeat
// state per check and the rollups accumulated since they were last taken.
type Batch struct {
	Results    []nightowl.Result
	States     map[string]nightowl.State
	Aggs       map[Key]*Agg
	Pings      []nightowl.Ping
	Heartbeats map[string]nightowl.Heartbeat
	// pingBytes is about the memory that pings hold, and bare how many
	// of the oldest have had their bodies dropped to bound it; being the
	// oldest, they are always a prefix of Pings.
	pingBytes int
	bare      int
	// since is when the oldest of the results, states, pings and
	// heartbeat states in the batch was saved; zero when it holds none.
	since time.Time
}

// Empty reports whether there is nothing to write.
func (b *Batch) Empty() bool {
	return len(b.Results) == 0 && len(b.States) == 0 && len(b.Aggs) == 0 &&
		len(b.Pings) == 0 && len(b.Heartbeats) == 0
}

// newBatch sizes its maps for about as much as the last batch held: growing
// them one result at a time would be most of what SaveResult costs.
func newBatch(last Batch) Batch {
	return Batch{
		States:     make(map[string]nightowl.State, min(len(last.States), 2*FlushAt)),
		Aggs:       make(map[Key]*Agg, min(len(last.Aggs), 4*FlushAt)),
		Heartbeats: make(map[string]nightowl.Heartbeat, min(len(last.Heartbeats), 2*flushAtPings)),
	}
}

// full reports whether the batch is worth writing now. Each kind of row is
// bounded on its own: a heartbeat ping brings a ping, a heartbeat state and
// (through the engine) a result, and counting them together would cut the
// batch to a third, with three times the commits and less coalescing of
// states and rollups.
func (b *Batch) full() bool {
	return len(b.Results) >= FlushAt || max(len(b.Pings), len(b.Heartbeats)) >= flushAtPings ||
		b.pingBytes >= flushAtBytes
}

// Options configure a Queue. The zero value of every field is usable.
type Options struct {
	Now func() time.Time // time.Now when nil
	// RollupInterval is how often Take hands out the rollups when the
	// flush is not durable; DefaultRollupInterval when zero.
	RollupInterval time.Duration
	// MaxResults bounds the raw results waiting for the writer, and
	// MaxPings and MaxPingBytes the pings; the defaults when zero.
	MaxResults   int
	MaxPings     int
	MaxPingBytes int
}

// Queue holds the writes of a check store until its writer takes them. Saving
// never waits for the database: the engine saves results on its hot path
// and the ping endpoint takes thousands of pings a second. It is safe for
// concurrent use.
type Queue struct {
	opts Options
	kick chan struct{}

	mu    sync.Mutex
	q     Batch // waiting for the writer
	spare []nightowl.Result
	// inflight holds the pings and heartbeats that the writer took and has
	// not committed yet: until it has, readers find them neither in q nor
	// in the database.
	inflight   Batch
	sparePings []nightowl.Ping
	closed     bool
	rollupsAt  time.Time // when Take last handed out the rollups
	dropped    int64     // raw results dropped because the writer fell behind
	// Pings dropped, and pings whose bodies were dropped, because the
	// writer fell behind.
	droppedPings, droppedBodies int64

	// writing is the since of the batch the writer took and has not yet
	// written or put back, and takenAt when it took it.
	writing, takenAt time.Time
	// writes are the batches written and failed the ones put back, with
	// the time each took by WriteBounds (writeHist's last bucket counts
	// those slower than the last bound) and in all.
	writes, failed int64
	writeHist      [len(WriteBounds) + 1]int64
	writeTime      time.Duration

	// What WarnDrops last told, which only the writer calls.
	warnedAt                  time.Time
	warnedDrop                int64
	warnedPingsAt             time.Time
	warnedPings, warnedBodies int64
}

// New returns an empty queue.
func New(opts Options) *Queue {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.RollupInterval <= 0 {
		opts.RollupInterval = DefaultRollupInterval
	}
	if opts.MaxResults <= 0 {
		opts.MaxResults = DefaultMaxResults
	}
	if opts.MaxPings <= 0 {
		opts.MaxPings = DefaultMaxPings
	}
	if opts.MaxPingBytes <= 0 {
		opts.MaxPingBytes = DefaultMaxPingBytes
	}
	return &Queue{opts: opts, kick: make(chan struct{}, 1), q: newBatch(Batch{})}
}

// Kick receives when the queue has grown long enough to be written before
// the writer's interval is up.
func (q *Queue) Kick() <-chan struct{} { return q.kick }

func (q *Queue) wake() {
	select {
	case q.kick <- struct{}{}:
	default:
	}
}

// Close makes the queue ignore what is saved from now on: a store saves
// nothing after its Close.
func (q *Queue) Close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
}

// SaveResult queues r for the check's list of recent results and counts it
// in its hourly and daily rollups, which it falls in by r.Start (or r.Due,
// or now). The queue keeps r.Facts and r.Assertions until they are written,
// so the caller must not change them afterwards.
func (q *Queue) SaveResult(r nightowl.Result) { q.saveResult(r, true) }

// CountResult counts r in its check's hourly and daily rollups without
// keeping it among the recent results: a heartbeat's raw history is its
// pings, and a result row per ping would double what a flood of pings
// writes.
func (q *Queue) CountResult(r nightowl.Result) { q.saveResult(r, false) }

func (q *Queue) saveResult(r nightowl.Result, keep bool) {
	at := r.Start
	if at.IsZero() {
		at = r.Due
	}
	if at.IsZero() {
		at = q.opts.Now()
	}
	d := max(int64(time.Duration(r.Duration)), 0)
	idx := HistIndex(d)
	down := r.Status == nightowl.StatusDown
	hour := Key{r.Check, HourSecs, at.Truncate(time.Hour).Unix()}
	// Truncating the absolute time (not its presentation) gives UTC days.
	day := Key{r.Check, DaySecs, at.Truncate(24 * time.Hour).Unix()}

	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return
	}
	for _, k := range [2]Key{hour, day} {
		a := q.q.Aggs[k]
		if a == nil {
			a = &Agg{}
			q.q.Aggs[k] = a
		}
		a.Runs++
		if down {
			a.Failures++
		}
		a.Max = max(a.Max, d)
		a.Hist.Add(idx, 1)
	}
	if keep {
		q.queued()
		q.q.Results = append(q.q.Results, r)
		q.dropOldest()
	}
	full := q.q.full()
	q.mu.Unlock()

	if full {
		q.wake()
	}
}

// queued notes that something is saved: the first save after the writer
// took the queue starts the wait of the next batch. q.mu must be held.
func (q *Queue) queued() {
	if q.q.since.IsZero() {
		q.q.since = q.opts.Now()
	}
}

// dropOldest keeps the queue of raw results within its bound. Only raw
// results go: their rollup counts are already taken, and states are
// coalesced, one per check. q.mu must be held.
func (q *Queue) dropOldest() {
	over := len(q.q.Results) - q.opts.MaxResults
	if over <= 0 {
		return
	}
	// Clearing lets the facts of dropped results be collected before
	// append next moves the slice.
	clear(q.q.Results[:over])
	q.q.Results = q.q.Results[over:]
	q.dropped += int64(over)
}

// SaveState queues the current state of a check; only the latest state of
// each check is written.
func (q *Queue) SaveState(st nightowl.State) {
	q.mu.Lock()
	if !q.closed {
		q.queued()
		q.q.States[st.Check] = st
	}
	q.mu.Unlock()
}

// States returns the queued states of the named checks, those that have
// one. They stay queued: the next flush writes them again, or a newer state,
// which is no harm.
func (q *Queue) States(checks []string) map[string]nightowl.State {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := make(map[string]nightowl.State, len(checks))
	for _, c := range checks {
		if st, ok := q.q.States[c]; ok {
			out[c] = st
		}
	}
	return out
}

// pingOverhead is about what a queued ping holds besides its strings: the
// struct in the queue's array, its exit code and duration.
const pingOverhead = 200

// PingSize estimates the memory a queued ping holds. The check name is left
// out: it is the caller's, shared with every ping of the check.
func PingSize(p *nightowl.Ping) int {
	return pingOverhead + len(p.Body) + len(p.RID) + len(p.Method) + len(p.UserAgent) + len(p.Remote)
}

// SavePing queues p for the check's list of recent pings. A zero p.Time
// means now. The queue keeps p.ExitCode and p.Duration until p is written,
// so the caller must not change what they point to afterwards.
func (q *Queue) SavePing(p nightowl.Ping) {
	if p.Time.IsZero() {
		p.Time = q.opts.Now()
	}
	size := PingSize(&p)
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return
	}
	q.queued()
	q.q.Pings = append(q.q.Pings, p)
	q.q.pingBytes += size
	q.boundPings()
	full := q.q.full()
	q.mu.Unlock()

	if full {
		q.wake()
	}
}

// boundPings keeps the queued pings within their count and their memory. A
// ping's body is most of it and the least of what matters (when, what kind,
// which exit code), so the oldest pings lose their bodies first, and only
// then whole pings go. q.mu must be held.
func (q *Queue) boundPings() {
	b := &q.q
	if over := len(b.Pings) - q.opts.MaxPings; over > 0 {
		q.dropPings(over)
	}
	for b.pingBytes > q.opts.MaxPingBytes && b.bare < len(b.Pings) {
		if p := &b.Pings[b.bare]; p.Body != "" {
			b.pingBytes -= len(p.Body)
			// Truncated, with nothing left, tells a reader that the
			// job sent a body that is not shown.
			p.Body, p.Truncated = "", true
			q.droppedBodies++
		}
		b.bare++
	}
	over := 0
	for bytes := b.pingBytes; bytes > q.opts.MaxPingBytes && over < len(b.Pings); over++ {
		bytes -= PingSize(&b.Pings[over])
	}
	if over > 0 {
		q.dropPings(over)
	}
}

// dropPings drops the n oldest queued pings. q.mu must be held.
func (q *Queue) dropPings(n int) {
	b := &q.q
	for i := range n {
		b.pingBytes -= PingSize(&b.Pings[i])
	}
	// Clearing lets the bodies be collected before append next moves the
	// slice.
	clear(b.Pings[:n])
	b.Pings = b.Pings[n:]
	b.bare = max(b.bare-n, 0)
	q.droppedPings += int64(n)
}

// SaveHeartbeat queues the state of a heartbeat check; only the latest of
// each check is written.
func (q *Queue) SaveHeartbeat(h nightowl.Heartbeat) {
	// The caller goes on changing its own state (runs start and end in
	// Started) while this copy waits for the writer.
	h = CloneHeartbeat(h)
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return
	}
	q.queued()
	q.q.Heartbeats[h.Check] = h
	full := q.q.full()
	q.mu.Unlock()

	if full {
		q.wake()
	}
}

// CloneHeartbeat copies h with nothing shared, and its times as they read
// back from a store: in UTC, no runs started a nil map.
func CloneHeartbeat(h nightowl.Heartbeat) nightowl.Heartbeat {
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

// Take hands the writer everything queued, to be written in one
// transaction; the pings and heartbeat states in it stay visible to Pings
// and Heartbeats until Landed or Requeue. Rollups change with every result
// of every check, but nobody reads this hour's before it is over: handing
// them out once every RollupInterval rather than every flush saves two row
// writes per check per second under load, at the price of up to an interval
// of counts lost in a crash. A durable flush (Flush, Close) takes them
// whatever the interval.
func (q *Queue) Take(durable bool) Batch {
	q.mu.Lock()
	defer q.mu.Unlock()
	b := q.q
	q.q = newBatch(b)
	if now := q.opts.Now(); !durable && now.Sub(q.rollupsAt) < q.opts.RollupInterval {
		q.q.Aggs, b.Aggs = b.Aggs, nil
	} else {
		q.rollupsAt = now
	}
	// Reusing the last batch's array spares SaveResult from growing a new
	// one, copying every queued result each time it doubles.
	q.q.Results, q.spare = q.spare, nil
	q.q.Pings, q.sparePings = q.sparePings, nil
	q.inflight = Batch{Pings: b.Pings, Heartbeats: b.Heartbeats}
	// A store writes only a batch that is not empty, and ends each write
	// with Recycle or Requeue.
	if !b.Empty() {
		q.writing, q.takenAt = b.since, q.opts.Now()
	}
	return b
}

// Landed forgets the pings and heartbeats in flight once they are
// committed. A store calls it while its readers of pings wait, so that they
// find them in one place or the other.
func (q *Queue) Landed() {
	q.mu.Lock()
	q.inflight = Batch{}
	q.mu.Unlock()
}

// Recycle keeps the arrays of a batch that was written, for the next.
func (q *Queue) Recycle(b Batch) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.wrote(true)
	// A batch swollen by a stall is not worth keeping.
	if cap(b.Results) <= 4*FlushAt {
		clear(b.Results)
		q.spare = b.Results[:0]
	}
	if cap(b.Pings) <= 2*flushAtPings {
		clear(b.Pings)
		q.sparePings = b.Pings[:0]
	}
}

// Requeue puts back a batch that could not be written, behind anything
// newer that arrived meanwhile, to be tried again with the next flush.
func (q *Queue) Requeue(b Batch) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.inflight = Batch{}
	q.wrote(false)
	if !b.since.IsZero() && (q.q.since.IsZero() || b.since.Before(q.q.since)) {
		q.q.since = b.since
	}
	q.q.Results = append(b.Results, q.q.Results...)
	q.dropOldest()
	q.q.Pings = append(b.Pings, q.q.Pings...)
	q.q.pingBytes += b.pingBytes
	// The pings put back may have kept bodies that newer ones lost.
	q.q.bare = 0
	q.boundPings()
	for name, st := range b.States {
		if _, newer := q.q.States[name]; !newer {
			q.q.States[name] = st
		}
	}
	for name, h := range b.Heartbeats {
		if _, newer := q.q.Heartbeats[name]; !newer {
			q.q.Heartbeats[name] = h
		}
	}
	for k, a := range b.Aggs {
		if cur := q.q.Aggs[k]; cur != nil {
			cur.Merge(a)
		} else {
			q.q.Aggs[k] = a
		}
	}
}

// Purge removes queued writes of the named checks: forgotten, they must not
// come back with the next flush.
func (q *Queue) Purge(names map[string]bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	b := &q.q
	keep := b.Results[:0]
	for _, r := range b.Results {
		if !names[r.Check] {
			keep = append(keep, r)
		}
	}
	clear(b.Results[len(keep):])
	b.Results = keep
	pings := b.Pings[:0]
	b.pingBytes, b.bare = 0, 0
	for _, p := range b.Pings {
		if !names[p.Check] {
			pings = append(pings, p)
			b.pingBytes += PingSize(&p)
		}
	}
	clear(b.Pings[len(pings):])
	b.Pings = pings
	for name := range names {
		delete(b.States, name)
		delete(b.Heartbeats, name)
	}
	for k := range b.Aggs {
		if names[k.Check] {
			delete(b.Aggs, k)
		}
	}
}

// Pings returns up to limit of the check's pings that wait for the writer or
// are being written, newest first, as they will read back from the store.
func (q *Queue) Pings(check string, limit int) []nightowl.Ping {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []nightowl.Ping
	for _, ps := range [2][]nightowl.Ping{q.q.Pings, q.inflight.Pings} {
		for i := len(ps) - 1; i >= 0 && len(out) < limit; i-- {
			if p := ps[i]; p.Check == check {
				p.Time = p.Time.UTC()
				p.ExitCode, p.Duration = clonePtr(p.ExitCode), clonePtr(p.Duration)
				out = append(out, p)
			}
		}
	}
	return out
}

// Heartbeats returns copies of the heartbeat states that wait for the writer
// or are being written, by check: newer than what the store holds.
func (q *Queue) Heartbeats() map[string]nightowl.Heartbeat {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := make(map[string]nightowl.Heartbeat, len(q.inflight.Heartbeats)+len(q.q.Heartbeats))
	for _, m := range [2]map[string]nightowl.Heartbeat{q.inflight.Heartbeats, q.q.Heartbeats} {
		for name, h := range m {
			out[name] = CloneHeartbeat(h)
		}
	}
	return out
}

// WriteBounds are the upper bounds, in seconds, of the buckets in which
// WriteStats counts how long batch writes took.
var WriteBounds = [...]float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// wrote ends the write of the batch taken last, which succeeded or was put
// back. q.mu must be held.
func (q *Queue) wrote(ok bool) {
	if q.takenAt.IsZero() {
		return
	}
	d := max(q.opts.Now().Sub(q.takenAt), 0)
	q.writing, q.takenAt = time.Time{}, time.Time{}
	if ok {
		q.writes++
	} else {
		q.failed++
	}
	q.writeTime += d
	i := 0
	for i < len(WriteBounds) && d.Seconds() > WriteBounds[i] {
		i++
	}
	q.writeHist[i]++
}

// WriteStats tell how a store's writer keeps up, for its metrics.
type WriteStats struct {
	// Queued is how many raw results wait for the writer.
	Queued int
	// OldestUnwritten is when the oldest result, state, ping or heartbeat
	// state not yet written was saved; zero when none waits. A writer
	// that keeps up writes each within its flush interval.
	OldestUnwritten time.Time
	// Writes and Failed count the batches written and those that could
	// not be and were put back to be tried again.
	Writes, Failed int64
	// Took counts the writes of either outcome by how long they took:
	// Took[i] those within WriteBounds[i] and above the bound before, the
	// last those slower than every bound. TookTotal is their sum.
	Took      [len(WriteBounds) + 1]int64
	TookTotal time.Duration
	// Dropped and DroppedPings are as Dropped and DroppedPings say.
	Dropped, DroppedPings int64
}

// WriteStats returns how the writer keeps up. It copies a few numbers
// under the queue's lock, cheap enough for every scrape.
func (q *Queue) WriteStats() WriteStats {
	q.mu.Lock()
	defer q.mu.Unlock()
	oldest := q.writing
	if oldest.IsZero() || (!q.q.since.IsZero() && q.q.since.Before(oldest)) {
		oldest = q.q.since
	}
	return WriteStats{Queued: len(q.q.Results), OldestUnwritten: oldest,
		Writes: q.writes, Failed: q.failed, Took: q.writeHist, TookTotal: q.writeTime,
		Dropped: q.dropped, DroppedPings: q.droppedPings}
}

// Dropped returns how many raw results were dropped because the writer
// could not keep up. Their rollup counts were kept.
func (q *Queue) Dropped() int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.dropped
}

// DroppedPings returns how many pings were dropped because the writer could
// not keep up, and how many lost their body first, to keep the queue's
// memory bounded.
func (q *Queue) DroppedPings() (pings, bodies int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.droppedPings, q.droppedBodies
}

// warnEvery spaces the warnings about drops: a writer that falls behind
// drops on every save.
const warnEvery = time.Minute

// WarnDrops logs, at most once a minute for results and once for pings, how
// much was dropped since the last warning. The store's writer calls it after
// its flushes; store names the store in the messages.
func (q *Queue) WarnDrops(log *slog.Logger, store string) {
	now := q.opts.Now()
	dropped := q.Dropped()
	pings, bodies := q.DroppedPings()
	if dropped > q.warnedDrop && now.Sub(q.warnedAt) >= warnEvery {
		log.Warn(store+": writer fell behind; dropped the oldest queued results (rollups still count them)",
			"dropped", dropped-q.warnedDrop, "total", dropped)
		q.warnedAt = now
		q.warnedDrop = dropped
	}
	if (pings > q.warnedPings || bodies > q.warnedBodies) && now.Sub(q.warnedPingsAt) >= warnEvery {
		log.Warn(store+": writer fell behind; dropped the oldest queued pings, or their bodies (heartbeat states are kept)",
			"pings", pings-q.warnedPings, "bodies", bodies-q.warnedBodies,
			"total_pings", pings, "total_bodies", bodies)
		q.warnedPingsAt = now
		q.warnedPings, q.warnedBodies = pings, bodies
	}
}
