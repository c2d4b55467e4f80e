package sqlite

import (
	"bytes"
	"cmp"
	"context"
	"slices"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/clocktest"
)

func TestUsers(t *testing.T) {
	ctx := context.Background()
	clock := clocktest.New(t0)
	path := dbPath(t)
	s := openTest(t, path, clock, Options{})

	alice := nightowl.User{Name: "alice", Role: nightowl.RoleAdmin, PasswordHash: "$2a$04$x", CreatedAt: t0}
	bob := nightowl.User{Name: "bob", Role: nightowl.RoleViewer, PasswordHash: "$2a$04$y", CreatedAt: t0.Add(time.Hour)}
	for _, u := range []nightowl.User{bob, alice} {
		if err := s.SaveUser(ctx, &u); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.User(ctx, "alice")
	if err != nil || !sameUser(got, alice) {
		t.Fatalf("User(alice) = %+v, %v; want %+v", got, err, alice)
	}

	// An update changes the role and the hash, never when the user was
	// made.
	bob2 := bob
	bob2.Role, bob2.PasswordHash, bob2.CreatedAt = nightowl.RoleResponder, "$2a$04$z", t0.Add(5*time.Hour)
	if err := s.SaveUser(ctx, &bob2); err != nil {
		t.Fatal(err)
	}
	want := bob2
	want.CreatedAt = bob.CreatedAt
	if got, err := s.User(ctx, "bob"); err != nil || !sameUser(got, want) {
		t.Fatalf("User(bob) after update = %+v, %v; want %+v", got, err, want)
	}

	us, err := s.Users(ctx)
	if err != nil || len(us) != 2 || us[0].Name != "alice" || us[1].Name != "bob" {
		t.Fatalf("Users = %+v, %v", us, err)
	}

	if err := s.DeleteUser(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.User(ctx, "alice"); nightowl.ErrorCode(err) != nightowl.ENotFound {
		t.Fatalf("User(alice) after delete: %v, want not_found", err)
	}

	// What was saved outlives the process.
	s.Close()
	s = openTest(t, path, clock, Options{})
	if got, err := s.User(ctx, "bob"); err != nil || !sameUser(got, want) {
		t.Fatalf("User(bob) after reopen = %+v, %v; want %+v", got, err, want)
	}
}

func TestAccessErrors(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, dbPath(t), clocktest.New(t0), Options{})
	if err := s.SaveUser(ctx, &nightowl.User{Name: "alice", Role: nightowl.RoleAdmin, PasswordHash: "h"}); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveToken(ctx, &nightowl.Token{ID: "t-1", User: "alice", Role: nightowl.RoleViewer, Hash: []byte("h1")}); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveSession(ctx, &nightowl.Session{Hash: []byte("s1"), User: "alice", CSRF: "c"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		do   func() error
		code string
	}{
		{"user unknown", func() error { _, err := s.User(ctx, "zed"); return err }, nightowl.ENotFound},
		{"delete unknown user", func() error { return s.DeleteUser(ctx, "zed") }, nightowl.ENotFound},
		{"user without a name", func() error {
			return s.SaveUser(ctx, &nightowl.User{Role: nightowl.RoleAdmin})
		}, nightowl.EInvalid},
		{"user with a bad role", func() error {
			return s.SaveUser(ctx, &nightowl.User{Name: "zed", Role: "root"})
		}, nightowl.EInvalid},
		{"token unknown", func() error { _, err := s.TokenByHash(ctx, []byte("nope")); return err }, nightowl.ENotFound},
		{"delete unknown token", func() error { return s.DeleteToken(ctx, "t-nope") }, nightowl.ENotFound},
		{"token of an unknown user", func() error {
			return s.SaveToken(ctx, &nightowl.Token{ID: "t-2", User: "zed", Role: nightowl.RoleViewer, Hash: []byte("h2")})
		}, nightowl.ENotFound},
		{"token without a hash", func() error {
			return s.SaveToken(ctx, &nightowl.Token{ID: "t-2", User: "alice", Role: nightowl.RoleViewer})
		}, nightowl.EInvalid},
		{"token hash taken", func() error {
			return s.SaveToken(ctx, &nightowl.Token{ID: "t-2", User: "alice", Role: nightowl.RoleViewer, Hash: []byte("h1")})
		}, nightowl.EConflict},
		{"token id taken", func() error {
			return s.SaveToken(ctx, &nightowl.Token{ID: "t-1", User: "alice", Role: nightowl.RoleViewer, Hash: []byte("h3")})
		}, nightowl.EConflict},
		{"session unknown", func() error { _, err := s.SessionByHash(ctx, []byte("nope")); return err }, nightowl.ENotFound},
		{"delete unknown session", func() error { return s.DeleteSession(ctx, []byte("nope")) }, nightowl.ENotFound},
		{"session of an unknown user", func() error {
			return s.SaveSession(ctx, &nightowl.Session{Hash: []byte("s2"), User: "zed"})
		}, nightowl.ENotFound},
		{"session taken by another user", func() error {
			if err := s.SaveUser(ctx, &nightowl.User{Name: "bob", Role: nightowl.RoleViewer}); err != nil {
				return err
			}
			return s.SaveSession(ctx, &nightowl.Session{Hash: []byte("s1"), User: "bob"})
		}, nightowl.EConflict},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.do(); nightowl.ErrorCode(err) != tc.code {
				t.Fatalf("got %v (%s), want %s", err, nightowl.ErrorCode(err), tc.code)
			}
		})
	}
	// The refused writes changed nothing.
	if tok, err := s.TokenByHash(ctx, []byte("h1")); err != nil || tok.ID != "t-1" {
		t.Fatalf("token t-1 after conflicts: %+v, %v", tok, err)
	}
	if ts, err := s.Tokens(ctx, ""); err != nil || len(ts) != 1 {
		t.Fatalf("tokens after conflicts: %+v, %v", ts, err)
	}
	if ss, err := s.SessionByHash(ctx, []byte("s1")); err != nil || ss.User != "alice" {
		t.Fatalf("session s1 after conflicts: %+v, %v", ss, err)
	}
}

func TestTokens(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, dbPath(t), clocktest.New(t0), Options{})
	for _, name := range []string{"alice", "bob"} {
		if err := s.SaveUser(ctx, &nightowl.User{Name: name, Role: nightowl.RoleResponder, PasswordHash: "h"}); err != nil {
			t.Fatal(err)
		}
	}
	a1 := nightowl.Token{ID: "t-a1", Name: "ci", User: "alice", Role: nightowl.RoleViewer, Hash: []byte{1, 2, 3},
		CreatedAt: t0, ExpiresAt: t0.Add(24 * time.Hour)}
	a2 := nightowl.Token{ID: "t-a2", Name: "laptop", User: "alice", Role: nightowl.RoleResponder, Hash: []byte{4, 5, 6},
		CreatedAt: t0.Add(time.Minute)}
	b1 := nightowl.Token{ID: "t-b1", Name: "grafana", User: "bob", Role: nightowl.RoleViewer, Hash: []byte{7},
		CreatedAt: t0.Add(2 * time.Minute)}
	for _, tok := range []nightowl.Token{a2, b1, a1} {
		if err := s.SaveToken(ctx, &tok); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.TokenByHash(ctx, []byte{1, 2, 3})
	if err != nil || !sameToken(got, a1) {
		t.Fatalf("TokenByHash = %+v, %v; want %+v", got, err, a1)
	}
	if !got.LastUsed.IsZero() {
		t.Fatalf("a token never used has LastUsed %v", got.LastUsed)
	}

	// Using a token saves it again with its last use.
	a1.LastUsed = t0.Add(time.Hour)
	if err := s.SaveToken(ctx, &a1); err != nil {
		t.Fatal(err)
	}
	if got, err := s.TokenByHash(ctx, a1.Hash); err != nil || !sameToken(got, a1) {
		t.Fatalf("after use: %+v, %v; want %+v", got, err, a1)
	}

	for _, tc := range []struct {
		user string
		want []string
	}{
		{"alice", []string{"t-a1", "t-a2"}},
		{"bob", []string{"t-b1"}},
		{"", []string{"t-a1", "t-a2", "t-b1"}},
		{"carol", nil},
	} {
		t.Run("tokens of "+cmp.Or(tc.user, "everyone"), func(t *testing.T) {
			ts, err := s.Tokens(ctx, tc.user)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, tok := range ts {
				ids = append(ids, tok.ID)
			}
			if !slices.Equal(ids, tc.want) {
				t.Fatalf("got %v, want %v", ids, tc.want)
			}
		})
	}

	if err := s.DeleteToken(ctx, "t-a2"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TokenByHash(ctx, a2.Hash); nightowl.ErrorCode(err) != nightowl.ENotFound {
		t.Fatalf("a deleted token is still found: %v", err)
	}
}

func TestSessions(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, dbPath(t), clocktest.New(t0), Options{})
	if err := s.SaveUser(ctx, &nightowl.User{Name: "alice", Role: nightowl.RoleAdmin, PasswordHash: "h"}); err != nil {
		t.Fatal(err)
	}
	ss := nightowl.Session{Hash: []byte("cookie-hash"), User: "alice", CSRF: "csrf",
		CreatedAt: t0, ExpiresAt: t0.Add(12 * time.Hour), MaxUntil: t0.Add(7 * 24 * time.Hour)}
	if err := s.SaveSession(ctx, &ss); err != nil {
		t.Fatal(err)
	}
	got, err := s.SessionByHash(ctx, ss.Hash)
	if err != nil || !sameSession(got, ss) {
		t.Fatalf("SessionByHash = %+v, %v; want %+v", got, err, ss)
	}
	ss.ExpiresAt = t0.Add(13 * time.Hour)
	if err := s.SaveSession(ctx, &ss); err != nil {
		t.Fatal(err)
	}
	if got, err := s.SessionByHash(ctx, ss.Hash); err != nil || !sameSession(got, ss) {
		t.Fatalf("after sliding: %+v, %v; want %+v", got, err, ss)
	}
	if err := s.DeleteSession(ctx, ss.Hash); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SessionByHash(ctx, ss.Hash); nightowl.ErrorCode(err) != nightowl.ENotFound {
		t.Fatalf("a deleted session is still found: %v", err)
	}
}

func TestDeleteExpiredSessions(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, dbPath(t), clocktest.New(t0), Options{})
	if err := s.SaveUser(ctx, &nightowl.User{Name: "alice", Role: nightowl.RoleAdmin, PasswordHash: "h"}); err != nil {
		t.Fatal(err)
	}
	now := t0.Add(24 * time.Hour)
	for _, ss := range []nightowl.Session{
		{Hash: []byte("idle"), ExpiresAt: now.Add(-time.Second), MaxUntil: now.Add(time.Hour)},
		{Hash: []byte("just ended"), ExpiresAt: now, MaxUntil: now.Add(time.Hour)},
		{Hash: []byte("too old"), ExpiresAt: now.Add(time.Hour), MaxUntil: now},
		{Hash: []byte("live"), ExpiresAt: now.Add(time.Second), MaxUntil: now.Add(time.Hour)},
	} {
		ss.User, ss.CreatedAt = "alice", t0
		if err := s.SaveSession(ctx, &ss); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.DeleteExpiredSessions(ctx, now); err != nil || n != 3 {
		t.Fatalf("DeleteExpiredSessions = %d, %v; want 3", n, err)
	}
	if _, err := s.SessionByHash(ctx, []byte("live")); err != nil {
		t.Fatalf("the live session went: %v", err)
	}
	for _, h := range []string{"idle", "just ended", "too old"} {
		if _, err := s.SessionByHash(ctx, []byte(h)); nightowl.ErrorCode(err) != nightowl.ENotFound {
			t.Errorf("session %q is still there: %v", h, err)
		}
	}
}

// TestDeleteUserCascades: a removed user's tokens and sessions go with
// them, and nobody else's.
func TestDeleteUserCascades(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, dbPath(t), clocktest.New(t0), Options{})
	for _, name := range []string{"alice", "bob"} {
		if err := s.SaveUser(ctx, &nightowl.User{Name: name, Role: nightowl.RoleAdmin, PasswordHash: "h"}); err != nil {
			t.Fatal(err)
		}
		if err := s.SaveToken(ctx, &nightowl.Token{ID: "t-" + name, User: name, Role: nightowl.RoleViewer,
			Hash: []byte("token " + name), CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
		if err := s.SaveSession(ctx, &nightowl.Session{Hash: []byte("session " + name), User: name, CSRF: "c",
			CreatedAt: t0, ExpiresAt: t0.Add(time.Hour), MaxUntil: t0.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteUser(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TokenByHash(ctx, []byte("token alice")); nightowl.ErrorCode(err) != nightowl.ENotFound {
		t.Errorf("alice's token outlived her: %v", err)
	}
	if _, err := s.SessionByHash(ctx, []byte("session alice")); nightowl.ErrorCode(err) != nightowl.ENotFound {
		t.Errorf("alice's session outlived her: %v", err)
	}
	if ts, err := s.Tokens(ctx, ""); err != nil || len(ts) != 1 || ts[0].User != "bob" {
		t.Errorf("tokens left: %+v, %v", ts, err)
	}
	if _, err := s.SessionByHash(ctx, []byte("session bob")); err != nil {
		t.Errorf("bob's session went with alice: %v", err)
	}
	// A user made again with the same name gets none of them back.
	if err := s.SaveUser(ctx, &nightowl.User{Name: "alice", Role: nightowl.RoleViewer, PasswordHash: "h"}); err != nil {
		t.Fatal(err)
	}
	if ts, err := s.Tokens(ctx, "alice"); err != nil || len(ts) != 0 {
		t.Errorf("the new alice has tokens: %+v, %v", ts, err)
	}
}

func sameToken(a, b nightowl.Token) bool {
	return a.ID == b.ID && a.Name == b.Name && a.User == b.User && a.Role == b.Role && bytes.Equal(a.Hash, b.Hash) &&
		a.CreatedAt.Equal(b.CreatedAt) && a.ExpiresAt.Equal(b.ExpiresAt) && a.LastUsed.Equal(b.LastUsed)
}

func sameSession(a, b nightowl.Session) bool {
	return bytes.Equal(a.Hash, b.Hash) && a.User == b.User && a.CSRF == b.CSRF &&
		a.CreatedAt.Equal(b.CreatedAt) && a.ExpiresAt.Equal(b.ExpiresAt) && a.MaxUntil.Equal(b.MaxUntil)
}

func sameUser(a, b nightowl.User) bool {
	return a.Name == b.Name && a.Role == b.Role && a.PasswordHash == b.PasswordHash && a.CreatedAt.Equal(b.CreatedAt)
}
