package offline_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/nightowl/nightowl"
)

// TestHungStoreIsAnOutage has the store hang, answering nothing until its
// caller gives up, rather than refuse: each write waits a few seconds at
// most (in the bubble's time), the first counts as an outage and what
// follows is kept without waiting, notifications are claimed from memory,
// write-backs that run out of time are tried again, never given up on,
// and once the store answers everything is written exactly once.
func TestHungStoreIsAnOutage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t)
		ctx := context.Background()
		f.inner.hung.Store(true)

		waited := func(what string, limit time.Duration, fn func()) {
			t.Helper()
			start := time.Now()
			fn()
			if d := time.Since(start); d > limit {
				t.Fatalf("%s waited %v for the hung store, want at most %v", what, d, limit)
			}
		}
		waited("the first event", 10*time.Second, func() { f.event(t, "web", nightowl.StatusDown) })
		f.spooled(t, 1, 0, 0)
		if !strings.Contains(f.logs.String(), "store unreachable") {
			t.Fatalf("the hang was not taken for an outage: %s", f.logs)
		}
		// Kept behind the event, in order, without asking the store.
		waited("an alert", 0, func() { f.save(t, "a1", nightowl.AlertFiring, nightowl.MessageFiring, "ops") })
		waited("an event", 0, func() { f.event(t, "db", nightowl.StatusDown) })
		var claimed []nightowl.Notification
		waited("a claim", 0, func() { claimed = f.claim(t, 10) })
		if len(claimed) != 1 || claimed[0].Receiver != "ops" {
			t.Fatalf("claimed %+v, want the kept notification to ops", claimed)
		}
		f.finish(t, claimed[0], nightowl.NotificationSent)

		// The write-back runs out of time as often as the store hangs,
		// more often than a write the store refuses is tried.
		for range 8 {
			waited("a write-back", 10*time.Second, func() {
				if err := f.s.Drain(ctx); !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("drain on a hung store: %v", err)
				}
			})
		}
		f.spooled(t, 2, 1, 1)
		f.wantWrites(t)

		f.inner.hung.Store(false)
		f.drain(t)
		f.wantWrites(t, "event web down", "alert a1 firing +1", "finish a1 ops sent", "event db down")
		f.settled(t)
	})
}
