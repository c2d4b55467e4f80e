package oncall

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"log/slog"
	"slices"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/nightowl/nightowl"
)

// Roster is the schedules as they are now: the config's, with the
// overrides people added through the API, the command line or the
// dashboard (kept in the store) above the config's own overrides and
// layers, the later created winning where two overlap. Everything that asks
// who is on call (the API, the dashboard, escalation) asks a Roster, so
// that all of them answer alike on every node.
//
// The stored overrides are read from the store and kept for CacheFor: a
// change made through this Roster shows at once, one made on another node
// of a cluster within CacheFor.
type Roster struct {
	o RosterOptions

	mu       sync.Mutex
	cached   []nightowl.ScheduleOverride
	loadedAt time.Time
	loaded   bool
	gen      uint64 // bumped by every change here: a read begun before one is not kept
}

// RosterOptions build a Roster.
type RosterOptions struct {
	// Schedules returns the config's schedules as they are now.
	Schedules func() []Schedule
	// Store keeps the overrides and calendar feeds; without one, the
	// Roster answers with the config's schedules and refuses changes.
	Store nightowl.OncallStore
	// IsUser says whether name is someone who can sign in to nightowl.
	// An override may name such a user, or a participant of the
	// schedule; only participants when nil.
	IsUser func(ctx context.Context, name string) (bool, error)
	// CacheFor is how long overrides read from the store are used before
	// they are read again; DefaultCacheFor when zero.
	CacheFor time.Duration
	Clock    nightowl.Clock
	Logger   *slog.Logger
}

// DefaultCacheFor is how soon an override added on another node is seen.
const DefaultCacheFor = 5 * time.Second

// Limits of an override.
const (
	// MaxOverride is the longest override: a longer one is a change of
	// the rotation, which belongs in the config.
	MaxOverride = 366 * 24 * time.Hour
	// MaxReason is the longest reason, in characters.
	MaxReason = 500
	// MaxName is the longest user or schedule name, in characters.
	MaxName = 100
)

// The window of a calendar feed: from FeedBack before now to FeedAhead
// after it.
const (
	FeedBack  = 7 * 24 * time.Hour
	FeedAhead = 90 * 24 * time.Hour
)

// NewRoster returns a Roster over the config's schedules and the store.
func NewRoster(o RosterOptions) (*Roster, error) {
	if o.Schedules == nil {
		return nil, nightowl.Errorf(nightowl.EInvalid, "a roster needs the config's schedules")
	}
	if o.CacheFor <= 0 {
		o.CacheFor = DefaultCacheFor
	}
	if o.Clock == nil {
		o.Clock = nightowl.SystemClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Roster{o: o}, nil
}

// stored returns every stored override, from the cache while it is fresh.
// When the store cannot be read, the overrides read last are used (and the
// failure logged): a pager that escalates during a store outage had better
// follow the overrides of a minute ago than none.
func (r *Roster) stored(ctx context.Context) ([]nightowl.ScheduleOverride, error) {
	if r.o.Store == nil {
		return nil, nil
	}
	now := r.o.Clock.Now()
	r.mu.Lock()
	if r.loaded && now.Sub(r.loadedAt) < r.o.CacheFor && !now.Before(r.loadedAt) {
		c := r.cached
		r.mu.Unlock()
		return c, nil
	}
	gen := r.gen
	r.mu.Unlock()
	list, err := r.o.Store.Overrides(ctx, "")
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		if r.loaded {
			r.o.Logger.Warn("read schedule overrides; using those read before", "read", r.loadedAt, "err", err)
			return r.cached, nil
		}
		return nil, err
	}
	if gen == r.gen {
		r.cached, r.loadedAt, r.loaded = list, now, true
	}
	return list, nil
}

// changed makes the next read go to the store.
func (r *Roster) changed() {
	r.mu.Lock()
	r.loaded = false
	r.gen++
	r.mu.Unlock()
}

// Schedules returns the config's schedules with the stored overrides
// added above their own.
func (r *Roster) Schedules(ctx context.Context) ([]Schedule, error) {
	stored, err := r.stored(ctx)
	if err != nil {
		return nil, err
	}
	return merge(r.o.Schedules(), stored), nil
}

// merge adds the stored overrides (oldest created first) after each
// schedule's own; the config's schedules are not changed.
func merge(config []Schedule, stored []nightowl.ScheduleOverride) []Schedule {
	out := make([]Schedule, len(config))
	for i, s := range config {
		s.Overrides = slices.Clone(s.Overrides)
		for _, o := range stored {
			if o.Schedule == s.Name {
				s.Overrides = append(s.Overrides, Override{User: o.User, From: o.From, To: o.To})
			}
		}
		out[i] = s
	}
	return out
}

// Schedule returns one schedule as it is now; false when there is none of
// that name.
func (r *Roster) Schedule(ctx context.Context, name string) (Schedule, bool, error) {
	for _, s := range r.o.Schedules() {
		if s.Name != name {
			continue
		}
		stored, err := r.stored(ctx)
		if err != nil {
			return Schedule{}, true, err
		}
		return merge([]Schedule{s}, stored)[0], true, nil
	}
	return Schedule{}, false, nil
}

// OnCall says who is on call in a schedule at a time ("" for nobody); ok
// is false when there is no such schedule.
func (r *Roster) OnCall(ctx context.Context, schedule string, at time.Time) (user string, ok bool, err error) {
	s, ok, err := r.Schedule(ctx, schedule)
	if !ok || err != nil {
		return "", ok, err
	}
	user, _ = s.At(at)
	return user, true, nil
}

func (r *Roster) config(name string) (Schedule, error) {
	for _, s := range r.o.Schedules() {
		if s.Name == name {
			return s, nil
		}
	}
	return Schedule{}, nightowl.Errorf(nightowl.ENotFound, "schedule %q not found", name)
}

func (r *Roster) store() (nightowl.OncallStore, error) {
	if r.o.Store == nil {
		return nil, nightowl.Errorf(nightowl.EInternal, "this server keeps no overrides or calendar feeds")
	}
	return r.o.Store, nil
}

// Overrides lists the stored overrides of a schedule, as they are in the
// store now, oldest created first.
func (r *Roster) Overrides(ctx context.Context, schedule string) ([]nightowl.ScheduleOverride, error) {
	if _, err := r.config(schedule); err != nil {
		return nil, err
	}
	st, err := r.store()
	if err != nil {
		return nil, err
	}
	return st.Overrides(ctx, schedule)
}

// participant says whether user takes turns in a layer of s.
func participant(s *Schedule, user string) bool {
	for _, l := range s.Layers {
		if slices.Contains(l.Participants, user) {
			return true
		}
	}
	return false
}

// AddOverride checks an override and keeps it, with a new ID and the time
// it was made. Its user must be a participant of the schedule or a user of
// nightowl; it must end after it starts, in the future, at most
// MaxOverride later. The error of a wrong field begins with the field's
// name.
func (r *Roster) AddOverride(ctx context.Context, o nightowl.ScheduleOverride) (nightowl.ScheduleOverride, error) {
	s, err := r.config(o.Schedule)
	if err != nil {
		return o, err
	}
	st, err := r.store()
	if err != nil {
		return o, err
	}
	now := r.o.Clock.Now()
	switch {
	case o.User == "":
		return o, nightowl.Errorf(nightowl.EInvalid, "user: required: who is on call instead")
	case utf8.RuneCountInString(o.User) > MaxName:
		return o, nightowl.Errorf(nightowl.EInvalid, "user: at most %d characters", MaxName)
	case o.From.IsZero():
		return o, nightowl.Errorf(nightowl.EInvalid, "from: required: when the override starts")
	case o.To.IsZero():
		return o, nightowl.Errorf(nightowl.EInvalid, "to: required: when the override ends")
	case !o.To.After(o.From):
		return o, nightowl.Errorf(nightowl.EInvalid, "to: must be after from (%s)", o.From.In(s.zone()).Format(time.RFC3339))
	case !o.To.After(now):
		return o, nightowl.Errorf(nightowl.EInvalid, "to: must be in the future: an override that has ended changes nothing")
	case o.To.Sub(o.From) > MaxOverride:
		return o, nightowl.Errorf(nightowl.EInvalid, "to: an override lasts at most 366 days; change the rotation in the config instead")
	case utf8.RuneCountInString(o.Reason) > MaxReason:
		return o, nightowl.Errorf(nightowl.EInvalid, "reason: at most %d characters", MaxReason)
	}
	if !participant(&s, o.User) {
		known := false
		if r.o.IsUser != nil {
			if known, err = r.o.IsUser(ctx, o.User); err != nil {
				return o, err
			}
		}
		if !known {
			return o, nightowl.Errorf(nightowl.EInvalid, "user: %q is neither a participant of schedule %s nor a user of nightowl", o.User, s.Name)
		}
	}
	o.ID = nightowl.NewID("ov-", 5)
	o.CreatedAt = now.UTC()
	o.From, o.To = o.From.UTC(), o.To.UTC()
	if err := st.SaveOverride(ctx, &o); err != nil {
		return o, err
	}
	r.changed()
	return o, nil
}

// DeleteOverride removes a stored override of a schedule and returns it.
func (r *Roster) DeleteOverride(ctx context.Context, schedule, id string) (nightowl.ScheduleOverride, error) {
	list, err := r.Overrides(ctx, schedule)
	if err != nil {
		return nightowl.ScheduleOverride{}, err
	}
	i := slices.IndexFunc(list, func(o nightowl.ScheduleOverride) bool { return o.ID == id })
	if i < 0 {
		return nightowl.ScheduleOverride{}, nightowl.Errorf(nightowl.ENotFound, "schedule %s has no override %q", schedule, id)
	}
	if err := r.o.Store.DeleteOverride(ctx, schedule, id); err != nil {
		return nightowl.ScheduleOverride{}, err
	}
	r.changed()
	return list[i], nil
}

// Feeds lists the calendar feeds there are, without their secrets.
func (r *Roster) Feeds(ctx context.Context) ([]nightowl.CalendarFeed, error) {
	st, err := r.store()
	if err != nil {
		return nil, err
	}
	return st.Feeds(ctx)
}

// feedSecretBytes is how much randomness a feed's secret holds.
const feedSecretBytes = 32

// FeedSecretLen is the length of a feed's secret as it appears in its
// address.
var FeedSecretLen = base64.RawURLEncoding.EncodedLen(feedSecretBytes)

// CreateFeed makes a new secret for the calendar feed of a user or a
// schedule, replacing any the feed had: the old address stops working.
// The secret is returned only here; the store keeps its hash.
func (r *Roster) CreateFeed(ctx context.Context, kind nightowl.FeedKind, name, by string) (string, error) {
	st, err := r.store()
	if err != nil {
		return "", err
	}
	switch kind {
	case nightowl.FeedSchedule:
		if _, err := r.config(name); err != nil {
			return "", err
		}
	case nightowl.FeedUser:
		// Only a user of nightowl: the feed goes with them when they are
		// removed.
		known := false
		if r.o.IsUser != nil && name != "" {
			if known, err = r.o.IsUser(ctx, name); err != nil {
				return "", err
			}
		}
		if !known {
			return "", nightowl.Errorf(nightowl.ENotFound, "no user %q", name)
		}
	default:
		return "", nightowl.Errorf(nightowl.EInvalid, "kind: must be user or schedule")
	}
	b := make([]byte, feedSecretBytes)
	rand.Read(b)
	secret := base64.RawURLEncoding.EncodeToString(b)
	f := nightowl.CalendarFeed{Kind: kind, Name: name, Hash: FeedHash(secret), CreatedBy: by, CreatedAt: r.o.Clock.Now().UTC()}
	if err := st.SaveFeed(ctx, &f); err != nil {
		return "", err
	}
	return secret, nil
}

// RevokeFeed ends the calendar feed of a user or a schedule.
func (r *Roster) RevokeFeed(ctx context.Context, kind nightowl.FeedKind, name string) error {
	st, err := r.store()
	if err != nil {
		return err
	}
	return st.DeleteFeed(ctx, kind, name)
}

// FeedHash is the hash under which a feed's secret is kept: the secret is
// random and long, so one round of SHA-256 is enough, and the lookup by it
// compares no secret byte by byte.
func FeedHash(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// Calendar returns the iCalendar document of the feed whose secret this
// is: the shifts from FeedBack before now to FeedAhead after. A secret
// that names no feed is ENotFound.
func (r *Roster) Calendar(ctx context.Context, secret string) ([]byte, error) {
	st, err := r.store()
	if err != nil {
		return nil, err
	}
	if len(secret) != FeedSecretLen {
		return nil, nightowl.Errorf(nightowl.ENotFound, "no such calendar feed")
	}
	f, err := st.FeedByHash(ctx, FeedHash(secret))
	if err != nil {
		return nil, err
	}
	schedules, err := r.Schedules(ctx)
	if err != nil {
		return nil, err
	}
	now := r.o.Clock.Now()
	return FeedCalendar(f, schedules, now), nil
}

// FeedCalendar is the calendar of feed f over the schedules, around now.
func FeedCalendar(f nightowl.CalendarFeed, schedules []Schedule, now time.Time) []byte {
	from, to := now.Add(-FeedBack), now.Add(FeedAhead)
	var events []Event
	title := "On call: " + f.Name
	for i := range schedules {
		s := &schedules[i]
		if f.Kind == nightowl.FeedSchedule && s.Name != f.Name {
			continue
		}
		for _, sh := range wholeShifts(s, from, to) {
			if sh.User == "" || (f.Kind == nightowl.FeedUser && sh.User != f.Name) {
				continue
			}
			events = append(events, shiftEvent(s, sh))
		}
	}
	return Calendar(title, events, now)
}

// wholeShifts returns the shifts that overlap from to to, each whole even
// where it begins before from or ends after to (up to a month beyond), so
// that a shift keeps its times, and its UID, as the window moves on.
func wholeShifts(s *Schedule, from, to time.Time) []Shift {
	const beyond = 31 * 24 * time.Hour
	var out []Shift
	for _, sh := range s.Shifts(from.Add(-beyond), to.Add(beyond)) {
		if sh.To.After(from) && sh.From.Before(to) {
			out = append(out, sh)
		}
	}
	return out
}

func shiftEvent(s *Schedule, sh Shift) Event {
	h := sha256.Sum256([]byte(s.Name + "\x00" + sh.User + "\x00" + sh.From.UTC().Format(time.RFC3339) + "\x00" + sh.To.UTC().Format(time.RFC3339)))
	desc := sh.User + " is on call in schedule " + s.Name
	if sh.Layer == "override" {
		desc += ", through an override."
	} else if sh.Layer != "" {
		desc += ", through layer " + sh.Layer + "."
	}
	return Event{UID: base64.RawURLEncoding.EncodeToString(h[:15]) + "@nightowl", Summary: "On call: " + s.Name + " (" + sh.User + ")",
		Description: desc, From: sh.From, To: sh.To}
}
