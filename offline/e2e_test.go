package offline_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/notify"
	"github.com/nightowl/nightowl/notify/kit"
	"github.com/nightowl/nightowl/notify/webhook"
)

// TestManagerAndSenderThroughAnOutage runs the alert manager and the
// sender on the offline store: the store goes away, a check goes down and
// comes back, the webhook hears of both from memory, and once the store
// answers again it holds the alert and its notifications, sent, once each.
func TestManagerAndSenderThroughAnOutage(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	var mu sync.Mutex
	var keys []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		keys = append(keys, r.Header.Get("Idempotency-Key"))
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	received := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), keys...)
	}

	cfg := webhook.New().(*webhook.Config)
	cfg.URL = srv.URL + "/hook"
	hook, err := cfg.Notifier(kit.Deps{Client: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	discard := slog.New(slog.DiscardHandler)
	m, err := notify.NewManager(ctx, notify.ManagerOptions{
		Store: f.s, Clock: f.clock, Logger: discard,
		Policy: notify.Policy{
			Routes:       []notify.Route{{Escalation: "default"}},
			Escalations:  map[string]*notify.Escalation{"default": {Steps: []notify.Step{{Notify: "chat"}}}},
			Groups:       map[string][]string{"chat": {"chat[0]"}},
			SendResolved: true,
		},
		// As in a cluster: the manager reads the alert back before it
		// changes it.
		Owns: func(string) bool { return true },
	})
	if err != nil {
		t.Fatal(err)
	}
	sender, err := notify.NewSender(notify.SenderOptions{
		Store: f.s, Clock: f.clock, Logger: discard, Owner: "node-a",
		Targets: func(id string) (notify.Target, bool) {
			return notify.Target{Kind: "webhook", Notifier: hook}, id == "chat[0]"
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	view := func(st nightowl.Status) nightowl.CheckView {
		return nightowl.CheckView{
			Check: nightowl.Check{Name: "shop"},
			State: nightowl.State{Check: "shop", Status: st, Cause: "status == 200 (status = 503)"},
			Last:  &nightowl.Result{Check: "shop", Status: st},
		}
	}

	f.inner.down.Store(true)
	if err := m.Observe(ctx, view(nightowl.StatusDown)); err != nil {
		t.Fatalf("observe down while the store is away: %v", err)
	}
	open := m.Open()
	if len(open) != 1 {
		t.Fatalf("open alerts = %+v", open)
	}
	id := open[0].ID
	if n := sender.SendDue(ctx); n != 1 {
		t.Fatalf("sent %d from memory, want 1", n)
	}
	f.clock.Advance(time.Minute)
	if err := m.Observe(ctx, view(nightowl.StatusUp)); err != nil {
		t.Fatalf("observe up while the store is away: %v", err)
	}
	if n := sender.SendDue(ctx); n != 1 {
		t.Fatalf("sent %d from memory, want 1", n)
	}
	if got := received(); len(got) != 2 || got[0] != id+"--1" || got[1] != id+"--2" {
		t.Fatalf("webhook got Idempotency-Keys %q", got)
	}

	f.inner.down.Store(false)
	f.drain(t)
	f.spooled(t, 0, 0, 0)
	stored, err := f.inner.Store.Alert(ctx, id)
	if err != nil || stored.State != nightowl.AlertResolved {
		t.Fatalf("stored alert = %+v, %v", stored, err)
	}
	ns, err := f.inner.Store.Notifications(ctx, nightowl.NotificationQuery{AlertID: id})
	if err != nil || len(ns) != 2 {
		t.Fatalf("stored notifications = %+v, %v", ns, err)
	}
	kinds := map[nightowl.MessageKind]bool{}
	for _, n := range ns {
		if n.State != nightowl.NotificationSent || n.SentAt.IsZero() || kinds[n.Message.Kind] {
			t.Errorf("stored notification = %+v", n)
		}
		kinds[n.Message.Kind] = true
	}
	if !kinds[nightowl.MessageFiring] || !kinds[nightowl.MessageResolved] {
		t.Errorf("stored kinds = %v", kinds)
	}
	// Nothing is sent twice, however long the sender goes on.
	for range 3 {
		f.clock.Advance(time.Hour)
		if n := sender.SendDue(ctx); n != 0 {
			t.Fatalf("sent %d more after the write-back", n)
		}
	}
	if got := received(); len(got) != 2 {
		t.Fatalf("webhook got %d requests, want 2", len(got))
	}
}
