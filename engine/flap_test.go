package engine

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/clocktest"
)

// TestFlapping: a check whose status changes more than Flap.Changes times
// within Flap.Window is flapping, with one event saying so and none for
// each change after; it settles, with one event, once its status has not
// changed for a whole window.
func TestFlapping(t *testing.T) {
	clock := clocktest.New(t0)
	var mu sync.Mutex
	var events []nightowl.Event
	metrics := NewMetrics(nil)
	e, err := New(Options{Clock: clock, Store: newMemStore(), Concurrency: 4, Metrics: metrics,
		OnEvent: func(ev nightowl.Event, _ nightowl.CheckView) {
			mu.Lock()
			events = append(events, ev)
			mu.Unlock()
		}})
	if err != nil {
		t.Fatal(err)
	}
	p := &switchProber{}
	e.SetChecks([]nightowl.Check{{Name: "web", Interval: 5 * time.Second, Timeout: time.Second, FailAfter: 1, RecoverAfter: 1,
		Prober: p, Flap: nightowl.Flap{Changes: 3, Window: time.Minute}, Fingerprint: "f"}}, nil)
	ctx := context.Background()
	run := func(down bool) nightowl.State {
		t.Helper()
		p.down.Store(down)
		if _, err := e.RunNow(ctx, "web"); err != nil {
			t.Fatal(err)
		}
		clock.Advance(5 * time.Second)
		v, _ := e.Check("web")
		return v.State
	}
	run(false)
	// Ten minutes of a change at every run.
	for i := range 120 {
		st := run(i%2 == 0)
		if i >= 3 && st.Status != nightowl.StatusFlapping {
			t.Fatalf("run %d: %s, want flapping", i, st.Status)
		}
		if i == 10 && (!strings.HasPrefix(st.Cause, "flapping: ") || st.Underlying != nightowl.StatusDown) {
			t.Errorf("while flapping: cause %q, underlying %s", st.Cause, st.Underlying)
		}
	}
	// Steady: settled once a minute passes without a change.
	var st nightowl.State
	for range 11 {
		st = run(false)
		if st.Status != nightowl.StatusFlapping {
			t.Fatalf("settled after less than a quiet minute: %+v", st)
		}
	}
	st = run(false)
	if st.Status != nightowl.StatusUp || st.Underlying != "" {
		t.Fatalf("after a quiet minute: %+v, want up", st)
	}
	mu.Lock()
	defer mu.Unlock()
	var got []string
	for _, ev := range events {
		got = append(got, string(ev.From)+"→"+string(ev.To))
	}
	want := "up→down down→up up→down down→flapping flapping→up"
	if strings.Join(got, " ") != want {
		t.Errorf("events %q, want %q", strings.Join(got, " "), want)
	}
	if !strings.HasPrefix(events[len(events)-1].Cause, "settled: no status change for 1m; ") {
		t.Errorf("settling says %q", events[len(events)-1].Cause)
	}
	if n := testutil.ToFloat64(metrics.Saved.WithLabelValues("flapping")); n < 50 {
		t.Errorf("pages saved by flapping: %v, want one for each time it went down again", n)
	}
}
