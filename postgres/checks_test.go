package postgres

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/storetest"
	"github.com/nightowl/nightowl/internal/testdb"
)

var checksT0 = time.Date(2026, 3, 17, 22, 0, 0, 0, time.UTC)

// openChecks opens a store on dsn whose background flush never fires during
// a test, so that only Flush and Close write.
func openChecks(t *testing.T, dsn string, opts Options) *Store {
	t.Helper()
	opts.DSN = dsn
	if opts.Now == nil {
		opts.Now = func() time.Time { return checksT0 }
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.FlushInterval == 0 {
		opts.FlushInterval = time.Hour
	}
	s, err := Open(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// checksRows counts rows of a table directly, to check what the store keeps
// rather than what it chooses to return.
func checksRows(t *testing.T, s *Store, query string, args ...any) int {
	t.Helper()
	var n int
	if err := s.pool.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestTwoNodesOneCheck has two stores, as two nodes during a handover, write
// results, pings, states and rollups of the same check at the same time.
func TestTwoNodesOneCheck(t *testing.T) {
	ctx := context.Background()
	dsn := testdb.PostgresSchema(t)
	const keep, rounds, perRound = 20, 25, 7
	opts := Options{ResultsPerCheck: keep, PingsPerCheck: keep}
	nodes := []*Store{openChecks(t, dsn, opts), openChecks(t, dsn, opts)}
	var wg sync.WaitGroup
	errs := make(chan error, len(nodes)*rounds)
	for i, s := range nodes {
		node := fmt.Sprintf("node%d", i)
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := 0
			for range rounds {
				for range perRound {
					at := checksT0.Add(time.Duration(n) * time.Second)
					s.SaveResult(nightowl.Result{Check: "web", Start: at, Status: nightowl.StatusUp,
						Duration: nightowl.Seconds(time.Duration(n+1) * time.Millisecond),
						Facts:    nightowl.Facts{"node": node, "n": n}})
					s.SavePing(nightowl.Ping{Check: "web", Time: at, Kind: nightowl.PingSuccess, RID: node, Body: fmt.Sprint(n)})
					s.SaveState(nightowl.State{Check: "web", Status: nightowl.StatusUp, Runs: int64(n)})
					s.SaveHeartbeat(nightowl.Heartbeat{Check: "web", Token: "web-token", LastPing: at})
					n++
				}
				errs <- s.Flush(ctx)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("flush: %v", err)
		}
	}
	total := int64(len(nodes) * rounds * perRound)

	t.Run("rollups merged exactly", func(t *testing.T) {
		for _, p := range []nightowl.Period{nightowl.Hourly, nightowl.Daily} {
			got, err := nodes[1].Rollups(ctx, "web", p, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			var runs int64
			for _, r := range got {
				runs += r.Runs
			}
			if runs != total {
				t.Errorf("%s: %d runs, want %d: a merge was lost", p, runs, total)
			}
		}
	})
	t.Run("results bounded and ordered", func(t *testing.T) {
		got, err := nodes[0].Results(ctx, "web", 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != keep {
			t.Fatalf("%d results, want %d", len(got), keep)
		}
		last := map[any]int64{}
		for _, r := range got {
			node, n := r.Facts["node"], r.Facts["n"].(int64)
			if prev, ok := last[node]; ok && n >= prev {
				t.Errorf("%v: result %d after %d, want newest first", node, n, prev)
			}
			last[node] = n
		}
		// Either node's next write trims what the other left.
		nodes[0].SaveResult(nightowl.Result{Check: "web", Start: checksT0, Status: nightowl.StatusUp})
		nodes[0].SavePing(nightowl.Ping{Check: "web", Time: checksT0, Kind: nightowl.PingLog})
		if err := nodes[0].Flush(ctx); err != nil {
			t.Fatal(err)
		}
		for _, table := range []string{"results", "pings"} {
			if n := checksRows(t, nodes[0], `SELECT count(*) FROM `+table); n != keep {
				t.Errorf("%s: %d rows, want %d", table, n, keep)
			}
		}
	})
	t.Run("one check, one state", func(t *testing.T) {
		for _, q := range []string{`SELECT count(*) FROM checks`, `SELECT count(*) FROM states`, `SELECT count(*) FROM heartbeats`} {
			if n := checksRows(t, nodes[0], q); n != 1 {
				t.Errorf("%s: %d", q, n)
			}
		}
	})
}

// TestHeartbeatTokenLogged checks that a refused heartbeat state is logged,
// naming both checks and not the token, at most once a minute; the suite
// checks what is stored.
func TestHeartbeatTokenLogged(t *testing.T) {
	const secret = "the-secret-token-of-a"
	var logs storetest.Logs
	now := checksT0
	s := openChecks(t, testdb.PostgresSchema(t), Options{
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		Now:    func() time.Time { return now },
	})
	errs := func() int { return strings.Count(logs.String(), "level=ERROR") }
	for _, step := range []struct {
		name    string
		advance time.Duration
		save    []nightowl.Heartbeat
		more    int
	}{
		{"holder", 0, []nightowl.Heartbeat{{Check: "a", Token: secret}}, 0},
		{"refused", 0, []nightowl.Heartbeat{{Check: "b", Token: secret}}, 1},
		{"not queued again", 0, nil, 0},
		{"saved again at once", time.Second, []nightowl.Heartbeat{{Check: "b", Token: secret}}, 0},
		{"saved again a minute later", time.Minute, []nightowl.Heartbeat{{Check: "b", Token: secret}}, 1},
	} {
		before := errs()
		now = now.Add(step.advance)
		for _, h := range step.save {
			s.SaveHeartbeat(h)
		}
		s.SaveState(nightowl.State{Check: "z", Status: nightowl.StatusUp})
		if err := s.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := errs() - before; got != step.more {
			t.Errorf("%s: %d more errors, want %d", step.name, got, step.more)
		}
	}
	out := logs.String()
	if strings.Contains(out, secret) {
		t.Errorf("the log shows a token: %s", out)
	}
	for _, want := range []string{"check=b", "token_holder=a"} {
		if !strings.Contains(out, want) {
			t.Errorf("log does not mention %q: %s", want, out)
		}
	}
}

// TestPingsSeenOnce reads a check's pings while the writer flushes in the
// background: every ping must show from the moment it was saved, and none
// twice, as it moves from the queue to the database.
func TestPingsSeenOnce(t *testing.T) {
	ctx := context.Background()
	const ring, total = 50, 300
	s := openChecks(t, testdb.PostgresSchema(t), Options{PingsPerCheck: ring, FlushInterval: time.Millisecond})
	saved := make(chan int, total)
	go func() {
		for i := range total {
			s.SavePing(nightowl.Ping{Check: "job", Time: checksT0, Kind: nightowl.PingSuccess, Body: fmt.Sprint(i)})
			saved <- i
		}
		close(saved)
	}()
	body := func(p nightowl.Ping) int {
		var n int
		fmt.Sscan(p.Body, &n)
		return n
	}
	for last := range saved {
		got, err := s.Pings(ctx, "job", 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 || body(got[0]) < last {
			t.Fatalf("after ping %d was saved, the newest seen is %v", last, got)
		}
		for i := 1; i < len(got); i++ {
			if a, b := body(got[i-1]), body(got[i]); b != a-1 {
				t.Fatalf("after ping %d: ping %d follows %d", last, b, a)
			}
		}
		if want := min(body(got[0])+1, ring); len(got) != want {
			t.Fatalf("after ping %d: %d pings, want %d", last, len(got), want)
		}
	}
}

// TestOpenHidesCredentials checks that the password in a DSN appears in no
// error of Open.
func TestOpenHidesCredentials(t *testing.T) {
	const password = "hunter2-very-secret"
	for _, tc := range []struct {
		name string
		dsn  string
	}{
		{"not a valid dsn", "postgres://nightowl:" + password + "@127.0.0.1:notaport/db"},
		{"nobody listens", "postgres://nightowl:" + password + "@127.0.0.1:1/db?sslmode=disable&connect_timeout=2"},
		{"key=value form", "host=127.0.0.1 port=1 user=nightowl password=" + password + " dbname=db sslmode=disable connect_timeout=2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			s, err := Open(ctx, Options{DSN: tc.dsn})
			if err == nil {
				s.Close()
				t.Fatal("opened")
			}
			if strings.Contains(err.Error(), password) {
				t.Errorf("error shows the password: %v", err)
			}
		})
	}
}
