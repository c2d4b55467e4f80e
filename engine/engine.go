// Package engine runs checks on schedule and turns their results into
// statuses. One dispatcher goroutine keeps every check's next due time in a
// heap and hands due runs to a bounded pool of workers; there is no goroutine
// or timer per check, so 100,000 checks cost a heap entry and a little state
// each. Time comes from an injected clock, so the scheduler and the
// thresholds are tested without sleeping.
package engine

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nightowl/nightowl"
)

// Options configure an Engine. The zero value of every field but Store is
// usable.
type Options struct {
	Clock  nightowl.Clock // nightowl.SystemClock when nil
	Store  nightowl.Store // required
	Logger *slog.Logger   // slog.Default() when nil
	// Concurrency bounds how many checks run at once; default 256.
	Concurrency int
	// OnEvent is called, on the worker that ran the check, after a status
	// change has been recorded, with the check, its new state and the
	// result that changed it. Alerting hangs off it.
	OnEvent func(ev nightowl.Event, v nightowl.CheckView)
	// Windows returns the maintenance windows in force for a check at a
	// time; nil means none ever are.
	Windows func(c *nightowl.Check, at time.Time) []nightowl.ActiveWindow
	// Metrics receives scheduler measurements; nil records nothing.
	Metrics *Metrics
	// Owns, when set, tells whether this process runs a check now: in a
	// cluster each check runs on one node. A check it does not own keeps
	// its place in the schedule, and its slots pass without a run.
	Owns func(check string) bool
}

// Engine schedules and runs checks.
type Engine struct {
	opts  Options
	clock nightowl.Clock
	log   *slog.Logger

	mu     sync.Mutex
	checks map[string]*run
	order  []string // configured order, for stable listings
	queue  dueHeap
	wake   chan struct{}

	work chan job
	stop context.CancelFunc
	done sync.WaitGroup
	// rechecks are the runs of blocked checks whose root cause recovered
	// (releaseDependents); stopping, under mu, says no more may start.
	rechecks sync.WaitGroup
	stopping bool
	// runCtx ends when the engine stops; nil before Start.
	runCtx context.Context
	// upstream names the checks some check depends on, and dependents
	// are the checks that depend on any: what a recovery looks through
	// for checks to release (releaseDependents). Set with checks.
	upstream   map[string]bool
	dependents []*run
	started    atomic.Bool
	// startedAt is when Start was called: a check that has never run is
	// late only once it has had time to.
	startedAt time.Time
}

// run is the live side of one configured check.
type run struct {
	check   nightowl.Check
	removed atomic.Bool
	// running is set while a scheduled run is under way, from its slot
	// to the end of its recording; it changes under slotMu.
	running atomic.Bool
	// slotMu orders the end of a scheduled run against the dispatcher.
	// recording is set once the run's probe is over and it records what
	// it saw (the result is visible from then on); a slot that comes
	// meanwhile is kept in next and run as soon as the recording ends,
	// rather than lost to bookkeeping.
	slotMu    sync.Mutex
	recording bool
	hasNext   bool
	next      time.Time

	manual atomic.Int32 // runs started by RunNow still under way
	closed sync.Once

	nowMu sync.Mutex
	now   *manualRun // RunNow's run under way, if any

	mu    sync.Mutex
	state nightowl.State
	last  *nightowl.Result
	// flaps are the times of the status changes within the check's flap
	// window, oldest first; under mu.
	flaps []time.Time
}

type job struct {
	r   *run
	due time.Time
}

// New returns an engine with no checks; call SetChecks and Start.
func New(opts Options) (*Engine, error) {
	if opts.Store == nil {
		return nil, errors.New("engine: a store is required")
	}
	if opts.Clock == nil {
		opts.Clock = nightowl.SystemClock{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 256
	}
	return &Engine{
		opts: opts, clock: opts.Clock, log: opts.Logger,
		checks: map[string]*run{},
		wake:   make(chan struct{}, 1),
		work:   make(chan job),
	}, nil
}

// SetChecks installs a new set of checks. A check whose fingerprint is
// unchanged keeps its schedule, state and last result; a changed or new
// check keeps its state (history belongs to the name) and is scheduled
// afresh. On the first call the first runs are spread evenly over each
// check's interval, so a start with 100,000 checks does not run them all at
// once; later additions are placed by a hash of their name.
//
// states seeds checks not yet known to the engine, typically from the store
// at start-up.
func (e *Engine) SetChecks(checks []nightowl.Check, states []nightowl.State) {
	now := e.clock.Now()
	seed := make(map[string]nightowl.State, len(states))
	for _, s := range states {
		seed[s.Check] = s
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	first := len(e.checks) == 0 && len(e.queue) == 0
	next := make(map[string]*run, len(checks))
	order := make([]string, 0, len(checks))
	for i, c := range checks {
		order = append(order, c.Name)
		old := e.checks[c.Name]
		if old != nil && old.check.Fingerprint == c.Fingerprint && c.Fingerprint != "" {
			next[c.Name] = old
			closeProber(c.Prober)
			continue
		}
		r := &run{check: c}
		switch {
		case old != nil:
			e.retire(old)
			old.mu.Lock()
			r.state, r.last = old.state, old.last
			old.mu.Unlock()
		default:
			if s, ok := seed[c.Name]; ok {
				r.state = s
			} else {
				r.state = nightowl.State{Check: c.Name, Status: nightowl.StatusUnknown, Since: now}
			}
		}
		if c.Passive {
			// Results arrive through Submit; nothing to schedule.
		} else if c.Paused {
			if r.state.Status != nightowl.StatusPaused {
				r.state.Status, r.state.Since, r.state.Pending, r.state.Streak = nightowl.StatusPaused, now, "", 0
				e.opts.Store.SaveState(r.state)
			}
		} else {
			if r.state.Status == nightowl.StatusPaused {
				r.state.Status, r.state.Since = nightowl.StatusUnknown, now
			}
			var offset time.Duration
			if first {
				offset = time.Duration(int64(c.Interval) / int64(len(checks)) * int64(i))
			} else {
				offset = spread(c.Name, c.Interval)
			}
			heap.Push(&e.queue, entry{due: now.Add(offset), r: r})
		}
		next[c.Name] = r
	}
	for name, old := range e.checks {
		if _, ok := next[name]; !ok {
			e.retire(old)
		}
	}
	e.checks, e.order = next, order
	e.upstream, e.dependents = map[string]bool{}, nil
	for _, name := range order {
		r := next[name]
		for _, d := range r.check.DependsOn {
			e.upstream[d] = true
		}
		if len(r.check.DependsOn) > 0 {
			e.dependents = append(e.dependents, r)
		}
	}
	if m := e.opts.Metrics; m != nil {
		m.Checks.Set(float64(len(next)))
	}
	e.poke()
}

// retire takes a run out of service. Its prober is closed (a database probe
// holds a connection pool) now if it is idle, or by the worker when its last
// run ends.
func (e *Engine) retire(r *run) {
	r.removed.Store(true)
	if !r.running.Load() && r.manual.Load() == 0 {
		r.close()
	}
}

func (r *run) close() { r.closed.Do(func() { closeProber(r.check.Prober) }) }

func closeProber(p nightowl.Prober) {
	if c, ok := p.(io.Closer); ok {
		c.Close()
	}
}

// Close writes the state of every check this node runs and closes every
// prober; call it after Stop. The states of checks other nodes run are
// theirs to write: this node's copies of them lag.
func (e *Engine) Close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, r := range e.checks {
		r.mu.Lock()
		st := r.state
		r.mu.Unlock()
		if e.opts.Owns == nil || e.opts.Owns(r.check.Name) {
			e.opts.Store.SaveState(st)
		}
		r.close()
	}
}

func spread(name string, interval time.Duration) time.Duration {
	if interval <= 0 {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(name))
	return time.Duration(h.Sum64() % uint64(interval))
}

func (e *Engine) poke() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Start runs the dispatcher and workers until Stop.
func (e *Engine) Start(ctx context.Context) {
	if !e.started.CompareAndSwap(false, true) {
		return
	}
	ctx, e.stop = context.WithCancel(ctx)
	e.mu.Lock()
	e.runCtx = ctx
	e.startedAt = e.clock.Now()
	e.mu.Unlock()
	for range e.opts.Concurrency {
		e.done.Add(1)
		go func() {
			defer e.done.Done()
			e.worker(ctx)
		}()
	}
	e.done.Add(1)
	go func() {
		defer e.done.Done()
		e.dispatch(ctx)
	}()
}

// Stop ends the dispatcher and waits for running checks to finish.
func (e *Engine) Stop() {
	e.mu.Lock()
	e.stopping = true
	e.mu.Unlock()
	if e.stop != nil {
		e.stop()
	}
	e.done.Wait()
	e.rechecks.Wait()
}

func (e *Engine) dispatch(ctx context.Context) {
	var due []job
	for {
		now := e.clock.Now()
		due = e.popDue(now, due[:0])
		for _, j := range due {
			select {
			case e.work <- j:
			case <-ctx.Done():
				return
			}
		}
		e.mu.Lock()
		var wait <-chan time.Time
		if len(e.queue) > 0 {
			wait = e.clock.After(e.queue[0].due.Sub(e.clock.Now()))
		}
		e.mu.Unlock()
		select {
		case <-wait:
		case <-e.wake:
		case <-ctx.Done():
			return
		}
	}
}

// popDue takes every run due at now off the heap and puts each back at its
// next due time: one interval after this due time (fixed rate), skipping
// slots that have already passed so a stall does not cause a burst of
// catch-up runs. A check whose previous run is still probing skips this
// slot; one whose previous run is only recording what it saw runs it as
// soon as that recording ends.
func (e *Engine) popDue(now time.Time, out []job) []job {
	e.mu.Lock()
	defer e.mu.Unlock()
	for len(e.queue) > 0 && !e.queue[0].due.After(now) {
		ent := &e.queue[0]
		r, due := ent.r, ent.due
		if r.removed.Load() {
			heap.Pop(&e.queue)
			continue
		}
		next := due.Add(r.check.Interval)
		if !next.After(now) {
			missed := now.Sub(next)/r.check.Interval + 1
			next = next.Add(missed * r.check.Interval)
			if m := e.opts.Metrics; m != nil {
				m.Skipped.Add(float64(missed))
			}
		}
		ent.due = next
		heap.Fix(&e.queue, 0)
		if e.opts.Owns != nil && !e.opts.Owns(r.check.Name) {
			continue
		}
		switch r.claim(due) {
		case slotRun:
			out = append(out, job{r: r, due: due})
		case slotSkipped:
			if m := e.opts.Metrics; m != nil {
				m.Skipped.Inc()
			}
		case slotDeferred:
			// The worker recording the previous run runs it next.
		}
	}
	return out
}

// slotFate is what becomes of a check's slot when it comes.
type slotFate int

const (
	slotRun      slotFate = iota // a worker runs it now
	slotSkipped                  // the previous run is still probing
	slotDeferred                 // runs once the previous run has recorded
)

// claim takes a slot for a scheduled run of r.
func (r *run) claim(due time.Time) slotFate {
	r.slotMu.Lock()
	defer r.slotMu.Unlock()
	switch {
	case !r.running.Load():
		r.running.Store(true)
		return slotRun
	case r.recording && !r.hasNext:
		r.hasNext, r.next = true, due
		return slotDeferred
	default:
		return slotSkipped
	}
}

// recorded ends a scheduled run's recording. It returns the slot that came
// meanwhile when there is one and keep is true; the run then goes on
// (running stays set) for that slot. Otherwise the run is over.
func (r *run) recorded(keep bool) (due time.Time, again bool) {
	r.slotMu.Lock()
	defer r.slotMu.Unlock()
	r.recording = false
	due, again = r.next, r.hasNext && keep
	r.hasNext, r.next = false, time.Time{}
	if !again {
		r.running.Store(false)
	}
	return due, again
}

func (r *run) startRecording() {
	r.slotMu.Lock()
	r.recording = true
	r.slotMu.Unlock()
}

func (e *Engine) worker(ctx context.Context) {
	for {
		select {
		case j := <-e.work:
			r := j.r
			for due, again := j.due, true; again; {
				// A run under way when Stop is called finishes within its
				// own timeout: cancelling it would record a false failure
				// at every restart.
				e.execute(context.WithoutCancel(ctx), r, due, true)
				// A slot that came while this run recorded is run now,
				// unless the engine stops or the check is no longer
				// this node's to run.
				keep := ctx.Err() == nil && !r.removed.Load() && (e.opts.Owns == nil || e.opts.Owns(r.check.Name))
				due, again = r.recorded(keep)
			}
			if r.removed.Load() && r.manual.Load() == 0 {
				r.close()
			}
		case <-ctx.Done():
			return
		}
	}
}

// execute runs one check and records what it saw. A scheduled run (slot)
// is recording from the moment its probe is over:
// a slot that comes from then on is run after it, not skipped.
func (e *Engine) execute(ctx context.Context, r *run, due time.Time, slot bool) nightowl.Result {
	start := e.clock.Now()
	if m := e.opts.Metrics; m != nil {
		m.Lag.Observe(start.Sub(due).Seconds())
	}
	res := Run(ctx, &r.check, e.clock)
	res.Due = due
	if slot {
		r.startRecording()
	}
	e.record(r, &res)
	return res
}

// Run runs a check once, outside any schedule: probe under the check's
// timeout, then assertions, then the verdict. It is what `nightowl check`
// uses too.
func Run(ctx context.Context, c *nightowl.Check, clock nightowl.Clock) nightowl.Result {
	if clock == nil {
		clock = nightowl.SystemClock{}
	}
	start := clock.Now()
	var res nightowl.Result
	if c.Prober == nil {
		res = nightowl.Result{Error: "check has no probe"}
	} else {
		timeout := c.Timeout
		if timeout <= 0 {
			timeout = 10 * time.Second
		}
		res = probe(ctx, c.Prober, timeout)
	}
	res.Check, res.Start, res.Due = c.Name, start, start
	if res.Facts == nil {
		res.Facts = nightowl.Facts{}
	}
	if _, ok := res.Facts["duration"]; !ok {
		res.Facts["duration"] = time.Duration(res.Duration).Seconds()
	}
	judge(c, &res)
	return res
}

// probe runs p under timeout. It keeps, for every probe, the promise that
// a probe never panics: a bug in a probe or in a library it calls becomes a
// failed result, timed like any other, instead of taking the monitor down
// with it. The duration is real time, as the probes measure it, whatever
// the engine's clock.
func probe(ctx context.Context, p nightowl.Prober, timeout time.Duration) (res nightowl.Result) {
	start := time.Now()
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	defer func() {
		if v := recover(); v != nil {
			d := time.Since(start)
			res = nightowl.Result{
				Error:    fmt.Sprintf("probe failed unexpectedly: %v", v),
				Duration: nightowl.Seconds(d),
				Facts:    nightowl.Facts{"duration": d.Seconds()},
			}
		}
	}()
	return p.Probe(pctx)
}

// judge evaluates the check's assertions on a result and sets its status.
// Assertions judge what a probe saw; when it saw nothing (connection
// refused, timeout) the probe error is the whole story, and evaluating
// assertions over missing facts would only add noise.
func judge(c *nightowl.Check, res *nightowl.Result) {
	if res.OK {
		res.Assertions = make([]nightowl.AssertionResult, len(c.Assertions))
		for i, a := range c.Assertions {
			res.Assertions[i] = a.Eval(res.Facts)
		}
	}
	res.Judge()
}

// Submit folds facts observed outside the scheduler into a passive check's
// status: a heartbeat's ping or a deadline that passed. It evaluates the
// check's assertions and records the result like any run.
func (e *Engine) Submit(name string, at time.Time, facts nightowl.Facts) (nightowl.Result, error) {
	e.mu.Lock()
	r := e.checks[name]
	e.mu.Unlock()
	if r == nil {
		return nightowl.Result{}, nightowl.Errorf(nightowl.ENotFound, "check %q not found", name)
	}
	if r.check.Paused {
		return nightowl.Result{}, nightowl.Errorf(nightowl.EConflict, "check %q is paused", name)
	}
	res := nightowl.Result{Check: name, Due: at, Start: at, OK: true, Facts: facts}
	judge(&r.check, &res)
	e.record(r, &res)
	return res, nil
}

// maxKeptString bounds string facts in what is kept after a run (memory and
// storage): assertions have already seen the whole value.
const maxKeptString = 1024

func compact(f nightowl.Facts) {
	for k, v := range f {
		if s, ok := v.(string); ok && len(s) > maxKeptString {
			f[k] = s[:maxKeptString] + "…"
		}
	}
}

func (e *Engine) record(r *run, res *nightowl.Result) {
	compact(res.Facts)
	if e.opts.Windows != nil {
		Classify(res, e.opts.Windows(&r.check, res.Start))
	}
	if m := e.opts.Metrics; m != nil {
		m.Runs.WithLabelValues(string(res.Status)).Inc()
	}
	if r.removed.Load() {
		// A reload replaced the check while this run was under way: the
		// result belongs to the check's current run, which took over its
		// state, or to nobody if the check is gone.
		e.mu.Lock()
		cur := e.checks[r.check.Name]
		e.mu.Unlock()
		if cur == nil || cur == r {
			return
		}
		r = cur
	}
	if e.opts.Owns != nil && !e.opts.Owns(r.check.Name) {
		// The check moved to another node while this run was under way:
		// the new owner carries on from what was recorded before, and
		// this result would cross what it records. A heartbeat's report
		// is the same: the node that holds its lease judges it, and the
		// deadlines the others' trackers reach say nothing.
		return
	}
	root := e.upstreamCause(r, res)
	r.mu.Lock()
	prev := r.state
	base := judged(prev)
	st, ev := Apply(base, &r.check, res)
	st, ev = Block(base, st, ev, root, res)
	st, ev, saved := e.flap(r, prev, st, ev, res)
	r.state, r.last = st, res
	chk := r.check
	// Saved under the lock, so that two results of one check racing (a
	// ping and a deadline) reach the store in the order they were applied.
	if stateChanged(prev, st) {
		e.opts.Store.SaveState(st)
	}
	r.mu.Unlock()
	if r.check.Passive {
		e.opts.Store.CountResult(*res)
	} else {
		e.opts.Store.SaveResult(*res)
	}
	// A check whose first result is up has no news to tell: its state says
	// since when it is up. Skipping that event spares a durable write per
	// check when many are added at once (a first start with 100,000 checks,
	// a million heartbeats), and the history keeps only real changes.
	if m := e.opts.Metrics; m != nil && saved {
		m.Saved.WithLabelValues("flapping").Inc()
	}
	if ev == nil || (ev.From == nightowl.StatusUnknown && ev.To == nightowl.StatusUp) {
		return
	}
	if m := e.opts.Metrics; m != nil && ev.To == nightowl.StatusBlocked && !failing(ev.From) {
		// It would have gone down and opened an alert of its own.
		m.Saved.WithLabelValues("blocked").Inc()
	}
	ctx, cancel := context.WithTimeout(context.Background(), EventTimeout)
	stored, err := e.opts.Store.AddEvent(ctx, *ev)
	cancel()
	if err != nil {
		e.log.Error("record status change", "check", r.check.Name, "err", err)
		stored = *ev
	}
	// The cause names targets (hosts, ports, URLs) that stay out of logs
	// at info level; it is in the API and, at debug level, here.
	e.log.Info("status changed", "check", r.check.Name, "from", ev.From, "to", ev.To)
	e.log.Debug("status change cause", "check", r.check.Name, "cause", ev.Cause)
	if e.opts.OnEvent != nil {
		e.opts.OnEvent(stored, nightowl.CheckView{Check: chk, State: st, Last: res})
	}
	e.releaseDependents(chk.Name, st.Status)
}

// EventTimeout bounds the recording of a status change, which holds up the
// worker that ran the check (and so the check's next run) until the store
// answers. A store takes an event in milliseconds; one that has not
// answered in this time hangs, and is treated as unreachable: a store that
// keeps working without its database (package offline) then keeps the
// event in memory and writes it later.
const EventTimeout = 5 * time.Second

// stateEvery is how many runs may pass between writes of a state whose
// status, streak and cause are unchanged: only its counters and last-run
// time moved, and a crash may lose that much of them. Every change that
// matters is written at once, and Close writes every state.
const stateEvery = 16

func stateChanged(prev, st nightowl.State) bool {
	return prev.Status != st.Status || prev.Pending != st.Pending || prev.Streak != st.Streak ||
		prev.Cause != st.Cause || st.Runs%stateEvery == 0
}

// RunNow runs a check immediately, outside its schedule, and records the
// result like any other run. Calls for a check whose manual run is under
// way wait for that run and get its result: a hundred people pressing
// "run" at once make one request to the target, not a hundred. The run is
// not cut short when the caller that started it gives up (the check's
// timeout bounds it), since others may be waiting for it.
func (e *Engine) RunNow(ctx context.Context, name string) (nightowl.Result, error) {
	e.mu.Lock()
	r := e.checks[name]
	e.mu.Unlock()
	if r == nil {
		return nightowl.Result{}, nightowl.Errorf(nightowl.ENotFound, "check %q not found", name)
	}
	if r.check.Passive {
		return nightowl.Result{}, nightowl.Errorf(nightowl.EInvalid, "check %q is a heartbeat: it runs when it is pinged", name)
	}
	r.nowMu.Lock()
	if m := r.now; m != nil {
		r.nowMu.Unlock()
		select {
		case <-m.done:
			return m.res, m.err
		case <-ctx.Done():
			return nightowl.Result{}, ctx.Err()
		}
	}
	m := &manualRun{done: make(chan struct{})}
	r.now = m
	r.nowMu.Unlock()
	// A reload must not close the prober under a manual run.
	r.manual.Add(1)
	// Deferred, so that a run that panics (a probe's or an assertion's
	// bug) still lets the calls that joined it go, and the next call run
	// the check again; the panic goes on to this caller.
	defer func() {
		if !m.ran {
			m.err = nightowl.Errorf(nightowl.EInternal, "run of check %q failed", name)
		}
		r.nowMu.Lock()
		r.now = nil
		r.nowMu.Unlock()
		close(m.done)
		if r.manual.Add(-1) == 0 && r.removed.Load() && !r.running.Load() {
			r.close()
		}
	}()
	m.res = e.execute(context.WithoutCancel(ctx), r, e.clock.Now(), false)
	m.ran = true
	return m.res, nil
}

// manualRun is a run of RunNow under way, which later calls join.
type manualRun struct {
	done chan struct{} // closed once res, or err, is set
	ran  bool          // the run ended without a panic, with res
	res  nightowl.Result
	err  error
}

// Adopt brings the engine up to date with what the other nodes of a cluster
// recorded in the shared store. Checks this node does not run take their
// state from states; the checks in gained, which it is taking over, take
// theirs too, so that thresholds go on counting where the last owner left
// them.
func (e *Engine) Adopt(states []nightowl.State, gained []string) {
	mine := make(map[string]bool, len(gained))
	for _, c := range gained {
		mine[c] = true
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, st := range states {
		r := e.checks[st.Check]
		if r == nil || r.check.Paused || r.running.Load() {
			continue
		}
		if !mine[st.Check] && (e.opts.Owns == nil || e.opts.Owns(st.Check)) {
			continue
		}
		r.mu.Lock()
		r.state = st
		r.mu.Unlock()
	}
}

// RunOverdue moves each of checks whose last run is older than its interval
// to run now instead of at its next slot: called once this node holds
// checks it took over.
func (e *Engine) RunOverdue(checks []string) {
	now := e.clock.Now()
	mine := make(map[string]bool, len(checks))
	for _, c := range checks {
		mine[c] = true
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	moved := false
	for i := range e.queue {
		r := e.queue[i].r
		if !mine[r.check.Name] {
			continue
		}
		r.mu.Lock()
		last := r.state.LastRun
		r.mu.Unlock()
		if now.Sub(last) >= r.check.Interval && e.queue[i].due.After(now) {
			e.queue[i].due, moved = now, true
		}
	}
	if moved {
		heap.Init(&e.queue)
		e.poke()
	}
}

// Idle returns those of checks with no run under way: a node hands a check
// over only once its own run of it is over.
func (e *Engine) Idle(checks []string) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, c := range checks {
		r := e.checks[c]
		if r == nil || (!r.running.Load() && r.manual.Load() == 0) {
			out = append(out, c)
		}
	}
	return out
}

// Late returns how many of the checks this node runs have gone without a
// run for more than twice their interval plus their timeout, with the name
// of one of them: a scheduler that stalled or a worker pool that is stuck.
// The watchdog stops vouching for a node with late checks.
func (e *Engine) Late() (n int, example string) {
	now := e.clock.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.startedAt.IsZero() {
		return 0, ""
	}
	for _, r := range e.checks {
		c := &r.check
		if c.Passive || c.Paused || (e.opts.Owns != nil && !e.opts.Owns(c.Name)) {
			continue
		}
		r.mu.Lock()
		last := r.state.LastRun
		r.mu.Unlock()
		if last.Before(e.startedAt) {
			last = e.startedAt
		}
		if now.Sub(last) > 2*c.Interval+c.Timeout {
			if n == 0 || c.Name < example {
				example = c.Name
			}
			n++
		}
	}
	return n, example
}

// CheckView is a check with its current state and last result.
type CheckView = nightowl.CheckView

// Checks returns every configured check with its state, in config order.
func (e *Engine) Checks() []CheckView {
	e.mu.Lock()
	runs := make([]*run, 0, len(e.order))
	for _, n := range e.order {
		runs = append(runs, e.checks[n])
	}
	e.mu.Unlock()
	out := make([]CheckView, len(runs))
	for i, r := range runs {
		r.mu.Lock()
		out[i] = CheckView{Check: r.check, State: r.state, Last: r.last}
		r.mu.Unlock()
	}
	return out
}

// Check returns one check's view.
func (e *Engine) Check(name string) (CheckView, bool) {
	e.mu.Lock()
	r := e.checks[name]
	e.mu.Unlock()
	if r == nil {
		return CheckView{}, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return CheckView{Check: r.check, State: r.state, Last: r.last}, true
}

// NextDue returns when each scheduled check runs next; for tests and the
// API.
func (e *Engine) NextDue() map[string]time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[string]time.Time, len(e.queue))
	for _, ent := range e.queue {
		if !ent.r.removed.Load() {
			out[ent.r.check.Name] = ent.due
		}
	}
	return out
}

type entry struct {
	due time.Time
	r   *run
}

type dueHeap []entry

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h dueHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *dueHeap) Push(x any)        { *h = append(*h, x.(entry)) }
func (h *dueHeap) Pop() any {
	old := *h
	n := len(old)
	x := old[n-1]
	*h = old[:n-1]
	return x
}
