package heartbeat

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
)

// The targets: a million heartbeat checks loaded with at most 1 KB
// of memory each, and at least 20,000 pings a second.
const maxBytesPerCheck = 1024

// manyChecks builds n checks the way a config does: each with its own spec.
func manyChecks(n int) []Check {
	checks := make([]Check, n)
	for i := range checks {
		checks[i] = Check{Name: fmt.Sprintf("job-%07d", i), Spec: period(time.Hour, 0)}
	}
	return checks
}

// trackerBytes loads checks into a new tracker and returns the heap it
// holds per check, beyond the config (names and specs) and the store.
func trackerBytes(tb testing.TB, checks []Check, ping bool) float64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	tr, err := New(Options{Store: &memStore{discard: true}, Logger: quietLog})
	if err != nil {
		tb.Fatal(err)
	}
	if err := tr.SetChecks(checks, nil); err != nil {
		tb.Fatal(err)
	}
	if ping {
		// A check that has run once keeps its last signals; an ended
		// run must leave nothing behind.
		idx := tr.index.Load()
		for tok := range idx.byToken {
			tr.Ping(tok, nightowl.Ping{Kind: nightowl.PingStart})
			tr.Ping(tok, nightowl.Ping{ExitCode: new(int)})
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(tr)
	return float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(len(checks))
}

// TestMemoryPerCheck guards the memory target on a sample small enough for
// every test run; BenchmarkMillionChecks measures the real thing.
func TestMemoryPerCheck(t *testing.T) {
	checks := manyChecks(20_000)
	for _, ping := range []bool{false, true} {
		if per := trackerBytes(t, checks, ping); per > maxBytesPerCheck {
			t.Errorf("pinged %v: %.0f bytes per check, want at most %d", ping, per, maxBytesPerCheck)
		}
	}
}

// BenchmarkMillionChecks loads 1,000,000 heartbeat checks and reports the
// heap the tracker holds per check (its state, token, maps and heap entry;
// not the config's names and specs, reported apart as spec-B/check).
// Run it once: go test -run NONE -bench MillionChecks -benchtime 1x ./heartbeat/
func BenchmarkMillionChecks(b *testing.B) {
	const n = 1_000_000
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	checks := manyChecks(n)
	runtime.GC()
	runtime.ReadMemStats(&after)
	config := float64(after.HeapAlloc-before.HeapAlloc) / n
	b.ResetTimer()
	for b.Loop() {
		for _, ping := range []bool{false, true} {
			per := trackerBytes(b, checks, ping)
			if ping {
				b.ReportMetric(per, "pinged-B/check")
			} else {
				b.ReportMetric(per, "B/check")
			}
			if per > maxBytesPerCheck {
				b.Errorf("pinged %v: %.0f bytes per check, want at most %d", ping, per, maxBytesPerCheck)
			}
		}
	}
	b.ReportMetric(config, "config-B/check")
	runtime.KeepAlive(checks)
}

// BenchmarkPing measures pings in process, without HTTP, against 100,000
// checks, with the dispatcher running and a report consumer that does
// nothing: the tracker's own cost, which the HTTP handler and the store's
// queue add to.
func BenchmarkPing(b *testing.B) {
	const n = 100_000
	checks := manyChecks(n)
	tr, err := New(Options{Store: &memStore{discard: true}, Logger: quietLog,
		Report: func(string, time.Time, nightowl.Facts) {}})
	if err != nil {
		b.Fatal(err)
	}
	if err := tr.SetChecks(checks, nil); err != nil {
		b.Fatal(err)
	}
	tokens := make([]string, n)
	for i, c := range checks {
		tokens[i], _ = tr.Token(c.Name)
	}
	tr.Start(context.Background())
	defer tr.Stop()
	// Let the dispatcher make its first pass over every check.
	for {
		tr.heapMu.Lock()
		idle := len(tr.queue) > 0 && tr.queue[0].at > time.Now().UnixNano()
		tr.heapMu.Unlock()
		if idle {
			break
		}
		time.Sleep(time.Millisecond)
	}
	for _, bc := range []struct {
		name  string
		kinds []nightowl.Ping
	}{
		{"success", []nightowl.Ping{{}}},
		{"start+exit", []nightowl.Ping{{Kind: nightowl.PingStart, RID: "r"}, {ExitCode: new(int), RID: "r"}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var seq atomic.Uint64
			b.RunParallel(func(pb *testing.PB) {
				// Each goroutine walks its own stretch of checks.
				i := int(seq.Add(1)) * 7919
				k := 0
				for pb.Next() {
					if k%len(bc.kinds) == 0 {
						i++
					}
					if _, err := tr.Ping(tokens[i%n], bc.kinds[k%len(bc.kinds)]); err != nil {
						b.Error(err)
						return
					}
					k++
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pings/s")
		})
	}
}
