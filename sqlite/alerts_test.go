package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/clocktest"
)

// TestEventWritesItsState: a status change and the state it leads to reach
// the disk together, so a crash right after the change cannot bring back
// the state from before it.
func TestEventWritesItsState(t *testing.T) {
	clock := clocktest.New(time.Date(2026, 3, 18, 1, 0, 0, 0, time.UTC))
	s := openTest(t, filepath.Join(t.TempDir(), "s.db"), clock, Options{})
	ctx := context.Background()
	s.SaveState(nightowl.State{Check: "shop", Status: nightowl.StatusDown, Since: clock.Now(), Cause: "503"})
	if sts, err := s.States(ctx); err != nil || len(sts) != 0 {
		t.Fatalf("a queued state is on disk before any write: %v %v", sts, err)
	}
	if _, err := s.AddEvent(ctx, nightowl.Event{Check: "shop", Kind: nightowl.EventStatus, From: nightowl.StatusUp, To: nightowl.StatusDown}); err != nil {
		t.Fatal(err)
	}
	sts, err := s.States(ctx)
	if err != nil || len(sts) != 1 || sts[0].Status != nightowl.StatusDown || sts[0].Cause != "503" {
		t.Fatalf("state after the event: %+v %v", sts, err)
	}
}
