// Package maintenance keeps the calendar of maintenance windows — from the
// config, or started by hand — and does what their ends call for: it runs
// every check in a window's scope at once when the window ends, on time, by
// hand, or at the next start when the server was down then; and, when
// verify.within has passed (and again at each again_after), it hands every
// check in scope that is not up to the alert manager. How far each window's
// verification has come is kept in the store, so a restart neither repeats
// nor skips it.
//
// The engine asks Active, for every result, which windows are in force for
// the check; that answer is cached per window, so it costs a map-free walk
// over the few windows there are.
//
// Docs for users: docs/maintenance.md.
package maintenance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/nightowl/nightowl"
)

// Options configure a Runner.
type Options struct {
	Store  nightowl.MaintenanceStore // required
	Clock  nightowl.Clock            // nightowl.SystemClock when nil
	Logger *slog.Logger              // slog.Default() when nil
	// Checks returns the configured checks with their states.
	Checks func() []nightowl.CheckView
	// Run runs a check at once; a window's end runs every check in scope.
	Run func(ctx context.Context, check string) error
	// AddEvent records an event on a check's history; nil records none.
	AddEvent func(ctx context.Context, e nightowl.Event) error
	// NotRecovered is told of each check in scope that is not up when a
	// window's verification falls due; stage 0 is the one after
	// verify.within, stage i the one after again_after[i-1].
	NotRecovered func(ctx context.Context, v nightowl.CheckView, w *nightowl.Window, stage int)
	// Concurrency bounds the checks run at once at a window's end;
	// DefaultConcurrency when zero.
	Concurrency int
	// Mine, when set, tells the checks this node runs: in a cluster each
	// node records the maintenance events of its own checks, runs them at
	// a window's end and verifies them. Windows are checked and listed
	// against every check.
	Mine func(check string) bool
}

// DefaultConcurrency is how many checks a window's end runs at once.
const DefaultConcurrency = 8

// DefaultVerifyWithin is how long after a window's end its checks have to
// be up, unless the window says otherwise.
const DefaultVerifyWithin = 10 * time.Minute

// MaxAdHoc bounds a window started by hand: a forgotten one must not
// silence a check for good.
const MaxAdHoc = 7 * 24 * time.Hour

// EventMaintenance is the kind of the events a window leaves on the history
// of the checks in its scope.
const EventMaintenance = "maintenance"

// Runner keeps the windows and acts on their ends.
type Runner struct {
	opts  Options
	clock nightowl.Clock
	log   *slog.Logger

	// windows is what Active reads: replaced whole, never changed.
	windows atomic.Pointer[[]*window]

	mu       sync.Mutex // guards what follows and serialises Tick
	config   []nightowl.Window
	adhoc    map[string]nightowl.Window // by ID
	ended    map[string]nightowl.Window // hand-made ends of configured windows, by ID
	progress map[string]nightowl.MaintenanceProgress
	// started remembers which occurrence of each window was last seen in
	// force, so that its start is recorded once.
	started map[string]time.Time
	kick    chan struct{}
}

// New loads the stored windows and progress; config are the configured
// windows.
func New(ctx context.Context, config []nightowl.Window, opts Options) (*Runner, error) {
	if opts.Store == nil || opts.Checks == nil || opts.Run == nil {
		return nil, errors.New("maintenance: no store, checks or run")
	}
	if opts.Clock == nil {
		opts.Clock = nightowl.SystemClock{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultConcurrency
	}
	r := &Runner{
		opts: opts, clock: opts.Clock, log: opts.Logger,
		adhoc: map[string]nightowl.Window{}, ended: map[string]nightowl.Window{},
		progress: map[string]nightowl.MaintenanceProgress{}, started: map[string]time.Time{},
		kick: make(chan struct{}, 1),
	}
	stored, err := opts.Store.Windows(ctx)
	if err != nil {
		return nil, err
	}
	for _, w := range stored {
		if w.Source == SourceConfig {
			r.ended[w.ID] = w
		} else {
			r.adhoc[w.ID] = w
		}
	}
	ps, err := opts.Store.Progress(ctx)
	if err != nil {
		return nil, err
	}
	for _, p := range ps {
		r.progress[p.Window] = p
	}
	if err := r.SetConfig(config); err != nil {
		return nil, err
	}
	// Windows in force now started before this process did: their start
	// is not news.
	now := r.clock.Now()
	for _, w := range *r.windows.Load() {
		if s, _, ok := w.occurrence(now); ok {
			r.started[w.ID] = s
		}
	}
	return r, nil
}

func (r *Runner) mine(check string) bool { return r.opts.Mine == nil || r.opts.Mine(check) }

// Refresh reads the windows again from the store: in a cluster, a window
// started or ended through another node is in force here too. Each node
// keeps its own progress, as it verifies only the checks it runs.
func (r *Runner) Refresh(ctx context.Context) error {
	stored, err := r.opts.Store.Windows(ctx)
	if err != nil {
		return err
	}
	adhoc, ended := map[string]nightowl.Window{}, map[string]nightowl.Window{}
	for _, w := range stored {
		if w.Source == SourceConfig {
			ended[w.ID] = w
		} else {
			adhoc[w.ID] = w
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if reflect.DeepEqual(adhoc, r.adhoc) && reflect.DeepEqual(ended, r.ended) {
		return nil
	}
	oldAdhoc, oldEnded := r.adhoc, r.ended
	r.adhoc, r.ended = adhoc, ended
	if err := r.rebuild(); err != nil {
		r.adhoc, r.ended = oldAdhoc, oldEnded
		return err
	}
	r.poke()
	return nil
}

// Sources of windows.
const (
	SourceConfig = "config"
	SourceAPI    = "api"
)

// Check reports the first window whose schedule or times cannot be used;
// a reload calls it before it changes anything.
func Check(ws []nightowl.Window) error {
	for _, w := range ws {
		if _, err := compile(w); err != nil {
			return err
		}
	}
	return nil
}

// SetConfig replaces the configured windows, as a reload does. A hand-made
// early end of a configured window stays with it.
func (r *Runner) SetConfig(config []nightowl.Window) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.config
	r.config = config
	if err := r.rebuild(); err != nil {
		r.config = old
		return err
	}
	r.poke()
	return nil
}

// rebuild compiles the windows Active reads. Called with r.mu held.
func (r *Runner) rebuild() error {
	var ws []*window
	for _, w := range r.config {
		if e, ok := r.ended[w.ID]; ok {
			w.EndedAt, w.EndedBy = e.EndedAt, e.EndedBy
		}
		c, err := compile(w)
		if err != nil {
			return err
		}
		ws = append(ws, c)
	}
	for _, id := range sortedKeys(r.adhoc) {
		c, err := compile(r.adhoc[id])
		if err != nil {
			return err
		}
		ws = append(ws, c)
	}
	r.windows.Store(&ws)
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (r *Runner) poke() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// Active returns the windows in force for check c at t.
func (r *Runner) Active(c *nightowl.Check, t time.Time) []nightowl.ActiveWindow {
	var out []nightowl.ActiveWindow
	for _, w := range *r.windows.Load() {
		if !w.Checks.Matches(c.Name, c.Labels) {
			continue
		}
		if _, _, ok := w.occurrence(t); ok {
			out = append(out, nightowl.ActiveWindow{ID: w.ID, Name: w.Name, Expect: w.Expect})
		}
	}
	return out
}

// keepEnded is how long a window that has ended is still listed.
const keepEnded = 7 * 24 * time.Hour

// List returns the windows in force, those to come, and those that ended in
// the last week, in force first, then by start.
func (r *Runner) List() []nightowl.MaintenanceView {
	now := r.clock.Now()
	checks := r.opts.Checks()
	var out []nightowl.MaintenanceView
	for _, w := range *r.windows.Load() {
		v := nightowl.MaintenanceView{Window: w.Window, Within: nightowl.Seconds(w.Verify.Within)}
		for _, d := range w.Verify.AgainAfter {
			v.AgainAfter = append(v.AgainAfter, nightowl.Seconds(d))
		}
		if s, e, ok := w.occurrence(now); ok {
			v.Active, v.From, v.Until = true, s, e
		} else if s := w.nextStart(now); !s.IsZero() {
			v.From = s
			if w.sched == nil {
				v.Until = w.cut(w.Start, w.End)
			} else {
				v.Until = s.Add(w.dur)
			}
		} else {
			e := w.cut(w.Start, w.End)
			if now.Sub(e) > keepEnded {
				continue
			}
			v.From, v.Until = w.Start, e
		}
		for _, c := range checks {
			if w.Checks.Matches(c.Check.Name, c.Check.Labels) {
				v.Scope = append(v.Scope, c.Check.Name)
			}
		}
		out = append(out, v)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Active != out[j].Active {
			return out[i].Active
		}
		return out[i].From.Before(out[j].From)
	})
	return out
}

// Start starts a window by hand. Its ID is generated; a missing Name is the
// ID, a zero Start is now, and End must be set. Every expected assertion
// must exist on a check in scope.
func (r *Runner) Start(ctx context.Context, w nightowl.Window) (nightowl.Window, error) {
	now := r.clock.Now().UTC()
	w.ID = nightowl.NewID("m-", 5)
	w.Source, w.CreatedAt = SourceAPI, now
	if w.Name == "" {
		w.Name = w.ID
	}
	if w.Start.IsZero() {
		w.Start = now
	}
	w.Schedule, w.Timezone, w.Duration = "", "", 0
	if !w.End.After(w.Start) || !w.End.After(now) {
		return w, nightowl.Errorf(nightowl.EInvalid, "the window must end in the future, after it starts")
	}
	if w.End.Sub(w.Start) > MaxAdHoc {
		return w, nightowl.Errorf(nightowl.EInvalid, "a window started by hand lasts at most %s; configure a longer one", nightowl.FormatDuration(MaxAdHoc))
	}
	if w.Verify.Within <= 0 {
		w.Verify.Within = DefaultVerifyWithin
	}
	for i, d := range w.Verify.AgainAfter {
		if d <= w.Verify.Within || (i > 0 && d <= w.Verify.AgainAfter[i-1]) {
			return w, nightowl.Errorf(nightowl.EInvalid, "each again_after must be later than within and than the one before")
		}
	}
	if err := Validate(&w, r.opts.Checks()); err != nil {
		return w, err
	}
	if err := r.saveWindow(ctx, &w); err != nil {
		return w, err
	}
	r.mu.Lock()
	r.adhoc[w.ID] = w
	err := r.rebuild()
	r.mu.Unlock()
	if err != nil {
		return w, err
	}
	r.log.Info("maintenance started by hand", "window", w.ID, "name", w.Name, "by", w.CreatedBy, "until", w.End)
	r.poke()
	return w, nil
}

// Validate checks a window against the configured checks: it must select
// one, expect something, and every assertion it expects must exist on a
// check in its scope.
func Validate(w *nightowl.Window, checks []nightowl.CheckView) error {
	if w.Checks.Empty() {
		return nightowl.Errorf(nightowl.EInvalid, "say which checks the window covers: labels, names, or both")
	}
	if len(w.Expect) == 0 {
		return nightowl.Errorf(nightowl.EInvalid, `say which assertions may fail (expect), or "*" for anything`)
	}
	have := map[string]bool{}
	scope := 0
	for _, c := range checks {
		if !w.Checks.Matches(c.Check.Name, c.Check.Labels) {
			continue
		}
		scope++
		for _, a := range c.Check.Assertions {
			have[a.Name()] = true
		}
	}
	if scope == 0 {
		return nightowl.Errorf(nightowl.EInvalid, "checks %s selects no configured check", w.Checks.String())
	}
	for _, e := range w.Expect {
		if e == nightowl.ExpectAnything || have[e] {
			continue
		}
		names := sortedKeys(have)
		return nightowl.Errorf(nightowl.EInvalid, "no check in scope has an assertion %q (assertions in scope: %s)", e, strings.Join(names, ", "))
	}
	return nil
}

// End ends the window with the given ID (or name) now, on behalf of by:
// its checks are verified as at a scheduled end.
func (r *Runner) End(ctx context.Context, id, by string) (nightowl.Window, error) {
	now := r.clock.Now().UTC()
	var w *window
	for _, c := range *r.windows.Load() {
		if c.ID == id || (c.Name == id && w == nil) {
			w = c
		}
	}
	if w == nil {
		return nightowl.Window{}, nightowl.Errorf(nightowl.ENotFound, "no maintenance window %q", id)
	}
	if _, _, ok := w.occurrence(now); !ok {
		return w.Window, nightowl.Errorf(nightowl.EConflict, "maintenance %s is not in force", w.Name)
	}
	ended := w.Window
	ended.EndedAt, ended.EndedBy = now, by
	if err := r.saveWindow(ctx, &ended); err != nil {
		return w.Window, err
	}
	r.mu.Lock()
	if ended.Source == SourceConfig {
		r.ended[ended.ID] = ended
	} else {
		r.adhoc[ended.ID] = ended
	}
	err := r.rebuild()
	r.mu.Unlock()
	if err != nil {
		return ended, err
	}
	r.log.Info("maintenance ended by hand", "window", ended.ID, "name", ended.Name, "by", by)
	r.poke()
	return ended, nil
}

// Run acts on window boundaries as they come, until ctx ends.
func (r *Runner) Run(ctx context.Context) {
	for {
		next := r.Tick(ctx)
		var due <-chan time.Time
		if !next.IsZero() {
			due = r.clock.After(max(0, next.Sub(r.clock.Now())))
		}
		select {
		case <-ctx.Done():
			return
		case <-r.kick:
		case <-due:
		}
	}
}

// Tick does what is due now: records the windows that started, runs the
// checks of the windows that ended, and verifies those whose verification
// fell due. It returns when it next has something to do.
func (r *Runner) Tick(ctx context.Context) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.clock.Now()
	var next time.Time
	later := func(t time.Time) {
		if !t.IsZero() && t.After(now) && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	for _, w := range *r.windows.Load() {
		if s, e, ok := w.occurrence(now); ok {
			if !r.started[w.ID].Equal(s) {
				r.started[w.ID] = s
				r.event(ctx, w, fmt.Sprintf("maintenance %s started; expects %s", w.Name, strings.Join(w.Expect, ", ")))
			}
			later(e)
		} else {
			later(w.nextStart(now))
		}
		p, seen := r.progress[w.ID]
		if !seen {
			// Ends before a window was first seen are not this
			// server's business; any end from now on is, even one
			// that passes while the server is down.
			p = nightowl.MaintenanceProgress{Window: w.ID, EndsAt: now}
			r.saveProgress(ctx, p)
		} else if end := w.lastEnd(p.EndsAt, now); !end.IsZero() {
			p = r.ended1(ctx, w, end, now)
		}
		if p.Stage > 0 && !p.Due.IsZero() && !p.Due.After(now) {
			p = r.verify(ctx, w, p, now)
		}
		later(p.Due)
	}
	return next
}

func (r *Runner) event(ctx context.Context, w *window, cause string) {
	if r.opts.AddEvent == nil {
		return
	}
	// Recorded side by side, so that the store writes a window over a
	// thousand checks in a few transactions rather than one each.
	var g errgroup.Group
	g.SetLimit(eventConcurrency)
	now := r.clock.Now().UTC()
	for _, c := range r.opts.Checks() {
		if !w.Checks.Matches(c.Check.Name, c.Check.Labels) || !r.mine(c.Check.Name) {
			continue
		}
		name := c.Check.Name
		g.Go(func() error {
			err := r.opts.AddEvent(ctx, nightowl.Event{Check: name, Time: now, Kind: EventMaintenance, Cause: cause})
			if err != nil {
				r.log.Error("record maintenance event", "window", w.ID, "check", name, "err", err)
			}
			return nil
		})
	}
	g.Wait()
}

// eventConcurrency bounds the events of one window recorded at once.
const eventConcurrency = 64

// writeTimeout bounds each write of a window or its progress: a store that
// hangs fails the write (logged, or answered to whoever started or ended
// the window) instead of holding the runner.
const writeTimeout = 10 * time.Second

// saveWindow writes w within writeTimeout.
func (r *Runner) saveWindow(ctx context.Context, w *nightowl.Window) error {
	ctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	return r.opts.Store.SaveWindow(ctx, w)
}

// ended1 handles the end of an occurrence: every check in scope runs at
// once, and its verification is scheduled.
func (r *Runner) ended1(ctx context.Context, w *window, end, now time.Time) nightowl.MaintenanceProgress {
	late := ""
	if now.Sub(end) > time.Minute {
		late = fmt.Sprintf(" (at %s, while nightowl was not running)", end.UTC().Format(time.RFC3339))
	}
	how := "ended"
	if !w.EndedAt.IsZero() && w.EndedAt.Equal(end) {
		how = "was ended by " + orSomeone(w.EndedBy)
	}
	r.log.Info("maintenance ended; running its checks", "window", w.ID, "name", w.Name)
	r.event(ctx, w, fmt.Sprintf("maintenance %s %s%s; running every check in scope", w.Name, how, late))
	r.runScope(ctx, w)
	// Checks get verify.within from the end, or from now if the end
	// passed while the server was down.
	base := end
	if now.After(base) {
		base = now
	}
	p := nightowl.MaintenanceProgress{Window: w.ID, EndsAt: end, Stage: 1, Due: base.Add(w.Verify.Within)}
	r.saveProgress(ctx, p)
	return p
}

func orSomeone(s string) string {
	if s == "" {
		return "someone"
	}
	return s
}

func (r *Runner) saveProgress(ctx context.Context, p nightowl.MaintenanceProgress) {
	r.progress[p.Window] = p
	ctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	if err := r.opts.Store.SaveProgress(ctx, p); err != nil {
		r.log.Error("record maintenance progress", "window", p.Window, "err", err)
	}
}

// runScope runs every active check in the window's scope, a few at a time.
func (r *Runner) runScope(ctx context.Context, w *window) {
	var g errgroup.Group
	g.SetLimit(r.opts.Concurrency)
	for _, c := range r.opts.Checks() {
		if !w.Checks.Matches(c.Check.Name, c.Check.Labels) || c.Check.Passive || c.Check.Paused || !r.mine(c.Check.Name) {
			continue
		}
		name := c.Check.Name
		// Errors are logged here, not returned: one check that fails to
		// run does not stop the others.
		g.Go(func() error {
			if err := r.opts.Run(ctx, name); err != nil {
				r.log.Error("run check at the end of maintenance", "window", w.ID, "check", name, "err", err)
			}
			return nil
		})
	}
	g.Wait()
}

// verify hands the checks in scope that are not up to NotRecovered, and
// schedules the next verification.
func (r *Runner) verify(ctx context.Context, w *window, p nightowl.MaintenanceProgress, now time.Time) nightowl.MaintenanceProgress {
	stage := p.Stage - 1
	after := w.Verify.Within
	if stage > 0 {
		after = w.Verify.AgainAfter[stage-1]
	}
	var bad []string
	for _, c := range r.opts.Checks() {
		if !w.Checks.Matches(c.Check.Name, c.Check.Labels) || c.Check.Paused || !r.mine(c.Check.Name) {
			continue
		}
		if c.State.Status == nightowl.StatusUp || r.explained(c, now) {
			continue
		}
		bad = append(bad, c.Check.Name)
		if r.opts.NotRecovered != nil {
			r.opts.NotRecovered(ctx, c, &w.Window, stage)
		}
	}
	outcome := "every check in scope is up"
	if len(bad) > 0 {
		outcome = "not recovered: " + strings.Join(bad, ", ")
	}
	r.log.Info("maintenance verified", "window", w.ID, "name", w.Name, "after", after, "not_recovered", len(bad))
	r.event(ctx, w, fmt.Sprintf("verified %s after maintenance %s: %s", nightowl.FormatDuration(after), w.Name, outcome))
	p.Stage++
	p.Due = time.Time{}
	if i := p.Stage - 2; i < len(w.Verify.AgainAfter) {
		p.Due = p.EndsAt.Add(w.Verify.AgainAfter[i])
		if !p.Due.After(now) {
			p.Due = now.Add(w.Verify.Within)
		}
	}
	r.saveProgress(ctx, p)
	return p
}

// explained reports whether a check that is not up is in another window
// that still expects how it fails: that window verifies it when it ends.
func (r *Runner) explained(c nightowl.CheckView, now time.Time) bool {
	if c.State.Status != nightowl.StatusMaintenance {
		return false
	}
	return len(r.Active(&c.Check, now)) > 0
}
