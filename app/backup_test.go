package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
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

	var names []string
	for i := 0; i < 200 && len(names) < 2; i++ {
		clock.Advance(time.Minute)
		time.Sleep(20 * time.Millisecond)
		names = names[:0]
		for _, e := range must(os.ReadDir(backups)) {
			names = append(names, e.Name())
		}
	}
	// Further turns replace the oldest: never more than keep.
	for range 3 {
		clock.Advance(time.Minute)
		time.Sleep(50 * time.Millisecond)
	}
	entries := must(os.ReadDir(backups))
	if len(entries) != 2 {
		t.Fatalf("backups %v, want the newest 2", entries)
	}
	for _, e := range entries {
		if err := sqlite.Verify(t.Context(), filepath.Join(backups, e.Name())); err != nil {
			t.Error(err)
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil && !os.IsNotExist(err) {
		panic(err)
	}
	return v
}
