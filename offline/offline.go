// Package offline keeps nightowl working while its store cannot be reached.
// Its Store wraps another: what the other refuses because it is unreachable
// (an event, an alert change and the notifications it queues, the outcome
// of a send) is kept in memory, the notifications kept are claimed and
// sent from there, and Run writes everything back, in the order it came,
// once the store answers again. Any store will do; Options.Unavailable
// tells its outages from its other errors (postgres.Unavailable does for
// PostgreSQL). A store that hangs instead of refusing is unreachable too:
// each write is given writeTimeout, and one that runs out of time is kept
// like one refused.
//
// What is kept lives in this process only: it survives an outage of the
// store, not a crash of the node.
package offline

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/nightowl/nightowl"
)

// Inner is what Store wraps: the two interfaces it keeps working.
type Inner interface {
	nightowl.Store
	nightowl.AlertStore
}

// Options configure a Store. Every field but Store has a usable zero value.
type Options struct {
	Store Inner // required
	// Unavailable says whether an error of Store means that it cannot be
	// reached now, so that what failed can be kept and written later.
	// Whatever it says, a write that ran out of time
	// (context.DeadlineExceeded) counts as one; when nil, only that does.
	Unavailable func(error) bool
	Clock       nightowl.Clock // nightowl.SystemClock when nil
	Logger      *slog.Logger   // slog.Default() when nil
}

const (
	// retryEvery is how often Run tries the store again while it does
	// not answer.
	retryEvery = 2 * time.Second
	// holdBack keeps a notification sent while the store was away from
	// being claimed in the moment between its write-back, which queues
	// it as pending, and the outcome that follows. Should the outcome be
	// lost (the node died in that moment) it is sent once more after
	// holdBack: at least once, as everywhere in the outbox.
	holdBack = time.Hour
	// maxTries bounds how often a write the store refuses for a reason
	// other than an outage is tried before it is given up on, so that one
	// bad record cannot hold back everything kept after it.
	maxTries = 5
	// keepMapped is how long the real ID of a notification written back
	// is remembered, for the outcome of a send that outlived its lease.
	keepMapped = time.Hour
	// writeTimeout is how long the inner store is given for one write
	// (an event, an alert change, a claim, an outcome) before it counts
	// as unreachable. Each takes milliseconds; a store that has not
	// answered in a few seconds hangs, and what waits for it (an engine
	// worker, the sender) goes on from memory instead.
	writeTimeout = 5 * time.Second
)

// Store is a nightowl.Store and nightowl.AlertStore that keeps working from
// memory while the store it wraps is unreachable. It is safe for concurrent
// use.
type Store struct {
	inner       Inner
	unavailable func(error) bool
	clock       nightowl.Clock
	log         *slog.Logger

	// wake tells Run that something was kept, or that a send it waits
	// for has ended.
	wake chan struct{}
	// drainMu lets one Drain run at a time.
	drainMu sync.Mutex

	mu sync.Mutex
	// queue holds the events and alert changes not yet written, oldest
	// first; an entry leaves it once written.
	queue []*entry
	// finishes are outcomes of sends of notifications the inner store
	// holds, at most one per notification: the latest.
	finishes []*nightowl.Notification
	// alerts are the newest kept versions of alerts, by ID; they are what
	// Alert and Alerts answer until written.
	alerts map[string]*keptAlert
	// notes are the notifications kept, by their negative IDs.
	notes  map[int64]*note
	lastID int64
	// mapped gives the real ID of a kept notification once written back.
	mapped map[int64]mappedID
	// moved gives, by alert ID, the version an alert written back over
	// another node's change has in the inner store, in place of the one
	// its kept change promised the caller.
	moved map[string]movedVersion
	// down is set when an outage begins and cleared when everything kept
	// is written; kept counts what was kept during it.
	down      bool
	downSince time.Time
	kept      struct{ events, alerts, notifications int }
}

// entry is one event or alert change waiting to be written.
type entry struct {
	event *nightowl.Event
	alert *nightowl.Alert
	notes []*note
	// writing is set while Drain writes the entry: its notifications are
	// not claimed meanwhile, or another node could claim them too.
	writing bool
	tries   int
}

// note is a notification kept in memory, with the lease of a send from it.
type note struct {
	n     nightowl.Notification
	entry *entry
	owner string
	until time.Time
	// finished is set once a send ended: its outcome is written back
	// after the notification.
	finished bool
}

type keptAlert struct {
	a    nightowl.Alert
	refs int // entries of the queue that hold a version of it
}

type movedVersion struct {
	from, to int64
	at       time.Time
}

type mappedID struct {
	id int64
	at time.Time
}

var (
	_ nightowl.Store      = (*Store)(nil)
	_ nightowl.AlertStore = (*Store)(nil)
)

// New returns a Store over opts.Store.
func New(opts Options) *Store {
	s := &Store{
		inner:       opts.Store,
		unavailable: timedOut(opts.Unavailable),
		clock:       opts.Clock,
		log:         opts.Logger,
		wake:        make(chan struct{}, 1),
		alerts:      make(map[string]*keptAlert),
		notes:       make(map[int64]*note),
		mapped:      make(map[int64]mappedID),
		moved:       make(map[string]movedVersion),
	}
	if s.clock == nil {
		s.clock = nightowl.SystemClock{}
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	return s
}

// timedOut returns unavailable, extended to writes that ran out of time.
func timedOut(unavailable func(error) bool) func(error) bool {
	return func(err error) bool {
		return errors.Is(err, context.DeadlineExceeded) || (unavailable != nil && unavailable(err))
	}
}

// Unwrap returns the store s wraps.
func (s *Store) Unwrap() Inner { return s.inner }

// Spooled counts what is kept in memory: events, alert changes, and
// notifications plus outcomes of sends not yet written.
func (s *Store) Spooled() (events, alerts, notifications int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.queue {
		if e.event != nil {
			events++
		} else {
			alerts++
		}
	}
	return events, alerts, len(s.notes) + len(s.finishes)
}

func (s *Store) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// outage notes that the inner store failed with err, an unavailability.
// Called with mu held.
func (s *Store) outage(err error) {
	if s.down {
		return
	}
	s.down, s.downSince = true, s.clock.Now()
	s.kept = struct{ events, alerts, notifications int }{}
	s.log.Warn("store unreachable: events, alerts and notifications are kept in memory until it is back", "err", err)
}

// answered notes that the inner store answered; the outage is over once
// nothing kept is left to write. Called with mu held.
func (s *Store) answered() {
	if !s.down || len(s.queue) > 0 || len(s.finishes) > 0 {
		return
	}
	s.down = false
	s.log.Info("store reachable again: everything kept in memory is written",
		"events", s.kept.events, "alerts", s.kept.alerts, "notifications", s.kept.notifications,
		"down_for", s.clock.Now().Sub(s.downSince).Round(time.Second))
}

func (s *Store) ok() {
	s.mu.Lock()
	s.answered()
	s.mu.Unlock()
}

// push adds e to the queue. Called with mu held.
func (s *Store) push(e *entry) {
	s.queue = append(s.queue, e)
	s.poke()
}

// AddEvent records e in the inner store, or keeps it when that is
// unreachable or events and alert changes are already kept, so that they
// are written in order. A kept event is returned as given, without an ID.
func (s *Store) AddEvent(ctx context.Context, e nightowl.Event) (nightowl.Event, error) {
	if e.Check == "" {
		return e, nightowl.Errorf(nightowl.EInvalid, "event has no check")
	}
	s.mu.Lock()
	queued := len(s.queue) > 0
	s.mu.Unlock()
	if !queued {
		wctx, cancel := context.WithTimeout(ctx, writeTimeout)
		stored, err := s.inner.AddEvent(wctx, e)
		cancel()
		if err == nil {
			s.ok()
		}
		if err == nil || !s.unavailable(err) {
			return stored, err
		}
		s.mu.Lock()
		s.outage(err)
		s.mu.Unlock()
	}
	if e.Time.IsZero() {
		// When it happened, not when it is written back.
		e.Time = s.clock.Now()
	}
	e.Time = e.Time.UTC()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.push(&entry{event: &e})
	s.kept.events++
	return e, nil
}

// SaveAlert saves a with out in the inner store, or keeps both when that is
// unreachable or anything is already kept. Kept notifications get negative
// IDs, unique in this process: the Idempotency-Key of their sends stays the
// same until they are written back, since the sends go on from memory. A
// kept change moves a.Version on as a write would; it is written back over
// the version it was made at (see Drain).
func (s *Store) SaveAlert(ctx context.Context, a *nightowl.Alert, out []nightowl.Notification) error {
	if a.ID == "" || a.Check == "" {
		return nightowl.Errorf(nightowl.EInvalid, "alert has no id or check")
	}
	s.mu.Lock()
	queued := len(s.queue) > 0
	s.movedTo(a)
	s.mu.Unlock()
	if !queued {
		wctx, cancel := context.WithTimeout(ctx, writeTimeout)
		err := s.inner.SaveAlert(wctx, a, out)
		cancel()
		if err == nil {
			s.mu.Lock()
			delete(s.moved, a.ID)
			s.mu.Unlock()
			s.ok()
		}
		if err == nil || !s.unavailable(err) {
			return err
		}
		s.mu.Lock()
		s.outage(err)
		s.mu.Unlock()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	snap := cloneAlert(*a)
	e := &entry{alert: &snap}
	for i := range out {
		s.lastID--
		n := cloneNotification(out[i])
		n.ID, n.AlertID, n.State = s.lastID, a.ID, nightowl.NotificationPending
		n.Attempts, n.SentAt, n.Error = 0, time.Time{}, ""
		nt := &note{n: n, entry: e}
		s.notes[n.ID] = nt
		e.notes = append(e.notes, nt)
		out[i].ID, out[i].AlertID, out[i].State = n.ID, a.ID, nightowl.NotificationPending
	}
	ka := s.alerts[a.ID]
	if ka == nil {
		ka = &keptAlert{}
		s.alerts[a.ID] = ka
	}
	ka.a = snap
	ka.a.Version++
	ka.refs++
	a.Version++
	s.push(e)
	s.kept.alerts++
	s.kept.notifications += len(out)
	return nil
}

// Alert returns the kept version of the alert when there is one: it is
// newer than the inner store's.
func (s *Store) Alert(ctx context.Context, id string) (nightowl.Alert, error) {
	s.mu.Lock()
	if ka := s.alerts[id]; ka != nil {
		a := cloneAlert(ka.a)
		s.mu.Unlock()
		return a, nil
	}
	s.mu.Unlock()
	return s.inner.Alert(ctx, id)
}

// Alerts returns what the inner store selects, with the kept versions of
// alerts in place of the stored ones. It fails while the inner store does:
// the alerts kept are only those changed meanwhile, and a caller that took
// them for all would forget the others.
func (s *Store) Alerts(ctx context.Context, q nightowl.AlertQuery) ([]nightowl.Alert, error) {
	stored, err := s.inner.Alerts(ctx, q)
	if err != nil {
		return stored, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.alerts) == 0 {
		return stored, nil
	}
	match := func(a *nightowl.Alert) bool {
		return (!q.Open || a.Open()) && (q.Check == "" || a.Check == q.Check)
	}
	seen := make(map[string]bool, len(s.alerts))
	out := stored[:0]
	for _, a := range stored {
		if ka := s.alerts[a.ID]; ka != nil {
			seen[a.ID] = true
			if a = cloneAlert(ka.a); !match(&a) {
				continue
			}
		}
		out = append(out, a)
	}
	for id, ka := range s.alerts {
		if !seen[id] && match(&ka.a) {
			out = append(out, cloneAlert(ka.a))
		}
	}
	// Newest first, as the stores order them.
	slices.SortStableFunc(out, func(a, b nightowl.Alert) int {
		if c := b.StartsAt.Compare(a.StartsAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	if q.Limit > 0 && !q.Open && len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out, nil
}

// claimable says whether n may be claimed at now. Called with mu held.
func (n *note) claimable(now time.Time) bool {
	return !n.entry.writing && n.n.State == nightowl.NotificationPending &&
		!n.n.NextAt.After(now) && !n.leased(now)
}

func (n *note) leased(now time.Time) bool {
	return n.owner != "" && n.until.After(now)
}

// ClaimNotifications claims the kept notifications that are due first,
// leasing them in memory, then as many as are still wanted from the inner
// store. While that is unreachable, the kept ones are returned alone.
func (s *Store) ClaimNotifications(ctx context.Context, owner string, now time.Time, limit int, lease time.Duration) ([]nightowl.Notification, error) {
	if limit <= 0 {
		return s.inner.ClaimNotifications(ctx, owner, now, limit, lease)
	}
	s.mu.Lock()
	var due []*note
	for _, n := range s.notes {
		if n.claimable(now) {
			due = append(due, n)
		}
	}
	slices.SortFunc(due, func(a, b *note) int {
		if c := a.n.NextAt.Compare(b.n.NextAt); c != 0 {
			return c
		}
		return cmp.Compare(b.n.ID, a.n.ID) // the older has the ID nearer zero
	})
	var out []nightowl.Notification
	for _, n := range due[:min(len(due), limit)] {
		n.owner, n.until = owner, now.Add(lease)
		n.n.Attempts++
		out = append(out, cloneNotification(n.n))
	}
	// An unreachable store may take its time to say so: what memory
	// holds is not kept waiting for it.
	skip := s.down && len(out) > 0
	s.mu.Unlock()
	if len(out) == limit || skip {
		return out, nil
	}
	wctx, cancel := context.WithTimeout(ctx, writeTimeout)
	more, err := s.inner.ClaimNotifications(wctx, owner, now, limit-len(out), lease)
	cancel()
	switch {
	case err == nil:
		s.ok()
	case s.unavailable(err):
		s.mu.Lock()
		s.outage(err)
		s.mu.Unlock()
		return out, nil
	case len(out) > 0:
		// The claimed ones are leased and must be sent: the caller gets
		// them, the error goes to the log.
		s.log.Error("claim notifications", "err", err)
		return out, nil
	default:
		return nil, err
	}
	return append(out, more...), nil
}

// ReleaseClaims ends the leases owner holds, in memory and in the inner
// store; while that is unreachable its leases end on their own.
func (s *Store) ReleaseClaims(ctx context.Context, owner string) error {
	s.mu.Lock()
	for _, n := range s.notes {
		if n.owner == owner && n.n.State == nightowl.NotificationPending {
			n.owner, n.until = "", time.Time{}
		}
	}
	s.mu.Unlock()
	wctx, cancel := context.WithTimeout(ctx, writeTimeout)
	err := s.inner.ReleaseClaims(wctx, owner)
	cancel()
	if err != nil && s.unavailable(err) {
		s.mu.Lock()
		s.outage(err)
		s.mu.Unlock()
		return nil
	}
	return err
}

// FinishNotification records the outcome of a send: in memory for a kept
// notification, in the inner store otherwise, or kept for later when that
// is unreachable.
func (s *Store) FinishNotification(ctx context.Context, n *nightowl.Notification) error {
	if n.ID >= 0 {
		return s.finish(ctx, n)
	}
	s.mu.Lock()
	if nt := s.notes[n.ID]; nt != nil {
		nt.n.State, nt.n.NextAt, nt.n.SentAt, nt.n.Error = n.State, n.NextAt, n.SentAt, n.Error
		nt.owner, nt.until, nt.finished = "", time.Time{}, true
		s.mu.Unlock()
		// Drain may be waiting for this send.
		s.poke()
		return nil
	}
	m, ok := s.mapped[n.ID]
	s.mu.Unlock()
	if !ok {
		return nightowl.Errorf(nightowl.ENotFound, "no notification %d", n.ID)
	}
	// Written back while its send went on.
	r := *n
	r.ID = m.id
	return s.finish(ctx, &r)
}

func (s *Store) finish(ctx context.Context, n *nightowl.Notification) error {
	s.mu.Lock()
	if s.replaceFinish(n) {
		s.mu.Unlock()
		return nil
	}
	s.mu.Unlock()
	wctx, cancel := context.WithTimeout(ctx, writeTimeout)
	err := s.inner.FinishNotification(wctx, n)
	cancel()
	if err == nil {
		s.ok()
	}
	if err == nil || !s.unavailable(err) {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outage(err)
	if !s.replaceFinish(n) {
		c := *n
		s.finishes = append(s.finishes, &c)
		s.kept.notifications++
		s.poke()
	}
	return nil
}

// replaceFinish puts n in the place of a kept outcome of the same
// notification, and reports whether there was one: replayed after n, the
// older would undo it. Called with mu held.
func (s *Store) replaceFinish(n *nightowl.Notification) bool {
	for i, f := range s.finishes {
		if f.ID == n.ID {
			c := *n
			s.finishes[i] = &c
			return true
		}
	}
	return false
}

// Run writes back what is kept whenever there is something, until ctx
// ends; while the inner store does not answer it tries every few seconds.
func (s *Store) Run(ctx context.Context) {
	for {
		var retry <-chan time.Time
		wake := s.wake
		if s.pending() {
			err := s.Drain(ctx)
			switch {
			case ctx.Err() != nil:
				return
			case err != nil:
				// Being told of each new thing kept would only ask the
				// unreachable store again at once.
				wake = nil
			}
			if s.pending() {
				retry = s.clock.After(retryEvery)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-retry:
		}
	}
}

func (s *Store) pending() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue) > 0 || len(s.finishes) > 0
}

// Drain writes back what is kept, oldest first, until it is all written,
// the inner store fails for unavailability (whose error it returns), or it
// reaches an alert change with a notification being sent from memory: that
// change waits for the send to end, since once written the notification
// could be claimed by another node and sent twice. Kept outcomes of sends
// of stored notifications go first: such a notification is leased in the
// inner store only until a while after its send began, and is sent again
// if its lease ends before its outcome is written.
func (s *Store) Drain(ctx context.Context) error {
	s.drainMu.Lock()
	defer s.drainMu.Unlock()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		more, err := s.drainOne(ctx)
		if err != nil {
			return err
		}
		if !more {
			break
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	for id, m := range s.mapped {
		if now.Sub(m.at) > keepMapped {
			delete(s.mapped, id)
		}
	}
	for id, m := range s.moved {
		if now.Sub(m.at) > keepMapped {
			delete(s.moved, id)
		}
	}
	s.answered()
	return nil
}

// drainOne writes the oldest thing kept and reports whether there may be
// more to write now.
func (s *Store) drainOne(ctx context.Context) (bool, error) {
	s.mu.Lock()
	if len(s.finishes) > 0 {
		f := s.finishes[0]
		c := *f
		s.mu.Unlock()
		wctx, cancel := context.WithTimeout(ctx, writeTimeout)
		err := s.inner.FinishNotification(wctx, &c)
		cancel()
		if err = s.failed(ctx, err, nil, "record notification outcome", "notification", c.ID); err != nil {
			return false, err
		}
		s.mu.Lock()
		// Replaced by a newer outcome meanwhile, it is written next.
		if len(s.finishes) > 0 && s.finishes[0] == f {
			s.finishes = s.finishes[1:]
		}
		s.mu.Unlock()
		return true, nil
	}
	if len(s.queue) == 0 {
		s.mu.Unlock()
		return false, nil
	}
	e := s.queue[0]
	if e.event != nil {
		ev := *e.event
		s.mu.Unlock()
		wctx, cancel := context.WithTimeout(ctx, writeTimeout)
		_, err := s.inner.AddEvent(wctx, ev)
		cancel()
		if err = s.failed(ctx, err, e, "write back event", "check", ev.Check); err != nil {
			return false, err
		}
		s.mu.Lock()
		s.pop(e)
		s.mu.Unlock()
		return true, nil
	}
	now := s.clock.Now()
	for _, n := range e.notes {
		if n.leased(now) {
			s.mu.Unlock()
			return false, nil
		}
	}
	e.writing = true
	a := cloneAlert(*e.alert)
	out := make([]nightowl.Notification, len(e.notes))
	for i, n := range e.notes {
		out[i] = cloneNotification(n.n)
		out[i].ID = 0
		switch {
		case n.n.State != nightowl.NotificationPending:
			out[i].NextAt = now.Add(holdBack)
		case n.finished:
			out[i].NextAt = n.n.NextAt // the retry's time
		}
	}
	promised := a.Version + 1 // what the caller was given
	s.movedTo(&a)
	s.mu.Unlock()
	err := s.writeBack(ctx, &a, out)
	if err != nil {
		s.mu.Lock()
		e.writing = false
		s.mu.Unlock()
		if err := s.failed(ctx, err, e, "write back alert", "alert", a.ID); err != nil {
			return false, err
		}
		s.mu.Lock()
		s.pop(e)
		s.mu.Unlock()
		return true, nil
	}
	s.mu.Lock()
	if a.Version != promised {
		s.moved[a.ID] = movedVersion{from: promised, to: a.Version, at: now}
	} else {
		delete(s.moved, a.ID)
	}
	var outcomes []nightowl.Notification
	for i, n := range e.notes {
		s.mapped[n.n.ID] = mappedID{id: out[i].ID, at: now}
		// Read now, not before the write: a send that outlived its lease
		// may have ended meanwhile.
		if n.finished {
			o := n.n
			o.ID = out[i].ID
			outcomes = append(outcomes, o)
		}
	}
	s.pop(e)
	s.mu.Unlock()
	for i := range outcomes {
		wctx, cancel := context.WithTimeout(ctx, writeTimeout)
		err := s.inner.FinishNotification(wctx, &outcomes[i])
		cancel()
		if err != nil && (s.unavailable(err) || ctx.Err() != nil) {
			s.mu.Lock()
			if s.unavailable(err) {
				s.outage(err)
			}
			rest := make([]*nightowl.Notification, 0, len(outcomes)-i+len(s.finishes))
			for j := i; j < len(outcomes); j++ {
				rest = append(rest, &outcomes[j])
			}
			s.finishes = append(rest, s.finishes...)
			s.mu.Unlock()
			return false, err
		}
		if err != nil {
			s.log.Error("write back notification outcome", "notification", outcomes[i].ID, "err", err)
		}
	}
	return true, nil
}

// movedTo gives a the version its alert has in the inner store when a
// write-back moved it past the one a was given. Called with mu held.
func (s *Store) movedTo(a *nightowl.Alert) {
	if m, ok := s.moved[a.ID]; ok && a.Version == m.from {
		a.Version = m.to
	}
}

// maxWriteBack bounds how often a write-back is tried again over a
// version read anew.
const maxWriteBack = 3

// writeBack writes a kept alert change. It is written over the version it
// was made at; when the alert was changed meanwhile, by another node while
// this one could not reach the store (or by this one's own write that
// ran out of time and landed after all), the change kept here is written
// over the stored one all the same: of changes made on two nodes at once
// the one written last stays, as it did before versions were counted.
// The notifications kept with it are queued in any case: they may have
// been sent from memory already, and their outcomes are written after them.
func (s *Store) writeBack(ctx context.Context, a *nightowl.Alert, out []nightowl.Notification) error {
	var err error
	for range maxWriteBack {
		wctx, cancel := context.WithTimeout(ctx, writeTimeout)
		err = s.inner.SaveAlert(wctx, a, out)
		cancel()
		if nightowl.ErrorCode(err) != nightowl.EConflict {
			return err
		}
		wctx, cancel = context.WithTimeout(ctx, writeTimeout)
		stored, rerr := s.inner.Alert(wctx, a.ID)
		cancel()
		switch {
		case nightowl.ErrorCode(rerr) == nightowl.ENotFound:
			a.Version = 0
		case rerr != nil:
			return rerr
		default:
			a.Version = stored.Version
		}
	}
	// Changed again at every try: a plain error, to be tried again later
	// rather than given up on as a refusal.
	return fmt.Errorf("write back alert %s: changed at each of %d tries: %v", a.ID, maxWriteBack, err)
}

// failed decides what becomes of a write back that ended with err: nil
// when it succeeded, or when it is given up on (and e, if any, is to be
// dropped); the error, to stop Drain, when it is worth trying again later.
func (s *Store) failed(ctx context.Context, err error, e *entry, what string, args ...any) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return err
	}
	if s.unavailable(err) {
		s.mu.Lock()
		s.outage(err)
		s.mu.Unlock()
		return err
	}
	var de *nightowl.Error
	tries := maxTries
	if e != nil && !errors.As(err, &de) {
		s.mu.Lock()
		e.tries++
		tries = e.tries
		s.mu.Unlock()
	}
	if tries < maxTries {
		s.log.Error(what+": will try again", append(args, "err", err)...)
		return err
	}
	// The store refuses it for good: holding it would hold back
	// everything kept after it.
	s.log.Error(what+": given up", append(args, "err", err)...)
	return nil
}

// pop removes e, written or given up on, from the front of the queue and
// forgets what it kept. Called with mu held.
func (s *Store) pop(e *entry) {
	if len(s.queue) == 0 || s.queue[0] != e {
		return
	}
	s.queue[0] = nil
	s.queue = s.queue[1:]
	if e.alert == nil {
		return
	}
	for _, n := range e.notes {
		delete(s.notes, n.n.ID)
	}
	if ka := s.alerts[e.alert.ID]; ka != nil {
		if ka.refs--; ka.refs <= 0 {
			delete(s.alerts, e.alert.ID)
		}
	}
}

// cloneAlert copies what an alert shares by reference, so that a kept
// version does not change with the caller's.
func cloneAlert(a nightowl.Alert) nightowl.Alert {
	a.Labels = maps.Clone(a.Labels)
	a.Failed = slices.Clone(a.Failed)
	a.Notified = slices.Clone(a.Notified)
	return a
}

func cloneNotification(n nightowl.Notification) nightowl.Notification {
	n.Message.Alert = cloneAlert(n.Message.Alert)
	return n
}

// What follows is the inner store's, unchanged: results, states, pings and
// heartbeats are queued and retried by the inner store's own writer, and
// reads fail while it is unreachable.

func (s *Store) SaveResult(r nightowl.Result)       { s.inner.SaveResult(r) }
func (s *Store) CountResult(r nightowl.Result)      { s.inner.CountResult(r) }
func (s *Store) SaveState(st nightowl.State)        { s.inner.SaveState(st) }
func (s *Store) SavePing(p nightowl.Ping)           { s.inner.SavePing(p) }
func (s *Store) SaveHeartbeat(h nightowl.Heartbeat) { s.inner.SaveHeartbeat(h) }
func (s *Store) Flush(ctx context.Context) error    { return s.inner.Flush(ctx) }
func (s *Store) Forget(ctx context.Context, checks []string) error {
	return s.inner.Forget(ctx, checks)
}

func (s *Store) States(ctx context.Context) ([]nightowl.State, error) { return s.inner.States(ctx) }

func (s *Store) Results(ctx context.Context, check string, limit int) ([]nightowl.Result, error) {
	return s.inner.Results(ctx, check, limit)
}

func (s *Store) Events(ctx context.Context, check string, limit int) ([]nightowl.Event, error) {
	return s.inner.Events(ctx, check, limit)
}

func (s *Store) Rollups(ctx context.Context, check string, p nightowl.Period, since time.Time) ([]nightowl.Rollup, error) {
	return s.inner.Rollups(ctx, check, p, since)
}

func (s *Store) Pings(ctx context.Context, check string, limit int) ([]nightowl.Ping, error) {
	return s.inner.Pings(ctx, check, limit)
}

func (s *Store) Heartbeats(ctx context.Context) ([]nightowl.Heartbeat, error) {
	return s.inner.Heartbeats(ctx)
}

func (s *Store) Notifications(ctx context.Context, q nightowl.NotificationQuery) ([]nightowl.Notification, error) {
	return s.inner.Notifications(ctx, q)
}

func (s *Store) OutboxStats(ctx context.Context) ([]nightowl.OutboxStats, error) {
	return s.inner.OutboxStats(ctx)
}

func (s *Store) Secret(ctx context.Context, name string, size int) ([]byte, error) {
	return s.inner.Secret(ctx, name, size)
}

// Close closes the inner store. What is still kept is lost with the
// process: Drain first, with a deadline, to write it while the store
// answers.
func (s *Store) Close() error { return s.inner.Close() }
