package engine

import (
	"fmt"
	"time"

	"github.com/nightowl/nightowl"
)

// countsAsFlap says whether a status change counts towards flapping: one
// between the statuses a check's results give it (up, degraded, down, and
// blocked). A first result, a window beginning or ending, or a pause tells
// nothing of how steady the check is.
func countsAsFlap(ev *nightowl.Event) bool {
	judged := func(s nightowl.Status) bool {
		return s == nightowl.StatusUp || s == nightowl.StatusDegraded || s == nightowl.StatusDown || s == nightowl.StatusBlocked
	}
	return ev != nil && judged(ev.From) && judged(ev.To)
}

// judged is the state a result is applied to: a flapping check is judged
// as what its results say, and flap decides what shows.
func judged(st nightowl.State) nightowl.State {
	if st.Status == nightowl.StatusFlapping {
		st.Status = st.Underlying
	}
	return st
}

// flap applies Check.Flap to the state that Apply and Block made of a
// result (st, with the change ev; prev is the state before). A check whose
// status changed more than Flap.Changes times within Flap.Window is
// flapping: its status says so, with the count, and the status its results
// point to goes on in Underlying, with no event for each change. It
// leaves flapping once its status has not changed for a whole window, for
// the status it settled on. The changes are counted in memory: a restart
// forgets them, and a check flapping at a restart stays so until a window
// passes without a change.
func (e *Engine) flap(r *run, prev, st nightowl.State, ev *nightowl.Event, res *nightowl.Result) (nightowl.State, *nightowl.Event, bool) {
	f := r.check.Flap
	at := ended(res)
	if ev != nil {
		at = ev.Time
	}
	if countsAsFlap(ev) {
		r.flaps = append(r.flaps, at)
	}
	// Only the changes within the window count.
	keep := r.flaps[:0]
	for _, t := range r.flaps {
		if f.Window > 0 && at.Sub(t) < f.Window {
			keep = append(keep, t)
		}
	}
	r.flaps = keep
	n := len(r.flaps)
	saved := false
	switch {
	case prev.Status == nightowl.StatusFlapping && (f.Changes <= 0 || n == 0):
		// Quiet for a whole window (or no longer watched): settled.
		from := st.Status
		st.Underlying = ""
		cause := fmt.Sprintf("settled: no status change for %s; %s", nightowl.FormatDuration(f.Window), st.Cause)
		if f.Changes <= 0 {
			cause = "flap detection is off; " + st.Cause
		}
		st.Cause = cause
		st.Since = at
		return st, &nightowl.Event{Check: st.Check, Time: at, Kind: nightowl.EventStatus,
			From: nightowl.StatusFlapping, To: from, Cause: cause}, false
	case prev.Status == nightowl.StatusFlapping:
		// Still flapping: the results go on underneath, told to no one.
		saved = ev != nil && (ev.To == nightowl.StatusDown || ev.To == nightowl.StatusDegraded)
		st.Underlying = st.Status
		st.Status, st.Since = nightowl.StatusFlapping, prev.Since
		st.Cause = flapCause(n, f.Window, st.Underlying, st.Cause)
		return st, nil, saved
	case f.Changes > 0 && countsAsFlap(ev) && n > f.Changes:
		st.Underlying = st.Status
		st.Status, st.Since = nightowl.StatusFlapping, at
		st.Cause = flapCause(n, f.Window, st.Underlying, st.Cause)
		st.BlockedBy = ""
		ev.To, ev.Cause = nightowl.StatusFlapping, st.Cause
		return st, ev, false
	}
	st.Underlying = ""
	return st, ev, false
}

func flapCause(n int, window time.Duration, now nightowl.Status, cause string) string {
	return fmt.Sprintf("flapping: %d status changes in %s; now %s: %s", n, nightowl.FormatDuration(window), now, cause)
}
