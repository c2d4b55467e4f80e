package access

import (
	"context"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/nightowl/nightowl"
)

// TestSignInExternal: the first sign-in makes the account, with no
// password; the next ones bring its role in line; an account made here is
// never taken over.
func TestSignInExternal(t *testing.T) {
	f := newTest(t)
	ctx := context.Background()
	info := nightowl.SessionInfo{Method: nightowl.SignInOIDC, Address: "192.0.2.1", FactorAt: t0}
	ana := External{Name: "ana@example.com", Role: nightowl.RoleResponder, Source: nightowl.SourceOIDC}

	res, err := f.svc.SignInExternal(ctx, ana, info)
	if err != nil || !res.Created || res.RoleBefore != "" || res.Cookie == "" || res.Session.Method != nightowl.SignInOIDC {
		t.Fatalf("first sign-in: %+v, %v", res, err)
	}
	u, err := f.store.User(ctx, ana.Name)
	if err != nil || u.Role != nightowl.RoleResponder || u.Source != nightowl.SourceOIDC || u.PasswordHash != "" {
		t.Fatalf("account: %+v, %v", u, err)
	}
	if sess, _, err := f.svc.Session(ctx, res.Cookie); err != nil || !sess.FactorAt.Equal(t0) {
		t.Fatalf("session: %+v, %v", sess, err)
	}
	// No password signs them in: they have none.
	_, _, err = f.svc.Login(ctx, ana.Name, "", "192.0.2.1")
	wantCode(t, err, nightowl.EUnauthorized)
	_, _, err = f.svc.ChangePassword(ctx, ana.Name, "", password)
	wantCode(t, err, nightowl.EInvalid)

	f.clock.Advance(time.Hour)
	res, err = f.svc.SignInExternal(ctx, External{Name: ana.Name, Role: nightowl.RoleAdmin, Source: nightowl.SourceOIDC}, info)
	if err != nil || res.Created || res.RoleBefore != nightowl.RoleResponder {
		t.Fatalf("second sign-in: %+v, %v", res, err)
	}
	if u, _ := f.store.User(ctx, ana.Name); u.Role != nightowl.RoleAdmin || !u.RoleSince.Equal(t0.Add(time.Hour)) {
		t.Fatalf("account after the groups changed: %+v", u)
	}
	// The same role again changes nothing.
	if res, err := f.svc.SignInExternal(ctx, External{Name: ana.Name, Role: nightowl.RoleAdmin, Source: nightowl.SourceOIDC}, info); err != nil || res.RoleBefore != "" {
		t.Fatalf("third sign-in: %+v, %v", res, err)
	}

	f.addUser(t, "bo@example.com", nightowl.RoleAdmin)
	_, err = f.svc.SignInExternal(ctx, External{Name: "bo@example.com", Role: nightowl.RoleViewer, Source: nightowl.SourceOIDC}, info)
	wantCode(t, err, nightowl.EConflict)
	if u, _ := f.store.User(ctx, "bo@example.com"); u.Role != nightowl.RoleAdmin || u.Source != "" {
		t.Fatalf("local account changed: %+v", u)
	}

	for _, bad := range []External{{Name: "Ana", Role: nightowl.RoleViewer, Source: "oidc"}, {Name: "ana", Role: "boss", Source: "oidc"}, {Name: "ana", Role: nightowl.RoleViewer}} {
		_, err := f.svc.SignInExternal(ctx, bad, info)
		wantCode(t, err, nightowl.EInvalid)
	}
}

// TestRenewFactor: a step-up renews the factor of the session of the same
// person, and of nobody else's.
func TestRenewFactor(t *testing.T) {
	f := newTest(t)
	ctx := context.Background()
	res, err := f.svc.SignInExternal(ctx, External{Name: "ana", Role: nightowl.RoleViewer, Source: nightowl.SourceOIDC},
		nightowl.SessionInfo{Method: nightowl.SignInOIDC, FactorAt: t0})
	if err != nil {
		t.Fatal(err)
	}
	later := t0.Add(30 * time.Minute)
	f.clock.Advance(30 * time.Minute)
	_, err = f.svc.RenewFactor(ctx, res.Cookie, "bo", later)
	wantCode(t, err, nightowl.EForbidden)
	sess, err := f.svc.RenewFactor(ctx, res.Cookie, "ana", later)
	if err != nil || !sess.FactorAt.Equal(later) {
		t.Fatalf("RenewFactor = %+v, %v", sess, err)
	}
	if got, _, _ := f.svc.Session(ctx, res.Cookie); !got.FactorAt.Equal(later) || got.ID != res.Session.ID {
		t.Fatalf("session after step-up: %+v", got)
	}
	_, err = f.svc.RenewFactor(ctx, "made-up", "ana", later)
	wantCode(t, err, nightowl.EUnauthorized)
}

// TestPasswordsOff: with access.local false, only the break-glass account
// signs in with a password.
func TestPasswordsOff(t *testing.T) {
	f := newTest(t)
	svc, err := New(Options{Store: f.store, Clock: f.clock, BcryptCost: bcrypt.MinCost, PasswordsOff: true, BreakGlass: "root"})
	if err != nil {
		t.Fatal(err)
	}
	f.addUser(t, "root", nightowl.RoleAdmin)
	f.addUser(t, "ana", nightowl.RoleAdmin)
	ctx := context.Background()
	if _, _, err := svc.Login(ctx, "root", password, "192.0.2.1"); err != nil {
		t.Fatalf("break-glass sign-in: %v", err)
	}
	_, _, err = svc.Login(ctx, "ana", password, "192.0.2.1")
	if err != ErrPasswordsOff {
		t.Fatalf("password sign-in of ana: %v", err)
	}
}
