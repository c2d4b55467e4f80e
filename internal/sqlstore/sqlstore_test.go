package sqlstore

import (
	"testing"
	"time"
)

func TestBind(t *testing.T) {
	for _, tc := range []struct {
		name     string
		numbered bool
		in, want string
	}{
		{"question marks stay", false, `SELECT a FROM t WHERE b = ? AND c = ?`, `SELECT a FROM t WHERE b = ? AND c = ?`},
		{"numbered in order", true, `SELECT a FROM t WHERE b = ? AND c = ?`, `SELECT a FROM t WHERE b = $1 AND c = $2`},
		{"none", true, `SELECT 1`, `SELECT 1`},
		{"cast after", true, `SELECT ?::text || n FROM t LIMIT ?`, `SELECT $1::text || n FROM t LIMIT $2`},
		{"ten and more", true, `(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, `($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := New(Options{Dialect: Dialect{Numbered: tc.numbered}})
			for range 2 { // the second from the cache
				if got := db.bind(tc.in); got != tc.want {
					t.Errorf("bind(%q) = %q, want %q", tc.in, got, tc.want)
				}
			}
		})
	}
}

func TestAt(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 891011121, time.UTC)
	for _, tc := range []struct {
		name string
		dest func(*time.Time) any
		in   any
		want time.Time
	}{
		{"NULL", At, nil, time.Time{}},
		{"Unix nanoseconds", At, at.UnixNano(), at},
		{"Unix seconds", AtSecond, at.Unix(), at.Truncate(time.Second)},
		{"timestamptz, in UTC", At, at.In(time.FixedZone("x", 3600)), at},
		{"NULL start", AtSecond, nil, time.Time{}},
		{"Unix nanoseconds as text", At, []byte("1772600767891011121"), time.Unix(0, 1772600767891011121)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := time.Now()
			if err := tc.dest(&got).(interface{ Scan(any) error }).Scan(tc.in); err != nil {
				t.Fatal(err)
			}
			if !got.Equal(tc.want) || got.Location() != time.UTC && !got.IsZero() {
				t.Errorf("scanned %v, want %v in UTC", got, tc.want)
			}
		})
	}
	var got time.Time
	if err := At(&got).(interface{ Scan(any) error }).Scan("yesterday"); err == nil {
		t.Errorf("a string scanned as a time: %v", got)
	}
}
