package storecopy

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/sqlite"
)

// BenchmarkCopy measures the copy of a store of 100 HTTP checks run every
// 30 s: "day" after one day (2,880 results a check, of which the rings keep
// 100, and their rollups), "year" with what a year adds besides (90 days
// of hourly rollups, 400 of daily ones and of events, two status changes a
// check a day, and an audit log, alerts and notifications to match). It
// takes a minute to fill the stores, so run it alone:
//
//	go test -run '^$' -bench Copy -benchtime 3x ./internal/storecopy/
func BenchmarkCopy(b *testing.B) {
	path := dayStore(b)
	for _, size := range []string{"day", "year"} {
		if size == "year" {
			addYear(b, path)
		}
		b.Run(size, func(b *testing.B) {
			fi, err := os.Stat(path)
			if err != nil {
				b.Fatal(err)
			}
			var rows int64
			for b.Loop() {
				b.StopTimer()
				dsn := target(b)
				b.StartTimer()
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
				counts, err := Copy(ctx, Options{SQLite: path, Postgres: dsn})
				cancel()
				if err != nil {
					b.Fatal(err)
				}
				rows = 0
				for _, c := range counts {
					rows += c.Rows
				}
			}
			b.ReportMetric(float64(rows), "rows")
			b.ReportMetric(float64(fi.Size())/1e6, "MB")
		})
	}
}

// dayStore writes a day of 100 checks through the SQLite store.
func dayStore(b *testing.B) string {
	const (
		checks   = 100
		interval = 30 * time.Second
		steps    = int(24 * time.Hour / interval)
	)
	path := filepath.Join(b.TempDir(), "nightowl.db")
	c := &clock{t: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
	ctx := context.Background()
	s, err := sqlite.Open(ctx, sqlite.Options{Path: path, Now: c.Now})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	start := c.Now()
	for step := range steps {
		at := start.Add(time.Duration(step) * interval)
		for i := range checks {
			name := fmt.Sprintf("site-%03d.example.com", i)
			d := time.Duration(float64(80*time.Millisecond) * math.Exp(0.5*rng.NormFloat64()))
			r := nightowl.Result{Check: name, Due: at, Start: at.Add(time.Duration(i) * interval / checks), OK: rng.IntN(200) > 0,
				Duration: nightowl.Seconds(d), Facts: nightowl.Facts{"status": 200, "duration": d.Seconds(), "cert_days_left": 61,
					"headers": map[string]any{"content-type": "text/html; charset=utf-8", "server": "nginx"}},
				Assertions: []nightowl.AssertionResult{{Name: "ok_status", Severity: nightowl.SeverityCritical, OK: true}}}
			r.Judge()
			s.SaveResult(r)
			if step == steps/3 || step == 2*steps/3 {
				if _, err := s.AddEvent(ctx, nightowl.Event{Check: name, Time: at, Kind: nightowl.EventStatus,
					From: nightowl.StatusUp, To: nightowl.StatusDown, Cause: "ok_status: status = 503"}); err != nil {
					b.Fatal(err)
				}
			}
		}
		c.t = at.Add(interval)
		if step%20 == 19 {
			if err := s.Flush(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	for i := range checks {
		s.SaveState(nightowl.State{Check: fmt.Sprintf("site-%03d.example.com", i), Status: nightowl.StatusUp, Since: start, LastRun: c.t})
	}
	if err := s.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	return path
}

// addYear adds, in SQL, the rows a year of the same checks leaves besides
// the day's: rollups, events, audit entries, alerts and notifications.
func addYear(b *testing.B, path string) {
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	tx, err := db.Begin()
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback()
	exec := func(q string, args ...any) {
		if _, err := tx.Exec(q, args...); err != nil {
			b.Fatal(err)
		}
	}
	var hist []byte
	if err := tx.QueryRow(`SELECT hist FROM rollups LIMIT 1`).Scan(&hist); err != nil {
		b.Fatal(err)
	}
	day0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	ids := []int64{}
	rows, err := tx.Query(`SELECT id FROM checks`)
	if err != nil {
		b.Fatal(err)
	}
	for rows.Next() {
		var id int64
		rows.Scan(&id)
		ids = append(ids, id)
	}
	rows.Close()
	for _, id := range ids {
		for h := 1; h <= 90*24; h++ {
			exec(`INSERT INTO rollups VALUES (?, 3600, ?, 120, 1, 300000000, ?)`, id, day0.Add(-time.Duration(h)*time.Hour).Unix(), hist)
		}
		for d := 1; d <= 400; d++ {
			at := day0.AddDate(0, 0, -d)
			exec(`INSERT INTO rollups VALUES (?, 86400, ?, 2880, 14, 900000000, ?)`, id, at.Unix(), hist)
			exec(`INSERT INTO events (check_id, time, kind, from_status, to_status, cause) VALUES (?, ?, 'status', 'up', 'down', 'ok_status: status = 503')`,
				id, at.Add(8*time.Hour).UnixNano())
			exec(`INSERT INTO events (check_id, time, kind, from_status, to_status, cause) VALUES (?, ?, 'status', 'down', 'up', '')`,
				id, at.Add(8*time.Hour+3*time.Minute).UnixNano())
		}
	}
	data := `{"id":"a-%d","check":"site-001.example.com","state":"resolved","severity":"critical","status":"down","cause":"ok_status: status = 503","starts_at":"2026-01-01T00:00:00Z"}`
	for i := range 20000 {
		at := day0.Add(-time.Duration(i) * 25 * time.Minute).UnixNano()
		exec(`INSERT INTO audit_log VALUES (?, ?, 'ana', 'alert.ack', 'a-1', 'by hand', x'00', x'01')`, 100000+i, at)
		if i%10 == 0 {
			exec(`INSERT INTO alerts VALUES (?, 'site-001.example.com', 'resolved', ?, ?, 1)`, fmt.Sprintf("a-y%d", i), at, fmt.Sprintf(data, i))
			for r := range 3 {
				exec(`INSERT INTO outbox (alert_id, receiver, state, attempts, created_at, next_at, sent_at, message) VALUES (?, ?, 'sent', 1, ?, ?, ?, ?)`,
					fmt.Sprintf("a-y%d", i), fmt.Sprintf("primary[%d]", r), at, at, at, `{"kind":"firing"}`)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
}
