package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nightowl/nightowl/internal/clocktest"
	"github.com/nightowl/nightowl/sqlite"
)

// TestScheduledBackups: with storage.sqlite_backup, the server writes a
// backup every interval and keeps the newest ones; a second server on the
// same file is refused while this one runs.
func TestScheduledBackups(t *testing.T) {
	dir := t.TempDir()
	backups := filepath.Join(dir, "b")
	cfg := filepath.Join(dir, "nightowl.yaml")
	writeConfig(t, cfg, fmt.Sprintf("storage:\n  sqlite: %q\n  sqlite_backup: {every: 1m, keep: 2, dir: %q}\n", filepath.Join(dir, "n.db"), backups))
	clock := clocktest.New(time.Date(2026, 12, 7, 4, 0, 0, 0, time.UTC))
	a, err := New(t.Context(), Options{ConfigPath: cfg, Listen: "127.0.0.1:0", Clock: clock,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), BcryptCost: testCost, PublicTTL: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Stop(context.Background()) })

	if _, err := New(t.Context(), Options{ConfigPath: cfg, Listen: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}); err == nil {
		t.Error("a second server on the same SQLite file started")
	}

	// Turn the loop until a third backup has begun: the first two are
	// then written, since the loop writes one at a time.
	seen := map[string]bool{}
	for i := 0; len(seen) < 3; i++ {
		if i == 1000 {
			t.Fatalf("backups seen after %d turns: %v", i, seen)
		}
		clock.Advance(time.Minute)
		time.Sleep(20 * time.Millisecond)
		for _, n := range backupFiles(t, backups) {
			if strings.HasSuffix(n, ".db") {
				seen[n] = true
			}
		}
	}
	// Stop waits for a backup under way, so that what is left is final.
	if err := a.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	names := backupFiles(t, backups)
	if len(names) != 2 {
		t.Fatalf("backups %v, want the newest 2", names)
	}
	for _, n := range names {
		if err := sqlite.Verify(context.Background(), filepath.Join(backups, n)); err != nil {
			t.Error(err)
		}
	}
}

// backupFiles lists the files in dir, none of which may be anything but a
// finished backup once the server has stopped.
func backupFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}
