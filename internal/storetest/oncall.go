package storetest

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
)

// sameOverride compares overrides with their times as instants.
func sameOverride(a, b nightowl.ScheduleOverride) bool {
	return a.ID == b.ID && a.Schedule == b.Schedule && a.User == b.User && a.From.Equal(b.From) && a.To.Equal(b.To) &&
		a.Reason == b.Reason && a.CreatedBy == b.CreatedBy && a.CreatedAt.Equal(b.CreatedAt)
}

func recordsOverrides(t *testing.T, open Opener[Records]) {
	ctx := context.Background()
	clock := NewClock()
	t0 := clock.Now()
	s, reopen := open(t, clock)

	if os, err := s.Overrides(ctx, ""); err != nil || len(os) != 0 {
		t.Fatalf("overrides of a new store: %+v, %v", os, err)
	}
	// Created in this order: b before a, whose id sorts first, so that
	// the order is by creation and not by id.
	b := nightowl.ScheduleOverride{ID: "o-b", Schedule: "primary", User: "cy", From: t0.Add(time.Hour), To: t0.Add(10 * time.Hour),
		Reason: "swap with ana", CreatedBy: "cy", CreatedAt: t0}
	a := nightowl.ScheduleOverride{ID: "o-a", Schedule: "primary", User: "ana", From: t0.Add(2 * time.Hour), To: t0.Add(3 * time.Hour),
		CreatedBy: "ana", CreatedAt: t0.Add(time.Second)}
	c := nightowl.ScheduleOverride{ID: "o-c", Schedule: "db", User: "bo", From: t0, To: t0.Add(time.Hour), CreatedBy: "bo", CreatedAt: t0.Add(time.Minute)}
	for _, o := range []nightowl.ScheduleOverride{b, a, c} {
		if err := s.SaveOverride(ctx, &o); err != nil {
			t.Fatal(err)
		}
	}
	list := func(t *testing.T, schedule string, want ...nightowl.ScheduleOverride) {
		t.Helper()
		got, err := s.Overrides(ctx, schedule)
		if err != nil || len(got) != len(want) {
			t.Fatalf("Overrides(%q) = %+v, %v\nwant %+v", schedule, got, err, want)
		}
		for i := range got {
			if !sameOverride(got[i], want[i]) {
				t.Fatalf("Overrides(%q)[%d] = %+v\nwant %+v", schedule, i, got[i], want[i])
			}
		}
	}
	t.Run("by schedule, oldest created first", func(t *testing.T) { list(t, "primary", b, a) })
	t.Run("every schedule", func(t *testing.T) { list(t, "", b, a, c) })
	t.Run("a taken id is a conflict", func(t *testing.T) {
		dup := a
		dup.User = "mallory"
		if err := s.SaveOverride(ctx, &dup); nightowl.ErrorCode(err) != nightowl.EConflict {
			t.Fatalf("saving over o-a: %v", err)
		}
		list(t, "primary", b, a)
	})
	t.Run("an incomplete override is refused", func(t *testing.T) {
		bad := nightowl.ScheduleOverride{ID: "o-x", Schedule: "primary", CreatedAt: t0}
		if err := s.SaveOverride(ctx, &bad); nightowl.ErrorCode(err) != nightowl.EInvalid {
			t.Fatalf("saving an override without a user or times: %v", err)
		}
	})
	t.Run("delete needs the right schedule", func(t *testing.T) {
		if err := s.DeleteOverride(ctx, "db", "o-a"); nightowl.ErrorCode(err) != nightowl.ENotFound {
			t.Fatalf("deleting o-a from db: %v", err)
		}
		if err := s.DeleteOverride(ctx, "primary", "o-a"); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteOverride(ctx, "primary", "o-a"); nightowl.ErrorCode(err) != nightowl.ENotFound {
			t.Fatalf("deleting o-a again: %v", err)
		}
		list(t, "primary", b)
	})
	t.Run("survive a reopen", func(t *testing.T) {
		closeRecords(t, s)
		s = reopen()
		list(t, "", b, c)
	})
}

func recordsFeeds(t *testing.T, open Opener[Records]) {
	ctx := context.Background()
	clock := NewClock()
	t0 := clock.Now()
	s, reopen := open(t, clock)

	if err := s.SaveUser(ctx, &nightowl.User{Name: "ana", Role: nightowl.RoleViewer, PasswordHash: "h", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	ana := nightowl.CalendarFeed{Kind: nightowl.FeedUser, Name: "ana", Hash: bytes.Repeat([]byte{1}, 32), CreatedBy: "ana", CreatedAt: t0}
	primary := nightowl.CalendarFeed{Kind: nightowl.FeedSchedule, Name: "primary", Hash: bytes.Repeat([]byte{2}, 32), CreatedBy: "bo", CreatedAt: t0}
	for _, f := range []nightowl.CalendarFeed{primary, ana} {
		if err := s.SaveFeed(ctx, &f); err != nil {
			t.Fatal(err)
		}
	}
	same := func(a, b nightowl.CalendarFeed) bool {
		return a.Kind == b.Kind && a.Name == b.Name && bytes.Equal(a.Hash, b.Hash) && a.CreatedBy == b.CreatedBy && a.CreatedAt.Equal(b.CreatedAt)
	}
	byHash := func(t *testing.T, hash []byte, want nightowl.CalendarFeed) {
		t.Helper()
		got, err := s.FeedByHash(ctx, hash)
		if err != nil || !same(got, want) {
			t.Fatalf("FeedByHash = %+v, %v; want %+v", got, err, want)
		}
	}
	list := func(t *testing.T, want ...nightowl.CalendarFeed) {
		t.Helper()
		got, err := s.Feeds(ctx)
		if err != nil || len(got) != len(want) {
			t.Fatalf("Feeds = %+v, %v; want %+v", got, err, want)
		}
		for i := range got {
			if !same(got[i], want[i]) {
				t.Fatalf("Feeds[%d] = %+v; want %+v", i, got[i], want[i])
			}
		}
	}
	t.Run("found by hash", func(t *testing.T) {
		byHash(t, ana.Hash, ana)
		byHash(t, primary.Hash, primary)
		if _, err := s.FeedByHash(ctx, bytes.Repeat([]byte{9}, 32)); nightowl.ErrorCode(err) != nightowl.ENotFound {
			t.Fatalf("an unknown hash: %v", err)
		}
	})
	t.Run("listed by kind and name", func(t *testing.T) { list(t, primary, ana) })
	t.Run("a new secret replaces the old", func(t *testing.T) {
		old := ana.Hash
		ana.Hash, ana.CreatedAt = bytes.Repeat([]byte{3}, 32), t0.Add(time.Hour)
		if err := s.SaveFeed(ctx, &ana); err != nil {
			t.Fatal(err)
		}
		byHash(t, ana.Hash, ana)
		if _, err := s.FeedByHash(ctx, old); nightowl.ErrorCode(err) != nightowl.ENotFound {
			t.Fatalf("the old secret: %v", err)
		}
		list(t, primary, ana)
	})
	t.Run("another feed's hash is a conflict", func(t *testing.T) {
		bo := nightowl.CalendarFeed{Kind: nightowl.FeedUser, Name: "bo", Hash: primary.Hash, CreatedAt: t0}
		if err := s.SaveFeed(ctx, &bo); nightowl.ErrorCode(err) != nightowl.EConflict {
			t.Fatalf("saving with primary's hash: %v", err)
		}
		byHash(t, primary.Hash, primary)
	})
	t.Run("a person's feed needs the user", func(t *testing.T) {
		bo := nightowl.CalendarFeed{Kind: nightowl.FeedUser, Name: "bo", Hash: bytes.Repeat([]byte{4}, 32), CreatedAt: t0}
		if err := s.SaveFeed(ctx, &bo); nightowl.ErrorCode(err) != nightowl.ENotFound {
			t.Fatalf("the feed of no user: %v", err)
		}
	})
	t.Run("revoked", func(t *testing.T) {
		if err := s.DeleteFeed(ctx, nightowl.FeedSchedule, "primary"); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteFeed(ctx, nightowl.FeedSchedule, "primary"); nightowl.ErrorCode(err) != nightowl.ENotFound {
			t.Fatalf("revoking again: %v", err)
		}
		if _, err := s.FeedByHash(ctx, primary.Hash); nightowl.ErrorCode(err) != nightowl.ENotFound {
			t.Fatalf("a revoked feed: %v", err)
		}
	})
	t.Run("survive a reopen", func(t *testing.T) {
		closeRecords(t, s)
		s = reopen()
		list(t, ana)
	})
	t.Run("a person's feed goes with them", func(t *testing.T) {
		if err := s.DeleteUser(ctx, "ana"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.FeedByHash(ctx, ana.Hash); nightowl.ErrorCode(err) != nightowl.ENotFound {
			t.Fatalf("the feed of a removed user: %v", err)
		}
		list(t)
	})
}
