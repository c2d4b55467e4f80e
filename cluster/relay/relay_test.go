package relay

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/cluster"
	"github.com/nightowl/nightowl/heartbeat"
	"github.com/nightowl/nightowl/internal/clocktest"
	"github.com/nightowl/nightowl/probe"
	"github.com/nightowl/nightowl/sqlite"
)

// Forwarding between nodes is tested end to end in app (pings_test.go),
// with two servers on one PostgreSQL database; these tests pin what a
// node decides on its own.

const token = "nightly-token-0123456789"

type rig struct {
	tracker *heartbeat.Tracker
	router  *Router
	clock   *clocktest.Fake
	owns    map[string]bool

	submitted []string
}

func newRig(t *testing.T) *rig {
	t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	store, err := sqlite.Open(t.Context(), sqlite.Options{Path: filepath.Join(t.TempDir(), "n.db"), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	r := &rig{clock: clocktest.New(time.Date(2026, 5, 1, 3, 0, 0, 0, time.UTC)), owns: map[string]bool{}}
	r.tracker, err = heartbeat.New(heartbeat.Options{Clock: r.clock, Store: store, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	spec := &probe.Heartbeat{Period: time.Hour, Grace: time.Minute, Token: token}
	if errs := spec.Validate(); len(errs) > 0 {
		t.Fatal(errs)
	}
	if err := r.tracker.SetChecks([]heartbeat.Check{{Name: "nightly", Spec: spec}}, nil); err != nil {
		t.Fatal(err)
	}
	r.router = New(Options{Tracker: r.tracker, Key: []byte("key"), Clock: r.clock, Logger: quiet,
		Owns:   func(check string) bool { return r.owns[check] },
		Member: func() *cluster.Membership { return nil },
		Checks: func() []nightowl.CheckView {
			return []nightowl.CheckView{{Check: nightowl.Check{Name: "nightly", Passive: true}}}
		},
		Submit: func(check string, _ time.Time, _ nightowl.Facts) { r.submitted = append(r.submitted, check) },
		Stored: store.Heartbeats,
	})
	return r
}

func TestPingRecordedHere(t *testing.T) {
	for _, tc := range []struct {
		name string
		owns bool
	}{
		{"this node holds the check", true},
		// No membership yet: no other node is known to hold it.
		{"no other node holds it", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t)
			r.owns["nightly"] = tc.owns
			p, err := r.router.Ping(token, nightowl.Ping{Kind: nightowl.PingSuccess, Time: r.clock.Now()})
			if err != nil || p.Check != "nightly" {
				t.Fatalf("ping: %+v %v", p, err)
			}
			if check, ok := r.router.CheckFor(token); !ok || check != "nightly" {
				t.Errorf("CheckFor = %q, %t", check, ok)
			}
		})
	}
}

// TestTakenOverReportedOnceOwned: a heartbeat check taken over has its
// facts handed to the engine only once this node's lease is in force.
func TestTakenOverReportedOnceOwned(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	r.router.Adopt(ctx, []string{"nightly"})
	r.router.Adopt(ctx, nil)
	if len(r.submitted) != 0 {
		t.Fatalf("reported before the lease was in force: %v", r.submitted)
	}
	r.owns["nightly"] = true
	r.router.Adopt(ctx, nil)
	r.router.Adopt(ctx, nil)
	if len(r.submitted) != 1 || r.submitted[0] != "nightly" {
		t.Fatalf("reported %v, want nightly once", r.submitted)
	}
}
