package crashtest

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
)

// TestKillNineLosesNothing kills the real server 20 times at random
// moments while alerts fire and resolve, and fails on any notification
// lost or any duplicate a kill does not explain. NIGHTOWL_CRASH_SEED
// replays a seed the log printed.
func TestKillNineLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("kills a real server 20 times; skipped in -short")
	}
	var seed uint64
	if s := os.Getenv("NIGHTOWL_CRASH_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("NIGHTOWL_CRASH_SEED: %v", err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	h, err := New(ctx, Options{Dir: t.TempDir(), Kills: 20, Seed: seed, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	t.Logf("seed %d (NIGHTOWL_CRASH_SEED=%d replays its choices)", h.Seed(), h.Seed())
	rep, err := h.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("report:\n%s", rep)
	if p := rep.Problems(); len(p) > 0 {
		t.Errorf("the outbox broke its promise:\n%s\nserver output ends:\n%s", strings.Join(p, "\n"), tail(h.LogPath(), 30))
	}
	if rep.Kills != 20 {
		t.Errorf("%d kills, want 20", rep.Kills)
	}
	// A round where nothing happened proves nothing.
	if rep.Alerts == 0 || rep.ByKind[nightowl.MessageResolved] == 0 {
		t.Errorf("no alert fired and resolved: %d alerts, %v", rep.Alerts, rep.ByKind)
	}
}

// TestAccount holds the bookkeeping to what it must catch.
func TestAccount(t *testing.T) {
	resolved := func(id string, notified ...string) nightowl.Alert {
		return nightowl.Alert{ID: id, Check: "c00", State: nightowl.AlertResolved, Notified: notified}
	}
	note := func(id int64, alert, receiver string, kind nightowl.MessageKind) nightowl.Notification {
		return nightowl.Notification{ID: id, AlertID: alert, Receiver: receiver, State: nightowl.NotificationSent,
			Message: nightowl.Message{Kind: kind, Alert: nightowl.Alert{ID: alert}}}
	}
	took := func(key string, run int, receiver string, kind nightowl.MessageKind) receipt {
		return receipt{Key: key, Run: run, Receiver: receiver, Kind: kind, AlertID: strings.Split(key, "-")[0], Status: 200}
	}
	stored := []nightowl.Notification{
		note(1, "a", "ops[0]", nightowl.MessageFiring),
		note(2, "a", "ops[0]", nightowl.MessageResolved),
	}
	tests := []struct {
		name   string
		alerts []nightowl.Alert
		stored []nightowl.Notification
		got    []receipt
		check  func(*Report) bool
	}{
		{
			name: "all taken once", alerts: []nightowl.Alert{resolved("a", "ops[0]")}, stored: stored,
			got:   []receipt{took("a-1", 1, steady, "firing"), took("a-2", 2, steady, "resolved")},
			check: func(r *Report) bool { return len(r.Problems()) == 0 && r.Received == 2 && r.Duplicates == 0 },
		},
		{
			name: "lost", alerts: []nightowl.Alert{resolved("a", "ops[0]")}, stored: stored,
			got:   []receipt{took("a-1", 1, steady, "firing"), {Key: "a-2", Run: 1, Receiver: steady, Status: 429}},
			check: func(r *Report) bool { return len(r.Lost) == 1 && r.Lost[0] == "a-2 ops[0] resolved" && r.Refused == 1 },
		},
		{
			name: "duplicate after a kill", alerts: []nightowl.Alert{resolved("a", "ops[0]")}, stored: stored,
			got: []receipt{took("a-1", 1, steady, "firing"), took("a-1", 2, steady, "firing"),
				took("a-2", 2, steady, "resolved")},
			check: func(r *Report) bool {
				return len(r.Problems()) == 0 && r.Duplicates == 1 && r.MaxDuplicatesPerKill == 1
			},
		},
		{
			name: "duplicate by one process", alerts: []nightowl.Alert{resolved("a", "ops[0]")}, stored: stored,
			got: []receipt{took("a-1", 1, steady, "firing"), took("a-1", 1, steady, "firing"),
				took("a-2", 2, steady, "resolved")},
			check: func(r *Report) bool { return len(r.Unexplained) == 1 },
		},
		{
			name: "unknown key and wrong receiver", alerts: []nightowl.Alert{resolved("a", "ops[0]")}, stored: stored,
			got: []receipt{took("a-1", 1, flaky, "firing"), took("a-2", 2, steady, "resolved"),
				took("b-9", 2, steady, "firing")},
			check: func(r *Report) bool { return len(r.Unknown) == 1 && len(r.Mismatched) == 1 },
		},
		{
			name: "resolved without its message", alerts: []nightowl.Alert{resolved("a", "ops[0]", "ops[1]")}, stored: stored,
			got:   []receipt{took("a-1", 1, steady, "firing"), took("a-2", 2, steady, "resolved")},
			check: func(r *Report) bool { return len(r.Missing) == 2 },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Report{Kills: 2, Settled: true}
			account(r, tt.alerts, tt.stored, tt.got, 3)
			if !tt.check(r) {
				t.Errorf("report:\n%s\n%+v", r, r)
			}
		})
	}
}
