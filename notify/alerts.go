package notify

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/notify/acklink"
)

// Policy is the notify section of the config as the alert manager uses it:
// who hears of which alert, and when.
type Policy struct {
	Routes      []Route
	Escalations map[string]*Escalation
	// Groups lists the receiver IDs of each receiver group.
	Groups       map[string][]string
	SendResolved bool
	// AckLinkTTL is how long the acknowledgement link in a notification
	// works; DefaultAckLinkTTL when zero.
	AckLinkTTL time.Duration
}

// How long after a check joins an open alert as blocked those notified
// hear of it, and the least time between two such updates, unless the
// alert's route says otherwise (Route.GroupWait, Route.GroupInterval).
const (
	DefaultUpdateWait  = 30 * time.Second
	DefaultUpdateEvery = 5 * time.Minute
)

// DefaultAckLinkTTL is how long an acknowledgement link works unless the
// config says otherwise.
const DefaultAckLinkTTL = 24 * time.Hour

// ManagerOptions configure a Manager.
type ManagerOptions struct {
	Store  nightowl.AlertStore // required
	Clock  nightowl.Clock      // nightowl.SystemClock when nil
	Logger *slog.Logger        // slog.Default() when nil
	Policy Policy
	// Signer signs the acknowledgement links, and PublicURL is where
	// people reach nightowl; without both, messages carry no links.
	Signer    *acklink.Signer
	PublicURL string
	// Queued is called after notifications were added to the outbox: the
	// sender's cue to look.
	Queued func()
	// Fired, when set, is called after a new alert was saved: the cue to
	// open an incident. It runs with the alert's check locked, so it must
	// not call back into the Manager.
	Fired func(nightowl.Alert)
	// Owns, when set, says whether this node runs a check now: in a
	// cluster, the alerts of a check are opened, escalated and resolved by
	// the node that runs it, and the Manager reads an alert back from the
	// store before it changes it, since another node may have
	// acknowledged it.
	Owns func(check string) bool
	// Saved, when set, is called for each alert that notified nobody of
	// its own because another told of it: reason "grouped".
	Saved func(reason string)
	// People, when set, resolve the escalation steps that name a schedule
	// or a user; without it such steps page nobody.
	People People
}

// People are who escalation steps page by name.
type People interface {
	// OnCall says who is on call in the schedule at t: "" for nobody.
	OnCall(ctx context.Context, schedule string, t time.Time) (string, error)
	// Reach says how a page reaches user, by their notification rules:
	// through which of their verified contact methods, and when. None
	// when they have no verified method.
	Reach(ctx context.Context, user string) ([]Reach, error)
}

// Reach is one contact method a page goes to, After the step (0 for at
// once) unless the alert is acknowledged before.
type Reach struct {
	// Receiver names the contact method as the sender's targets do:
	// ContactPrefix and its ID.
	Receiver string
	After    time.Duration
}

// ContactPrefix begins the receiver ID of a person's contact method in the
// outbox: "contact:" and the method's ID.
const ContactPrefix = "contact:"

// Manager opens, escalates, acknowledges and resolves alerts, and writes
// each notification they cause to the outbox in the same transaction as the
// alert change. It decides from a check's state, not from the history of
// changes: told the same state twice, it does nothing the second time, so
// that after a crash the state the engine restored and the alerts the store
// kept can simply be reconciled.
type Manager struct {
	opts  ManagerOptions
	clock nightowl.Clock
	log   *slog.Logger

	// mu guards what follows. It is held only for moments: the writes to
	// the store happen under the check's own lock, so that when a whole
	// fleet goes down at once the store can write their alerts together.
	mu     sync.Mutex
	policy Policy
	open   map[string]*nightowl.Alert // open alerts by check
	// locks serialise the changes to each check's alerts, so that an
	// acknowledgement and a recovery of one alert cannot cross;
	// groupLocks the choice of each group's leader (taken after a
	// check's lock, never before).
	locks, groupLocks map[string]*sync.Mutex
	// blockedBy names, for each check last seen blocked, the root cause
	// whose alert it joined; memberOf, for each check whose alert is in a
	// group, the check whose alert leads it.
	blockedBy, memberOf map[string]string
	kick                chan struct{}
}

// NewManager loads the open alerts from the store.
func NewManager(ctx context.Context, opts ManagerOptions) (*Manager, error) {
	if opts.Store == nil {
		return nil, nightowl.Errorf(nightowl.EInvalid, "alert manager: no store")
	}
	if opts.Clock == nil {
		opts.Clock = nightowl.SystemClock{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	m := &Manager{
		opts: opts, clock: opts.Clock, log: opts.Logger,
		open:       make(map[string]*nightowl.Alert),
		locks:      make(map[string]*sync.Mutex),
		groupLocks: make(map[string]*sync.Mutex),
		blockedBy:  make(map[string]string),
		memberOf:   make(map[string]string),
		kick:       make(chan struct{}, 1),
	}
	m.policy = opts.Policy
	alerts, err := opts.Store.Alerts(ctx, nightowl.AlertQuery{Open: true})
	if err != nil {
		return nil, err
	}
	for i := range alerts {
		a := alerts[i]
		if prev := m.open[a.Check]; prev != nil && prev.StartsAt.After(a.StartsAt) {
			continue
		}
		m.open[a.Check] = &a
	}
	for name, a := range m.open {
		if a.Group != "" && !a.Leader {
			if l := m.leaderWhere(func(o *nightowl.Alert) bool { return o.Group == a.Group }); l != nil {
				m.memberOf[name] = l.Check
			}
		}
	}
	return m, nil
}

// leaderWhere returns the open alert this node holds that leads a group
// and matches, nil for none. Called with m.mu held, or before the Manager
// is shared.
func (m *Manager) leaderWhere(match func(*nightowl.Alert) bool) *nightowl.Alert {
	for _, a := range m.open {
		if a.Leader && match(a) {
			return a
		}
	}
	return nil
}

// findLeader returns a copy of the open alert that leads a group and
// matches, nil for none: one this node holds, or, in a cluster, one the
// store holds (another node runs its check).
func (m *Manager) findLeader(ctx context.Context, match func(*nightowl.Alert) bool) *nightowl.Alert {
	m.mu.Lock()
	if o := m.leaderWhere(match); o != nil {
		l := *o
		m.mu.Unlock()
		return &l
	}
	m.mu.Unlock()
	if m.opts.Owns == nil {
		return nil
	}
	alerts, err := m.opts.Store.Alerts(ctx, nightowl.AlertQuery{Open: true, Limit: 10000})
	if err != nil {
		m.log.Error("find the alert that leads a group", "err", err)
		return nil
	}
	for i := range alerts {
		if alerts[i].Leader && match(&alerts[i]) {
			return &alerts[i]
		}
	}
	return nil
}

// DefaultGroupWait is how long a new group's first message waits for
// other alerts to join it, unless its route says otherwise.
const DefaultGroupWait = 30 * time.Second

// groupKey is the group an alert of a check with these labels joins on
// route r: the route's place and the values of its group_by labels.
func groupKey(pol *Policy, r *Route, labels map[string]string) string {
	i := FirstRoute(pol.Routes, labels)
	var b strings.Builder
	fmt.Fprintf(&b, "route %d", i)
	for _, l := range r.GroupBy {
		fmt.Fprintf(&b, ", %s=%q", l, labels[l])
	}
	return b.String()
}

// SetPolicy replaces the policy, as a reload does. Open alerts keep their
// escalation and where they are in it; one whose escalation is gone
// follows the route its check matches now.
func (m *Manager) SetPolicy(p Policy) {
	m.mu.Lock()
	m.policy = p
	m.mu.Unlock()
	m.poke()
}

func (m *Manager) poke() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// alerting says whether a check in state st warrants an alert under route.
func alerting(st nightowl.Status, route *Route) bool {
	return st == nightowl.StatusDown || st == nightowl.StatusFlapping ||
		(st == nightowl.StatusDegraded && route != nil && route.Degraded)
}

// settled says whether a check in status st has recovered: its alert, if
// any, resolves. A check in maintenance or with no result yet says nothing
// either way.
func settled(st nightowl.Status) bool {
	return st == nightowl.StatusUp || st == nightowl.StatusPaused || st == nightowl.StatusDegraded
}

func route(p *Policy, labels map[string]string) *Route {
	if i := FirstRoute(p.Routes, labels); i >= 0 {
		return &p.Routes[i]
	}
	return nil
}

// lock takes the lock of a check's alerts, and returns the policy in force
// and the check's open alert, which the caller may read but must change
// only through save.
func (m *Manager) lock(check string) (func(), *Policy, *nightowl.Alert) {
	m.mu.Lock()
	l := m.locks[check]
	if l == nil {
		l = &sync.Mutex{}
		m.locks[check] = l
	}
	m.mu.Unlock()
	l.Lock()
	m.mu.Lock()
	p, a := m.policy, m.open[check]
	m.mu.Unlock()
	return l.Unlock, &p, a
}

// lockGroup takes the lock of a group's key and returns its release.
func (m *Manager) lockGroup(key string) func() {
	m.mu.Lock()
	l := m.groupLocks[key]
	if l == nil {
		l = &sync.Mutex{}
		m.groupLocks[key] = l
	}
	m.mu.Unlock()
	l.Lock()
	return l.Unlock
}

// Observe brings the check's alert in line with its state: opens one when
// the check is down (or degraded, where its route asks), resolves it when
// the check has recovered, and otherwise keeps it.
func (m *Manager) Observe(ctx context.Context, v nightowl.CheckView) error {
	unlock, pol, a := m.lock(v.Check.Name)
	err := m.redo(ctx, m.current(ctx, a), func(a *nightowl.Alert) error { return m.observe(ctx, pol, v, a) })
	unlock()
	if ferr := m.follow(ctx, v); err == nil {
		err = ferr
	}
	return err
}

// follow keeps a blocked check listed on its root cause's open alert, and a
// member of a group on its leader's, and takes each off when that no
// longer holds.
func (m *Manager) follow(ctx context.Context, v nightowl.CheckView) error {
	name, root := v.Check.Name, ""
	if v.State.Status == nightowl.StatusBlocked {
		root = v.State.BlockedBy
	}
	err := m.relist(ctx, m.blockedBy, name, root, blockedList)
	// A member of a group is listed on its leader's alert while it fires.
	m.mu.Lock()
	group := ""
	if a := m.open[name]; a != nil && a.Group != "" && !a.Leader {
		group = a.Group
	}
	m.mu.Unlock()
	leader := ""
	if group != "" {
		if l := m.findLeader(ctx, func(o *nightowl.Alert) bool { return o.Group == group }); l != nil {
			leader = l.Check
		}
	}
	if gerr := m.relist(ctx, m.memberOf, name, leader, groupedList); err == nil {
		err = gerr
	}
	return err
}

// relist notes in on (blockedBy or memberOf) that check is now listed as l
// on the open alert of target ("" for none), and moves it there: off the
// alert it was on, onto target's. It returns the first error.
func (m *Manager) relist(ctx context.Context, on map[string]string, check, target string, l list) error {
	m.mu.Lock()
	prev := on[check]
	if target == "" {
		delete(on, check)
	} else {
		on[check] = target
	}
	m.mu.Unlock()
	var err error
	if prev != "" && prev != target {
		err = m.setListed(ctx, prev, check, l, false)
	}
	if target != "" {
		if jerr := m.setListed(ctx, target, check, l, true); err == nil {
			err = jerr
		}
	}
	return err
}

// A list of checks on an alert: those it blocks, or the others of its
// group it leads.
type list int

const (
	blockedList list = iota
	groupedList
)

func (l list) of(a *nightowl.Alert) *[]string {
	if l == groupedList {
		return &a.Grouped
	}
	return &a.Blocked
}

// setListed lists check on root's open alert (in), or takes it off: as
// blocked by it, or as another alert of the group it leads. A check that
// joins is told to those notified so far in an update, after the route's
// group_wait and at most every group_interval; one that leaves is told so
// only in a group (its alert resolved), and a group whose leader's check
// is up resolves when its last other alert does.
func (m *Manager) setListed(ctx context.Context, root, check string, l list, in bool) error {
	unlock, pol, a := m.lock(root)
	defer unlock()
	a = m.current(ctx, a)
	remote := m.opts.Owns != nil && !m.opts.Owns(root)
	if a == nil && remote {
		// Another node runs the root: its alert is in the store.
		alerts, err := m.opts.Store.Alerts(ctx, nightowl.AlertQuery{Open: true, Check: root})
		if err != nil {
			return err
		}
		if len(alerts) > 0 {
			a = m.adopt(&alerts[0])
		}
	}
	return m.redo(ctx, a, func(a *nightowl.Alert) error {
		if a == nil || slices.Contains(*l.of(a), check) == in {
			return nil
		}
		b := *a
		if in {
			*l.of(&b) = append(slices.Clone(*l.of(a)), check)
			slices.Sort(*l.of(&b))
		} else {
			*l.of(&b) = slices.DeleteFunc(slices.Clone(*l.of(a)), func(c string) bool { return c == check })
		}
		if l == groupedList && !in && b.LeaderUp && len(b.Grouped) == 0 {
			// The last of the group recovered after its leader.
			return m.resolveAs(ctx, pol, a, b)
		}
		var out []nightowl.Notification
		if (in || l == groupedList) && len(b.Notified) > 0 && b.UpdateAt.IsZero() {
			now := m.clock.Now().UTC()
			b.UpdateAt = updateDue(pol, &b, now)
			if wait, _ := updateTimes(pol, &b); remote && !b.UpdateAt.After(now.Add(wait)) {
				// The node that runs the root sends its updates from
				// memory, which this change does not reach: tell them
				// now, if an update is not too soon.
				out = m.update(pol, &b, now)
			} else if remote {
				b.UpdateAt = time.Time{}
			}
		}
		return m.save(ctx, a, &b, out)
	})
}

// updateTimes are the wait and the interval of a's updates, from its route.
func updateTimes(pol *Policy, a *nightowl.Alert) (wait, every time.Duration) {
	wait, every = DefaultUpdateWait, DefaultUpdateEvery
	if r := route(pol, a.Labels); r != nil {
		wait, every = cmp.Or(r.GroupWait, wait), cmp.Or(r.GroupInterval, every)
	}
	return wait, every
}

// updateDue is when an update of a falls due, for a change at now.
func updateDue(pol *Policy, a *nightowl.Alert, now time.Time) time.Time {
	wait, every := updateTimes(pol, a)
	at := now.Add(wait)
	if !a.UpdatedAt.IsZero() {
		at = maxTime(at, a.UpdatedAt.Add(every))
	}
	return at
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// update tells every receiver notified of a so far what changed, and
// notes when.
func (m *Manager) update(pol *Policy, a *nightowl.Alert, now time.Time) []nightowl.Notification {
	a.UpdateAt, a.UpdatedAt = time.Time{}, now
	out := make([]nightowl.Notification, 0, len(a.Notified))
	for _, id := range a.Notified {
		out = append(out, m.notification(pol, a, nightowl.MessageUpdate, id, now))
	}
	return out
}

// observe is Observe's decision for the check's alert a (nil when it has
// none open). Called with the check locked.
func (m *Manager) observe(ctx context.Context, pol *Policy, v nightowl.CheckView, a *nightowl.Alert) error {
	route := route(pol, v.Check.Labels)
	switch st := v.State.Status; {
	case alerting(st, route) && a == nil:
		return m.fire(ctx, pol, v, route)
	case alerting(st, route) && a.Status != st:
		// Down to degraded or back: the same trouble, told no one anew.
		b := *a
		b.Status, b.Severity = st, severity(st)
		b.Cause, b.Failed = v.State.Cause, failed(v.Last)
		return m.save(ctx, a, &b, nil)
	case a != nil && !alerting(st, route) && settled(st) && (a.NotRecovered == "" || st != nightowl.StatusDegraded):
		if a.Leader && len(a.Grouped) > 0 {
			// Others of its group still fire: the group's alert stays
			// open for them, and resolves with the last.
			if a.LeaderUp {
				return nil
			}
			b := *a
			b.LeaderUp = true
			return m.save(ctx, a, &b, nil)
		}
		return m.resolve(ctx, pol, a)
	case a != nil && a.LeaderUp && alerting(st, route):
		b := *a
		b.LeaderUp = false
		return m.save(ctx, a, &b, nil)
	}
	return nil
}

// NotRecovered pages about a check that is not up when the verification
// after maintenance window w falls due: stage 0 after verify.within, stage
// i after again_after[i-1]. A check without an open alert gets a critical
// one, whatever its route says about degraded checks; one whose alert is
// still firing is paged again at the later stages; an acknowledged alert
// is only annotated, since someone has it.
func (m *Manager) NotRecovered(ctx context.Context, v nightowl.CheckView, w *nightowl.Window, stage int, after time.Duration) error {
	unlock, pol, a := m.lock(v.Check.Name)
	defer unlock()
	return m.redo(ctx, a, func(a *nightowl.Alert) error { return m.notRecovered(ctx, pol, v, a, w, stage, after) })
}

func (m *Manager) notRecovered(ctx context.Context, pol *Policy, v nightowl.CheckView, a *nightowl.Alert, w *nightowl.Window, stage int, after time.Duration) error {
	note := fmt.Sprintf("not recovered %s after maintenance %s", nightowl.FormatDuration(after), w.Name)
	now := m.clock.Now().UTC()
	if a == nil {
		b := &nightowl.Alert{
			ID: newID(), Check: v.Check.Name, Labels: v.Check.Labels,
			State: nightowl.AlertFiring, Severity: nightowl.SeverityCritical, Status: v.State.Status,
			Cause: note + ": " + v.State.Cause, Failed: failed(v.Last), Maintenance: note,
			NotRecovered: w.Name, StartsAt: now,
		}
		if r := route(pol, v.Check.Labels); r != nil {
			b.Escalation = r.Escalation
		}
		out := m.escalate(ctx, pol, b, now)
		if err := m.save(ctx, nil, b, out); err != nil {
			return err
		}
		m.log.Warn("alert firing: not recovered after maintenance", "alert", b.ID, "check", b.Check, "window", w.Name)
		return nil
	}
	b := *a
	b.Maintenance, b.NotRecovered, b.Severity = note, w.Name, nightowl.SeverityCritical
	var out []nightowl.Notification
	if stage > 0 && b.State == nightowl.AlertFiring {
		for _, id := range b.Notified {
			out = append(out, m.notification(pol, &b, nightowl.MessageRepeat, id, now))
		}
	}
	return m.save(ctx, a, &b, out)
}

// maintenanceNote says, for an alert that fires during maintenance, which
// windows were in force and what failed that none of them expected.
func maintenanceNote(r *nightowl.Result) string {
	if r == nil || r.Maintenance == nil || len(r.Maintenance.Unexpected) == 0 {
		return ""
	}
	var parts []string
	for _, u := range r.Maintenance.Unexpected {
		if u == nightowl.ProbeFailure {
			parts = append(parts, "the check itself failed: "+r.Error)
			continue
		}
		part := u
		for _, a := range r.Assertions {
			if a.Name == u && a.Message != "" {
				part += " (" + a.Message + ")"
			}
		}
		parts = append(parts, part)
	}
	return "during maintenance " + strings.Join(r.Maintenance.Windows, ", ") + " — not expected: " + strings.Join(parts, "; ")
}

// Reconcile observes every check in views and resolves the open alerts of
// checks that are no longer configured: what a start or a reload runs, so
// that a change the last process did not live to make is made now. A
// check is configured when configured says so; when configured is nil,
// when it is in views. (In a cluster, views are only the checks this node
// runs, and the others are configured all the same.) Each change has
// its own deadline, so that a store that hangs fails them one by one.
func (m *Manager) Reconcile(ctx context.Context, views []nightowl.CheckView, configured func(check string) bool) error {
	seen := make(map[string]bool, len(views))
	var errs []error
	for _, v := range views {
		seen[v.Check.Name] = true
		sctx, cancel := context.WithTimeout(ctx, storeTimeout)
		if err := m.Observe(sctx, v); err != nil {
			errs = append(errs, err)
		}
		cancel()
	}
	if configured == nil {
		configured = func(c string) bool { return seen[c] }
	}
	m.mu.Lock()
	var gone []string
	for name := range m.open {
		if !configured(name) {
			gone = append(gone, name)
		}
	}
	m.mu.Unlock()
	for _, name := range gone {
		unlock, pol, a := m.lock(name)
		if a != nil {
			sctx, cancel := context.WithTimeout(ctx, storeTimeout)
			err := m.redo(sctx, a, func(a *nightowl.Alert) error {
				if a == nil {
					return nil // resolved meanwhile
				}
				return m.resolve(sctx, pol, a)
			})
			if err != nil {
				errs = append(errs, err)
			}
			cancel()
		}
		unlock()
	}
	if len(errs) > 0 {
		return errs[0]
	}
	return nil
}

func severity(st nightowl.Status) nightowl.Severity {
	if st == nightowl.StatusDegraded {
		return nightowl.SeverityWarning
	}
	return nightowl.SeverityCritical
}

func failed(r *nightowl.Result) []nightowl.AssertionResult {
	if r == nil {
		return nil
	}
	var out []nightowl.AssertionResult
	for _, a := range r.Assertions {
		if !a.OK {
			out = append(out, a)
		}
	}
	return out
}

// newID returns a random alert ID, short enough to type into nightowl ack.
func newID() string { return nightowl.NewID("", 8) }

func (m *Manager) fire(ctx context.Context, pol *Policy, v nightowl.CheckView, route *Route) error {
	now := m.clock.Now().UTC()
	a := &nightowl.Alert{
		ID:       newID(),
		Check:    v.Check.Name,
		Labels:   v.Check.Labels,
		State:    nightowl.AlertFiring,
		Severity: severity(v.State.Status),
		Status:   v.State.Status,
		Cause:    v.State.Cause,
		Failed:   failed(v.Last),
		StartsAt: now,
		// Said in every message: it is what tells this page from the
		// noise the window was declared for.
		Maintenance: maintenanceNote(v.Last),
		Blocked:     m.blockedOn(v.Check.Name),
	}
	if route != nil {
		a.Escalation = route.Escalation
	}
	var out []nightowl.Notification
	if route != nil && len(route.GroupBy) > 0 {
		a.GroupKey = groupKey(pol, route, v.Check.Labels)
		// The first alerts of a group fire at once when its checks
		// fail together: one of them, and only one, must lead it.
		defer m.lockGroup(a.GroupKey)()
		key, check := a.GroupKey, a.Check
		leader := m.findLeader(ctx, func(o *nightowl.Alert) bool { return o.GroupKey == key && o.Check != check })
		if leader != nil {
			// One of a group that already has an alert: listed on it
			// (follow), told of in its messages, escalated with it.
			a.Group = leader.Group
			if m.opts.Saved != nil {
				m.opts.Saved("grouped")
			}
		} else {
			a.Group, a.Leader = newID(), true
			a.NextAt = now.Add(cmp.Or(route.GroupWait, DefaultGroupWait))
		}
	} else if route != nil && route.GroupWait > 0 {
		// Held for the route's group_wait: an alert that resolves
		// meanwhile (a check that flaps) is never told.
		a.NextAt = now.Add(route.GroupWait)
	} else {
		out = m.escalate(ctx, pol, a, now)
	}
	if err := m.save(ctx, nil, a, out); err != nil {
		return err
	}
	m.log.Warn("alert firing", "alert", a.ID, "check", a.Check, "notifications", len(out))
	return nil
}

// blockedOn returns, sorted, the checks last seen blocked by root.
func (m *Manager) blockedOn(root string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for c, r := range m.blockedBy {
		if r == root {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	return out
}

// escalate adds to a the escalation steps due at now and returns their
// notifications, and sets when the next falls due. A step that reaches
// nobody (nobody on call, a person with no verified contact method) is
// recorded, and the next step is taken at once.
func (m *Manager) escalate(ctx context.Context, pol *Policy, a *nightowl.Alert, now time.Time) []nightowl.Notification {
	esc := pol.Escalations[a.Escalation]
	if esc == nil {
		if r := route(pol, a.Labels); r != nil && pol.Escalations[r.Escalation] != nil {
			// The escalation went away in a reload: follow the route's
			// current one, from where the alert is.
			a.Escalation = r.Escalation
			esc = pol.Escalations[r.Escalation]
		} else {
			a.NextAt = time.Time{}
			return nil
		}
	}
	var out []nightowl.Notification
	fell := false
	for {
		step, at, ok := esc.Next(a.StartsAt, a.Escalated)
		if !ok {
			a.NextAt = time.Time{}
			return out
		}
		if at.After(now) && !fell {
			a.NextAt = at
			return out
		}
		kind := nightowl.MessageFiring
		if a.Escalated >= len(esc.Steps) {
			kind = nightowl.MessageRepeat
		}
		a.Escalated++
		st := &esc.Steps[step]
		rec := nightowl.StepRecord{At: now, Step: step + 1, Target: st.Target()}
		var sent []nightowl.Notification
		if st.Notify != "" {
			sent = m.notifyGroup(pol, a, kind, st.Notify, now)
		} else {
			sent = m.page(ctx, pol, a, kind, st, &rec, now)
		}
		out = append(out, sent...)
		a.Steps = append(a.Steps, rec)
		if n := len(a.Steps) - nightowl.MaxStepRecords; n > 0 {
			a.Steps = slices.Delete(a.Steps, 0, n)
		}
		// Falling through is for steps; a repeat that reaches nobody
		// waits for the next repeat.
		fell = len(sent) == 0 && kind == nightowl.MessageFiring
		if kind == nightowl.MessageRepeat {
			// However long the server was away, one repeat makes up
			// for every one it missed.
			for {
				_, next, ok := esc.Next(a.StartsAt, a.Escalated)
				if !ok || next.After(now) {
					break
				}
				a.Escalated++
			}
		}
	}
}

// notifyGroup returns the notifications of a step that notifies a
// receiver group, and adds its receivers to those told of the alert.
func (m *Manager) notifyGroup(pol *Policy, a *nightowl.Alert, kind nightowl.MessageKind, group string, now time.Time) []nightowl.Notification {
	ids, ok := pol.Groups[group]
	if !ok {
		m.log.Error("escalation names no receiver group", "escalation", a.Escalation, "group", group)
	}
	var out []nightowl.Notification
	for _, id := range ids {
		if !slices.Contains(a.Notified, id) {
			a.Notified = append(a.Notified, id)
		}
		out = append(out, m.notification(pol, a, kind, id, now))
	}
	return out
}

// page returns the notifications of a step that pages a person: the one
// on call in its schedule, or its user, through their contact methods by
// their notification rules, each cancelled if the alert is acknowledged
// before it is due. The first they are told by hears of the
// acknowledgement and the resolution. rec says whom it reached, or why
// nobody.
func (m *Manager) page(ctx context.Context, pol *Policy, a *nightowl.Alert, kind nightowl.MessageKind, st *Step, rec *nightowl.StepRecord, now time.Time) []nightowl.Notification {
	people := m.opts.People
	if people == nil {
		rec.Note = "no people to page: this server keeps no users"
		return nil
	}
	user, who := st.User, st.User
	if st.Schedule != "" {
		var err error
		if user, err = people.OnCall(ctx, st.Schedule, now); err != nil {
			m.log.Error("find who is on call", "alert", a.ID, "schedule", st.Schedule, "err", err)
			rec.Note = "could not tell who is on call: " + nightowl.ErrorMessage(err)
			return nil
		}
		if user == "" {
			rec.Note = "nobody is on call in " + st.Schedule
			return nil
		}
		who = user + " (" + st.Schedule + ")"
	}
	rec.User = user
	reach, err := people.Reach(ctx, user)
	if err != nil {
		m.log.Error("read notification rules", "alert", a.ID, "user", user, "err", err)
		rec.Note = "could not read " + user + "'s contact methods: " + nightowl.ErrorMessage(err)
		return nil
	}
	if len(reach) == 0 {
		rec.Note = user + " has no verified contact method"
		return nil
	}
	rec.Contacts = len(reach)
	if !slices.Contains(a.OnCall, who) {
		a.OnCall = append(a.OnCall, who)
	}
	first := slices.MinFunc(reach, func(x, y Reach) int { return cmp.Compare(x.After, y.After) }).After
	var out []nightowl.Notification
	for _, r := range reach {
		if r.After == first && !slices.Contains(a.Notified, r.Receiver) {
			a.Notified = append(a.Notified, r.Receiver)
		}
	}
	for _, r := range reach {
		n := m.notification(pol, a, kind, r.Receiver, now)
		n.NextAt, n.UntilAck = now.Add(r.After), true
		out = append(out, n)
	}
	return out
}

func (m *Manager) notification(pol *Policy, a *nightowl.Alert, kind nightowl.MessageKind, receiver string, now time.Time) nightowl.Notification {
	msg := nightowl.Message{Kind: kind, Alert: *a}
	// The copy in the message need not carry the escalation's workings.
	msg.Alert.Notified, msg.Alert.NextAt, msg.Alert.Version = nil, time.Time{}, 0
	msg.Alert.UpdateAt, msg.Alert.UpdatedAt, msg.Alert.GroupKey = time.Time{}, time.Time{}, ""
	if base := m.opts.PublicURL; base != "" {
		msg.DashboardURL = base + dashboardPath + url.PathEscape(a.Check)
		if m.opts.Signer != nil {
			ttl := pol.AckLinkTTL
			if ttl <= 0 {
				ttl = DefaultAckLinkTTL
			}
			msg.AckURL = base + "/ack/" + url.PathEscape(a.ID) + "?" + m.opts.Signer.Query(a.ID, now.Add(ttl))
		}
	}
	return nightowl.Notification{AlertID: a.ID, Receiver: receiver, Message: msg, CreatedAt: now, NextAt: now}
}

// save writes next (the new version of prev, nil for a new alert) with out,
// and only then makes it the one in memory: an alert change that did not
// reach the store did not happen.
func (m *Manager) save(ctx context.Context, prev, next *nightowl.Alert, out []nightowl.Notification) error {
	if err := m.opts.Store.SaveAlert(ctx, next, out); err != nil {
		return err
	}
	m.mu.Lock()
	if next.Open() {
		if prev != nil {
			*prev = *next
		} else {
			m.open[next.Check] = next
		}
	} else {
		delete(m.open, next.Check)
	}
	m.mu.Unlock()
	if len(out) > 0 && m.opts.Queued != nil {
		m.opts.Queued()
	}
	if prev == nil && m.opts.Fired != nil {
		m.opts.Fired(*next)
	}
	m.poke()
	return nil
}

func (m *Manager) resolve(ctx context.Context, pol *Policy, a *nightowl.Alert) error {
	return m.resolveAs(ctx, pol, a, *a)
}

// resolveAs resolves a, the alert in memory, as b: a with changes that
// are written with its resolution.
func (m *Manager) resolveAs(ctx context.Context, pol *Policy, a *nightowl.Alert, b nightowl.Alert) error {
	now := m.clock.Now().UTC()
	b.State, b.ResolvedAt, b.NextAt, b.UpdateAt = nightowl.AlertResolved, now, time.Time{}, time.Time{}
	var out []nightowl.Notification
	if pol.SendResolved {
		for _, id := range b.Notified {
			out = append(out, m.notification(pol, &b, nightowl.MessageResolved, id, now))
		}
	}
	if err := m.save(ctx, a, &b, out); err != nil {
		return err
	}
	m.log.Info("alert resolved", "alert", b.ID, "check", b.Check, "notifications", len(out))
	return nil
}

// Ack acknowledges the alert with the given ID on behalf of by: its
// escalation stops, and everyone notified so far hears who took it; acked
// is true. Acknowledging an acknowledged alert changes nothing and returns
// it as it is, saying who acknowledged it and when, with acked false; a
// resolved one is a conflict.
//
// Acknowledging the alert that leads a group (group_by) acknowledges every
// alert of the group; each of those can also be acknowledged alone.
func (m *Manager) Ack(ctx context.Context, id, by string) (al nightowl.Alert, acked bool, err error) {
	al, acked, err = m.ackOne(ctx, id, by)
	if err != nil || !acked || !al.Leader {
		return al, acked, err
	}
	for _, check := range al.Grouped {
		m.mu.Lock()
		member := m.open[check]
		mid := ""
		if member != nil && member.Group == al.Group {
			mid = member.ID
		}
		m.mu.Unlock()
		if mid == "" {
			continue
		}
		if _, _, err := m.ackOne(ctx, mid, by); err != nil && nightowl.ErrorCode(err) != nightowl.EConflict {
			return al, acked, err
		}
	}
	return al, acked, nil
}

func (m *Manager) ackOne(ctx context.Context, id, by string) (al nightowl.Alert, acked bool, err error) {
	check := ""
	m.mu.Lock()
	for name, o := range m.open {
		if o.ID == id {
			check = name
			break
		}
	}
	m.mu.Unlock()
	var a *nightowl.Alert
	pol := &Policy{}
	if check == "" && m.opts.Owns != nil {
		// Another node runs the check: its alert is in the store only.
		if stored, err := m.opts.Store.Alert(ctx, id); err == nil && stored.Open() {
			check = stored.Check
		}
	}
	if check != "" {
		var unlock func()
		unlock, pol, a = m.lock(check)
		defer unlock()
		if m.opts.Owns != nil && !m.opts.Owns(check) && a != nil {
			// Another node runs the check: only the store knows its
			// alert as it is now, and without it there is no telling
			// (current falls back to this node's copy).
			if _, err := m.opts.Store.Alert(ctx, a.ID); err != nil {
				return nightowl.Alert{}, false, err
			}
		}
		a = m.current(ctx, a)
		if a == nil && m.opts.Owns != nil {
			if stored, err := m.opts.Store.Alert(ctx, id); err == nil && stored.Open() {
				a = m.adopt(&stored)
			}
		}
		if a != nil && a.ID != id {
			a = nil // resolved meanwhile, and another fired
		}
	}
	// Should another node change the alert between this node's read and
	// its write, the write loses and the acknowledgement is decided again
	// from the alert as stored: when that node acknowledged it, this
	// returns its acknowledgement, and only one is ever told.
	err = m.redo(ctx, a, func(a *nightowl.Alert) error {
		al, acked, err = m.ack(ctx, pol, id, by, a)
		return err
	})
	return al, acked, err
}

// ack is Ack's decision for the open alert a, nil when it is resolved.
// Called with the alert's check locked, if any.
func (m *Manager) ack(ctx context.Context, pol *Policy, id, by string, a *nightowl.Alert) (nightowl.Alert, bool, error) {
	if a == nil {
		stored, err := m.opts.Store.Alert(ctx, id)
		if err != nil {
			return nightowl.Alert{}, false, err
		}
		return stored, false, nightowl.Errorf(nightowl.EConflict, "alert %s is resolved: there is nothing to acknowledge", id)
	}
	if a.State == nightowl.AlertAcknowledged {
		return *a, false, nil
	}
	now := m.clock.Now().UTC()
	b := *a
	b.State, b.AckedAt, b.AckedBy, b.NextAt = nightowl.AlertAcknowledged, now, strings.TrimSpace(by), time.Time{}
	if b.AckedBy == "" {
		b.AckedBy = "someone"
	}
	var out []nightowl.Notification
	for _, rid := range b.Notified {
		out = append(out, m.notification(pol, &b, nightowl.MessageAcknowledged, rid, now))
	}
	if err := m.save(ctx, a, &b, out); err != nil {
		return nightowl.Alert{}, false, err
	}
	m.log.Info("alert acknowledged", "alert", b.ID, "check", b.Check, "by", b.AckedBy)
	return b, true, nil
}

// maxRedo bounds how often a change that lost to another write of its
// alert is decided again: each time another node wrote in between, which
// a few times in a row it does not.
const maxRedo = 3

// redo runs change on the check's open alert a (nil for none) and, when
// its write lost to another write of the alert (a conflict), reads the
// alert back from the store, adopts it, and runs change again on it: nil
// if it was resolved meanwhile. Called with the check locked.
func (m *Manager) redo(ctx context.Context, a *nightowl.Alert, change func(a *nightowl.Alert) error) error {
	for try := 0; ; try++ {
		err := change(a)
		if a == nil || try == maxRedo || nightowl.ErrorCode(err) != nightowl.EConflict {
			return err
		}
		if a, err = m.reload(ctx, a); err != nil {
			return err
		}
	}
}

// reload reads a back from the store and makes the stored alert the one in
// memory; it returns nil when the alert is resolved. Called with the
// check locked.
func (m *Manager) reload(ctx context.Context, a *nightowl.Alert) (*nightowl.Alert, error) {
	stored, err := m.opts.Store.Alert(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !stored.Open() {
		if m.open[a.Check] == a {
			delete(m.open, a.Check)
		}
		return nil, nil
	}
	*a = stored
	if m.open[a.Check] == nil {
		m.open[a.Check] = a
	}
	return a, nil
}

// current returns the check's open alert as the store has it, when other
// nodes share the store and may have changed it; a, the one in memory,
// otherwise. Called with the check locked.
func (m *Manager) current(ctx context.Context, a *nightowl.Alert) *nightowl.Alert {
	if m.opts.Owns == nil || a == nil {
		return a
	}
	stored, err := m.opts.Store.Alert(ctx, a.ID)
	if err != nil {
		// The store is unreachable: act on what this node knows.
		return a
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !stored.Open() {
		if m.open[a.Check] == a {
			delete(m.open, a.Check)
		}
		return nil
	}
	*a = stored
	return a
}

// adopt makes a stored open alert the one in memory for its check.
// Called with the check locked.
func (m *Manager) adopt(stored *nightowl.Alert) *nightowl.Alert {
	m.mu.Lock()
	defer m.mu.Unlock()
	if cur := m.open[stored.Check]; cur != nil {
		*cur = *stored
		return cur
	}
	b := *stored
	m.open[b.Check] = &b
	return &b
}

// Adopt loads the open alerts of checks from the store: this node has just
// taken them over from another, which may have opened, escalated or
// resolved their alerts since this node last knew.
func (m *Manager) Adopt(ctx context.Context, checks []string) error {
	if len(checks) == 0 {
		return nil
	}
	alerts, err := m.opts.Store.Alerts(ctx, nightowl.AlertQuery{Open: true})
	if err != nil {
		return err
	}
	want := make(map[string]bool, len(checks))
	for _, c := range checks {
		want[c] = true
	}
	latest := map[string]nightowl.Alert{}
	for _, a := range alerts {
		if want[a.Check] && (latest[a.Check].ID == "" || a.StartsAt.After(latest[a.Check].StartsAt)) {
			latest[a.Check] = a
		}
	}
	for _, c := range checks {
		unlock, _, _ := m.lock(c)
		if a, ok := latest[c]; ok {
			m.adopt(&a)
		} else {
			m.mu.Lock()
			delete(m.open, c)
			m.mu.Unlock()
		}
		unlock()
	}
	m.poke()
	return nil
}

// Open returns the open alerts, oldest first.
func (m *Manager) Open() []nightowl.Alert {
	m.mu.Lock()
	out := make([]nightowl.Alert, 0, len(m.open))
	for _, a := range m.open {
		out = append(out, *a)
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b nightowl.Alert) int { return a.StartsAt.Compare(b.StartsAt) })
	return out
}

// Escalate sends every escalation step that is due, and returns when the
// next one falls due (zero when none is waiting).
func (m *Manager) Escalate(ctx context.Context) (time.Time, error) {
	now := m.clock.Now().UTC()
	var next time.Time
	later := func(t time.Time) {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	var due []string
	m.mu.Lock()
	for name, a := range m.open {
		if m.opts.Owns != nil && !m.opts.Owns(name) {
			continue
		}
		at := nextDue(a)
		switch {
		case at.IsZero():
		case at.After(now):
			later(at)
		default:
			due = append(due, name)
		}
	}
	m.mu.Unlock()
	var firstErr error
	for _, name := range due {
		// Each step is read back and written within its own bound: a
		// hung store delays the next step, it does not stop escalation.
		unlock, pol, a := m.lock(name)
		sctx, cancel := context.WithTimeout(ctx, storeTimeout)
		// Another node may acknowledge the alert between the read and
		// the write: the step then loses, and is decided again from the
		// acknowledged alert, which wants none.
		err := m.redo(sctx, m.current(sctx, a), func(a *nightowl.Alert) error {
			if a == nil {
				return nil // resolved meanwhile
			}
			if at := nextDue(a); at.IsZero() || at.After(now) {
				// Acknowledged meanwhile, or its step was taken.
				later(at)
				return nil
			}
			b := *a
			b.Notified = slices.Clone(a.Notified)
			var out []nightowl.Notification
			if !b.UpdateAt.IsZero() && !b.UpdateAt.After(now) {
				// Those told before this pass hear what changed; a
				// receiver this pass's step adds hears it all at once.
				out = m.update(pol, &b, now)
			}
			if b.State == nightowl.AlertFiring && !b.NextAt.IsZero() && !b.NextAt.After(now) {
				told := len(b.Notified)
				out = append(out, m.escalate(sctx, pol, &b, now)...)
				if told == 0 {
					// The first message, held for group_wait, lists
					// every check blocked by then.
					b.UpdateAt = time.Time{}
				}
			}
			if err := m.save(sctx, a, &b, out); err != nil {
				return err
			}
			later(nextDue(&b))
			return nil
		})
		if err != nil {
			m.log.Error("escalate alert", "alert", a.ID, "err", err)
			if firstErr == nil {
				firstErr = err
			}
			// Tried again at the next pass: the store may be back.
			later(now.Add(retryStoreAfter))
		}
		unlock()
		cancel()
	}
	return next, firstErr
}

// nextDue is when the alert next needs the escalation loop: its next
// escalation step while it is firing, or an update; zero for never.
func nextDue(a *nightowl.Alert) time.Time {
	var at time.Time
	if a.State == nightowl.AlertFiring && !a.NextAt.IsZero() {
		at = a.NextAt
	}
	if !a.UpdateAt.IsZero() && (at.IsZero() || a.UpdateAt.Before(at)) {
		at = a.UpdateAt
	}
	return at
}

// dashboardPath is where a check's page on the admin dashboard is, under
// server.public_url.
const dashboardPath = "/admin/checks/"

// retryStoreAfter is how soon an escalation that could not be written is
// tried again.
const retryStoreAfter = 5 * time.Second

// storeTimeout bounds each write the escalation loop and the sender make
// outside a caller's request (an escalation step, a claim, the outcome of
// a send): each takes milliseconds, and a store that has not answered in
// this time hangs. What failed is tried again: the step after
// retryStoreAfter, a claim at the next pass, a send whose outcome was not
// recorded once its lease ends.
const storeTimeout = 5 * time.Second

// Run escalates alerts as their steps fall due, until ctx ends.
func (m *Manager) Run(ctx context.Context) {
	for {
		next, _ := m.Escalate(ctx)
		var due <-chan time.Time
		if !next.IsZero() {
			due = m.clock.After(max(0, next.Sub(m.clock.Now())))
		}
		select {
		case <-ctx.Done():
			return
		case <-m.kick:
		case <-due:
		}
	}
}
