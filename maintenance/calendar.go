package maintenance

import (
	"fmt"
	"sync"
	"time"

	cron "github.com/netresearch/go-cron"

	"github.com/nightowl/nightowl"
)

// window is a maintenance window with its schedule parsed, which answers
// when it is in force.
type window struct {
	nightowl.Window
	sched cron.Schedule // nil for a one-off window
	loc   *time.Location
	dur   time.Duration

	// The occurrence last asked about, cached: the engine asks for every
	// result of every check, and nearly always about the same one.
	mu          sync.Mutex
	cacheFrom   time.Time // the cache answers for times in [cacheFrom, cacheUntil)
	cacheUntil  time.Time
	cacheStart  time.Time // zero when no occurrence is in force then
	cacheEnd    time.Time
	cacheActive bool
}

func compile(w nightowl.Window) (*window, error) {
	c := &window{Window: w, loc: time.UTC, dur: time.Duration(w.Duration)}
	if w.Schedule == "" {
		if !w.End.After(w.Start) {
			return nil, fmt.Errorf("maintenance %s: end must be after start", w.ID)
		}
		return c, nil
	}
	if w.Timezone != "" {
		loc, err := time.LoadLocation(w.Timezone)
		if err != nil {
			return nil, fmt.Errorf("maintenance %s: timezone: %w", w.ID, err)
		}
		c.loc = loc
	}
	s, err := cron.ParseStandard(w.Schedule)
	if err != nil {
		return nil, fmt.Errorf("maintenance %s: schedule: %w", w.ID, err)
	}
	if c.dur <= 0 {
		return nil, fmt.Errorf("maintenance %s: duration must be positive", w.ID)
	}
	c.sched = s
	return c, nil
}

// cut applies an early end to an occurrence [start, end).
func (w *window) cut(start, end time.Time) time.Time {
	if !w.EndedAt.IsZero() && !w.EndedAt.Before(start) && w.EndedAt.Before(end) {
		return w.EndedAt
	}
	return end
}

// occurrence returns the occurrence in force at t.
func (w *window) occurrence(t time.Time) (start, end time.Time, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !t.Before(w.cacheFrom) && t.Before(w.cacheUntil) {
		return w.cacheStart, w.cacheEnd, w.cacheActive
	}
	start, end, ok, from, until := w.compute(t)
	w.cacheFrom, w.cacheUntil, w.cacheStart, w.cacheEnd, w.cacheActive = from, until, start, end, ok
	return start, end, ok
}

// compute finds the occurrence in force at t, and the span of time around t
// for which the same answer holds.
func (w *window) compute(t time.Time) (start, end time.Time, ok bool, from, until time.Time) {
	if w.sched == nil {
		start, end = w.Start, w.cut(w.Start, w.End)
		switch {
		case t.Before(start):
			return time.Time{}, time.Time{}, false, time.Time{}, start
		case t.Before(end):
			return start, end, true, start, end
		default:
			return time.Time{}, time.Time{}, false, end, farFuture
		}
	}
	// The occurrence in force at t is the first that starts after t-d, if
	// it has started by t. Each is computed in the window's zone, so that
	// "0 2 * * SUN" stays 2 a.m. local across DST changes.
	s := w.next(t.Add(-w.dur).In(w.loc))
	if !s.After(t) {
		e := w.cut(s, s.Add(w.dur))
		if t.Before(e) {
			return s, e, true, s, e
		}
		// Ended early: inactive until the next one starts.
		return time.Time{}, time.Time{}, false, e, w.next(t.In(w.loc))
	}
	return time.Time{}, time.Time{}, false, t, s
}

// next returns the first scheduled start after t. When clocks fall back an
// hour, a schedule in that hour matches the repeated wall time a second
// time; that second match is no new occurrence, or a 2-hour window would
// last three.
func (w *window) next(t time.Time) time.Time {
	for range 3 {
		s := w.sched.Next(t.In(w.loc))
		if s.IsZero() || !w.repeated(s) {
			return s
		}
		t = s
	}
	return w.sched.Next(t.In(w.loc))
}

// repeated reports whether s is the second time its local wall-clock time
// occurs that day, matched by the schedule both times.
func (w *window) repeated(s time.Time) bool {
	p := s.Add(-time.Hour)
	ls, lp := s.In(w.loc), p.In(w.loc)
	return lp.Hour() == ls.Hour() && lp.Minute() == ls.Minute() && lp.Day() == ls.Day() &&
		w.sched.Next(p.Add(-time.Second).In(w.loc)).Equal(p)
}

var farFuture = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// nextStart returns when the next occurrence after t starts; zero when none
// will.
func (w *window) nextStart(t time.Time) time.Time {
	if w.sched == nil {
		if w.Start.After(t) {
			return w.Start
		}
		return time.Time{}
	}
	return w.next(t.In(w.loc))
}

// maxScan bounds the occurrences lastEnd walks through: a window every
// minute for a week.
const maxScan = 7 * 24 * 60

// lastEnd returns the end of the last occurrence that ended after since and
// by now; zero when none did.
func (w *window) lastEnd(since, now time.Time) time.Time {
	if w.sched == nil {
		e := w.cut(w.Start, w.End)
		if e.After(since) && !e.After(now) {
			return e
		}
		return time.Time{}
	}
	// Only the last matters: a week back is plenty, and for a window that
	// comes round often, the last day is.
	for _, back := range []time.Duration{lookback, 24 * time.Hour} {
		from := since
		if f := now.Add(-back - w.dur); f.After(from) {
			from = f
		}
		var last time.Time
		s := w.next(from.Add(-w.dur).In(w.loc))
		i := 0
		for ; i < maxScan && !s.After(now); i++ {
			if e := w.cut(s, s.Add(w.dur)); e.After(since) && !e.After(now) {
				last = e
			}
			s = w.next(s)
		}
		if i < maxScan {
			return last
		}
	}
	return time.Time{}
}

// lookback is how far back lastEnd looks for an occurrence that ended while
// the server was down.
const lookback = 8 * 24 * time.Hour
