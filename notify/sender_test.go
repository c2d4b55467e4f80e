package notify_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/clocktest"
	"github.com/nightowl/nightowl/notify"
	"github.com/nightowl/nightowl/notify/kit"
)

// fakeNotifier answers each Notify with what answer says, and records the
// messages it was given.
type fakeNotifier struct {
	mu     sync.Mutex
	answer func(m *nightowl.Message) (bool, error)
	got    []nightowl.Message
}

func (n *fakeNotifier) Notify(ctx context.Context, m *nightowl.Message) (bool, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.got = append(n.got, *m)
	if n.answer == nil {
		return false, nil
	}
	return n.answer(m)
}

type senderFixture struct {
	*fixture
	n       *fakeNotifier
	s       *notify.Sender
	reg     *prometheus.Registry
	metrics *notify.Metrics
}

func newSender(t *testing.T) *senderFixture {
	t.Helper()
	pol := policy()
	pol.Escalations["default"].Steps = pol.Escalations["default"].Steps[:1]
	f := &senderFixture{fixture: newFixture(t, pol), n: &fakeNotifier{}, reg: prometheus.NewRegistry()}
	f.metrics = notify.NewMetrics(f.reg)
	var err error
	f.s, err = notify.NewSender(notify.SenderOptions{
		Store: f.store, Clock: f.clock, Logger: slog.New(slog.DiscardHandler),
		Targets: func(id string) (notify.Target, bool) {
			if id == "chat[0]" {
				return notify.Target{Kind: "webhook", Notifier: f.n}, true
			}
			return notify.Target{}, false
		},
		Metrics: f.metrics,
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *senderFixture) send(t *testing.T) int {
	t.Helper()
	return f.s.SendDue(context.Background())
}

func (f *senderFixture) notification(t *testing.T) nightowl.Notification {
	t.Helper()
	ns, err := f.store.Notifications(context.Background(), nightowl.NotificationQuery{})
	if err != nil || len(ns) != 1 {
		t.Fatalf("notifications = %+v, %v", ns, err)
	}
	return ns[0]
}

func (f *senderFixture) counter(c *prometheus.CounterVec) float64 {
	return testutil.ToFloat64(c.WithLabelValues("chat[0]", "webhook"))
}

func TestSenderDelivers(t *testing.T) {
	f := newSender(t)
	f.observe(t, view("shop", nil, nightowl.StatusDown))
	if n := f.send(t); n != 1 {
		t.Fatalf("sent %d, want 1", n)
	}
	n := f.notification(t)
	if n.State != nightowl.NotificationSent || n.Attempts != 1 || !n.SentAt.Equal(t0) {
		t.Fatalf("notification = %+v", n)
	}
	if len(f.n.got) != 1 || f.n.got[0].IdempotencyKey != notify.IdempotencyKey(&n) || f.n.got[0].Alert.Check != "shop" {
		t.Fatalf("receiver got %+v", f.n.got)
	}
	if f.send(t) != 0 {
		t.Fatal("a sent notification was sent again")
	}
	if v := f.counter(f.metrics.Sent); v != 1 {
		t.Errorf("sent metric = %v", v)
	}
}

func TestSenderRetriesWithBackoff(t *testing.T) {
	f := newSender(t)
	f.n.answer = func(*nightowl.Message) (bool, error) { return true, errors.New("503 Service Unavailable") }
	f.observe(t, view("shop", nil, nightowl.StatusDown))
	var keys []string
	var prev time.Duration
	for attempt := 1; attempt <= 6; attempt++ {
		if n := f.send(t); n != 1 {
			t.Fatalf("attempt %d: sent %d", attempt, n)
		}
		n := f.notification(t)
		if n.State != nightowl.NotificationPending || n.Attempts != attempt || n.Error != "503 Service Unavailable" {
			t.Fatalf("attempt %d: %+v", attempt, n)
		}
		wait := n.NextAt.Sub(f.clock.Now())
		base := 5 * time.Second << (attempt - 1)
		if wait < base/2 || wait > base {
			t.Fatalf("attempt %d: retry in %s, want within [%s, %s]", attempt, wait, base/2, base)
		}
		if attempt > 1 && wait <= prev/2 {
			t.Fatalf("attempt %d: backoff did not grow: %s after %s", attempt, wait, prev)
		}
		prev = wait
		// Not before it is due.
		f.clock.Set(n.NextAt.Add(-time.Millisecond))
		if f.send(t) != 0 {
			t.Fatalf("attempt %d: retried early", attempt)
		}
		f.clock.Set(n.NextAt)
		keys = append(keys, f.n.got[len(f.n.got)-1].IdempotencyKey)
	}
	for _, k := range keys {
		if k != keys[0] {
			t.Fatalf("idempotency keys differ between attempts: %v", keys)
		}
	}
	if v := f.counter(f.metrics.Retries); v != 6 {
		t.Errorf("retries metric = %v", v)
	}
}

func TestSenderHonoursRetryAfter(t *testing.T) {
	f := newSender(t)
	f.n.answer = func(*nightowl.Message) (bool, error) {
		return true, &kit.RetryAfterError{After: 7 * time.Minute, Err: errors.New("429 Too Many Requests")}
	}
	f.observe(t, view("shop", nil, nightowl.StatusDown))
	f.send(t)
	if n := f.notification(t); !n.NextAt.Equal(t0.Add(7 * time.Minute)) {
		t.Fatalf("next at %s, want the 7m the receiver asked for", n.NextAt.Sub(t0))
	}
}

func TestSenderGivesUp(t *testing.T) {
	t.Run("refused", func(t *testing.T) {
		f := newSender(t)
		f.n.answer = func(*nightowl.Message) (bool, error) { return false, errors.New("400 Bad Request: invalid token") }
		f.observe(t, view("shop", nil, nightowl.StatusDown))
		f.send(t)
		n := f.notification(t)
		if n.State != nightowl.NotificationFailed || n.Error != "400 Bad Request: invalid token" {
			t.Fatalf("notification = %+v", n)
		}
		if v := f.counter(f.metrics.Failed); v != 1 {
			t.Errorf("failed metric = %v", v)
		}
	})
	t.Run("after give_up_after", func(t *testing.T) {
		f := newSender(t)
		f.n.answer = func(*nightowl.Message) (bool, error) { return true, errors.New("connection refused") }
		f.observe(t, view("shop", nil, nightowl.StatusDown))
		tries := 0
		for ; tries < 1000; tries++ {
			f.send(t)
			n := f.notification(t)
			if n.State == nightowl.NotificationFailed {
				if !strings.HasPrefix(n.Error, "gave up after 24h0m0s: connection refused") {
					t.Fatalf("error = %q", n.Error)
				}
				if f.clock.Now().Sub(t0) > 24*time.Hour {
					t.Fatalf("kept trying for %s", f.clock.Now().Sub(t0))
				}
				break
			}
			f.clock.Set(n.NextAt)
		}
		// Backoff is capped at 10 minutes, so a day is some 150 tries.
		if tries < 100 || tries > 300 {
			t.Fatalf("gave up after %d tries", tries)
		}
	})
	t.Run("receiver removed", func(t *testing.T) {
		f := newSender(t)
		f.observe(t, view("db1", map[string]string{"tier": "db"}, nightowl.StatusDown))
		f.send(t)
		ns, _ := f.store.Notifications(context.Background(), nightowl.NotificationQuery{})
		for _, n := range ns {
			if n.State != nightowl.NotificationFailed || !strings.Contains(n.Error, "no longer configured") {
				t.Fatalf("notification = %+v", n)
			}
		}
	})
}

func TestLeaseOfACrashedSender(t *testing.T) {
	f := newSender(t)
	f.observe(t, view("shop", nil, nightowl.StatusDown))
	ctx := context.Background()
	// Claimed, then the process died before it finished.
	claimed, err := f.store.ClaimNotifications(ctx, "node-a", t0, 10, time.Minute)
	if err != nil || len(claimed) != 1 {
		t.Fatalf("claimed %v, %v", claimed, err)
	}
	if again, _ := f.store.ClaimNotifications(ctx, "node-b", t0.Add(59*time.Second), 10, time.Minute); len(again) != 0 {
		t.Fatal("claimed twice within the lease")
	}
	if again, _ := f.store.ClaimNotifications(ctx, "node-b", t0.Add(time.Minute), 10, time.Minute); len(again) != 1 || again[0].Attempts != 2 {
		t.Fatalf("after the lease: %+v", again)
	}
	// node-b died too; node-b restarting releases what it held at once.
	if err := f.store.ReleaseClaims(ctx, "node-b"); err != nil {
		t.Fatal(err)
	}
	if again, _ := f.store.ClaimNotifications(ctx, "node-b", t0.Add(time.Minute), 10, time.Minute); len(again) != 1 {
		t.Fatal("a released claim was not due")
	}
}

func TestOutboxMetrics(t *testing.T) {
	f := newSender(t)
	f.n.answer = func(*nightowl.Message) (bool, error) { return true, errors.New("timeout") }
	f.observe(t, view("shop", nil, nightowl.StatusDown))
	f.clock.Set(t0.Add(90 * time.Second))
	f.send(t)
	reg := prometheus.NewRegistry()
	reg.MustRegister(notify.OutboxCollector{Store: f.store, Clock: f.clock})
	want := `
# HELP nightowl_outbox_oldest_pending_seconds Age of the oldest notification waiting to be sent; 0 when none is.
# TYPE nightowl_outbox_oldest_pending_seconds gauge
nightowl_outbox_oldest_pending_seconds{receiver="chat[0]"} 90
# HELP nightowl_outbox_pending Notifications waiting to be sent or retried.
# TYPE nightowl_outbox_pending gauge
nightowl_outbox_pending{receiver="chat[0]"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "nightowl_outbox_pending", "nightowl_outbox_oldest_pending_seconds"); err != nil {
		t.Fatal(err)
	}
}

func TestSenderRunDeliversAsQueued(t *testing.T) {
	f := newSender(t)
	got := make(chan string, 10)
	f.n.answer = func(m *nightowl.Message) (bool, error) { got <- m.IdempotencyKey; return false, nil }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.s.Run(ctx); close(done) }()
	f.observe(t, view("shop", nil, nightowl.StatusDown))
	f.s.Wake()
	select {
	case <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not send a queued notification")
	}
	cancel()
	<-done
}

// hangingNotifier takes every message and answers none until released or
// until the send's timeout, counting the sends it holds at once.
type hangingNotifier struct {
	release        chan struct{}
	inflight, most atomic.Int32
}

func (h *hangingNotifier) Notify(ctx context.Context, m *nightowl.Message) (bool, error) {
	n := h.inflight.Add(1)
	defer h.inflight.Add(-1)
	for {
		most := h.most.Load()
		if n <= most || h.most.CompareAndSwap(most, n) {
			break
		}
	}
	select {
	case <-h.release:
		return false, nil
	case <-ctx.Done():
		return true, ctx.Err()
	}
}

// TestSenderHangingReceiverHoldsHalf: a receiver that takes messages and
// never answers holds at most half the senders. The other receiver of the
// same twelve alerts gets all of them meanwhile, and the sends the hanging
// one was not given wait for the first of its sends to time out.
func TestSenderHangingReceiverHoldsHalf(t *testing.T) {
	f := newFixture(t, notify.Policy{
		Routes:      []notify.Route{{Escalation: "all"}},
		Escalations: map[string]*notify.Escalation{"all": {Steps: []notify.Step{{Notify: "all"}}}},
		Groups:      map[string][]string{"all": {"hang[0]", "ok[0]"}},
	})
	// Real time, from where the fixture's clock stands, for the waits
	// under way while the hanging receiver holds its sends.
	clock, err := clocktest.NewStepped()
	if err != nil {
		t.Fatal(err)
	}
	clock.Step(f.clock.Now().Sub(time.Now()))
	hang := &hangingNotifier{release: make(chan struct{})}
	ok := &fakeNotifier{}
	s, err := notify.NewSender(notify.SenderOptions{
		Store: f.store, Clock: clock, Logger: slog.New(slog.DiscardHandler),
		Targets: func(id string) (notify.Target, bool) {
			switch id {
			case "hang[0]":
				return notify.Target{Kind: "webhook", Notifier: hang}, true
			case "ok[0]":
				return notify.Target{Kind: "webhook", Notifier: ok}, true
			}
			return notify.Target{}, false
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 12 {
		f.observe(t, view(fmt.Sprintf("c%02d", i), nil, nightowl.StatusDown))
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	defer func() {
		close(hang.release)
		cancel()
		<-done
	}()

	byReceiver := func() (sent, busy int, next time.Time) {
		ns, err := f.store.Notifications(context.Background(), nightowl.NotificationQuery{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range ns {
			switch {
			case n.Receiver == "ok[0]" && n.State == nightowl.NotificationSent:
				sent++
			case n.Receiver == "hang[0]" && n.State == nightowl.NotificationPending && strings.Contains(n.Error, "receiver busy"):
				busy++
				if next.IsZero() || n.NextAt.Before(next) {
					next = n.NextAt
				}
			}
		}
		return sent, busy, next
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		sent, busy, next := byReceiver()
		if sent == 12 && busy == 8 {
			// Not before the first hanging send can have timed out.
			if wait := next.Sub(clock.Now()); wait < 20*time.Second {
				t.Errorf("the sends the hanging receiver was not given are tried again in %s, before its first send times out", wait)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 15s: %d of 12 sent to the receiver that answers, %d of 8 sends to the hanging one put off", sent, busy)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if most := hang.most.Load(); most != 4 {
		t.Errorf("the hanging receiver held %d sends at once, want 4 (half of 8)", most)
	}
}
