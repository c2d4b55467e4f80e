package offline_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/clocktest"
	"github.com/nightowl/nightowl/offline"
	"github.com/nightowl/nightowl/sqlite"
)

var t0 = time.Date(2026, 3, 18, 1, 0, 0, 0, time.UTC)

// lease is what the sender asks for: its timeout and a margin.
const lease = 40 * time.Second

// errDown is what flaky answers while it is down.
var errDown = errors.New("fake: connection refused")

func unavailable(err error) bool { return errors.Is(err, errDown) }

// flaky is a real SQLite store that fails every call while down, answers
// none until its caller gives up while hung, and logs the writes it took,
// in order.
type flaky struct {
	*sqlite.Store
	down atomic.Bool
	hung atomic.Bool
	// afterWrite, when set, is called after each write the store took.
	afterWrite func(w string)
	mu         sync.Mutex
	log        []string
}

func (f *flaky) fail(what string) error {
	if f.down.Load() {
		return fmt.Errorf("%s: %w", what, errDown)
	}
	return nil
}

// hang waits, while the store is hung, for ctx to end, as a call on a
// connection that no longer carries anything does. A call without a
// deadline would wait forever: it fails at once, saying so.
func (f *flaky) hang(ctx context.Context, what string) error {
	if !f.hung.Load() {
		return nil
	}
	if _, ok := ctx.Deadline(); !ok {
		return fmt.Errorf("%s: called without a deadline on a hung store, it would wait forever", what)
	}
	<-ctx.Done()
	return fmt.Errorf("%s: %w", what, ctx.Err())
}

func (f *flaky) wrote(format string, args ...any) {
	w := fmt.Sprintf(format, args...)
	f.mu.Lock()
	f.log = append(f.log, w)
	f.mu.Unlock()
	if f.afterWrite != nil {
		f.afterWrite(w)
	}
}

func (f *flaky) writes() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.log)
}

func (f *flaky) AddEvent(ctx context.Context, e nightowl.Event) (nightowl.Event, error) {
	if err := f.hang(ctx, "add event"); err != nil {
		return e, err
	}
	if err := f.fail("add event"); err != nil {
		return e, err
	}
	e, err := f.Store.AddEvent(ctx, e)
	if err == nil {
		f.wrote("event %s %s", e.Check, e.To)
	}
	return e, err
}

func (f *flaky) SaveAlert(ctx context.Context, a *nightowl.Alert, out []nightowl.Notification) error {
	if err := f.hang(ctx, "save alert"); err != nil {
		return err
	}
	if err := f.fail("save alert"); err != nil {
		return err
	}
	err := f.Store.SaveAlert(ctx, a, out)
	if err == nil {
		f.wrote("alert %s %s +%d", a.ID, a.State, len(out))
	}
	return err
}

func (f *flaky) FinishNotification(ctx context.Context, n *nightowl.Notification) error {
	if err := f.hang(ctx, "finish notification"); err != nil {
		return err
	}
	if err := f.fail("finish notification"); err != nil {
		return err
	}
	if n.ID <= 0 {
		return fmt.Errorf("finish of notification %d reached the store", n.ID)
	}
	err := f.Store.FinishNotification(ctx, n)
	if err == nil {
		f.wrote("finish %s %s %s", n.AlertID, n.Receiver, n.State)
	}
	return err
}

func (f *flaky) ClaimNotifications(ctx context.Context, owner string, now time.Time, limit int, lease time.Duration) ([]nightowl.Notification, error) {
	if err := f.hang(ctx, "claim notifications"); err != nil {
		return nil, err
	}
	if err := f.fail("claim notifications"); err != nil {
		return nil, err
	}
	return f.Store.ClaimNotifications(ctx, owner, now, limit, lease)
}

func (f *flaky) ReleaseClaims(ctx context.Context, owner string) error {
	if err := f.hang(ctx, "release claims"); err != nil {
		return err
	}
	if err := f.fail("release claims"); err != nil {
		return err
	}
	return f.Store.ReleaseClaims(ctx, owner)
}

func (f *flaky) Alert(ctx context.Context, id string) (nightowl.Alert, error) {
	if err := f.fail("read alert"); err != nil {
		return nightowl.Alert{}, err
	}
	return f.Store.Alert(ctx, id)
}

func (f *flaky) Alerts(ctx context.Context, q nightowl.AlertQuery) ([]nightowl.Alert, error) {
	if err := f.fail("read alerts"); err != nil {
		return nil, err
	}
	return f.Store.Alerts(ctx, q)
}

func (f *flaky) Notifications(ctx context.Context, q nightowl.NotificationQuery) ([]nightowl.Notification, error) {
	if err := f.fail("read notifications"); err != nil {
		return nil, err
	}
	return f.Store.Notifications(ctx, q)
}

func (f *flaky) Events(ctx context.Context, check string, limit int) ([]nightowl.Event, error) {
	if err := f.fail("read events"); err != nil {
		return nil, err
	}
	return f.Store.Events(ctx, check, limit)
}

func (f *flaky) Flush(ctx context.Context) error {
	if err := f.fail("flush"); err != nil {
		return err
	}
	return f.Store.Flush(ctx)
}

func (f *flaky) States(ctx context.Context) ([]nightowl.State, error) {
	if err := f.fail("read states"); err != nil {
		return nil, err
	}
	return f.Store.States(ctx)
}

func (f *flaky) Results(ctx context.Context, check string, limit int) ([]nightowl.Result, error) {
	if err := f.fail("read results"); err != nil {
		return nil, err
	}
	return f.Store.Results(ctx, check, limit)
}

func (f *flaky) Rollups(ctx context.Context, check string, p nightowl.Period, since time.Time) ([]nightowl.Rollup, error) {
	if err := f.fail("read rollups"); err != nil {
		return nil, err
	}
	return f.Store.Rollups(ctx, check, p, since)
}

func (f *flaky) Pings(ctx context.Context, check string, limit int) ([]nightowl.Ping, error) {
	if err := f.fail("read pings"); err != nil {
		return nil, err
	}
	return f.Store.Pings(ctx, check, limit)
}

func (f *flaky) Heartbeats(ctx context.Context) ([]nightowl.Heartbeat, error) {
	if err := f.fail("read heartbeats"); err != nil {
		return nil, err
	}
	return f.Store.Heartbeats(ctx)
}

func (f *flaky) Forget(ctx context.Context, checks []string) error {
	if err := f.fail("forget"); err != nil {
		return err
	}
	return f.Store.Forget(ctx, checks)
}

func (f *flaky) OutboxStats(ctx context.Context) ([]nightowl.OutboxStats, error) {
	if err := f.fail("read outbox"); err != nil {
		return nil, err
	}
	return f.Store.OutboxStats(ctx)
}

func (f *flaky) Secret(ctx context.Context, name string, size int) ([]byte, error) {
	if err := f.fail("secret"); err != nil {
		return nil, err
	}
	return f.Store.Secret(ctx, name, size)
}

// syncBuffer is a log that the store's goroutines and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// fixture is an offline store over a flaky SQLite store, and a record of
// what was given to it, to compare with what the SQLite store ends up with.
type fixture struct {
	clock *clocktest.Fake
	inner *flaky
	s     *offline.Store
	logs  *syncBuffer

	alerts map[string]nightowl.Alert // the latest version saved, by ID
	events []nightowl.Event
	// want is the state each notification saved should end in, by
	// "alert receiver kind".
	want map[string]nightowl.NotificationState
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{
		clock: clocktest.New(t0), logs: &syncBuffer{},
		alerts: map[string]nightowl.Alert{}, want: map[string]nightowl.NotificationState{},
	}
	st, err := sqlite.Open(context.Background(), sqlite.Options{
		Path: filepath.Join(t.TempDir(), "n.db"), Now: f.clock.Now,
		Logger: slog.New(slog.DiscardHandler), FlushInterval: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	f.inner = &flaky{Store: st}
	f.s = offline.New(offline.Options{
		Store: f.inner, Unavailable: unavailable, Clock: f.clock,
		Logger: slog.New(slog.NewTextHandler(f.logs, nil)),
	})
	t.Cleanup(func() { f.s.Close() })
	return f
}

func key(n *nightowl.Notification) string {
	return n.AlertID + " " + n.Receiver + " " + string(n.Message.Kind)
}

// save saves a version of alert id in state st, with a notification of
// kind to each receiver.
func (f *fixture) save(t *testing.T, id string, st nightowl.AlertState, kind nightowl.MessageKind, receivers ...string) []nightowl.Notification {
	t.Helper()
	a := nightowl.Alert{
		ID: id, Check: "check-" + id, Labels: map[string]string{"team": "web"}, State: st,
		Severity: nightowl.SeverityCritical, Status: nightowl.StatusDown, Cause: "up failed",
		StartsAt: t0, Notified: receivers,
	}
	if st == nightowl.AlertResolved {
		a.ResolvedAt = f.clock.Now()
	}
	var out []nightowl.Notification
	for _, r := range receivers {
		out = append(out, nightowl.Notification{
			Receiver: r, Message: nightowl.Message{Kind: kind, Alert: a},
			CreatedAt: f.clock.Now(), NextAt: f.clock.Now(),
		})
	}
	if err := f.s.SaveAlert(context.Background(), &a, out); err != nil {
		t.Fatalf("save alert %s: %v", id, err)
	}
	f.alerts[id] = a
	for i := range out {
		if out[i].AlertID != id || out[i].State != nightowl.NotificationPending || out[i].ID == 0 {
			t.Fatalf("saved notification = %+v", out[i])
		}
		f.want[key(&out[i])] = nightowl.NotificationPending
	}
	return out
}

func (f *fixture) event(t *testing.T, check string, to nightowl.Status) {
	t.Helper()
	e := nightowl.Event{Check: check, Time: f.clock.Now(), Kind: nightowl.EventStatus,
		From: nightowl.StatusUp, To: to, Cause: "changed to " + string(to)}
	got, err := f.s.AddEvent(context.Background(), e)
	if err != nil {
		t.Fatalf("add event: %v", err)
	}
	if got.Check != check || got.To != to {
		t.Fatalf("added event = %+v", got)
	}
	f.events = append(f.events, e)
}

func (f *fixture) claim(t *testing.T, limit int) []nightowl.Notification {
	t.Helper()
	ns, err := f.s.ClaimNotifications(context.Background(), "node-a", f.clock.Now(), limit, lease)
	if err != nil {
		t.Fatalf("claim: %v", err)
	}
	return ns
}

// finish records the outcome of a send of n as a sender does.
func (f *fixture) finish(t *testing.T, n nightowl.Notification, st nightowl.NotificationState) {
	t.Helper()
	n.State = st
	switch st {
	case nightowl.NotificationSent:
		n.SentAt = f.clock.Now()
	case nightowl.NotificationFailed:
		n.Error = "410 Gone"
	case nightowl.NotificationPending:
		n.NextAt, n.Error = f.clock.Now().Add(30*time.Second), "503 Service Unavailable"
	}
	if err := f.s.FinishNotification(context.Background(), &n); err != nil {
		t.Fatalf("finish %d: %v", n.ID, err)
	}
	f.want[key(&n)] = st
}

func (f *fixture) drain(t *testing.T) {
	t.Helper()
	if err := f.s.Drain(context.Background()); err != nil {
		t.Fatalf("drain: %v", err)
	}
}

func (f *fixture) spooled(t *testing.T, events, alerts, notifications int) {
	t.Helper()
	e, a, n := f.s.Spooled()
	if e != events || a != alerts || n != notifications {
		t.Fatalf("spooled %d events, %d alerts, %d notifications; want %d, %d, %d", e, a, n, events, alerts, notifications)
	}
}

func (f *fixture) wantWrites(t *testing.T, want ...string) {
	t.Helper()
	if got := f.inner.writes(); !slices.Equal(got, want) {
		t.Fatalf("the store took:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// settled checks that nothing is kept any more and that the SQLite store
// holds what was given to the offline store: every alert in its latest
// version, every notification once and in the state its sends left it,
// every event once and in order.
func (f *fixture) settled(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	f.spooled(t, 0, 0, 0)
	for id, want := range f.alerts {
		got, err := f.inner.Store.Alert(ctx, id)
		if err != nil {
			t.Fatalf("stored alert %s: %v", id, err)
		}
		if got.State != want.State || got.Check != want.Check || !slices.Equal(got.Notified, want.Notified) || got.Labels["team"] != "web" {
			t.Errorf("stored alert %s = %+v, want %+v", id, got, want)
		}
	}
	alerts, err := f.inner.Store.Alerts(ctx, nightowl.AlertQuery{})
	if err != nil || len(alerts) != len(f.alerts) {
		t.Errorf("stored alerts = %d, %v; want %d", len(alerts), err, len(f.alerts))
	}
	ns, err := f.inner.Store.Notifications(ctx, nightowl.NotificationQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, n := range ns {
		k := key(&n)
		if seen[k] {
			t.Errorf("notification %s stored twice", k)
		}
		seen[k] = true
		want, ok := f.want[k]
		switch {
		case !ok:
			t.Errorf("notification %s stored but never saved", k)
		case n.State != want:
			t.Errorf("notification %s is %s, want %s", k, n.State, want)
		case want == nightowl.NotificationSent && n.SentAt.IsZero():
			t.Errorf("notification %s sent at no time", k)
		case want == nightowl.NotificationPending && n.Error != "" && n.NextAt.IsZero():
			t.Errorf("notification %s to be retried at no time", k)
		}
	}
	if len(seen) != len(f.want) {
		t.Errorf("%d notifications stored, want %d", len(seen), len(f.want))
	}
	events, err := f.inner.Store.Events(ctx, "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(events)
	if len(events) != len(f.events) {
		t.Fatalf("%d events stored, want %d", len(events), len(f.events))
	}
	for i, e := range events {
		w := f.events[i]
		if e.Check != w.Check || e.To != w.To || e.Cause != w.Cause || !e.Time.Equal(w.Time) {
			t.Errorf("event %d = %+v, want %+v", i, e, w)
		}
	}
}

func TestOffline(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name string
		run  func(t *testing.T, f *fixture)
	}{
		{"kept while down, written back in order when up", func(t *testing.T, f *fixture) {
			f.inner.down.Store(true)
			f.event(t, "check-a", nightowl.StatusDown)
			saved := f.save(t, "a", nightowl.AlertFiring, nightowl.MessageFiring, "chat[0]", "pager[0]", "mail[0]")
			f.event(t, "check-b", nightowl.StatusDown)
			if saved[0].ID >= 0 || saved[1].ID >= 0 || saved[0].ID == saved[1].ID {
				t.Fatalf("kept notifications have IDs %d, %d: want distinct and negative", saved[0].ID, saved[1].ID)
			}
			f.spooled(t, 2, 1, 3)

			got, err := f.s.Alert(ctx, "a")
			if err != nil || got.State != nightowl.AlertFiring || got.Labels["team"] != "web" {
				t.Fatalf("alert from memory = %+v, %v", got, err)
			}
			claimed := f.claim(t, 10)
			if len(claimed) != 3 {
				t.Fatalf("claimed %d from memory, want 3", len(claimed))
			}
			for i, n := range claimed {
				if n.ID != saved[i].ID || n.Attempts != 1 || n.AlertID != "a" {
					t.Fatalf("claimed %+v, want the one saved as %d, in order", n, saved[i].ID)
				}
			}
			if again := f.claim(t, 10); len(again) != 0 {
				t.Fatalf("leased notifications claimed again: %+v", again)
			}
			f.finish(t, claimed[0], nightowl.NotificationSent)
			f.finish(t, claimed[1], nightowl.NotificationPending)
			f.finish(t, claimed[2], nightowl.NotificationFailed)
			f.clock.Advance(time.Second)
			if err := f.s.Drain(ctx); !errors.Is(err, errDown) {
				t.Fatalf("drain while down = %v", err)
			}
			f.wantWrites(t)

			f.inner.down.Store(false)
			f.drain(t)
			f.wantWrites(t,
				"event check-a down",
				"alert a firing +3",
				"finish a chat[0] sent",
				"finish a pager[0] pending",
				"finish a mail[0] failed",
				"event check-b down")
			f.settled(t)
			if n := strings.Count(f.logs.String(), "store unreachable"); n != 1 {
				t.Errorf("%d warnings of the outage, want 1:\n%s", n, f.logs)
			}
			if !strings.Contains(f.logs.String(), "reachable again") {
				t.Errorf("the end of the outage is not logged:\n%s", f.logs)
			}

			// Sent and failed ones are not claimed again; the retry is,
			// when due, from the store.
			if again := f.claim(t, 10); len(again) != 0 {
				t.Fatalf("claimed after write-back: %+v", again)
			}
			f.clock.Advance(30 * time.Second)
			retry := f.claim(t, 10)
			if len(retry) != 1 || retry[0].Receiver != "pager[0]" || retry[0].ID <= 0 {
				t.Fatalf("retry claimed = %+v", retry)
			}
			f.finish(t, retry[0], nightowl.NotificationSent)
			// With nothing kept, the store is used directly again.
			if direct := f.save(t, "b", nightowl.AlertFiring, nightowl.MessageFiring, "chat[0]"); direct[0].ID <= 0 {
				t.Fatalf("saved with the store back: ID %d", direct[0].ID)
			}
			f.settled(t)
		}},

		{"a send in flight is written back after it ends", func(t *testing.T, f *fixture) {
			f.inner.down.Store(true)
			f.save(t, "a", nightowl.AlertFiring, nightowl.MessageFiring, "chat[0]")
			claimed := f.claim(t, 10)
			if len(claimed) != 1 {
				t.Fatalf("claimed %d", len(claimed))
			}
			f.inner.down.Store(false)
			f.event(t, "check-a", nightowl.StatusDown) // behind the alert
			f.drain(t)
			f.wantWrites(t)
			f.spooled(t, 1, 1, 1)
			if _, err := f.inner.Store.Alert(ctx, "a"); nightowl.ErrorCode(err) != nightowl.ENotFound {
				t.Fatalf("alert written while its notification is being sent: %v", err)
			}
			if again := f.claim(t, 10); len(again) != 0 {
				t.Fatalf("claimed while in flight: %+v", again)
			}
			f.finish(t, claimed[0], nightowl.NotificationSent)
			f.drain(t)
			f.wantWrites(t, "alert a firing +1", "finish a chat[0] sent", "event check-a down")
			f.settled(t)
			if again := f.claim(t, 10); len(again) != 0 {
				t.Fatalf("sent notification claimed again: %+v", again)
			}
		}},

		{"the outcome of a stored notification is replayed", func(t *testing.T, f *fixture) {
			f.save(t, "a", nightowl.AlertFiring, nightowl.MessageFiring, "chat[0]", "pager[0]")
			claimed := f.claim(t, 10)
			if len(claimed) != 2 || claimed[0].ID <= 0 {
				t.Fatalf("claimed %+v", claimed)
			}
			f.inner.down.Store(true)
			f.finish(t, claimed[0], nightowl.NotificationPending)
			// A later outcome of the same notification replaces the first.
			f.finish(t, claimed[0], nightowl.NotificationSent)
			f.finish(t, claimed[1], nightowl.NotificationFailed)
			f.spooled(t, 0, 0, 2)
			f.inner.down.Store(false)
			f.drain(t)
			f.wantWrites(t, "alert a firing +2", "finish a chat[0] sent", "finish a pager[0] failed")
			f.settled(t)
		}},

		{"saves of one alert keep their order", func(t *testing.T, f *fixture) {
			f.inner.down.Store(true)
			f.save(t, "a", nightowl.AlertFiring, nightowl.MessageFiring, "chat[0]")
			f.save(t, "a", nightowl.AlertAcknowledged, nightowl.MessageAcknowledged, "chat[0]")
			if got, err := f.s.Alert(ctx, "a"); err != nil || got.State != nightowl.AlertAcknowledged {
				t.Fatalf("alert from memory = %+v, %v", got, err)
			}
			f.inner.down.Store(false)
			// Back, but the first two are still kept: the third waits
			// behind them.
			f.save(t, "a", nightowl.AlertResolved, nightowl.MessageResolved, "chat[0]")
			f.spooled(t, 0, 3, 3)
			if got, err := f.s.Alert(ctx, "a"); err != nil || got.State != nightowl.AlertResolved {
				t.Fatalf("alert from memory = %+v, %v", got, err)
			}
			f.drain(t)
			f.wantWrites(t, "alert a firing +1", "alert a acknowledged +1", "alert a resolved +1")
			f.settled(t)
		}},

		{"kept versions of alerts override the stored ones", func(t *testing.T, f *fixture) {
			f.save(t, "a", nightowl.AlertFiring, nightowl.MessageFiring)
			f.inner.down.Store(true)
			if _, err := f.s.Alerts(ctx, nightowl.AlertQuery{Open: true}); !errors.Is(err, errDown) {
				t.Fatalf("alerts while down: %v", err)
			}
			if _, err := f.s.Alert(ctx, "a"); !errors.Is(err, errDown) {
				t.Fatalf("an alert not kept, while down: %v", err)
			}
			f.save(t, "a", nightowl.AlertResolved, nightowl.MessageResolved)
			f.save(t, "b", nightowl.AlertFiring, nightowl.MessageFiring)
			f.inner.down.Store(false)
			ids := func(q nightowl.AlertQuery) string {
				t.Helper()
				as, err := f.s.Alerts(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				var s []string
				for _, a := range as {
					s = append(s, a.ID+" "+string(a.State))
				}
				return strings.Join(s, ", ")
			}
			for q, want := range map[nightowl.AlertQuery]string{
				{}:                             "a resolved, b firing",
				{Open: true}:                   "b firing",
				{Check: "check-a"}:             "a resolved",
				{Open: true, Check: "check-a"}: "",
				{Limit: 1}:                     "a resolved",
			} {
				if got := ids(q); got != want {
					t.Errorf("alerts %+v = %q, want %q", q, got, want)
				}
			}
			f.drain(t)
			f.settled(t)
		}},

		{"a send that outlived its lease ends on the stored row", func(t *testing.T, f *fixture) {
			f.inner.down.Store(true)
			f.save(t, "a", nightowl.AlertFiring, nightowl.MessageFiring, "chat[0]")
			claimed := f.claim(t, 10)
			f.clock.Advance(lease + time.Second)
			f.inner.down.Store(false)
			f.drain(t)
			f.wantWrites(t, "alert a firing +1")
			f.finish(t, claimed[0], nightowl.NotificationSent)
			f.wantWrites(t, "alert a firing +1", "finish a chat[0] sent")
			f.settled(t)
		}},

		{"an outcome that cannot be written after its alert is kept", func(t *testing.T, f *fixture) {
			f.inner.down.Store(true)
			f.save(t, "a", nightowl.AlertFiring, nightowl.MessageFiring, "chat[0]", "pager[0]")
			claimed := f.claim(t, 10)
			f.finish(t, claimed[0], nightowl.NotificationSent)
			f.finish(t, claimed[1], nightowl.NotificationFailed)
			f.inner.down.Store(false)
			// The store goes away again right after taking the alert.
			f.inner.afterWrite = func(w string) {
				if strings.HasPrefix(w, "alert") {
					f.inner.down.Store(true)
				}
			}
			if err := f.s.Drain(ctx); !errors.Is(err, errDown) {
				t.Fatalf("drain = %v", err)
			}
			f.wantWrites(t, "alert a firing +2")
			f.spooled(t, 0, 0, 2)
			f.inner.afterWrite = nil
			f.inner.down.Store(false)
			// Written as pending, they are not claimed before their
			// outcomes are written: they were sent.
			f.clock.Advance(time.Minute)
			if again := f.claim(t, 10); len(again) != 0 {
				t.Fatalf("claimed before their outcomes were written: %+v", again)
			}
			f.drain(t)
			f.wantWrites(t, "alert a firing +2", "finish a chat[0] sent", "finish a pager[0] failed")
			f.settled(t)
		}},

		{"Run writes back once the store answers", func(t *testing.T, f *fixture) {
			runCtx, cancel := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() { f.s.Run(runCtx); close(done) }()
			defer func() { cancel(); <-done }()
			f.inner.down.Store(true)
			f.event(t, "check-a", nightowl.StatusDown)
			// Run tried, failed, and waits to try again.
			if !f.clock.BlockUntil(1, 10*time.Second) {
				t.Fatal("Run does not wait to try again")
			}
			f.inner.down.Store(false)
			f.clock.Advance(2 * time.Second)
			deadline := time.Now().Add(10 * time.Second)
			for e, _, _ := f.s.Spooled(); e > 0; e, _, _ = f.s.Spooled() {
				if time.Now().After(deadline) {
					t.Fatal("Run did not write the event back")
				}
				time.Sleep(time.Millisecond)
			}
			f.settled(t)
		}},
	} {
		t.Run(c.name, func(t *testing.T) { c.run(t, newFixture(t)) })
	}
}

func TestWriteBackOverAnotherNodesChange(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a := nightowl.Alert{ID: "a", Check: "shop", State: nightowl.AlertFiring, Severity: nightowl.SeverityCritical,
		Status: nightowl.StatusDown, StartsAt: t0, Notified: []string{"chat"}}
	if err := f.s.SaveAlert(ctx, &a, nil); err != nil || a.Version != 1 {
		t.Fatalf("save: %v, version %d", err, a.Version)
	}

	// Cut off from the store, this node acknowledges the alert, then
	// notes something on it: both are kept, each moving the version on
	// as a write would.
	f.inner.down.Store(true)
	a.State, a.AckedBy, a.AckedAt = nightowl.AlertAcknowledged, "ana", t0.Add(time.Minute)
	out := []nightowl.Notification{{Receiver: "chat", Message: nightowl.Message{Kind: nightowl.MessageAcknowledged, Alert: a},
		CreatedAt: t0, NextAt: t0}}
	if err := f.s.SaveAlert(ctx, &a, out); err != nil || a.Version != 2 {
		t.Fatalf("kept ack: %v, version %d; want version 2", err, a.Version)
	}
	a.Maintenance = "noted while away"
	if err := f.s.SaveAlert(ctx, &a, nil); err != nil || a.Version != 3 {
		t.Fatalf("kept note: %v, version %d; want version 3", err, a.Version)
	}
	if got, err := f.s.Alert(ctx, "a"); err != nil || got.Version != 3 || got.State != nightowl.AlertAcknowledged {
		t.Fatalf("kept alert = %s v%d, %v", got.State, got.Version, err)
	}

	// Meanwhile another node, which reaches the store, escalates it.
	other, err := f.inner.Store.Alert(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	other.Escalated, other.Notified = 1, []string{"chat", "primary"}
	if err := f.inner.Store.SaveAlert(ctx, &other, nil); err != nil || other.Version != 2 {
		t.Fatalf("other node's change: %v, version %d", err, other.Version)
	}

	// Written back, the changes kept here are written last and stay;
	// their notification is queued.
	f.inner.down.Store(false)
	f.drain(t)
	f.spooled(t, 0, 0, 0)
	stored, err := f.inner.Store.Alert(ctx, "a")
	if err != nil || stored.State != nightowl.AlertAcknowledged || stored.Maintenance != "noted while away" || stored.Version != 4 {
		t.Fatalf("written back: %s %q v%d, %v; want acknowledged, noted, v4", stored.State, stored.Maintenance, stored.Version, err)
	}
	ns, err := f.inner.Store.Notifications(ctx, nightowl.NotificationQuery{AlertID: "a"})
	if err != nil || len(ns) != 1 || ns[0].Message.Kind != nightowl.MessageAcknowledged {
		t.Fatalf("notifications = %+v, %v; want the acknowledgement", ns, err)
	}

	// This node's next change, made over the version it was given, is
	// written over the one the write-back left: no conflict.
	a.State, a.ResolvedAt = nightowl.AlertResolved, t0.Add(time.Hour)
	if err := f.s.SaveAlert(ctx, &a, nil); err != nil || a.Version != 5 {
		t.Fatalf("next change: %v, version %d; want version 5", err, a.Version)
	}
	// A change over a version truly stale still loses.
	stale := other
	stale.Cause = "stale"
	if err := f.s.SaveAlert(ctx, &stale, nil); nightowl.ErrorCode(err) != nightowl.EConflict {
		t.Fatalf("stale change: %v, want a conflict", err)
	}
}
