package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nightowl/nightowl"
)

// TestUnavailable sorts real SQLite errors: a full database and a
// read-only one are outages to wait out; a broken constraint is not.
func TestUnavailable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "u.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	for _, q := range []string{`CREATE TABLE t (k TEXT PRIMARY KEY, v BLOB)`, `INSERT INTO t VALUES ('a', 'x')`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	_, unique := db.Exec(`INSERT INTO t VALUES ('a', 'y')`)

	// A database that may not grow fails as a full disk does.
	if _, err := db.Exec(`PRAGMA max_page_count = 8`); err != nil {
		t.Fatal(err)
	}
	var full error
	for i := 0; full == nil && i < 1000; i++ {
		_, full = db.Exec(`INSERT INTO t VALUES (?, ?)`, fmt.Sprint(i), strings.Repeat("x", 4000))
	}

	ro, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	_, readOnly := ro.Exec(`INSERT INTO t VALUES ('b', 'z')`)

	for _, tt := range []struct {
		name string
		err  error
		want bool
	}{
		{"full", full, true},
		{"read-only", readOnly, true},
		{"wrapped", fmt.Errorf("save alert a1: %w", full), true},
		{"writer stuck past the deadline", fmt.Errorf("save alert a1: %w", context.DeadlineExceeded), true},
		{"unique constraint", unique, false},
		{"caller gave up", context.Canceled, false},
		{"domain error", nightowl.Errorf(nightowl.EInvalid, "no"), false},
		{"nil", nil, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name != "nil" && tt.err == nil {
				t.Fatal("no error to sort")
			}
			if got := Unavailable(tt.err); got != tt.want {
				t.Errorf("Unavailable(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}
