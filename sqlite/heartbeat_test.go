package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/checkstore"
	"github.com/nightowl/nightowl/internal/clocktest"
	"github.com/nightowl/nightowl/internal/storetest"
)

func intp(v int) *int { return &v }

func secp(d time.Duration) *nightowl.Seconds {
	s := nightowl.Seconds(d)
	return &s
}

// bodyN is the number a test wrote in a ping's body.
func bodyN(t *testing.T, p nightowl.Ping) int {
	t.Helper()
	n, err := strconv.Atoi(p.Body)
	if err != nil {
		t.Fatalf("body %q", p.Body)
	}
	return n
}

func TestPingsRing(t *testing.T) {
	const ring = 10
	for _, tc := range []struct {
		name    string
		batches []int // pings written between flushes
		reopen  bool  // close and reopen between batches
		queued  int   // pings left queued at the end
	}{
		{"one batch", []int{3 * ring}, false, 0},
		{"a flush per ping", repeat(1, 3*ring), false, 0},
		{"uneven batches", []int{7, 12, 4, 7}, false, 0},
		{"reopen between batches", []int{7, 12, 4, 7}, true, 0},
		{"some still queued", []int{7, 12}, false, 4},
		{"more queued than the ring", []int{7}, false, ring + 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			path := dbPath(t)
			clock := clocktest.New(t0)
			s := openTest(t, path, clock, Options{PingsPerCheck: ring})
			s.SavePing(nightowl.Ping{Check: "other", Time: t0, Kind: nightowl.PingSuccess})
			n := 0
			save := func(k int) {
				for range k {
					s.SavePing(nightowl.Ping{Check: "job", Time: t0.Add(time.Duration(n) * time.Second),
						Kind: nightowl.PingSuccess, Body: strconv.Itoa(n)})
					n++
				}
			}
			for _, size := range tc.batches {
				save(size)
				flush(t, s)
				if tc.reopen {
					if err := s.Close(); err != nil {
						t.Fatal(err)
					}
					s = openTest(t, path, clock, Options{PingsPerCheck: ring})
				}
			}
			save(tc.queued)
			if got := countRows(t, path, `SELECT count(*) FROM pings p JOIN checks c ON c.id = p.check_id WHERE c.name = 'job'`); got > ring {
				t.Errorf("%d rows kept, want at most %d", got, ring)
			}
			got, err := s.Pings(ctx, "job", 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != ring {
				t.Fatalf("%d pings, want %d", len(got), ring)
			}
			for i, p := range got {
				if b := bodyN(t, p); b != n-1-i {
					t.Errorf("ping %d is number %d, want %d (newest first)", i, b, n-1-i)
				}
			}
			if got, _ := s.Pings(ctx, "job", 3); len(got) != 3 || bodyN(t, got[0]) != n-1 {
				t.Errorf("limit 3: %d pings", len(got))
			}
			if got, _ := s.Pings(ctx, "other", 0); len(got) != 1 {
				t.Errorf("other check: %d pings, want 1", len(got))
			}
			flush(t, s)
			if got := countRows(t, path, `SELECT count(*) FROM pings p JOIN checks c ON c.id = p.check_id WHERE c.name = 'job'`); got != ring {
				t.Errorf("after the last flush, %d rows kept, want %d", got, ring)
			}
		})
	}
}

func TestPingsRingShrinks(t *testing.T) {
	path := dbPath(t)
	clock := clocktest.New(t0)
	s := openTest(t, path, clock, Options{PingsPerCheck: 20})
	for i := range 20 {
		s.SavePing(nightowl.Ping{Check: "job", Time: t0.Add(time.Duration(i) * time.Second), Kind: nightowl.PingSuccess})
	}
	s.Close()
	s = openTest(t, path, clock, Options{PingsPerCheck: 5})
	s.SavePing(nightowl.Ping{Check: "job", Time: t0.Add(time.Minute), Kind: nightowl.PingFail})
	flush(t, s)
	if got := countRows(t, path, `SELECT count(*) FROM pings`); got != 5 {
		t.Errorf("%d rows kept after shrinking the ring to 5", got)
	}
	got, err := s.Pings(context.Background(), "job", 0)
	if err != nil || len(got) != 5 || got[0].Kind != nightowl.PingFail {
		t.Errorf("got %d pings, %v; want 5, the failure first", len(got), err)
	}
}

// TestPingsSeenOnce reads a check's pings while the writer flushes in the
// background: every ping must show from the moment it was saved, and none
// twice, as it moves from the queue to the disk.
func TestPingsSeenOnce(t *testing.T) {
	ctx := context.Background()
	clock := clocktest.New(t0)
	const ring, total = 50, 1000
	s := openTest(t, dbPath(t), clock, Options{PingsPerCheck: ring, FlushInterval: time.Millisecond})
	saved := make(chan int, total)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range total {
			s.SavePing(nightowl.Ping{Check: "job", Time: t0, Kind: nightowl.PingSuccess, Body: strconv.Itoa(i)})
			saved <- i
		}
		close(saved)
	}()
	for last := range saved {
		got, err := s.Pings(ctx, "job", 0)
		if err != nil {
			t.Fatal(err)
		}
		// Pings saved since last may show too; none before it may be
		// missing or repeated.
		if len(got) == 0 || bodyN(t, got[0]) < last {
			t.Fatalf("after ping %d was saved, the newest seen is %v", last, got)
		}
		for i := 1; i < len(got); i++ {
			if a, b := bodyN(t, got[i-1]), bodyN(t, got[i]); b != a-1 {
				t.Fatalf("after ping %d: ping %d follows %d", last, b, a)
			}
		}
		if want := min(bodyN(t, got[0])+1, ring); len(got) != want {
			t.Fatalf("after ping %d: %d pings, want %d", last, len(got), want)
		}
	}
	wg.Wait()
}

func TestPingQueueBound(t *testing.T) {
	ctx := context.Background()
	body := strings.Repeat("x", 1000)
	rid := func(i int) string { return fmt.Sprintf("%02d", i) }
	size := checkstore.PingSize(&nightowl.Ping{Body: body, RID: rid(0)})
	bare := checkstore.PingSize(&nightowl.Ping{RID: rid(0)})
	// Four pings more than fit in ten pings' bytes cost as many bodies as
	// it takes to free four pings' bytes.
	lost := (4*size + len(body) - 1) / len(body)
	for _, tc := range []struct {
		name          string
		opts          Options
		saved         int
		pings, bodies int64 // dropped
		// withBody says which of the kept pings, oldest first, keep
		// their bodies.
		kept, withBody int
	}{
		{"within both bounds", Options{maxQueuedPings: 10, maxPingBytes: 10 * size}, 10, 0, 0, 10, 10},
		{"beyond the count", Options{maxQueuedPings: 10, maxPingBytes: 100 * size}, 25, 15, 0, 10, 10},
		// 10 pings take 10 sizes: the oldest 4 lose their bodies to
		// make room for 4 more.
		{"beyond the bytes: bodies go first", Options{maxQueuedPings: 100, maxPingBytes: 10 * size}, 14, 0, int64(lost), 14, 14 - lost},
		// With every body gone, each ping still takes bare bytes.
		{"beyond the bytes: then whole pings", Options{maxQueuedPings: 100, maxPingBytes: 3 * bare}, 5, 2, 5, 3, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openTest(t, dbPath(t), clocktest.New(t0), tc.opts)
			for i := range tc.saved {
				s.SavePing(nightowl.Ping{Check: "job", Time: t0.Add(time.Duration(i) * time.Second),
					Kind: nightowl.PingLog, Body: body, RID: rid(i)})
			}
			s.SaveHeartbeat(nightowl.Heartbeat{Check: "job", Token: "t"})
			if p, b := s.DroppedPings(); p != tc.pings || b != tc.bodies {
				t.Errorf("dropped %d pings and %d bodies, want %d and %d", p, b, tc.pings, tc.bodies)
			}
			flush(t, s)
			got, err := s.Pings(ctx, "job", 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tc.kept {
				t.Fatalf("%d pings kept, want %d", len(got), tc.kept)
			}
			for i, p := range got {
				n := tc.saved - 1 - i // the newest are kept
				if p.RID != rid(n) {
					t.Errorf("ping %d is %s, want %d", i, p.RID, n)
				}
				hasBody := i < tc.withBody
				if (p.Body == body) != hasBody || p.Truncated == hasBody || (!hasBody && p.Body != "") {
					t.Errorf("ping %d: %d bytes of body, truncated %v; want the body kept: %v", n, len(p.Body), p.Truncated, hasBody)
				}
			}
			if hb, _ := s.Heartbeats(ctx); len(hb) != 1 {
				t.Errorf("heartbeats %v: the state must never be dropped", hb)
			}
		})
	}
}

// TestHeartbeatTokenLogged checks that a refused heartbeat state is logged,
// naming both checks and not the token, at most once a minute; the store
// suite checks what is stored.
func TestHeartbeatTokenLogged(t *testing.T) {
	const secret = "the-secret-token-of-a"
	for _, tc := range []struct {
		name string
		// first is written and flushed, then second in one batch.
		first, second []nightowl.Heartbeat
		refused       []string // what the error log mentions
	}{
		{
			name:    "another check's token",
			first:   []nightowl.Heartbeat{{Check: "a", Token: secret}},
			second:  []nightowl.Heartbeat{{Check: "b", Token: secret}, {Check: "c", Token: "c-token"}},
			refused: []string{"check=b", "token_holder=a"},
		},
		{
			name:    "a new check takes it while the holder is updated",
			first:   []nightowl.Heartbeat{{Check: "a", Token: secret}},
			second:  []nightowl.Heartbeat{{Check: "a", Token: secret, Failed: true}, {Check: "b", Token: secret}},
			refused: []string{"check=b", "token_holder=a"},
		},
		{
			name:   "moved from one check to another in one batch",
			first:  []nightowl.Heartbeat{{Check: "a", Token: secret}},
			second: []nightowl.Heartbeat{{Check: "a", Token: "a-new-token"}, {Check: "b", Token: secret}},
		},
		{
			name:   "no token yet is no conflict",
			first:  []nightowl.Heartbeat{{Check: "a"}},
			second: []nightowl.Heartbeat{{Check: "b"}, {Check: "c"}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs storetest.Logs
			log := slog.New(slog.NewTextHandler(&logs, nil))
			clock := clocktest.New(t0)
			s := openTest(t, dbPath(t), clock, Options{Logger: log})
			for _, h := range tc.first {
				s.SaveHeartbeat(h)
			}
			flush(t, s)
			for _, h := range tc.second {
				s.SaveHeartbeat(h)
			}
			flush(t, s)
			out := logs.String()
			if strings.Contains(out, secret) {
				t.Errorf("the log shows a token: %s", out)
			}
			for _, want := range tc.refused {
				if !strings.Contains(out, want) {
					t.Errorf("log does not mention %q: %s", want, out)
				}
			}
			if len(tc.refused) == 0 && strings.Contains(out, "level=ERROR") {
				t.Errorf("unexpected error: %s", out)
			}
			// The refused state is not queued again: the next flush
			// has nothing to log. The tracker saves it again with the
			// next ping, which is logged at most once a minute.
			errs := func() int { return strings.Count(logs.String(), "level=ERROR") }
			refused := 0 // every case refuses one check or none
			if len(tc.refused) > 0 {
				refused = 1
			}
			for _, step := range []struct {
				name    string
				advance time.Duration
				again   bool
				more    int
			}{
				{"next flush", 0, false, 0},
				{"saved again at once", time.Second, true, 0},
				{"saved again a minute later", time.Minute, true, refused},
			} {
				before := errs()
				clock.Advance(step.advance)
				if step.again {
					for _, h := range tc.second {
						s.SaveHeartbeat(h)
					}
				}
				s.SaveState(nightowl.State{Check: "z", Status: nightowl.StatusDown})
				flush(t, s)
				if got := errs() - before; got != step.more {
					t.Errorf("%s: %d more errors, want %d", step.name, got, step.more)
				}
			}
		})
	}
}

// TestMigrateFromVersion1 opens a database that an older nightowl left at
// schema version 1, with data in it.
func TestMigrateFromVersion1(t *testing.T) {
	ctx := context.Background()
	path := dbPath(t)
	clock := clocktest.New(t0)
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if err := applyMigrations(ctx, db, mustMigrations(t)[:1], clock.Now); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO checks (id, name) VALUES (1, 'web')`,
		`INSERT INTO states (check_id, status, since, runs) VALUES (1, 'down', ` + strconv.FormatInt(t0.UnixNano(), 10) + `, 7)`,
		`INSERT INTO results (check_id, slot, seq, start, ok, duration_ns, status) VALUES (1, 4, 4, ` + strconv.FormatInt(t0.UnixNano(), 10) + `, 0, 5, 'down')`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	if v, _ := schemaVersion(ctx, db); v != 1 {
		t.Fatalf("prepared database at version %d", v)
	}
	db.Close()

	s := openTest(t, path, clock, Options{})
	if n := countRows(t, path, `SELECT MAX(version) FROM schema_migrations`); n != len(mustMigrations(t)) {
		t.Errorf("version %d after Open, want %d", n, len(mustMigrations(t)))
	}
	st, err := s.States(ctx)
	if err != nil || len(st) != 1 || st[0].Status != nightowl.StatusDown || st[0].Runs != 7 {
		t.Errorf("states %v, %v: the old state is lost", st, err)
	}
	// The old ring goes on where it was.
	s.SaveResult(nightowl.Result{Check: "web", Start: t0.Add(time.Minute), Status: nightowl.StatusUp})
	s.SavePing(nightowl.Ping{Check: "web", Time: t0, Kind: nightowl.PingSuccess})
	s.SaveHeartbeat(nightowl.Heartbeat{Check: "web", Token: "tok"})
	flush(t, s)
	if n := countRows(t, path, `SELECT seq FROM results WHERE status = 'up'`); n != 5 {
		t.Errorf("new result has seq %d, want 5", n)
	}
	if p, err := s.Pings(ctx, "web", 0); err != nil || len(p) != 1 {
		t.Errorf("pings %v, %v", p, err)
	}
	if h, err := s.Heartbeats(ctx); err != nil || len(h) != 1 {
		t.Errorf("heartbeats %v, %v", h, err)
	}
}

// copyFiles copies the database and its WAL as a crash would leave them.
func copyFiles(t *testing.T, from, to string) {
	t.Helper()
	for _, suffix := range []string{"", "-wal"} {
		b, err := os.ReadFile(from + suffix)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to+suffix, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRingHeads checks that the rings go on where they were across a clean
// restart, which saves where they are, and across a crash, which leaves them
// to be read back.
func TestRingHeads(t *testing.T) {
	ctx := context.Background()
	const ring = 10
	path := dbPath(t)
	clock := clocktest.New(t0)
	opts := Options{PingsPerCheck: ring, ResultsPerCheck: ring}
	n := 0
	save := func(s *Store, k int) {
		for range k {
			s.SavePing(nightowl.Ping{Check: "job", Time: t0.Add(time.Duration(n) * time.Second),
				Kind: nightowl.PingSuccess, Body: strconv.Itoa(n)})
			s.SaveResult(nightowl.Result{Check: "job", Start: t0.Add(time.Duration(n) * time.Second),
				Status: nightowl.StatusUp, Facts: nightowl.Facts{"n": n}})
			n++
		}
	}
	heads := func() int { return countRows(t, path, `SELECT count(*) FROM ring_heads`) }

	s := openTest(t, path, clock, opts)
	save(s, 7)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got := heads(); got != 2 {
		t.Fatalf("%d ring heads saved by Close, want 2 (results and pings)", got)
	}
	s = openTest(t, path, clock, opts)
	if got := heads(); got != 0 {
		t.Errorf("%d ring heads left while the store is open", got)
	}
	save(s, 6)
	flush(t, s)
	crashed := filepath.Join(t.TempDir(), "crashed.db")
	copyFiles(t, path, crashed)
	save(s, 4)
	flush(t, s)

	for _, tc := range []struct {
		name string
		path string
		last int // number of the newest ping and result written
	}{
		{"clean restart", path, 16},
		{"after a crash", crashed, 12},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.path == path {
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
			}
			s := openTest(t, tc.path, clock, opts)
			n = tc.last + 1
			save(s, 3)
			flush(t, s)
			pings, err := s.Pings(ctx, "job", 0)
			if err != nil || len(pings) != ring {
				t.Fatalf("pings %v, %v", pings, err)
			}
			results, err := s.Results(ctx, "job", 0)
			if err != nil || len(results) != ring {
				t.Fatalf("results %v, %v", results, err)
			}
			for i := range ring {
				// Three new ones, then the last ones written before.
				want := n - 1 - i
				if i >= 3 {
					want = tc.last + 3 - i
				}
				if got := bodyN(t, pings[i]); got != want {
					t.Errorf("ping %d is number %d, want %d", i, got, want)
				}
				if got := results[i].Facts["n"]; got != int64(want) {
					t.Errorf("result %d is number %v, want %d", i, got, want)
				}
			}
		})
	}
}
