package audited

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/clocktest"
	"github.com/nightowl/nightowl/oncall"
	"github.com/nightowl/nightowl/sqlite"
)

// TestOncallRecorded: overrides added and deleted and feeds created and
// revoked are recorded with who did it; a refused one is not, and no entry
// holds a feed's secret.
func TestOncallRecorded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(t.TempDir(), "n.db"), Logger: slog.New(slog.DiscardHandler), FlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	now := time.Date(2026, 3, 3, 10, 0, 0, 0, time.UTC)
	sched := oncall.Schedule{Name: "primary", Zone: time.UTC, Layers: []oncall.Rotation{{Name: "weekly", Participants: []string{"ana", "cy"},
		Start: now.Add(-24 * time.Hour), Length: oncall.Weekly}}}
	r, err := oncall.NewRoster(oncall.RosterOptions{Schedules: func() []oncall.Schedule { return []oncall.Schedule{sched} }, Store: store, Clock: clocktest.New(now)})
	if err != nil {
		t.Fatal(err)
	}
	var log entries
	s := Oncall{Roster: r, Recorder: &log}
	o, err := s.AddOverride(ctx, nightowl.ScheduleOverride{Schedule: "primary", User: "cy", From: now.Add(time.Hour), To: now.Add(2 * time.Hour), Reason: "swap", CreatedBy: "cy"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddOverride(ctx, nightowl.ScheduleOverride{Schedule: "primary", User: "mallory", From: now.Add(time.Hour), To: now.Add(2 * time.Hour), CreatedBy: "cy"}); err == nil {
		t.Fatal("mallory's override was taken")
	}
	if _, err := s.DeleteOverride(ctx, "primary", o.ID, "ana"); err != nil {
		t.Fatal(err)
	}
	secret, err := s.CreateFeed(ctx, nightowl.FeedSchedule, "primary", "ana")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeFeed(ctx, nightowl.FeedSchedule, "primary", "bo"); err != nil {
		t.Fatal(err)
	}
	want := []struct{ actor, action, subject, detail string }{
		{"cy", "override.add", o.ID, `schedule primary; user cy; from 2026-03-03T11:00:00Z to 2026-03-03T12:00:00Z; reason "swap"`},
		{"ana", "override.delete", o.ID, `schedule primary; user cy; from 2026-03-03T11:00:00Z to 2026-03-03T12:00:00Z; reason "swap"`},
		{"ana", "feed.create", "schedule primary", ""},
		{"bo", "feed.revoke", "schedule primary", ""},
	}
	if len(log) != len(want) {
		t.Fatalf("recorded %+v", log)
	}
	for i, w := range want {
		e := log[i]
		if e.Actor != w.actor || e.Action != w.action || e.Subject != w.subject || (w.detail != "" && e.Detail != w.detail) {
			t.Errorf("entry %d: %+v, want %+v", i, e, w)
		}
		if strings.Contains(e.Detail, secret) {
			t.Errorf("entry %d holds the secret", i)
		}
	}
}
