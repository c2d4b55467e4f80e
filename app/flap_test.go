package app

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/engine"
	"github.com/nightowl/nightowl/internal/clocktest"
	"github.com/nightowl/nightowl/notify"
	"github.com/nightowl/nightowl/sqlite"
)

// alternating fails every other run.
type alternating struct{ n atomic.Int64 }

func (p *alternating) Probe(context.Context) nightowl.Result {
	if p.n.Add(1)%2 == 0 {
		return nightowl.Result{Error: "connection refused"}
	}
	return nightowl.Result{OK: true}
}

// TestFlappingTenMinutesTwoMessages, on a fake clock: a check that fails
// every other run, every 10 seconds for ten minutes, on a route with
// group_wait 30s and the default flap detection (more than 5 changes in
// 15 minutes). The engine and the alert manager together, with a real
// SQLite store, send two messages in all: that it flaps, and, 15 quiet
// minutes after it steadies, that it settled.
func TestFlappingTenMinutesTwoMessages(t *testing.T) {
	ctx := context.Background()
	clock := clocktest.New(time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC))
	log := slog.New(slog.DiscardHandler)
	store, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(t.TempDir(), "n.db"), Logger: log, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	m, err := notify.NewManager(ctx, notify.ManagerOptions{Store: store, Logger: log, Clock: clock, Policy: notify.Policy{
		Routes:       []notify.Route{{Escalation: "ops", GroupWait: 30 * time.Second}},
		Escalations:  map[string]*notify.Escalation{"ops": {Steps: []notify.Step{{Notify: "ops"}}}},
		Groups:       map[string][]string{"ops": {"ops[0]"}},
		SendResolved: true,
	}})
	if err != nil {
		t.Fatal(err)
	}
	e, err := engine.New(engine.Options{Store: store, Logger: log, Clock: clock, OnEvent: func(_ nightowl.Event, v nightowl.CheckView) {
		if err := m.Observe(ctx, v); err != nil {
			t.Error(err)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	p := &alternating{}
	e.SetChecks([]nightowl.Check{{Name: "wobbly", Interval: 10 * time.Second, Timeout: time.Second,
		FailAfter: 1, RecoverAfter: 1, Prober: p, Flap: nightowl.Flap{Changes: 5, Window: 15 * time.Minute}, Fingerprint: "f"}}, nil)
	step := func() {
		t.Helper()
		if _, err := e.RunNow(ctx, "wobbly"); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Escalate(ctx); err != nil {
			t.Fatal(err)
		}
		clock.Advance(10 * time.Second)
	}
	for range 60 { // ten minutes
		step()
	}
	if v, _ := e.Check("wobbly"); v.State.Status != nightowl.StatusFlapping {
		t.Fatalf("after ten minutes: %s", v.State.Status)
	}
	// Steady from now on: every run up.
	for range 100 { // 16m40s
		p.n.Store(0) // the next run is odd: up
		step()
	}
	if v, _ := e.Check("wobbly"); v.State.Status != nightowl.StatusUp {
		t.Fatalf("after a quiet quarter of an hour: %+v", v.State)
	}
	ns, err := store.Notifications(ctx, nightowl.NotificationQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for i := len(ns) - 1; i >= 0; i-- {
		kinds = append(kinds, string(ns[i].Message.Kind)+" "+string(ns[i].Message.Alert.Status))
	}
	if len(kinds) != 2 || kinds[0] != "firing flapping" || kinds[1] != "resolved flapping" {
		t.Errorf("messages: %q; want that it flaps, and that it settled", kinds)
	}
}
