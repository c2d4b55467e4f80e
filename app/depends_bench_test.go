package app

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/engine"
	"github.com/nightowl/nightowl/notify"
	"github.com/nightowl/nightowl/sqlite"
)

// switchedProbe fails while its chain is down.
type switchedProbe struct{ down *atomic.Bool }

func (p switchedProbe) Probe(context.Context) nightowl.Result {
	if p.down.Load() {
		return nightowl.Result{Error: "connection refused"}
	}
	return nightowl.Result{OK: true}
}

// BenchmarkDependsDecide: 10,000 checks in 1,000 chains ten deep (each
// check depends on the one before it); 100 chains, 10% of the checks,
// fail at once, their checks noticing in random order, sixteen at a time.
// One op is deciding all of them: the engine runs each failing check, asks
// upstream first where nothing is known down, and blocks or fails it; the
// alert manager opens the roots' alerts and lists the blocked checks on
// them, in a real SQLite store. Reports ms per op (the whole outage) and
// checks the outcome: 100 alerts, 900 checks blocked.
func BenchmarkDependsDecide(b *testing.B) {
	const chains, depth, failing, workers = 1000, 10, 100, 16
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	for b.Loop() {
		b.StopTimer()
		store, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(b.TempDir(), "n.db"), Logger: log})
		if err != nil {
			b.Fatal(err)
		}
		m, err := notify.NewManager(ctx, notify.ManagerOptions{Store: store, Logger: log, Policy: notify.Policy{
			Routes:      []notify.Route{{Escalation: "ops"}},
			Escalations: map[string]*notify.Escalation{"ops": {Steps: []notify.Step{{Notify: "ops"}}}},
			Groups:      map[string][]string{"ops": {"ops[0]"}},
		}})
		if err != nil {
			b.Fatal(err)
		}
		e, err := engine.New(engine.Options{Store: store, Logger: log, OnEvent: func(_ nightowl.Event, v nightowl.CheckView) {
			if err := m.Observe(ctx, v); err != nil {
				b.Error(err)
			}
		}})
		if err != nil {
			b.Fatal(err)
		}
		downs := make([]*atomic.Bool, chains)
		var checks []nightowl.Check
		for c := range chains {
			downs[c] = &atomic.Bool{}
			for d := range depth {
				ch := nightowl.Check{Name: fmt.Sprintf("c%04d-%d", c, d), Interval: time.Minute, Timeout: time.Second,
					FailAfter: 1, RecoverAfter: 1, Prober: switchedProbe{downs[c]}, Fingerprint: "f"}
				if d > 0 {
					ch.DependsOn = []string{fmt.Sprintf("c%04d-%d", c, d-1)}
				}
				checks = append(checks, ch)
			}
		}
		e.SetChecks(checks, nil)
		for _, ch := range checks {
			e.RunNow(ctx, ch.Name)
		}
		var fail []string
		for c := range failing {
			downs[c*(chains/failing)].Store(true)
			for d := range depth {
				fail = append(fail, fmt.Sprintf("c%04d-%d", c*(chains/failing), d))
			}
		}
		rand.Shuffle(len(fail), func(i, j int) { fail[i], fail[j] = fail[j], fail[i] })
		work := make(chan string)
		var wg sync.WaitGroup
		b.StartTimer()
		for range workers {
			wg.Go(func() {
				for name := range work {
					e.RunNow(ctx, name)
				}
			})
		}
		for _, name := range fail {
			work <- name
		}
		close(work)
		wg.Wait()
		b.StopTimer()

		blocked := 0
		for _, v := range e.Checks() {
			if v.State.Status == nightowl.StatusBlocked {
				blocked++
			}
		}
		open := m.Open()
		listed := 0
		for _, a := range open {
			listed += len(a.Blocked)
		}
		if len(open) != failing || blocked != failing*(depth-1) || listed != blocked {
			b.Fatalf("%d alerts, %d checks blocked, %d listed on alerts; want %d, %d, %d",
				len(open), blocked, listed, failing, failing*(depth-1), failing*(depth-1))
		}
		e.Stop()
		store.Close()
		b.StartTimer()
	}
}
