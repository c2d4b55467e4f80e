package storetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
)

func recordsContacts(t *testing.T, open Opener[Records]) {
	ctx := context.Background()
	clock := NewClock()
	t0 := clock.Now()
	s, reopen := open(t, clock)
	for _, name := range []string{"ana", "bo"} {
		if err := s.SaveUser(ctx, &nightowl.User{Name: name, Role: nightowl.RoleResponder, PasswordHash: "h"}); err != nil {
			t.Fatal(err)
		}
	}
	phone := nightowl.ContactMethod{ID: "c-1", User: "ana", Kind: "phone", Label: "mobile", Address: "+4915112345678",
		CreatedAt: t0, CodeHash: []byte("hash"), CodeExpires: t0.Add(time.Hour), CodeTries: 1}
	mail := nightowl.ContactMethod{ID: "c-2", User: "ana", Kind: "email", Address: "ana@example.com", CreatedAt: t0.Add(time.Second), VerifiedAt: t0}
	bos := nightowl.ContactMethod{ID: "c-3", User: "bo", Kind: "email", Address: "bo@example.com", CreatedAt: t0}
	for _, c := range []*nightowl.ContactMethod{&phone, &mail, &bos} {
		if err := s.SaveContact(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("refused", func(t *testing.T) {
		if err := s.SaveContact(ctx, &nightowl.ContactMethod{ID: "c-9", User: "cy", Kind: "email", Address: "x@example.com"}); nightowl.ErrorCode(err) != nightowl.ENotFound {
			t.Errorf("a method of no user: %v, want not found", err)
		}
		steal := bos
		steal.User = "ana"
		if err := s.SaveContact(ctx, &steal); nightowl.ErrorCode(err) != nightowl.EConflict {
			t.Errorf("a method saved over another user's: %v, want a conflict", err)
		}
		if err := s.SetNotificationRules(ctx, "ana", []nightowl.NotificationRule{{Contact: "c-3"}}); nightowl.ErrorCode(err) != nightowl.ENotFound {
			t.Errorf("a rule naming bo's method: %v, want not found", err)
		}
	})
	t.Run("read back", func(t *testing.T) {
		s = reopen()
		got, err := s.Contacts(ctx, "ana")
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].ID != "c-1" || got[1].ID != "c-2" {
			t.Fatalf("Contacts(ana) = %+v, want c-1 then c-2", got)
		}
		g := got[0]
		if g.Kind != "phone" || g.Label != "mobile" || g.Address != phone.Address || !g.CreatedAt.Equal(t0) || g.Verified() ||
			string(g.CodeHash) != "hash" || !g.CodeExpires.Equal(t0.Add(time.Hour)) || g.CodeTries != 1 {
			t.Errorf("c-1 read back as %+v", g)
		}
		if !got[1].Verified() {
			t.Errorf("c-2 is not verified: %+v", got[1])
		}
		one, err := s.Contact(ctx, "c-3")
		if err != nil || one.User != "bo" {
			t.Errorf("Contact(c-3) = %+v, %v", one, err)
		}
		if _, err := s.Contact(ctx, "c-9"); nightowl.ErrorCode(err) != nightowl.ENotFound {
			t.Errorf("Contact(c-9): %v, want not found", err)
		}
	})
	t.Run("verified", func(t *testing.T) {
		phone.VerifiedAt, phone.CodeHash, phone.CodeExpires, phone.CodeTries = t0.Add(time.Minute), nil, time.Time{}, 0
		if err := s.SaveContact(ctx, &phone); err != nil {
			t.Fatal(err)
		}
		g, err := s.Contact(ctx, "c-1")
		if err != nil || !g.VerifiedAt.Equal(t0.Add(time.Minute)) || len(g.CodeHash) != 0 || !g.CodeExpires.IsZero() {
			t.Errorf("after verifying: %+v, %v", g, err)
		}
	})
	t.Run("rules", func(t *testing.T) {
		rules := []nightowl.NotificationRule{{Contact: "c-2"}, {Contact: "c-1", After: 5 * time.Minute}, {Contact: "c-2", After: 15 * time.Minute}}
		if err := s.SetNotificationRules(ctx, "ana", rules); err != nil {
			t.Fatal(err)
		}
		got, err := s.NotificationRules(ctx, "ana")
		if err != nil || !slices.Equal(got, rules) {
			t.Fatalf("NotificationRules = %+v, %v; want %+v", got, err, rules)
		}
		// Deleting a method takes its rules; the others keep their order.
		if err := s.DeleteContact(ctx, "c-1"); err != nil {
			t.Fatal(err)
		}
		got, err = s.NotificationRules(ctx, "ana")
		if want := []nightowl.NotificationRule{rules[0], rules[2]}; err != nil || !slices.Equal(got, want) {
			t.Errorf("after deleting c-1: %+v, %v; want %+v", got, err, want)
		}
		if err := s.DeleteContact(ctx, "c-1"); nightowl.ErrorCode(err) != nightowl.ENotFound {
			t.Errorf("deleting c-1 again: %v, want not found", err)
		}
		if err := s.SetNotificationRules(ctx, "ana", nil); err != nil {
			t.Fatal(err)
		}
		if got, err := s.NotificationRules(ctx, "ana"); err != nil || len(got) != 0 {
			t.Errorf("after clearing: %+v, %v", got, err)
		}
	})
	t.Run("go with their user", func(t *testing.T) {
		if err := s.SetNotificationRules(ctx, "bo", []nightowl.NotificationRule{{Contact: "c-3"}}); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteUser(ctx, "bo"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Contact(ctx, "c-3"); nightowl.ErrorCode(err) != nightowl.ENotFound {
			t.Errorf("bo's method outlived him: %v", err)
		}
		if got, err := s.NotificationRules(ctx, "bo"); err != nil || len(got) != 0 {
			t.Errorf("bo's rules outlived him: %+v, %v", got, err)
		}
	})
}

// recordsUntilAck: acknowledging or resolving an alert cancels, in the
// same write, the pages to people's contact methods that still wait, and
// nothing else.
func recordsUntilAck(t *testing.T, open Opener[Records]) {
	ctx := context.Background()
	clock := NewClock()
	t0 := clock.Now()
	s, _ := open(t, clock)
	for _, end := range []nightowl.AlertState{nightowl.AlertAcknowledged, nightowl.AlertResolved} {
		t.Run(string(end), func(t *testing.T) {
			a := &nightowl.Alert{ID: "a-" + string(end), Check: "shop", State: nightowl.AlertFiring, Status: nightowl.StatusDown, StartsAt: t0}
			msg := nightowl.Message{Kind: nightowl.MessageFiring, Alert: *a}
			out := []nightowl.Notification{
				{Receiver: "contact:sms", Message: msg, CreatedAt: t0, NextAt: t0.Add(5 * time.Minute), UntilAck: true},
				{Receiver: "team[0]", Message: msg, CreatedAt: t0, NextAt: t0.Add(5 * time.Minute)},
				{Receiver: "contact:push", Message: msg, CreatedAt: t0, NextAt: t0, UntilAck: true},
			}
			if err := s.SaveAlert(ctx, a, out); err != nil {
				t.Fatal(err)
			}
			// The push was sent before the alert ended.
			sent := out[2]
			sent.State, sent.SentAt, sent.Attempts = nightowl.NotificationSent, t0, 1
			if err := s.FinishNotification(ctx, &sent); err != nil {
				t.Fatal(err)
			}
			b := *a
			b.State = end
			ackMsg := nightowl.Message{Kind: nightowl.MessageAcknowledged, Alert: b}
			if err := s.SaveAlert(ctx, &b, []nightowl.Notification{{Receiver: "contact:push", Message: ackMsg, CreatedAt: t0, NextAt: t0}}); err != nil {
				t.Fatal(err)
			}
			got, err := s.Notifications(ctx, nightowl.NotificationQuery{AlertID: a.ID})
			if err != nil {
				t.Fatal(err)
			}
			states := map[string]nightowl.NotificationState{}
			for _, n := range got {
				states[n.Receiver+"/"+string(n.Message.Kind)] = n.State
				if n.Receiver == "contact:sms" && (!n.UntilAck || n.Error == "") {
					t.Errorf("the cancelled page reads %+v", n)
				}
			}
			want := map[string]nightowl.NotificationState{
				"contact:sms/firing": nightowl.NotificationCancelled, "team[0]/firing": nightowl.NotificationPending,
				"contact:push/firing": nightowl.NotificationSent, "contact:push/acknowledged": nightowl.NotificationPending,
			}
			for k, v := range want {
				if states[k] != v {
					t.Errorf("%s is %q, want %q (all: %v)", k, states[k], v, states)
				}
			}
		})
	}
}
