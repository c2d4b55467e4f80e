package storetest

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
)

func recordsFactors(t *testing.T, open Opener[Records]) {
	ctx := context.Background()
	clock := NewClock()
	t0 := clock.Now()
	s, reopen := open(t, clock)
	for _, name := range []string{"alice", "bob"} {
		if err := s.SaveUser(ctx, &nightowl.User{Name: name, Role: nightowl.RoleAdmin, PasswordHash: "h"}); err != nil {
			t.Fatal(err)
		}
	}
	f1 := nightowl.Factor{ID: "f-1", User: "alice", Kind: nightowl.FactorTOTP, Name: "phone", Secret: []byte{1, 2}, CreatedAt: t0}
	f2 := nightowl.Factor{ID: "f-2", User: "alice", Kind: nightowl.FactorWebAuthn, Name: "key", Secret: []byte(`{"id":"x"}`),
		CreatedAt: t0.Add(time.Minute), ConfirmedAt: t0.Add(time.Minute)}
	for _, f := range []nightowl.Factor{f2, f1} {
		if err := s.SaveFactor(ctx, &f); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("listed oldest first", func(t *testing.T) {
		fs, err := s.Factors(ctx, "alice")
		if err != nil || len(fs) != 2 || fs[0].ID != "f-1" || fs[1].ID != "f-2" {
			t.Fatalf("Factors = %+v, %v", fs, err)
		}
		if !bytes.Equal(fs[0].Secret, f1.Secret) || fs[0].Kind != nightowl.FactorTOTP || !fs[0].ConfirmedAt.IsZero() ||
			!fs[1].ConfirmedAt.Equal(f2.ConfirmedAt) {
			t.Fatalf("Factors = %+v", fs)
		}
		if fs, err := s.Factors(ctx, "bob"); err != nil || len(fs) != 0 {
			t.Fatalf("bob's factors = %+v, %v", fs, err)
		}
	})
	t.Run("confirmed", func(t *testing.T) {
		f1.ConfirmedAt = t0.Add(2 * time.Minute)
		if err := s.SaveFactor(ctx, &f1); err != nil {
			t.Fatal(err)
		}
		fs, _ := s.Factors(ctx, "alice")
		if !fs[0].ConfirmedAt.Equal(f1.ConfirmedAt) {
			t.Fatalf("after confirming: %+v", fs[0])
		}
	})
	t.Run("never changes hands", func(t *testing.T) {
		other := f1
		other.User = "bob"
		if err := s.SaveFactor(ctx, &other); nightowl.ErrorCode(err) != nightowl.EConflict {
			t.Fatalf("saving alice's factor as bob's: %v, want conflict", err)
		}
		nobody := nightowl.Factor{ID: "f-9", User: "carol", Kind: nightowl.FactorTOTP, Secret: []byte{1}}
		if err := s.SaveFactor(ctx, &nobody); nightowl.ErrorCode(err) != nightowl.ENotFound {
			t.Fatalf("a factor of nobody: %v, want not_found", err)
		}
	})
	t.Run("a code's step is taken once", func(t *testing.T) {
		if err := s.UseFactorStep(ctx, "f-1", 100, t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		for _, step := range []int64{100, 99} {
			if err := s.UseFactorStep(ctx, "f-1", step, t0.Add(time.Hour)); nightowl.ErrorCode(err) != nightowl.EConflict {
				t.Fatalf("step %d again: %v, want conflict", step, err)
			}
		}
		if err := s.UseFactorStep(ctx, "f-1", 101, t0.Add(2*time.Hour)); err != nil {
			t.Fatal(err)
		}
		fs, _ := s.Factors(ctx, "alice")
		if fs[0].LastStep != 101 || !fs[0].LastUsed.Equal(t0.Add(2*time.Hour)) {
			t.Fatalf("after use: %+v", fs[0])
		}
	})
	t.Run("recovery codes are good once", func(t *testing.T) {
		if err := s.SetRecoveryCodes(ctx, "alice", [][]byte{{1}, {2}, {3}}, t0); err != nil {
			t.Fatal(err)
		}
		if n, err := s.RecoveryCodesLeft(ctx, "alice"); err != nil || n != 3 {
			t.Fatalf("left = %d, %v", n, err)
		}
		if err := s.UseRecoveryCode(ctx, "alice", []byte{2}, t0); err != nil {
			t.Fatal(err)
		}
		if err := s.UseRecoveryCode(ctx, "alice", []byte{2}, t0); nightowl.ErrorCode(err) != nightowl.ENotFound {
			t.Fatalf("a used code again: %v, want not_found", err)
		}
		if err := s.UseRecoveryCode(ctx, "bob", []byte{1}, t0); nightowl.ErrorCode(err) != nightowl.ENotFound {
			t.Fatalf("alice's code for bob: %v, want not_found", err)
		}
		if n, _ := s.RecoveryCodesLeft(ctx, "alice"); n != 2 {
			t.Fatalf("left = %d, want 2", n)
		}
		// New codes replace the old ones, used or not.
		if err := s.SetRecoveryCodes(ctx, "alice", [][]byte{{7}}, t0); err != nil {
			t.Fatal(err)
		}
		if err := s.UseRecoveryCode(ctx, "alice", []byte{1}, t0); nightowl.ErrorCode(err) != nightowl.ENotFound {
			t.Fatalf("a replaced code: %v, want not_found", err)
		}
		if n, _ := s.RecoveryCodesLeft(ctx, "alice"); n != 1 {
			t.Fatalf("left = %d, want 1", n)
		}
	})
	t.Run("deleted, and gone with the user", func(t *testing.T) {
		if err := s.DeleteFactor(ctx, "bob", "f-2"); nightowl.ErrorCode(err) != nightowl.ENotFound {
			t.Fatalf("deleting alice's factor as bob's: %v", err)
		}
		if err := s.DeleteFactor(ctx, "alice", "f-2"); err != nil {
			t.Fatal(err)
		}
		closeRecords(t, s)
		s = reopen()
		if fs, _ := s.Factors(ctx, "alice"); len(fs) != 1 {
			t.Fatalf("after delete and reopen: %+v", fs)
		}
		if err := s.DeleteUser(ctx, "alice"); err != nil {
			t.Fatal(err)
		}
		if fs, err := s.Factors(ctx, "alice"); err != nil || len(fs) != 0 {
			t.Fatalf("factors of a removed user: %+v, %v", fs, err)
		}
		if n, err := s.RecoveryCodesLeft(ctx, "alice"); err != nil || n != 0 {
			t.Fatalf("codes of a removed user: %d, %v", n, err)
		}
	})
}
