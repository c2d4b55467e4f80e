package oncall

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	ics "github.com/arran4/golang-ical"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/clocktest"
)

// memStore is the store's overrides and feeds in memory, shared by the
// rosters of several nodes; fail makes reads fail.
type memStore struct {
	mu        sync.Mutex
	overrides []nightowl.ScheduleOverride
	feeds     []nightowl.CalendarFeed
	fail      error
	reads     int
	hashes    [][]byte // what FeedByHash was asked
}

func (m *memStore) SaveOverride(_ context.Context, o *nightowl.ScheduleOverride) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.overrides = append(m.overrides, *o)
	return nil
}

func (m *memStore) Overrides(_ context.Context, schedule string) ([]nightowl.ScheduleOverride, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reads++
	if m.fail != nil {
		return nil, m.fail
	}
	var out []nightowl.ScheduleOverride
	for _, o := range m.overrides {
		if schedule == "" || o.Schedule == schedule {
			out = append(out, o)
		}
	}
	return out, nil
}

func (m *memStore) DeleteOverride(_ context.Context, schedule, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := len(m.overrides)
	m.overrides = slices.DeleteFunc(m.overrides, func(o nightowl.ScheduleOverride) bool { return o.Schedule == schedule && o.ID == id })
	if len(m.overrides) == n {
		return nightowl.Errorf(nightowl.ENotFound, "no override %q", id)
	}
	return nil
}

func (m *memStore) SaveFeed(_ context.Context, f *nightowl.CalendarFeed) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.feeds = slices.DeleteFunc(m.feeds, func(g nightowl.CalendarFeed) bool { return g.Kind == f.Kind && g.Name == f.Name })
	m.feeds = append(m.feeds, *f)
	return nil
}

func (m *memStore) FeedByHash(_ context.Context, hash []byte) (nightowl.CalendarFeed, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.hashes = append(m.hashes, hash)
	for _, f := range m.feeds {
		if bytes.Equal(f.Hash, hash) {
			return f, nil
		}
	}
	return nightowl.CalendarFeed{}, nightowl.Errorf(nightowl.ENotFound, "no such calendar feed")
}

func (m *memStore) Feeds(context.Context) ([]nightowl.CalendarFeed, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.feeds), nil
}

func (m *memStore) DeleteFeed(_ context.Context, kind nightowl.FeedKind, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := len(m.feeds)
	m.feeds = slices.DeleteFunc(m.feeds, func(g nightowl.CalendarFeed) bool { return g.Kind == kind && g.Name == name })
	if len(m.feeds) == n {
		return nightowl.Errorf(nightowl.ENotFound, "no calendar feed")
	}
	return nil
}

// primary is a weekly rotation of ana, bo and cy from Monday 2 March 2026
// at 09:00 in Berlin, with a config override of dan.
func primary(t *testing.T) Schedule {
	berlin := zone(t, "Europe/Berlin")
	return Schedule{Name: "primary", Zone: berlin,
		Layers:    []Rotation{{Name: "weekly", Participants: []string{"ana", "bo", "cy"}, Start: at(berlin, "2026-03-02 09:00"), Length: Weekly}},
		Overrides: []Override{{User: "dan", From: at(berlin, "2026-03-04 12:00"), To: at(berlin, "2026-03-04 14:00")}}}
}

func newRoster(t *testing.T, st nightowl.OncallStore, clock nightowl.Clock, schedules ...Schedule) *Roster {
	t.Helper()
	r, err := NewRoster(RosterOptions{Schedules: func() []Schedule { return schedules }, Store: st, Clock: clock,
		IsUser: func(_ context.Context, name string) (bool, error) { return name == "eve" || name == "cy", nil }})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestStoredOverridesWin: a stored override ranks above the config's
// override and the layers, and of two stored ones the later created wins
// where they overlap.
func TestStoredOverridesWin(t *testing.T) {
	p := primary(t)
	z := p.Zone
	clock := clocktest.New(at(z, "2026-03-03 10:00"))
	r := newRoster(t, &memStore{}, clock, p)
	ctx := context.Background()
	add := func(user, from, to string) {
		t.Helper()
		if _, err := r.AddOverride(ctx, nightowl.ScheduleOverride{Schedule: "primary", User: user, From: at(z, from), To: at(z, to), CreatedBy: user}); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Second)
	}
	add("cy", "2026-03-04 09:00", "2026-03-05 09:00") // covers dan's config override
	add("bo", "2026-03-04 18:00", "2026-03-04 20:00") // later: wins over cy
	for when, want := range map[string]string{
		"2026-03-04 08:59": "ana",
		"2026-03-04 09:00": "cy",
		"2026-03-04 13:00": "cy", // not dan: stored overrides rank above the config's
		"2026-03-04 18:30": "bo",
		"2026-03-04 20:00": "cy",
		"2026-03-05 09:00": "ana",
	} {
		got, ok, err := r.OnCall(ctx, "primary", at(z, when))
		if err != nil || !ok || got != want {
			t.Errorf("OnCall at %s = %q, %t, %v; want %s", when, got, ok, err, want)
		}
	}
	if _, ok, err := r.OnCall(ctx, "nope", clock.Now()); ok || err != nil {
		t.Errorf("OnCall of an unknown schedule: ok %t, %v", ok, err)
	}
	// The config's schedule itself is left as it was.
	if len(p.Overrides) != 1 {
		t.Errorf("the config's schedule has %d overrides now", len(p.Overrides))
	}
	list, err := r.Overrides(ctx, "primary")
	if err != nil || len(list) != 2 || list[0].User != "cy" || list[1].User != "bo" || !strings.HasPrefix(list[0].ID, "ov-") {
		t.Fatalf("Overrides = %+v, %v", list, err)
	}
	if _, err := r.DeleteOverride(ctx, "primary", list[1].ID); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := r.OnCall(ctx, "primary", at(z, "2026-03-04 18:30")); got != "cy" {
		t.Errorf("after deleting bo's override, %s is on call", got)
	}
	if _, err := r.DeleteOverride(ctx, "primary", list[1].ID); nightowl.ErrorCode(err) != nightowl.ENotFound {
		t.Errorf("deleting it again: %v", err)
	}
}

// TestOverrideSeenByOtherNodes: another node's roster reads the store
// again once its cache is CacheFor old; while it is fresher, it does not
// ask the store. A store that cannot be read leaves the overrides read
// last in force.
func TestOverrideSeenByOtherNodes(t *testing.T) {
	p := primary(t)
	z := p.Zone
	clock := clocktest.New(at(z, "2026-03-03 10:00"))
	st := &memStore{}
	here, there := newRoster(t, st, clock, p), newRoster(t, st, clock, p)
	ctx := context.Background()
	when := at(z, "2026-03-03 12:00")
	if got, _, _ := there.OnCall(ctx, "primary", when); got != "ana" {
		t.Fatalf("before: %s", got)
	}
	if _, err := here.AddOverride(ctx, nightowl.ScheduleOverride{Schedule: "primary", User: "eve", From: at(z, "2026-03-03 11:00"), To: at(z, "2026-03-03 13:00")}); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := here.OnCall(ctx, "primary", when); got != "eve" {
		t.Errorf("on the node that added it: %s", got)
	}
	reads := st.reads
	if got, _, _ := there.OnCall(ctx, "primary", when); got != "ana" || st.reads != reads {
		t.Errorf("another node within its cache: %s, %d reads", got, st.reads-reads)
	}
	clock.Advance(DefaultCacheFor)
	if got, _, _ := there.OnCall(ctx, "primary", when); got != "eve" {
		t.Errorf("another node after %s: %s", DefaultCacheFor, got)
	}
	st.fail = errors.New("store down")
	clock.Advance(DefaultCacheFor)
	if got, _, err := there.OnCall(ctx, "primary", when); got != "eve" || err != nil {
		t.Errorf("with the store down: %s, %v", got, err)
	}
	fresh := newRoster(t, st, clock, p)
	if _, _, err := fresh.OnCall(ctx, "primary", when); err == nil {
		t.Error("a roster that never read the store answered with the store down")
	}
}

// TestOverrideRefused: each mistake names its field.
func TestOverrideRefused(t *testing.T) {
	p := primary(t)
	z := p.Zone
	clock := clocktest.New(at(z, "2026-03-03 10:00"))
	r := newRoster(t, &memStore{}, clock, p)
	ok := nightowl.ScheduleOverride{Schedule: "primary", User: "cy", From: at(z, "2026-03-04 09:00"), To: at(z, "2026-03-05 09:00")}
	for _, tt := range []struct {
		name   string
		change func(o *nightowl.ScheduleOverride)
		code   string
		prefix string
	}{
		{"unknown schedule", func(o *nightowl.ScheduleOverride) { o.Schedule = "nope" }, nightowl.ENotFound, `schedule "nope"`},
		{"no user", func(o *nightowl.ScheduleOverride) { o.User = "" }, nightowl.EInvalid, "user:"},
		{"unknown user", func(o *nightowl.ScheduleOverride) { o.User = "mallory" }, nightowl.EInvalid, "user:"},
		{"no from", func(o *nightowl.ScheduleOverride) { o.From = time.Time{} }, nightowl.EInvalid, "from:"},
		{"no to", func(o *nightowl.ScheduleOverride) { o.To = time.Time{} }, nightowl.EInvalid, "to:"},
		{"to before from", func(o *nightowl.ScheduleOverride) { o.To = o.From.Add(-time.Hour) }, nightowl.EInvalid, "to: must be after from"},
		{"ended", func(o *nightowl.ScheduleOverride) {
			o.From, o.To = at(z, "2026-03-01 09:00"), at(z, "2026-03-02 09:00")
		}, nightowl.EInvalid, "to: must be in the future"},
		{"too long", func(o *nightowl.ScheduleOverride) { o.To = o.From.Add(MaxOverride + time.Hour) }, nightowl.EInvalid, "to:"},
		{"long reason", func(o *nightowl.ScheduleOverride) { o.Reason = strings.Repeat("x", MaxReason+1) }, nightowl.EInvalid, "reason:"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := ok
			tt.change(&o)
			_, err := r.AddOverride(context.Background(), o)
			if nightowl.ErrorCode(err) != tt.code || !strings.HasPrefix(nightowl.ErrorMessage(err), tt.prefix) {
				t.Fatalf("%v; want %s beginning %q", err, tt.code, tt.prefix)
			}
		})
	}
	t.Run("a user of nightowl who is no participant", func(t *testing.T) {
		o := ok
		o.User = "eve"
		if _, err := r.AddOverride(context.Background(), o); err != nil {
			t.Fatal(err)
		}
	})
}

// parseFeed parses a calendar with a real iCalendar library and returns
// its events by UID.
func parseFeed(t *testing.T, doc []byte) map[string]*ics.VEvent {
	t.Helper()
	cal, err := ics.ParseCalendar(bytes.NewReader(doc))
	if err != nil {
		t.Fatalf("parse the feed: %v\n%s", err, doc)
	}
	out := map[string]*ics.VEvent{}
	for _, e := range cal.Events() {
		out[e.Id()] = e
	}
	return out
}

type span struct {
	summary  string
	from, to time.Time
}

func (s span) String() string {
	return s.summary + " " + s.from.Format(time.RFC3339) + " to " + s.to.Format(time.RFC3339)
}

func spans(t *testing.T, events map[string]*ics.VEvent) []span {
	t.Helper()
	var out []span
	for _, e := range events {
		from, err := e.GetStartAt()
		if err != nil {
			t.Fatal(err)
		}
		to, err := e.GetEndAt()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, span{e.GetProperty(ics.ComponentPropertySummary).Value, from.UTC(), to.UTC()})
	}
	slices.SortFunc(out, func(a, b span) int { return a.from.Compare(b.from) })
	return out
}

// TestCalendarFeeds: a schedule's feed lists its shifts over the window,
// the one across the change to summer time 23 hours long; a user's lists
// theirs in every schedule; a new secret replaces the old, and a revoked or
// wrong one finds nothing, looked up by its hash.
func TestCalendarFeeds(t *testing.T) {
	berlin := zone(t, "Europe/Berlin")
	daily := Schedule{Name: "db", Zone: berlin, Layers: []Rotation{{Name: "days", Participants: []string{"ana", "bo"},
		Start: at(berlin, "2026-03-02 09:00"), Length: Daily}}}
	clock := clocktest.New(at(berlin, "2026-03-25 10:00"))
	st := &memStore{}
	r := newRoster(t, st, clock, primary(t), daily)
	ctx := context.Background()

	secret, err := r.CreateFeed(ctx, nightowl.FeedSchedule, "db", "ana")
	if err != nil {
		t.Fatal(err)
	}
	if len(secret) != FeedSecretLen {
		t.Fatalf("a secret of %d characters", len(secret))
	}
	doc, err := r.Calendar(ctx, secret)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(strings.TrimSuffix(string(doc), "\r\n"), "\r\n") {
		if len(l) > 75 {
			t.Errorf("a line of %d octets: %q", len(l), l)
		}
	}
	if !bytes.Contains(doc, []byte("REFRESH-INTERVAL;VALUE=DURATION:PT1H\r\n")) {
		t.Error("no refresh hint")
	}
	events := parseFeed(t, doc)
	all := spans(t, events)
	// Daily shifts from 7 days back to 90 ahead, whole: 98 or so.
	if n := len(all); n < 97 || n > 99 {
		t.Errorf("%d shifts in the schedule's feed", n)
	}
	first, last := all[0], all[len(all)-1]
	if first.from.After(clock.Now().Add(-FeedBack)) || last.to.Before(clock.Now().Add(FeedAhead)) {
		t.Errorf("the feed runs from %s to %s", first.from, last.to)
	}
	// 28 March 09:00 CET is 08:00 UTC; 29 March 09:00 CEST is 07:00 UTC.
	dst := span{"On call: db (ana)", time.Date(2026, 3, 28, 8, 0, 0, 0, time.UTC), time.Date(2026, 3, 29, 7, 0, 0, 0, time.UTC)}
	if !slices.Contains(all, dst) {
		t.Errorf("no shift %s across the change to summer time in\n%s", dst, all)
	}

	// The same shift keeps its UID a day later, as the window moves.
	clock.Advance(24 * time.Hour)
	doc2, err := r.Calendar(ctx, secret)
	if err != nil {
		t.Fatal(err)
	}
	later := parseFeed(t, doc2)
	kept := 0
	for uid := range events {
		if later[uid] != nil {
			kept++
		}
	}
	if kept < len(events)-2 {
		t.Errorf("only %d of %d UIDs kept a day later", kept, len(events))
	}

	t.Run("a user's feed has their shifts in every schedule", func(t *testing.T) {
		secret, err := r.CreateFeed(ctx, nightowl.FeedUser, "cy", "cy")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.AddOverride(ctx, nightowl.ScheduleOverride{Schedule: "db", User: "cy",
			From: at(berlin, "2026-04-01 09:00"), To: at(berlin, "2026-04-01 21:00"), Reason: "swap; ana's birthday, party"}); err != nil {
			t.Fatal(err)
		}
		doc, err := r.Calendar(ctx, secret)
		if err != nil {
			t.Fatal(err)
		}
		got := spans(t, parseFeed(t, doc))
		want := span{"On call: db (cy)", time.Date(2026, 4, 1, 7, 0, 0, 0, time.UTC), time.Date(2026, 4, 1, 19, 0, 0, 0, time.UTC)}
		if !slices.Contains(got, want) {
			t.Errorf("no override %s in %s", want, got)
		}
		weekly := 0
		for _, s := range got {
			if s.summary == "On call: primary (cy)" {
				weekly++
				if s.to.Sub(s.from) < 6*24*time.Hour {
					t.Errorf("a weekly shift of %s", s.to.Sub(s.from))
				}
			} else if s.summary != want.summary {
				t.Errorf("someone else's shift: %+v", s)
			}
		}
		if weekly < 4 || weekly > 6 {
			t.Errorf("%d weekly shifts of cy in 97 days", weekly)
		}
	})
	t.Run("a new secret replaces the old", func(t *testing.T) {
		newer, err := r.CreateFeed(ctx, nightowl.FeedSchedule, "db", "bo")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Calendar(ctx, secret); nightowl.ErrorCode(err) != nightowl.ENotFound {
			t.Errorf("the old secret: %v", err)
		}
		if _, err := r.Calendar(ctx, newer); err != nil {
			t.Errorf("the new secret: %v", err)
		}
		if err := r.RevokeFeed(ctx, nightowl.FeedSchedule, "db"); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Calendar(ctx, newer); nightowl.ErrorCode(err) != nightowl.ENotFound {
			t.Errorf("a revoked secret: %v", err)
		}
	})
	t.Run("a wrong secret is looked up by its hash", func(t *testing.T) {
		wrong := strings.Repeat("A", FeedSecretLen)
		st.hashes = nil
		if _, err := r.Calendar(ctx, wrong); nightowl.ErrorCode(err) != nightowl.ENotFound {
			t.Fatalf("a wrong secret: %v", err)
		}
		if len(st.hashes) != 1 || !bytes.Equal(st.hashes[0], FeedHash(wrong)) {
			t.Errorf("the store was asked %x", st.hashes)
		}
	})
	t.Run("unknown schedule or user", func(t *testing.T) {
		if _, err := r.CreateFeed(ctx, nightowl.FeedSchedule, "nope", "ana"); nightowl.ErrorCode(err) != nightowl.ENotFound {
			t.Errorf("a schedule: %v", err)
		}
		// ana takes turns, but cannot sign in: her feed could not be
		// removed with her.
		if _, err := r.CreateFeed(ctx, nightowl.FeedUser, "ana", "ana"); nightowl.ErrorCode(err) != nightowl.ENotFound {
			t.Errorf("a participant who is no user: %v", err)
		}
	})
}

// TestCalendarText: text is escaped and long lines folded without cutting
// a character in two, and a real parser reads the text back.
func TestCalendarText(t *testing.T) {
	long := strings.Repeat("Überstunden; nachts, ", 10) + "\\ende\nneue Zeile"
	doc := Calendar("primary", []Event{{UID: "u1@nightowl", Summary: "On call: primary (ana)", Description: long,
		From: time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC), To: time.Date(2026, 3, 9, 8, 0, 0, 0, time.UTC)}}, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	for _, l := range strings.Split(string(doc), "\r\n") {
		if len(l) > 75 {
			t.Errorf("a line of %d octets", len(l))
		}
		if !utf8ValidLine(l) {
			t.Errorf("a line cut inside a character: %q", l)
		}
	}
	e := parseFeed(t, doc)["u1@nightowl"]
	if e == nil {
		t.Fatalf("no event in\n%s", doc)
	}
	if got := e.GetProperty(ics.ComponentPropertyDescription).Value; got != long {
		t.Errorf("description read back as\n%q\nwant\n%q", got, long)
	}
}

func utf8ValidLine(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

// TestRosterConcurrent: escalation, the API and the dashboard ask the
// roster at once while people add and delete overrides (run with -race).
func TestRosterConcurrent(t *testing.T) {
	p := primary(t)
	z := p.Zone
	clock := clocktest.New(at(z, "2026-03-03 10:00"))
	r := newRoster(t, &memStore{}, clock, p)
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for j := range 50 {
				if i%2 == 0 {
					o, err := r.AddOverride(ctx, nightowl.ScheduleOverride{Schedule: "primary", User: "cy", From: at(z, "2026-03-04 09:00"), To: at(z, "2026-03-04 10:00")})
					if err != nil {
						t.Error(err)
						return
					}
					if j%2 == 0 {
						if _, err := r.DeleteOverride(ctx, "primary", o.ID); err != nil {
							t.Error(err)
							return
						}
					}
					continue
				}
				if _, _, err := r.OnCall(ctx, "primary", at(z, "2026-03-04 09:30")); err != nil {
					t.Error(err)
					return
				}
				clock.Advance(time.Second)
			}
		})
	}
	wg.Wait()
	if got, _, _ := r.OnCall(ctx, "primary", at(z, "2026-03-04 09:30")); got != "cy" {
		t.Errorf("after the dust settles: %s", got)
	}
	list, _ := r.Overrides(ctx, "primary")
	if len(list) != 50 {
		t.Errorf("%d overrides left, want 50", len(list))
	}
}
