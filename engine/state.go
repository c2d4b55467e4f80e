package engine

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nightowl/nightowl"
)

// Apply folds one result into a check's state and returns the new state, and
// the status-change event when the status changed.
//
// Thresholds damp flapping: leaving a status for a worse one takes
// FailAfter consecutive results worse than the current status, leaving it for
// a better one takes RecoverAfter consecutive better results; the new status
// is that of the latest result. A check with no status yet (unknown) takes
// the status of its first result at once: there is nothing to damp.
func Apply(st nightowl.State, c *nightowl.Check, r *nightowl.Result) (nightowl.State, *nightowl.Event) {
	st.Check = c.Name
	st.LastRun = r.Start
	st.Runs++
	if r.Status == nightowl.StatusDown {
		st.Fails++
	}
	cur := st.Status
	if cur == "" {
		cur = nightowl.StatusUnknown
	}
	rs := r.Status
	if rs == cur {
		st.Pending, st.Streak, st.Cause = "", 0, Cause(r)
		return st, nil
	}
	threshold := 1
	switch {
	case rs == nightowl.StatusMaintenance:
		// Not a judgement but an explanation, which nobody is woken for:
		// nothing to damp.
	case cur == nightowl.StatusMaintenance && r.Maintenance == nil && rs != nightowl.StatusUp:
		// Held in maintenance and still failing now that its window has
		// ended: the failure has lasted the whole window.
	case cur == nightowl.StatusBlocked:
		// Blocked, the check was judged by what it depends on, not by
		// its own streak: its next result says where it stands (Block
		// holds it blocked while the upstream still fails).
	case cur != nightowl.StatusUnknown && cur != nightowl.StatusPaused:
		down := worse(rs, cur)
		if down {
			threshold = c.FailAfter
		} else {
			threshold = c.RecoverAfter
		}
		// A streak counts results that all point the same way from the
		// current status; one pointing back breaks it.
		if st.Pending != "" && worse(st.Pending, cur) != down {
			st.Streak = 0
		}
	}
	st.Pending = rs
	st.Streak++
	if st.Streak < max(threshold, 1) {
		return st, nil
	}
	ev := &nightowl.Event{
		Check: c.Name, Time: ended(r), Kind: nightowl.EventStatus,
		From: cur, To: rs, Cause: Cause(r),
	}
	if threshold > 1 {
		ev.Cause += fmt.Sprintf(" (%d consecutive runs)", st.Streak)
	}
	st.Status, st.Since, st.Pending, st.Streak, st.Cause = rs, ev.Time, "", 0, Cause(r)
	return st, ev
}

// Block applies what the checks upstream say to the state Apply made of a
// result. root is the failing check upstream, directly or through others,
// that explains a failure of this one ("" when nothing upstream fails):
// a check that fails while root does is blocked, and opens no alert of its
// own; one that fails once nothing upstream does fails in its own right,
// and its event says that the upstream recovered.
func Block(prev, st nightowl.State, ev *nightowl.Event, root string, r *nightowl.Result) (nightowl.State, *nightowl.Event) {
	failing := st.Status == nightowl.StatusDown || st.Status == nightowl.StatusDegraded
	switch {
	case failing && root != "":
		cause := "blocked: " + root + " is down"
		if prev.Status == nightowl.StatusBlocked {
			st.Status, st.Since, st.Cause, st.BlockedBy = nightowl.StatusBlocked, prev.Since, cause, root
			return st, nil
		}
		at := ended(r)
		if ev != nil {
			at = ev.Time
		}
		own := st.Cause
		st.Status, st.Since, st.Cause, st.BlockedBy = nightowl.StatusBlocked, at, cause, root
		st.Pending, st.Streak = "", 0
		return st, &nightowl.Event{Check: st.Check, Time: at, Kind: nightowl.EventStatus,
			From: prev.Status, To: nightowl.StatusBlocked, Cause: cause + ": " + own}
	case failing && ev != nil && ev.From == nightowl.StatusBlocked && prev.BlockedBy != "":
		// Said in its alert too: the person paged knows the cause they
		// may have heard of is over, and this is another.
		ev.Cause += "; " + prev.BlockedBy + " has recovered"
		st.Cause = ev.Cause
	}
	st.BlockedBy = ""
	return st, ev
}

// ended is when a result's run ended: the time of the change it makes.
func ended(r *nightowl.Result) time.Time { return r.Start.Add(time.Duration(r.Duration)) }

// worse reports whether a is a worse result status than b: down is worse
// than degraded, which is worse than up.
func worse(a, b nightowl.Status) bool { return severity(a) > severity(b) }

func severity(s nightowl.Status) int {
	switch s {
	case nightowl.StatusDown:
		return 2
	case nightowl.StatusDegraded:
		return 1
	}
	return 0
}

// Cause says in one line why a result has its status: the probe's error, or
// the assertions that failed with what they observed.
func Cause(r *nightowl.Result) string {
	if !r.OK {
		if r.Error != "" {
			return r.Error
		}
		return "probe failed"
	}
	var parts []string
	for _, a := range r.Assertions {
		if !a.OK {
			parts = append(parts, a.Name+" failed: "+a.Message)
		}
	}
	// A probe that got an answer may still have failed a part of its work
	// (a missing privilege for replica status); that explains a failing
	// assertion over the fact it could not read.
	if r.Error != "" {
		parts = append(parts, r.Error)
	}
	if len(parts) == 0 {
		return "all assertions hold"
	}
	return strings.Join(parts, "; ")
}

// Classify notes on a result the maintenance windows in force for its check
// and what failed that none of them expects. A result that failed only in
// expected ways becomes maintenance: it alerts nobody. A failed probe is
// expected only by a window that expects anything.
func Classify(r *nightowl.Result, windows []nightowl.ActiveWindow) {
	if len(windows) == 0 {
		return
	}
	note := &nightowl.MaintenanceNote{}
	for _, w := range windows {
		note.Windows = append(note.Windows, w.Name)
	}
	r.Maintenance = note
	if r.Status == nightowl.StatusUp {
		return
	}
	expects := func(name string) bool {
		for _, w := range windows {
			if slices.Contains(w.Expect, nightowl.ExpectAnything) || slices.Contains(w.Expect, name) {
				return true
			}
		}
		return false
	}
	if !r.OK && !expects(nightowl.ExpectAnything) {
		note.Unexpected = append(note.Unexpected, nightowl.ProbeFailure)
	}
	for _, a := range r.Assertions {
		if !a.OK && !expects(a.Name) {
			note.Unexpected = append(note.Unexpected, a.Name)
		}
	}
	if len(note.Unexpected) == 0 {
		r.Status = nightowl.StatusMaintenance
	}
}
