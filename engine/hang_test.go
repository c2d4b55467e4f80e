package engine

import (
	"context"
	"log/slog"
	"testing"
	"testing/synctest"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/clocktest"
)

// hungStore answers no event until its caller gives up, as a database that
// hangs instead of refusing does.
type hungStore struct {
	*memStore
	calls, withoutDeadline int
}

func (h *hungStore) AddEvent(ctx context.Context, e nightowl.Event) (nightowl.Event, error) {
	h.calls++
	if _, ok := ctx.Deadline(); !ok {
		// It would wait forever.
		h.withoutDeadline++
		return e, context.Canceled
	}
	<-ctx.Done()
	return e, ctx.Err()
}

// A status change that the store does not take holds up the check's worker
// for EventTimeout at most; what hangs off the change (alerting) still
// hears of it.
func TestHungStoreDelaysStatusChangeBoundedly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clock := clocktest.New(t0)
		store := &hungStore{memStore: newMemStore()}
		var told []nightowl.Event
		e, err := New(Options{Clock: clock, Store: store, Logger: slog.New(slog.DiscardHandler), OnEvent: func(ev nightowl.Event, _ nightowl.CheckView) {
			told = append(told, ev)
		}})
		if err != nil {
			t.Fatal(err)
		}
		overdue := assertion{name: "on_time", ok: func(f nightowl.Facts) bool { return f["overdue"] != true }}
		e.SetChecks([]nightowl.Check{{Name: "backup", Type: "heartbeat", Passive: true, FailAfter: 1, RecoverAfter: 1,
			Assertions: []nightowl.Assertion{overdue}, Fingerprint: "f"}}, nil)
		// Up (no news), down, up again: two status changes.
		for _, late := range []bool{false, true, false} {
			start := time.Now()
			if _, err := e.Submit("backup", clock.Now(), nightowl.Facts{"overdue": late}); err != nil {
				t.Fatal(err)
			}
			if d := time.Since(start); d > EventTimeout {
				t.Errorf("recording waited %v for the store, want at most %v", d, EventTimeout)
			}
		}
		if store.calls != 2 || store.withoutDeadline > 0 {
			t.Fatalf("%d events written, %d of them without a deadline; want 2, each with one", store.calls, store.withoutDeadline)
		}
		if len(told) != 2 || told[0].To != nightowl.StatusDown || told[1].To != nightowl.StatusUp {
			t.Errorf("alerting heard of %+v, want down then up", told)
		}
	})
}
