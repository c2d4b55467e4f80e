package notify

import (
	"sort"
	"time"
)

// Route sends the alerts of the checks it matches to an escalation. Routes
// are tried in order; the first whose labels all match wins.
type Route struct {
	// Match lists labels a check must have, with these values; an empty
	// Match matches every check.
	Match map[string]string `yaml:"match"`
	// Escalation names the escalation policy to follow.
	Escalation string `yaml:"escalation"`
	// Degraded also alerts on checks that are degraded (only warning
	// assertions fail); by default only down checks alert.
	Degraded bool `yaml:"degraded"`
	// GroupWait is how long after a check joins an open alert of this
	// route as blocked those notified hear of it, so that the checks that
	// fail together are told together; GroupInterval is the least time
	// between two such updates. Zero for DefaultUpdateWait and
	// DefaultUpdateEvery.
	GroupWait     time.Duration `yaml:"group_wait"`
	GroupInterval time.Duration `yaml:"group_interval"`
	// GroupBy, when set, groups the route's alerts: those whose checks
	// have the same values of these labels are one group, told about in
	// one message, escalated and acknowledged together. A new group's
	// first message waits GroupWait (DefaultGroupWait when zero).
	GroupBy []string `yaml:"group_by"`
}

// Matches reports whether a check with these labels takes this route.
func (r *Route) Matches(labels map[string]string) bool {
	for k, v := range r.Match {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// FirstRoute returns the index of the first route matching labels, or -1.
func FirstRoute(routes []Route, labels map[string]string) int {
	for i := range routes {
		if routes[i].Matches(labels) {
			return i
		}
	}
	return -1
}

// Step is one step of an escalation: After the alert fired, notify the
// receivers of the named group, the person on call in the named schedule,
// or the named user; exactly one of the three.
type Step struct {
	After    time.Duration `yaml:"after"`
	Notify   string        `yaml:"notify"`
	Schedule string        `yaml:"schedule"`
	User     string        `yaml:"user"`
}

// Target says what the step notifies, as an alert's record of its steps
// shows it.
func (s *Step) Target() string {
	switch {
	case s.Schedule != "":
		return "schedule " + s.Schedule
	case s.User != "":
		return "user " + s.User
	}
	return "receivers " + s.Notify
}

// Escalation is who hears about an alert, and when, until someone
// acknowledges it.
type Escalation struct {
	Steps []Step `yaml:"steps"`
	// Repeat re-sends the last step this often while the alert is still
	// unacknowledged; 0 sends it once.
	Repeat time.Duration `yaml:"repeat"`
}

// Sort orders the steps by delay, which Next relies on.
func (e *Escalation) Sort() {
	sort.SliceStable(e.Steps, func(i, j int) bool { return e.Steps[i].After < e.Steps[j].After })
}

// Next says what an unacknowledged alert that fired at start is due next,
// given that it has been notified sent times (steps, then repeats). Every
// time is counted from start, so a slow delivery never pushes the later
// steps back: step i falls due at start + After, and the k-th repeat of the
// last step at start + last After + k × Repeat. ok is false when nothing
// more is due.
func (e *Escalation) Next(start time.Time, sent int) (step int, at time.Time, ok bool) {
	if len(e.Steps) == 0 {
		return 0, time.Time{}, false
	}
	if sent < len(e.Steps) {
		return sent, start.Add(e.Steps[sent].After), true
	}
	if e.Repeat <= 0 {
		return 0, time.Time{}, false
	}
	last := len(e.Steps) - 1
	k := time.Duration(sent - last)
	return last, start.Add(e.Steps[last].After + k*e.Repeat), true
}
