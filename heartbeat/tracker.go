// Package heartbeat tracks heartbeat checks: cron jobs, timers, workers and
// backups that ping nightowl instead of being probed. The Tracker keeps each
// check's last signals and open runs, answers pings (web/ serves the
// Healthchecks.io-style URLs and calls Tracker.Ping), and reports a check's
// facts to the engine whenever they may change its status.
//
// # When a check is due
//
// A success is due at Spec.Next(base), where base is the last success or,
// for a check that has never had one, the moment it was first tracked
// (nightowl.Heartbeat.Since, kept in the store). For a period that is
// base + period; for a cron schedule it is the schedule's next time after
// base, in its time zone. The check is late from the due time and overdue
// once grace has passed too. A run that was started (/start) and has not
// ended within grace makes the check overdue as well, whatever the due time.
//
// Daylight-saving time, for schedules: a time that does not exist on the
// day clocks spring forward happens one hour later by the wall clock ("30 2
// * * *" in America/New_York is due at 03:30 EDT on 2026-03-08; a job that
// cron ran at 03:00 instead is on time). A wall-clock time that happens
// twice on the day clocks fall back is due once, at its first occurrence:
// the repeat is skipped, because cron daemons do not run a job twice for
// it, and expecting a second ping would raise a false alarm. A schedule
// that fires inside the repeated hour ("*/30 * * * *") is therefore not due
// again until the hour is over.
//
// # Pings
//
//   - success (/ping/T, or exit code 0): last success = now, failed = false;
//     exit_code = 0 for /0 and nil for a plain success.
//   - fail (/fail, or exit code N ≠ 0): failed = true, exit_code = N or nil.
//   - start: opens a run. A second start with the same rid (or, without
//     rid, a second start without one) restarts that run, as when a job that
//     crashed is run again. At most 50 runs are open per check; the oldest
//     is dropped.
//   - log: kept with the check's pings; changes nothing else.
//
// A success or failure ends the run it belongs to: with rid, the start with
// that rid; without, the open start without rid. end − start becomes
// last_duration and the ping's Duration. Every ping updates the last ping
// time.
//
// # Facts
//
// last_ping_age (seconds, nil if never pinged), last_duration (seconds, nil
// if unknown), exit_code (nil if the last ending signal gave none), late
// (due has passed, grace has not), overdue, failed, running (a run is open)
// and duration (always 0). The default assertions on_time (not overdue) and
// succeeded (not failed) keep a check up while it is late and make it down
// when it is overdue or failed.
//
// # Scale
//
// There is no goroutine or timer per check. Every check has at most one
// entry in one heap of deadlines: the next moment its facts change by
// themselves. One dispatcher goroutine sleeps until the earliest, evaluates
// the checks whose deadline passed and reports them. A ping costs a map
// lookup, a short critical section under the check's own mutex, a heap fix
// under a short global lock, and two queued store writes; reports are made
// outside those locks. Per-check state is a ~144-byte struct with times as
// unix nanoseconds, so a million checks fit in a few hundred megabytes.
package heartbeat

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/probe"
)

const (
	// maxRuns bounds the open runs of one check, so that a job that starts
	// with a fresh rid every time and never ends cannot grow memory.
	maxRuns = 50
	// maxRID is the longest rid accepted.
	maxRID = 64
	// noExit marks the absence of an exit code.
	noExit = -1
	// never is a due time that never comes (a schedule with no next time).
	never = math.MaxInt64
	// dispatchBatch bounds how many due checks the dispatcher takes off the
	// heap under one lock, so that pings are not held up when a million
	// checks fall due together.
	dispatchBatch = 1024
)

// Check is one heartbeat check to track.
type Check struct {
	Name string
	Spec *probe.Heartbeat
}

// Options configure a Tracker. The zero value of every field but Store is
// usable.
type Options struct {
	Clock nightowl.Clock // nightowl.SystemClock when nil
	// Store receives pings (SavePing) and per-check state (SaveHeartbeat);
	// both only queue, so a ping never waits for a disk. Required.
	Store  nightowl.Store
	Logger *slog.Logger // slog.Default() when nil
	// Report receives a heartbeat check's facts whenever they may change its
	// status: on every ping that ends or starts a run, when a deadline
	// passes, and once when a check is first tracked or its timing changes.
	// The engine folds them into the check's status (it evaluates the
	// assertions). It is called without the locks that pings and the
	// tracker's methods take, and for each check one call at a time, in
	// the order of the check's changes: when a ping and a deadline race,
	// the last report made for a check always carries its latest facts.
	Report func(check string, at time.Time, facts nightowl.Facts)
	// NewToken generates a ping token for a check that has none; by default
	// 16 bytes (128 bits) from crypto/rand, base64url without padding (22
	// characters).
	NewToken func() (string, error)
	// TokenFor, when set, gives the token of a check that has neither a
	// configured nor a stored one, in place of NewToken. In a cluster every
	// node must hand out the same ping URL for a check, including nodes
	// that start before any of them has stored it, so the token is derived
	// from the check's name and a secret the nodes share (DeriveToken)
	// rather than drawn at random.
	TokenFor func(check string) string
}

// Tracker keeps the state of heartbeat checks and their deadlines.
type Tracker struct {
	opts  Options
	clock nightowl.Clock
	log   *slog.Logger

	// index is replaced whole by SetChecks, so that a ping finds its check
	// with one atomic load and one map lookup, without a lock.
	index atomic.Pointer[index]
	setMu sync.Mutex // serialises SetChecks

	heapMu sync.Mutex
	queue  deadlines
	wake   chan struct{}

	stop    context.CancelFunc
	done    sync.WaitGroup
	started atomic.Bool

	// ref is a reading of the clock taken by New. Beside the wall reading
	// it has Go's monotonic one, which a stepped wall clock leaves alone:
	// the two drift apart by exactly the steps (see now).
	ref     time.Time
	refWall int64
	// skew is the steps the checks' times have been moved by so far;
	// written under rebaseMu.
	skew     atomic.Int64
	rebaseMu sync.Mutex
}

type index struct {
	byName  map[string]*check
	byToken map[string]*check
}

// check is the live state of one heartbeat check. It is kept small (one
// 144-byte allocation) because a million of them must fit in well under a
// kilobyte each, with their map and heap entries.
type check struct {
	mu sync.Mutex
	// reportMu is held while the check's facts are handed to
	// Options.Report, so that its reports are made one at a time, in the
	// order of its versions. Taken before mu, never while mu is held.
	reportMu sync.Mutex
	// idx is the check's position in the deadline heap, -1 when it has no
	// entry; guarded by Tracker.heapMu, not mu.
	idx    int32
	exit   int16 // exit code of the last ending signal, noExit when none
	failed bool
	gone   bool // removed by a reload; a late ping must not revive it
	name   string
	token  string
	spec   *probe.Heartbeat
	// Times are unix nanoseconds, 0 for never.
	since, lastPing, lastSuccess int64
	lastDuration                 int64 // nanoseconds, -1 when unknown
	due                          int64 // Spec.Next(base), cached: cron's Next is not free
	// ver counts the changes of the check's facts, so that a reporter can
	// tell whether what it reported is still the latest.
	ver  uint64
	runs []run // open runs, oldest first; nil when none
}

type run struct {
	rid   string
	start int64
}

// New returns a tracker with no checks; call SetChecks and Start.
func New(opts Options) (*Tracker, error) {
	if opts.Store == nil {
		return nil, errors.New("heartbeat: a store is required")
	}
	if opts.Clock == nil {
		opts.Clock = nightowl.SystemClock{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.NewToken == nil {
		opts.NewToken = randomToken
	}
	t := &Tracker{opts: opts, clock: opts.Clock, log: opts.Logger, wake: make(chan struct{}, 1)}
	t.ref = t.clock.Now()
	t.refWall = t.ref.UnixNano()
	t.index.Store(&index{byName: map[string]*check{}, byToken: map[string]*check{}})
	return t, nil
}

// randomToken returns 128 random bits in base64url: unguessable, and safe in
// a URL path without escaping.
func randomToken() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// DeriveToken is a ping token that only holders of key can compute:
// HMAC-SHA256 of the check's name, cut to 128 bits and written like a
// generated token, so that derived URLs look no different from random ones.
func DeriveToken(key []byte, check string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("nightowl heartbeat token\x00"))
	m.Write([]byte(check))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

// SetChecks installs the heartbeat checks, on start and on every reload. It
// either applies the whole set or, on an error (two checks with the same
// token, a token that cannot be generated), changes nothing.
//
// stored seeds checks not yet known to the tracker, typically from
// Store.Heartbeats at start-up: their last ping and success, open runs,
// outcome, tracking start and token carry over, so that a restart neither
// moves due times nor changes ping URLs. A check's token is the configured
// Spec.Token when there is one; otherwise the token it already has (kept or
// stored); otherwise a new one (Options.TokenFor, or NewToken), which is
// saved at once.
//
// A reload keeps the state of every check it keeps. A check whose period,
// schedule, time zone or grace changed gets its due time recomputed and is
// reported afresh; a check that is no longer configured is dropped and its
// token stops working.
func (t *Tracker) SetChecks(checks []Check, stored []nightowl.Heartbeat) error {
	now := t.now()
	t.setMu.Lock()
	defer t.setMu.Unlock()
	nowN := now.UnixNano()
	old := t.index.Load()
	var seed map[string]*nightowl.Heartbeat
	if len(stored) > 0 {
		seed = make(map[string]*nightowl.Heartbeat, len(stored))
		for i := range stored {
			seed[stored[i].Check] = &stored[i]
		}
	}

	// First decide every token and check every clash, without touching
	// what pings and the dispatcher can see: a refused config changes
	// nothing. Checks new to the tracker are built here; they become
	// visible only when the new index is stored.
	next := &index{
		byName:  make(map[string]*check, len(checks)),
		byToken: make(map[string]*check, len(checks)),
	}
	type slot struct {
		c     *check
		token string
		fresh bool
	}
	slots := make([]slot, len(checks))
	for i, ch := range checks {
		if ch.Name == "" || ch.Spec == nil {
			return nightowl.Errorf(nightowl.EInvalid, "heartbeat check %d has no name or no heartbeat block", i)
		}
		if _, dup := next.byName[ch.Name]; dup {
			return nightowl.Errorf(nightowl.EInvalid, "heartbeat check %q is listed twice", ch.Name)
		}
		s := slot{c: old.byName[ch.Name], token: ch.Spec.Token}
		if s.c == nil {
			s.fresh = true
			s.c = newCheck(ch.Name, nowN, seed[ch.Name])
		}
		if s.token == "" {
			// setMu orders this read after every write of c.token.
			s.token = s.c.token
		}
		if s.token != "" {
			if other, dup := next.byToken[s.token]; dup {
				return nightowl.Errorf(nightowl.EInvalid, "checks %q and %q have the same heartbeat token", other.name, ch.Name)
			}
			next.byToken[s.token] = s.c
		}
		next.byName[ch.Name] = s.c
		slots[i] = s
	}
	generated := 0
	for i := range slots {
		s := &slots[i]
		if s.token != "" {
			continue
		}
		for try := 0; ; try++ {
			var tok string
			var err error
			if t.opts.TokenFor != nil {
				tok = t.opts.TokenFor(checks[i].Name)
			} else if tok, err = t.opts.NewToken(); err != nil {
				return fmt.Errorf("generate a ping token for %s: %w", checks[i].Name, err)
			}
			if _, dup := next.byToken[tok]; tok != "" && !dup {
				s.token = tok
				break
			}
			if t.opts.TokenFor != nil {
				// Derived again, it would be the same.
				return fmt.Errorf("derive a ping token for %s: another check has it", checks[i].Name)
			}
			if try == 3 {
				return fmt.Errorf("generate a ping token for %s: the generator keeps returning tokens in use", checks[i].Name)
			}
		}
		next.byToken[s.token] = s.c
		generated++
	}

	// Then apply, and only then publish the new index: a ping must not
	// find a new check before its spec is set.
	for i, s := range slots {
		spec := checks[i].Spec
		c := s.c
		c.mu.Lock()
		save := c.token != s.token
		c.token = s.token
		switch {
		case s.fresh:
			c.spec = spec
			c.due = nextDue(spec, c.base())
			// Evaluate at once: the check may have become late or
			// overdue while nightowl was down, and the engine needs
			// a first report either way.
			t.reschedule(c, nowN)
			save = save || seed[c.name] == nil
		case !sameTiming(c.spec, spec):
			c.spec = spec
			c.due = nextDue(spec, c.base())
			t.reschedule(c, nowN)
		default:
			c.spec = spec
		}
		var hb nightowl.Heartbeat
		if save {
			hb = c.snapshot()
		}
		c.mu.Unlock()
		if save {
			t.opts.Store.SaveHeartbeat(hb)
		}
	}
	t.index.Store(next)
	for name, c := range old.byName {
		if next.byName[name] == c {
			continue
		}
		c.mu.Lock()
		c.gone = true
		t.reschedule(c, 0)
		c.mu.Unlock()
	}
	if generated > 0 {
		t.log.Info("generated heartbeat ping tokens", "checks", generated)
	}
	return nil
}

// newCheck builds a check first tracked at now, restored from its stored
// state when there is one.
func newCheck(name string, now int64, h *nightowl.Heartbeat) *check {
	c := &check{name: name, idx: -1, exit: noExit, lastDuration: -1, since: now}
	if h == nil {
		return c
	}
	c.token = h.Token
	if !h.Since.IsZero() {
		c.since = h.Since.UnixNano()
	}
	c.lastPing, c.lastSuccess = unixNano(h.LastPing), unixNano(h.LastSuccess)
	if h.LastDuration != nil {
		c.lastDuration = max(int64(*h.LastDuration), 0)
	}
	if h.ExitCode != nil && *h.ExitCode >= 0 && *h.ExitCode <= 255 {
		c.exit = int16(*h.ExitCode)
	}
	c.failed = h.Failed
	for rid, at := range h.Started {
		c.runs = append(c.runs, run{rid: rid, start: unixNano(at)})
	}
	slices.SortFunc(c.runs, func(a, b run) int { return cmpInt64(a.start, b.start) })
	if len(c.runs) > maxRuns {
		c.runs = slices.Clone(c.runs[len(c.runs)-maxRuns:])
	}
	return c
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// sameTiming reports whether two specs give the same due times and grace.
// A reload builds new specs even for unchanged checks, so pointers differ.
func sameTiming(a, b *probe.Heartbeat) bool {
	return a != nil && b != nil && a.Period == b.Period && a.Schedule == b.Schedule &&
		a.Timezone == b.Timezone && a.Grace == b.Grace
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// nextDue is when a success is due after base: Spec.Next, except that a
// wall-clock time repeated when clocks fall back is due only once (see the
// package documentation).
func nextDue(s *probe.Heartbeat, base int64) int64 {
	next := s.Next(time.Unix(0, base))
	if s.Schedule != "" {
		// Each step skips one slot; a repeated hour holds at most 60
		// of a five-field schedule's minutely slots.
		for range 64 {
			if next.IsZero() || !repeatedWallClock(next) {
				break
			}
			next = s.Next(next)
		}
	}
	if next.IsZero() {
		return never
	}
	return next.UnixNano()
}

// repeatedWallClock reports whether t's wall-clock time, in t's location,
// already happened earlier the same night because clocks were set back.
func repeatedWallClock(t time.Time) bool {
	_, off := t.Zone()
	_, before := t.Add(-24 * time.Hour).Zone()
	if before <= off {
		return false
	}
	e := t.Add(-time.Duration(before-off) * time.Second)
	if _, eoff := e.Zone(); eoff != before {
		return false
	}
	y1, m1, d1 := t.Date()
	y2, m2, d2 := e.Date()
	h1, n1, s1 := t.Clock()
	h2, n2, s2 := e.Clock()
	return y1 == y2 && m1 == m2 && d1 == d2 && h1 == h2 && n1 == n2 && s1 == s2
}

// base is what the due time counts from: the last success, or the start of
// tracking for a check that never had one.
func (c *check) base() int64 {
	if c.lastSuccess != 0 {
		return c.lastSuccess
	}
	return c.since
}

func (c *check) grace() int64 { return int64(c.spec.Grace) }

// late and overdue, at now.
func (c *check) status(now int64) (late, overdue bool) {
	if c.due != never {
		g := c.due + c.grace()
		late = now >= c.due && now < g
		overdue = now >= g
	}
	for _, r := range c.runs {
		if now >= r.start+c.grace() {
			overdue = true
		}
	}
	return late, overdue
}

// wakeAt is the next moment after now at which the check's facts change by
// themselves, or 0 when none will.
func (c *check) wakeAt(now int64) int64 {
	var at int64
	consider := func(t int64) {
		if t > now && (at == 0 || t < at) {
			at = t
		}
	}
	if c.due != never {
		consider(c.due)
		consider(c.due + c.grace())
	}
	for _, r := range c.runs {
		consider(r.start + c.grace())
	}
	return at
}

// facts are the check's facts at now, named as probe/heartbeat.go declares
// them for assertions.
func (c *check) facts(now int64) nightowl.Facts {
	late, overdue := c.status(now)
	f := nightowl.Facts{
		"last_ping_age": nil,
		"last_duration": nil,
		"exit_code":     nil,
		"late":          late,
		"overdue":       overdue,
		"failed":        c.failed,
		"running":       len(c.runs) > 0,
		"duration":      0.0,
	}
	if c.lastPing != 0 {
		f["last_ping_age"] = float64(max(now-c.lastPing, 0)) / 1e9
	}
	if c.lastDuration >= 0 {
		f["last_duration"] = float64(c.lastDuration) / 1e9
	}
	if c.exit != noExit {
		f["exit_code"] = int(c.exit)
	}
	return f
}

// snapshot is the check's durable state.
func (c *check) snapshot() nightowl.Heartbeat {
	h := nightowl.Heartbeat{
		Check: c.name, Token: c.token,
		LastPing: fromNano(c.lastPing), LastSuccess: fromNano(c.lastSuccess),
		Failed: c.failed, Since: fromNano(c.since),
	}
	if c.lastDuration >= 0 {
		d := nightowl.Seconds(c.lastDuration)
		h.LastDuration = &d
	}
	if c.exit != noExit {
		e := int(c.exit)
		h.ExitCode = &e
	}
	if len(c.runs) > 0 {
		h.Started = make(map[string]time.Time, len(c.runs))
		for _, r := range c.runs {
			h.Started[r.rid] = fromNano(r.start)
		}
	}
	return h
}

// startRun opens a run, restarting one with the same rid.
func (c *check) startRun(rid string, at int64) {
	if i := c.findRun(rid); i >= 0 {
		c.runs = slices.Delete(c.runs, i, i+1)
	}
	if len(c.runs) >= maxRuns {
		c.runs = slices.Delete(c.runs, 0, len(c.runs)-maxRuns+1)
	}
	c.runs = append(c.runs, run{rid: rid, start: at})
}

// endRun closes the run with rid and returns how long it took.
func (c *check) endRun(rid string, at int64) (time.Duration, bool) {
	i := c.findRun(rid)
	if i < 0 {
		return 0, false
	}
	d := time.Duration(max(at-c.runs[i].start, 0))
	c.runs = slices.Delete(c.runs, i, i+1)
	if len(c.runs) == 0 {
		c.runs = nil // a million idle checks should not each keep a backing array
	}
	return d, true
}

func (c *check) findRun(rid string) int {
	for i := len(c.runs) - 1; i >= 0; i-- {
		if c.runs[i].rid == rid {
			return i
		}
	}
	return -1
}

// Ping records a signal for the check whose token it is. An unknown token
// is a *nightowl.Error with code ENotFound; an impossible ping (an unknown
// kind, an exit code outside 0–255 or on a start or log, a rid longer than
// maxRID) one with code EInvalid. The returned ping has Check, Time and, when
// it ended a run, Duration filled in; a success with a non-zero exit code
// becomes a fail. p.Time, when set (the moment the request arrived, before a
// long body was read), is kept unless it is later than the tracker's clock.
func (t *Tracker) Ping(token string, p nightowl.Ping) (nightowl.Ping, error) {
	c := t.index.Load().byToken[token]
	if c == nil {
		return p, nightowl.Errorf(nightowl.ENotFound, "no heartbeat check has this token")
	}
	if p.Kind == "" {
		p.Kind = nightowl.PingSuccess
	}
	switch p.Kind {
	case nightowl.PingSuccess, nightowl.PingFail:
		if p.ExitCode != nil {
			if *p.ExitCode < 0 || *p.ExitCode > 255 {
				return p, nightowl.Errorf(nightowl.EInvalid, "exit code %d is not between 0 and 255", *p.ExitCode)
			}
			if *p.ExitCode != 0 {
				p.Kind = nightowl.PingFail
			}
		}
	case nightowl.PingStart, nightowl.PingLog:
		if p.ExitCode != nil {
			return p, nightowl.Errorf(nightowl.EInvalid, "a %s ping carries no exit code", p.Kind)
		}
	default:
		return p, nightowl.Errorf(nightowl.EInvalid, "unknown ping kind %q", p.Kind)
	}
	if len(p.RID) > maxRID {
		return p, nightowl.Errorf(nightowl.EInvalid, "rid is longer than %d characters", maxRID)
	}
	now := t.now()
	if p.Time.IsZero() || p.Time.After(now) {
		p.Time = now
	}
	// Placed by the time that passed since it, which a step of the wall
	// clock since (now moved the checks' times by it) does not change.
	p.Time = now.Add(-now.Sub(p.Time))
	nowN, at := now.UnixNano(), p.Time.UnixNano()

	c.mu.Lock()
	if c.gone {
		c.mu.Unlock()
		return p, nightowl.Errorf(nightowl.ENotFound, "no heartbeat check has this token")
	}
	p.Check = c.name
	c.lastPing = max(c.lastPing, at)
	switch p.Kind {
	case nightowl.PingStart:
		c.startRun(p.RID, at)
	case nightowl.PingSuccess, nightowl.PingFail:
		if d, ok := c.endRun(p.RID, at); ok {
			c.lastDuration = int64(d)
			s := nightowl.Seconds(d)
			p.Duration = &s
		}
		c.exit = noExit
		if p.ExitCode != nil {
			c.exit = int16(*p.ExitCode)
		}
		c.failed = p.Kind == nightowl.PingFail
		if !c.failed && at > c.lastSuccess {
			c.lastSuccess = at
			c.due = nextDue(c.spec, at)
		}
	}
	changed := p.Kind != nightowl.PingLog
	var (
		facts nightowl.Facts
		ver   uint64
	)
	if changed {
		t.reschedule(c, c.wakeAt(nowN))
		c.ver++
		ver = c.ver
		if t.opts.Report != nil {
			facts = c.facts(nowN)
		}
	}
	hb := c.snapshot()
	c.mu.Unlock()

	t.opts.Store.SavePing(p)
	t.opts.Store.SaveHeartbeat(hb)
	if facts != nil {
		t.report(c, ver, now, facts)
	}
	return p, nil
}

// report hands the facts of version ver of c, taken at at, to
// Options.Report, unless they are no longer the latest. A check's reports
// are made one at a time: when a ping and a passing deadline race, the
// later version waits for the earlier one's report to be made, and an
// earlier version that has not been reported yet when its turn comes is
// dropped, since whoever made the later version reports it next. So a
// check's reports come in the order of its changes, the last one is of its
// latest facts, and each is of the moment something changed: a report is
// never made again later with facts taken at some other moment, which
// would tell the engine of a change that did not happen.
func (t *Tracker) report(c *check, ver uint64, at time.Time, facts nightowl.Facts) {
	c.reportMu.Lock()
	defer c.reportMu.Unlock()
	c.mu.Lock()
	stale := c.ver != ver || c.gone
	c.mu.Unlock()
	if !stale {
		t.opts.Report(c.name, at, facts)
	}
}

// reschedule sets c's deadline to at (0: none). Call it with c.mu held.
func (t *Tracker) reschedule(c *check, at int64) {
	t.heapMu.Lock()
	earliest := int64(0)
	if len(t.queue) > 0 {
		earliest = t.queue[0].at
	}
	switch {
	case at == 0 && c.idx >= 0:
		t.queue.remove(int(c.idx))
	case at == 0:
	case c.idx >= 0:
		if t.queue[c.idx].at != at {
			t.queue[c.idx].at = at
			t.queue.fix(int(c.idx))
		}
	default:
		t.queue.push(deadline{at: at, c: c})
	}
	sooner := at != 0 && (earliest == 0 || at < earliest)
	t.heapMu.Unlock()
	if sooner {
		// The dispatcher sleeps until the old earliest deadline.
		select {
		case t.wake <- struct{}{}:
		default:
		}
	}
}

// Start runs the dispatcher until Stop or until ctx ends.
func (t *Tracker) Start(ctx context.Context) {
	if !t.started.CompareAndSwap(false, true) {
		return
	}
	ctx, t.stop = context.WithCancel(ctx)
	t.done.Add(1)
	go func() {
		defer t.done.Done()
		t.dispatch(ctx)
	}()
}

// Stop ends the dispatcher and waits for it.
func (t *Tracker) Stop() {
	if t.stop != nil {
		t.stop()
	}
	t.done.Wait()
}

func (t *Tracker) dispatch(ctx context.Context) {
	batch := make([]*check, 0, dispatchBatch)
	for {
		now := t.now()
		for {
			batch = t.popDue(now.UnixNano(), batch[:0])
			t.evaluate(batch, now)
			if len(batch) < dispatchBatch || ctx.Err() != nil {
				break
			}
		}
		clear(batch) // let removed checks be collected
		t.heapMu.Lock()
		at, ok := int64(0), len(t.queue) > 0
		if ok {
			at = t.queue[0].at
		}
		t.heapMu.Unlock()
		var wait <-chan time.Time
		if ok {
			before := t.clock.Now()
			wait = t.clock.After(time.Duration(at - before.UnixNano()))
			// A clock that jumped while the wait was being set up (a
			// suspended machine, a test advancing a fake clock) may
			// have made the wait too long: look again.
			if t.clock.Now().Sub(before) > time.Millisecond {
				continue
			}
		}
		select {
		case <-wait:
		case <-t.wake:
		case <-ctx.Done():
			return
		}
	}
}

// popDue takes up to dispatchBatch checks whose deadline is at or before now
// off the heap.
func (t *Tracker) popDue(now int64, out []*check) []*check {
	t.heapMu.Lock()
	defer t.heapMu.Unlock()
	for len(t.queue) > 0 && t.queue[0].at <= now && len(out) < dispatchBatch {
		out = append(out, t.queue.pop().c)
	}
	return out
}

// evaluate re-reads the facts of checks whose deadline passed, puts them
// back at their next deadline and reports them.
func (t *Tracker) evaluate(batch []*check, now time.Time) {
	nowN := now.UnixNano()
	for _, c := range batch {
		c.mu.Lock()
		if c.gone {
			c.mu.Unlock()
			continue
		}
		t.reschedule(c, c.wakeAt(nowN))
		c.ver++
		ver := c.ver
		var facts nightowl.Facts
		if t.opts.Report != nil {
			facts = c.facts(nowN)
		}
		c.mu.Unlock()
		if facts != nil {
			t.report(c, ver, now, facts)
		}
	}
}

// Token returns a check's ping token.
func (t *Tracker) Token(check string) (string, bool) {
	c := t.index.Load().byName[check]
	if c == nil {
		return "", false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.token, true
}

// Facts returns a check's facts now.
func (t *Tracker) Facts(check string) (nightowl.Facts, bool) {
	c := t.index.Load().byName[check]
	if c == nil {
		return nil, false
	}
	now := t.now().UnixNano()
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.facts(now), true
}

// Due returns when a check's next success is due, before grace; the zero
// time when its schedule names no future time.
func (t *Tracker) Due(check string) (time.Time, bool) {
	c := t.index.Load().byName[check]
	if c == nil {
		return time.Time{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.due == never {
		return time.Time{}, true
	}
	return fromNano(c.due), true
}

// CheckFor returns the name of the check whose token this is.
func (t *Tracker) CheckFor(token string) (string, bool) {
	c := t.index.Load().byToken[token]
	if c == nil {
		return "", false
	}
	return c.name, true
}

// Adopt brings the named checks up to date with their stored states, in a
// cluster: for a check this node has just taken over, the last owner's
// record, before it tracks the check; for the others, now and then, so that
// what this node knows of them is never far behind should it take them
// over. The newer of the two wins: the stored state, unless this tracker
// took a ping since (while ownership was moving, or as the last owner);
// the last success is the later of both either way. A check with no stored
// state keeps its own, which is saved: the cluster then has its tracking
// start, and nothing makes it overdue merely because its last owner never
// wrote.
//
// Adopt reports nothing, since a check taken over is not this node's to
// report until its lease is in force; deadlines are rescheduled, and the
// caller hands the facts on (Facts) once it may.
func (t *Tracker) Adopt(stored []nightowl.Heartbeat, checks []string) {
	if len(checks) == 0 {
		return
	}
	byName := make(map[string]*nightowl.Heartbeat, len(stored))
	for i := range stored {
		byName[stored[i].Check] = &stored[i]
	}
	nowN := t.now().UnixNano()
	idx := t.index.Load()
	for _, name := range checks {
		c := idx.byName[name]
		if c == nil {
			continue
		}
		h := byName[name]
		c.mu.Lock()
		if c.gone {
			c.mu.Unlock()
			continue
		}
		if h == nil {
			hb := c.snapshot()
			c.mu.Unlock()
			t.opts.Store.SaveHeartbeat(hb)
			continue
		}
		if c.merge(h) {
			c.due = nextDue(c.spec, c.base())
			t.reschedule(c, c.wakeAt(nowN))
			// A report of the facts from before that is not made
			// yet is dropped (see report); the caller reports these.
			c.ver++
		}
		c.mu.Unlock()
	}
}

// merge folds a stored state into c (see Adopt) and reports whether
// anything changed. Call it with c.mu held.
func (c *check) merge(h *nightowl.Heartbeat) bool {
	next := newCheck(c.name, c.since, h)
	if c.lastPing >= next.lastPing {
		// This node is as recent as the store or more (it took the
		// last ping itself): its runs and outcome stand, as the store
		// may still hold a run it has since ended.
		next.lastPing, next.runs = c.lastPing, c.runs
		next.failed, next.exit, next.lastDuration = c.failed, c.exit, c.lastDuration
	}
	next.lastSuccess = max(c.lastSuccess, next.lastSuccess)
	if c.since == next.since && c.lastPing == next.lastPing && c.lastSuccess == next.lastSuccess &&
		c.failed == next.failed && c.exit == next.exit && c.lastDuration == next.lastDuration &&
		slices.Equal(c.runs, next.runs) {
		return false
	}
	c.since, c.lastPing, c.lastSuccess = next.since, next.lastPing, next.lastSuccess
	c.failed, c.exit, c.lastDuration, c.runs = next.failed, next.exit, next.lastDuration, next.runs
	return true
}

// stepMin is the smallest step of the wall clock that moves the checks'
// times: smaller ones are left to add up.
const stepMin = int64(time.Second)

// now reads the clock. If the wall clock was stepped since the checks'
// times were last moved to follow it (NTP setting a clock that was wrong),
// they are moved by the step first: a period and a grace are time that
// passes, which a step of the clock does not make pass. A reading without
// a monotonic part (a test's fake clock) shows no step.
func (t *Tracker) now() time.Time {
	now := t.clock.Now()
	skew := now.UnixNano() - t.refWall - int64(now.Sub(t.ref))
	if d := skew - t.skew.Load(); d >= stepMin || d <= -stepMin {
		t.rebase(skew, now.UnixNano())
	}
	return now
}

// rebase moves every check's times by the wall clock's steps since the
// last rebase, so that the time since each stays the time that passed. A
// schedule's due time is a time of day and stays where it is; a period's
// moves with the success it counts from.
func (t *Tracker) rebase(skew, nowN int64) {
	t.rebaseMu.Lock()
	defer t.rebaseMu.Unlock()
	d := skew - t.skew.Load()
	if d < stepMin && d > -stepMin {
		return // moved meanwhile
	}
	t.setMu.Lock()
	defer t.setMu.Unlock()
	moved := func(at int64) int64 {
		if at == 0 || at == never {
			return at
		}
		return at + d
	}
	for _, c := range t.index.Load().byName {
		c.mu.Lock()
		if !c.gone {
			c.since, c.lastPing, c.lastSuccess = moved(c.since), moved(c.lastPing), moved(c.lastSuccess)
			if c.spec.Schedule == "" {
				c.due = moved(c.due)
			}
			for i := range c.runs {
				c.runs[i].start = moved(c.runs[i].start)
			}
			t.reschedule(c, c.wakeAt(nowN))
			t.opts.Store.SaveHeartbeat(c.snapshot())
		}
		c.mu.Unlock()
	}
	t.skew.Store(skew)
	t.log.Warn("the wall clock was stepped: heartbeat times moved with it, so periods and graces count the time that passed",
		"step", time.Duration(d))
}
