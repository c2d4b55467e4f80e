package sqlite

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/checkstore"
	"github.com/nightowl/nightowl/internal/clocktest"
)

// httpResult is a realistic small result: what an HTTP check without a body
// worth keeping reports, with its default and two configured assertions.
func httpResult(rng *rand.Rand, check string, start time.Time) nightowl.Result {
	// Log-normal latency around 80 ms, and one run in 200 failing.
	d := time.Duration(float64(80*time.Millisecond) * math.Exp(0.5*rng.NormFloat64()))
	r := nightowl.Result{
		Check:    check,
		Due:      start,
		Start:    start.Add(time.Duration(rng.IntN(5)) * time.Millisecond),
		OK:       true,
		Duration: nightowl.Seconds(d),
		Facts: nightowl.Facts{
			"status":         200,
			"duration":       d.Seconds(),
			"cert_days_left": 61,
			"headers":        map[string]any{"content-type": "text/html; charset=utf-8", "server": "nginx"},
		},
		Assertions: []nightowl.AssertionResult{
			{Name: "ok_status", Severity: nightowl.SeverityCritical, OK: true},
			{Name: "fast", Severity: nightowl.SeverityWarning, OK: d < 2*time.Second},
		},
	}
	if rng.IntN(200) == 0 {
		r.OK, r.Error, r.Facts["status"] = false, "context deadline exceeded", nil
	}
	r.Judge()
	return r
}

// BenchmarkSaveResult measures, with 10,000 checks, what SaveResult costs
// the engine's hot path ("queue", timed without the writer's work) and how
// many results a second reach the disk ("queue+flush": SaveResult and a Flush
// every 10,000 results).
func BenchmarkSaveResult(b *testing.B) {
	const checks = 10_000
	names := make([]string, checks)
	for i := range names {
		names[i] = fmt.Sprintf("check-%05d", i)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	pool := make([]nightowl.Result, 1024)
	for i := range pool {
		pool[i] = httpResult(rng, "", t0)
	}
	for _, tc := range []struct {
		name  string
		timed bool // whether flushing is timed
		every int  // results between flushes; below checkstore.FlushAt, so the writer stays idle meanwhile
	}{
		{"queue", false, checkstore.FlushAt - 1},
		{"queue+flush", true, checks},
	} {
		b.Run(tc.name, func(b *testing.B) {
			s := openTest(b, dbPath(b), clocktest.New(t0), Options{})
			// Warm up: every check known, every ring row present.
			for i := range checks {
				r := pool[i%len(pool)]
				r.Check = names[i]
				s.SaveResult(r)
			}
			flush(b, s)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				r := pool[i%len(pool)]
				r.Check = names[i%checks]
				r.Start = t0.Add(time.Duration(i/checks) * 30 * time.Second)
				s.SaveResult(r)
				if (i+1)%tc.every == 0 {
					if !tc.timed {
						b.StopTimer()
					}
					flush(b, s)
					b.StartTimer()
				}
			}
			if tc.timed {
				flush(b, s)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "results/s")
		})
	}
}

// BenchmarkGrowthPerDay simulates 1,000 checks run every 30 s (2,880 results
// each a day) for two days and reports how much the database file grows
// each day, after a checkpoint. Day 1 fills the rings of recent results; day
// 2 is the steady state, where only rollups and events add rows. It writes
// 5.8 million results and takes minutes, so run it alone:
//
//	go test -run '^$' -bench GrowthPerDay -benchtime 1x ./sqlite/
func BenchmarkGrowthPerDay(b *testing.B) {
	const (
		checks   = 1000
		interval = 30 * time.Second
		steps    = int(24 * time.Hour / interval)
	)
	path := dbPath(b)
	clock := clocktest.New(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	s := openTest(b, path, clock, Options{})
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 4))
	size := func() int64 {
		if _, err := s.wdb.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
			b.Fatal(err)
		}
		fi, err := os.Stat(path)
		if err != nil {
			b.Fatal(err)
		}
		return fi.Size()
	}
	names := make([]string, checks)
	for i := range names {
		names[i] = fmt.Sprintf("site-%04d.example.com", i)
	}
	before, beforeTables := size(), tableSizes(b, s)
	for day := 1; day <= 2; day++ {
		start := clock.Now()
		for step := range steps {
			at := start.Add(time.Duration(step) * interval)
			for i, name := range names {
				// Checks are spread over the interval, as the scheduler
				// spreads them.
				s.SaveResult(httpResult(rng, name, at.Add(time.Duration(i)*interval/checks)))
			}
			// Two status changes a check a day: a generous estimate for a
			// fleet that is mostly up.
			if step == steps/3 || step == 2*steps/3 {
				for _, name := range names {
					if _, err := s.AddEvent(ctx, nightowl.Event{Check: name, Time: at, Kind: nightowl.EventStatus,
						From: nightowl.StatusUp, To: nightowl.StatusDown, Cause: "ok_status: status = 503"}); err != nil {
						b.Fatal(err)
					}
				}
			}
			clock.Set(at.Add(interval))
			// A background flush: no fsync of its own.
			if err := s.do(ctx, func() error { return s.flush(false) }); err != nil {
				b.Fatal(err)
			}
		}
		after, afterTables := size(), tableSizes(b, s)
		b.ReportMetric(float64(after-before)/checks, fmt.Sprintf("B/check/day%d", day))
		b.Logf("day %d: file %d bytes, grew %.0f bytes per check", day, after, float64(after-before)/checks)
		if afterTables != nil {
			var growth []string
			for _, t := range []string{"results", "rollups", "events", "checks"} {
				growth = append(growth, fmt.Sprintf("%s %+.0f", t, float64(afterTables[t]-beforeTables[t])/checks))
			}
			b.Logf("  per check, by table with its indexes: %s", strings.Join(growth, ", "))
		}
		before, beforeTables = after, afterTables
	}
}

// tableSizes returns the bytes each table takes with its indexes, or nil
// when SQLite was built without the dbstat table.
func tableSizes(b *testing.B, s *Store) map[string]int64 {
	rows, err := s.rdb.Query(`SELECT m.tbl_name, sum(d.pgsize) FROM dbstat d
		JOIN sqlite_master m ON m.name = d.name GROUP BY m.tbl_name`)
	if err != nil {
		return nil
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var name string
		var size int64
		if err := rows.Scan(&name, &size); err != nil {
			b.Fatal(err)
		}
		out[name] = size
	}
	return out
}

// BenchmarkSavePing measures, with 10,000 heartbeat checks, what SavePing
// costs the ping endpoint ("queue": the queue is emptied, untimed, without
// writing it) and how many pings a second reach the disk ("queue+flush":
// SavePing and a Flush every 10,000 pings), alone and with the heartbeat
// state that the tracker saves with each ping ("+heartbeats"). Every ping
// carries a 100-byte body. The rings of recent pings start empty and fill as
// the benchmark runs, except in "full rings", which start with PingsPerCheck
// pings in every check's ring: the steady state, in which each ping
// overwrites the oldest of its check's. A ring row stays where it was first
// written, so how many pages a flush rewrites depends on how the rows it
// overwrites lie: together, when the checks first pinged as they ping now
// ("in order": a round of all checks at a time), or anywhere in the table
// ("scattered": a fleet whose checks were added over months, pinging at
// rates of their own), where each ping costs a page of its own.
func BenchmarkSavePing(b *testing.B) {
	const checks = 10_000
	names := make([]string, checks)
	tokens := make([]string, checks)
	for i := range names {
		names[i] = fmt.Sprintf("job-%05d", i)
		tokens[i] = fmt.Sprintf("token-%026d", i)
	}
	body := strings.Repeat("backup done: 1234 files, 5.6 GB. ", 4)[:100]
	// What wrk sends in the HTTP benchmark: a start, then a success with
	// an exit code and a body, or a plain success.
	pool := []nightowl.Ping{
		{Kind: nightowl.PingStart, Method: "GET", Body: body, UserAgent: "curl/8.5.0", Remote: "127.0.0.1"},
		{Kind: nightowl.PingSuccess, ExitCode: intp(0), Duration: secp(83 * time.Second), Method: "POST",
			Body: body, UserAgent: "curl/8.5.0", Remote: "127.0.0.1"},
		{Kind: nightowl.PingSuccess, Method: "GET", Body: body, UserAgent: "curl/8.5.0", Remote: "127.0.0.1"},
	}
	// Every check pings once a round, in an order of its own each round:
	// jobs do not keep to the order in which they first pinged, in which
	// the rows of the rings were laid out.
	rng := rand.New(rand.NewPCG(5, 6))
	rounds := make([][]int, 8)
	for r := range rounds {
		rounds[r] = rng.Perm(checks)
	}
	for _, tc := range []struct {
		name       string
		write      bool // whether the queue is written, and timed
		every      int  // pings between flushes; for "queue", below checkstore.FlushAt, so the writer stays idle
		heartbeats bool
		// full, when set, is the order of the rows in the full rings.
		full string
	}{
		{"queue", false, checkstore.FlushAt - 1, false, ""},
		{"queue+flush", true, checks, false, ""},
		{"queue+flush+heartbeats", true, checks, true, ""},
		{"queue+flush+heartbeats/full rings in order", true, checks, true, "slot.n, c.id"},
		{"queue+flush+heartbeats/full rings scattered", true, checks, true, "random()"},
	} {
		var full *Store
		b.Run(tc.name, func(sub *testing.B) {
			var s *Store
			switch {
			case tc.full == "":
				s = openTest(sub, dbPath(sub), clocktest.New(t0), Options{})
			case full == nil:
				// Filling a million ring rows takes longer than the
				// benchmark: it is done once, for every b.N tried,
				// which all find the rings full.
				full = openTest(b, dbPath(b), clocktest.New(t0), Options{})
				fillPings(b, full, names, body, tc.full)
				fallthrough
			default:
				s = full
			}
			b := sub
			// Warm up: every check known, with its heartbeat state
			// stored.
			for i := range checks {
				p := pool[0]
				p.Check, p.Time = names[i], t0
				s.SavePing(p)
				s.SaveHeartbeat(nightowl.Heartbeat{Check: names[i], Token: tokens[i], Since: t0})
			}
			flush(b, s)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				c := rounds[(i/checks)%len(rounds)][i%checks]
				at := t0.Add(time.Duration(i/checks)*time.Minute + time.Duration(i%checks)*time.Millisecond)
				p := pool[i%len(pool)]
				p.Check, p.Time = names[c], at
				s.SavePing(p)
				if tc.heartbeats {
					s.SaveHeartbeat(nightowl.Heartbeat{Check: names[c], Token: tokens[c], LastPing: at,
						LastSuccess: at, ExitCode: p.ExitCode, Since: t0})
				}
				if (i+1)%tc.every == 0 {
					if tc.write {
						flush(b, s)
						continue
					}
					b.StopTimer()
					// Thrown away, as if written.
					q := s.q.Take(false)
					s.q.Landed()
					s.q.Recycle(q)
					b.StartTimer()
				}
			}
			if tc.write {
				flush(b, s)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pings/s")
			if p, bodies := s.DroppedPings(); p+bodies > 0 {
				b.Errorf("dropped %d pings and %d bodies", p, bodies)
			}
		})
	}
}

// fillPings gives every check a full ring of pings, inserted in the given
// order, written in SQL: through SavePing it would take longer than the
// benchmark.
func fillPings(b testing.TB, s *Store, names []string, body, order string) {
	ctx := context.Background()
	err := s.do(ctx, func() error {
		return s.inTx(ctx, false, func(w *txWriter) error {
			for _, name := range names {
				if _, err := w.id(name); err != nil {
					return err
				}
			}
			_, err := w.tx.ExecContext(ctx, `WITH RECURSIVE slot(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM slot WHERE n + 1 < ?)
				INSERT INTO pings (check_id, slot, seq, time, kind, method, body, user_agent, remote)
				SELECT c.id, slot.n, slot.n, ?, 'success', 'GET', CAST(? AS BLOB), 'curl/8.5.0', '127.0.0.1'
				FROM slot, checks c ORDER BY `+order,
				s.opts.PingsPerCheck, t0.Add(-time.Hour).UnixNano(), body)
			return err
		})
	})
	if err != nil {
		b.Fatal(err)
	}
}
