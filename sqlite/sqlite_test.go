package sqlite

import (
	"context"
	"database/sql"
	"log/slog"
	"math"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/checkstore"
	"github.com/nightowl/nightowl/internal/clocktest"
	"github.com/nightowl/nightowl/internal/schema"
)

var t0 = time.Date(2026, 3, 17, 22, 0, 0, 0, time.UTC)

// openTest opens a store whose background flush never fires during a test, so
// that only Flush and Close write and every test is deterministic.
func openTest(t testing.TB, path string, clock *clocktest.Fake, opts Options) *Store {
	t.Helper()
	opts.Path = path
	opts.Now = clock.Now
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

func flush(t testing.TB, s *Store) {
	t.Helper()
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func dbPath(t testing.TB) string { return filepath.Join(t.TempDir(), "nightowl.db") }

func within(got, want, rel float64) bool {
	return math.Abs(got-want) <= rel*want+1e-12
}

// countRows counts rows of a table directly, to check what the store keeps
// rather than what it chooses to return.
func countRows(t *testing.T, path, query string, args ...any) int {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestResultsRing(t *testing.T) {
	const ring = 10
	for _, tc := range []struct {
		name string
		// batches are written with a Flush after each; reopen closes and
		// reopens the store between batches, so the ring must find its
		// place again from what is stored.
		batches []int
		reopen  bool
	}{
		{"one batch", []int{3 * ring}, false},
		{"a flush per result", repeat(1, 3*ring), false},
		{"uneven batches", []int{7, 12, 4, 7}, false},
		{"reopen between batches", []int{7, 12, 4, 7}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := dbPath(t)
			clock := clocktest.New(t0)
			s := openTest(t, path, clock, Options{ResultsPerCheck: ring})
			// Another check shares the table and must not disturb the ring.
			s.SaveResult(nightowl.Result{Check: "other", Start: t0, Status: nightowl.StatusUp})
			n := 0
			for _, size := range tc.batches {
				for range size {
					s.SaveResult(nightowl.Result{Check: "web", Start: t0.Add(time.Duration(n) * time.Second),
						Status: nightowl.StatusUp, Facts: nightowl.Facts{"n": n}})
					n++
				}
				flush(t, s)
				if tc.reopen {
					if err := s.Close(); err != nil {
						t.Fatal(err)
					}
					s = openTest(t, path, clock, Options{ResultsPerCheck: ring})
				}
			}
			if got := countRows(t, path, `SELECT count(*) FROM results r JOIN checks c ON c.id = r.check_id WHERE c.name = 'web'`); got != ring {
				t.Errorf("%d rows kept, want %d", got, ring)
			}
			got, err := s.Results(context.Background(), "web", 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != ring {
				t.Fatalf("%d results, want %d", len(got), ring)
			}
			for i, r := range got {
				if want := int64(n - 1 - i); r.Facts["n"] != want {
					t.Errorf("result %d is number %v, want %d (newest first)", i, r.Facts["n"], want)
				}
			}
			if got, _ := s.Results(context.Background(), "web", 3); len(got) != 3 {
				t.Errorf("limit 3: %d results", len(got))
			}
			if got, _ := s.Results(context.Background(), "other", 0); len(got) != 1 {
				t.Errorf("other check: %d results, want 1", len(got))
			}
		})
	}
}

func TestResultsRingShrinks(t *testing.T) {
	path := dbPath(t)
	clock := clocktest.New(t0)
	s := openTest(t, path, clock, Options{ResultsPerCheck: 20})
	for i := range 20 {
		s.SaveResult(nightowl.Result{Check: "web", Start: t0.Add(time.Duration(i) * time.Second), Status: nightowl.StatusUp})
	}
	s.Close()
	s = openTest(t, path, clock, Options{ResultsPerCheck: 5})
	for i := range 3 {
		s.SaveResult(nightowl.Result{Check: "web", Start: t0.Add(time.Duration(20+i) * time.Second), Status: nightowl.StatusUp})
	}
	flush(t, s)
	if got := countRows(t, path, `SELECT count(*) FROM results`); got > 5 {
		t.Errorf("%d rows kept after shrinking the ring to 5", got)
	}
	got, err := s.Results(context.Background(), "web", 1)
	if err != nil || len(got) != 1 || !got[0].Start.Equal(t0.Add(22*time.Second)) {
		t.Errorf("newest: got %v, %v", got, err)
	}
}

func repeat(v, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// TestForgetLeavesNoRows checks that forgetting a check deletes its rows
// from every table, not only from what the store returns; the store suite
// checks what it returns.
func TestForgetLeavesNoRows(t *testing.T) {
	ctx := context.Background()
	path := dbPath(t)
	s := openTest(t, path, clocktest.New(t0), Options{})
	for _, c := range []string{"gone", "kept", "queued"} {
		s.SaveResult(nightowl.Result{Check: c, Start: t0, Status: nightowl.StatusUp})
		s.SaveState(nightowl.State{Check: c, Status: nightowl.StatusUp})
		s.SavePing(nightowl.Ping{Check: c, Time: t0, Kind: nightowl.PingStart, Body: "x"})
		s.SaveHeartbeat(nightowl.Heartbeat{Check: c, Token: c + "-token", Since: t0})
		if _, err := s.AddEvent(ctx, nightowl.Event{Check: c, Kind: nightowl.EventStatus}); err != nil {
			t.Fatal(err)
		}
		if c != "queued" {
			flush(t, s)
		}
	}
	if err := s.Forget(ctx, []string{"gone", "queued", "never-existed"}); err != nil {
		t.Fatal(err)
	}
	flush(t, s)
	for _, table := range []string{"checks", "states", "results", "events", "pings", "heartbeats"} {
		if n := countRows(t, path, `SELECT count(*) FROM `+table); n != 1 {
			t.Errorf("%s: %d rows, want 1", table, n)
		}
	}
	if n := countRows(t, path, `SELECT count(*) FROM rollups`); n != 2 {
		t.Errorf("rollups: %d rows, want 2 (kept's hour and day)", n)
	}
}

func TestBackgroundFlush(t *testing.T) {
	clock := clocktest.New(t0)
	s := openTest(t, dbPath(t), clock, Options{FlushInterval: 10 * time.Millisecond})
	s.SaveState(nightowl.State{Check: "web", Status: nightowl.StatusUp})
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if st, _ := s.States(context.Background()); len(st) == 1 {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Error("state not written without an explicit Flush")
}

func TestQueueBound(t *testing.T) {
	ctx := context.Background()
	clock := clocktest.New(t0)
	s := openTest(t, dbPath(t), clock, Options{maxQueued: 10})
	for i := range 25 {
		s.SaveResult(nightowl.Result{Check: "web", Start: t0.Add(time.Duration(i) * time.Second),
			Status: nightowl.StatusUp, Facts: nightowl.Facts{"n": i}})
	}
	s.SaveState(nightowl.State{Check: "web", Status: nightowl.StatusUp})
	if got := s.Dropped(); got != 15 {
		t.Errorf("dropped %d, want 15", got)
	}
	flush(t, s)
	res, err := s.Results(ctx, "web", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 10 || res[0].Facts["n"] != int64(24) || res[9].Facts["n"] != int64(15) {
		t.Errorf("kept %d results, newest %v oldest %v; want the newest 10", len(res), res[0].Facts, res[len(res)-1].Facts)
	}
	roll, err := s.Rollups(ctx, "web", nightowl.Daily, time.Time{})
	if err != nil || len(roll) != 1 || roll[0].Runs != 25 {
		t.Errorf("rollups %v, %v: want 25 runs, dropped results still counted", roll, err)
	}
	if st, _ := s.States(ctx); len(st) != 1 {
		t.Errorf("states were dropped: %v", st)
	}
}

func TestMigrations(t *testing.T) {
	ctx := context.Background()
	clock := clocktest.New(t0)

	t.Run("newer database is refused", func(t *testing.T) {
		path := dbPath(t)
		s := openTest(t, path, clock, Options{})
		s.Close()
		db, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, '0099_future.sql', 0)`); err != nil {
			t.Fatal(err)
		}
		db.Close()
		_, err = Open(ctx, Options{Path: path})
		if err == nil {
			t.Fatal("opened a database from the future")
		}
		latest := len(mustMigrations(t))
		for _, want := range []string{path, "version 99", "version " + strconv.Itoa(latest)} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not mention %q", err, want)
			}
		}
	})

	steps := []schema.Migration{
		{Version: 1, Name: "0001_a.sql", SQL: `CREATE TABLE a (x INTEGER); INSERT INTO a VALUES (1);`},
		{Version: 2, Name: "0002_b.sql", SQL: `CREATE TABLE b (y INTEGER); INSERT INTO b SELECT x + 1 FROM a;`},
		{Version: 3, Name: "0003_bad.sql", SQL: `CREATE TABLE c (z INTEGER); INSERT INTO nowhere VALUES (1);`},
	}
	for _, tc := range []struct {
		name        string
		ms          []schema.Migration
		wantErr     bool
		wantVersion int
		tables      []string
	}{
		{"in order, each recorded", steps[:2], false, 2, []string{"a", "b"}},
		{"a failing migration leaves nothing behind", steps, true, 2, []string{"a", "b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, err := sql.Open("sqlite", dbPath(t))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			err = applyMigrations(ctx, db, tc.ms, clock.Now)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if v, _ := schemaVersion(ctx, db); v != tc.wantVersion {
				t.Errorf("version %d, want %d", v, tc.wantVersion)
			}
			var tables []string
			rows, _ := db.Query(`SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('a', 'b', 'c') ORDER BY name`)
			for rows.Next() {
				var n string
				rows.Scan(&n)
				tables = append(tables, n)
			}
			rows.Close()
			if !reflect.DeepEqual(tables, tc.tables) {
				t.Errorf("tables %v, want %v", tables, tc.tables)
			}
			// Applying again is a no-op.
			if err := applyMigrations(ctx, db, tc.ms[:2], clock.Now); err != nil {
				t.Errorf("second run: %v", err)
			}
		})
	}
}

func mustMigrations(t *testing.T) []schema.Migration {
	ms, err := schema.Load(migrationFiles)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

func TestOpenErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"no path", Options{}},
		{"negative ring", Options{Path: "x.db", ResultsPerCheck: -1}},
		{"negative ping ring", Options{Path: "x.db", PingsPerCheck: -1}},
		{"missing directory", Options{Path: filepath.Join(t.TempDir(), "no", "such", "dir", "x.db")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if s, err := Open(context.Background(), tc.opts); err == nil {
				s.Close()
				t.Error("opened")
			}
		})
	}
}

func TestPathNeedsEscaping(t *testing.T) {
	path := filepath.Join(t.TempDir(), "odd?name#1%.db")
	s := openTest(t, path, clocktest.New(t0), Options{})
	s.SaveState(nightowl.State{Check: "web", Status: nightowl.StatusUp})
	flush(t, s)
	s.Close()
	if n := countRows(t, "file:"+strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path), `SELECT count(*) FROM states`); n != 1 {
		t.Errorf("%d states in %s", n, path)
	}
}

func TestDamagedHistogram(t *testing.T) {
	ctx := context.Background()
	path := dbPath(t)
	clock := clocktest.New(t0)
	s := openTest(t, path, clock, Options{})
	save := func(d time.Duration) {
		s.SaveResult(nightowl.Result{Check: "web", Start: t0, Duration: nightowl.Seconds(d), Status: nightowl.StatusUp})
		flush(t, s)
	}
	save(time.Second)
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE rollups SET hist = x'ff00'`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	// Reading a damaged row still gives counts; writing to it starts its
	// histogram afresh instead of failing every later flush.
	for _, tc := range []struct {
		name    string
		write   time.Duration
		p50     float64
		runs    int64
		maximum float64
	}{
		{"read as stored", 0, 0, 1, 1},
		{"written again", 2 * time.Second, 2, 2, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.write > 0 {
				save(tc.write)
			}
			got, err := s.Rollups(ctx, "web", nightowl.Hourly, t0)
			if err != nil || len(got) != 1 {
				t.Fatalf("got %v, %v", got, err)
			}
			r := got[0]
			if r.Runs != tc.runs || r.Max != tc.maximum || !within(r.P50, tc.p50, checkstore.HistAccuracy) {
				t.Errorf("got %+v, want runs %d max %v p50 %v", r, tc.runs, tc.maximum, tc.p50)
			}
		})
	}
}
