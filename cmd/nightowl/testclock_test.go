package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestOffsetClockFollowsItsFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "clock")
	if _, err := newOffsetClock(path); err == nil {
		t.Fatal("a missing file was taken")
	}
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("soon\n")
	if _, err := newOffsetClock(path); err == nil {
		t.Fatal("a malformed offset was taken")
	}
	write("0\n")
	c, err := newOffsetClock(path)
	if err != nil {
		t.Fatal(err)
	}
	c.reread = 0
	for _, tt := range []struct {
		file string
		want time.Duration
	}{{"+1h\n", time.Hour}, {"", time.Hour}, {"-30m", -30 * time.Minute}, {"0", 0}} {
		write(tt.file)
		before := time.Now()
		got := c.Now()
		after := time.Now()
		wall := got.Round(0).Add(-tt.want)
		if wall.Before(before.Round(0)) || wall.After(after.Round(0)) {
			t.Errorf("file %q: Now() = %s, want between %s and %s moved by %s", tt.file, got, before, after, tt.want)
		}
		if got.Before(before) || got.After(after) {
			t.Errorf("file %q: the monotonic reading of %s is not between %s and %s", tt.file, got, before, after)
		}
	}
}
