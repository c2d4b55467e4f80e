package audited

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/access"
	"github.com/nightowl/nightowl/sqlite"
)

// failingAuditor is an audit log that cannot be written.
type failingAuditor struct{}

func (failingAuditor) Audit(context.Context, nightowl.AuditEntry) error {
	return errors.New("disk full")
}

// TestChangePasswordNotRecorded: a change of one's own password that the
// audit log cannot record stands, says so, and keeps the person signed in
// with the new session.
func TestChangePasswordNotRecorded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(t.TempDir(), "n.db"), Logger: slog.New(slog.DiscardHandler), FlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	svc, err := access.New(access.Options{Store: store, BcryptCost: bcrypt.MinCost, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.AddUser(ctx, "ana", nightowl.RoleViewer, "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	aa := &Access{Service: svc, Recorder: failingAuditor{}, UserStore: store, Actor: func(context.Context) string { return "ana" }, Logger: slog.New(slog.DiscardHandler)}
	_, cookie, err := aa.ChangePassword(ctx, "ana", "correct horse battery", "a much newer passphrase")
	if !errors.Is(err, nightowl.ErrPasswordChanged) || !strings.Contains(nightowl.ErrorMessage(err), "audit log") {
		t.Fatalf("the error: %v", err)
	}
	if cookie == "" {
		t.Fatal("no new session")
	}
	if _, u, err := svc.Session(ctx, cookie); err != nil || u.Name != "ana" {
		t.Fatalf("the new session: %+v %v", u, err)
	}
	if _, _, err := svc.Login(ctx, "ana", "a much newer passphrase", "192.0.2.1"); err != nil {
		t.Fatalf("the new password: %v", err)
	}
}

// TestSignInOIDCNotRecorded: a single sign-on that the audit log cannot
// record is ended and refused, as a password's; the account it made
// stays.
func TestSignInOIDCNotRecorded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(t.TempDir(), "n.db"), Logger: slog.New(slog.DiscardHandler), FlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	svc, err := access.New(access.Options{Store: store, BcryptCost: bcrypt.MinCost, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	aa := &Access{Service: svc, Recorder: failingAuditor{}, UserStore: store, Actor: func(context.Context) string { return "" }, Logger: slog.New(slog.DiscardHandler)}
	_, cookie, err := aa.SignInOIDC(ctx, "ana@example.com", nightowl.RoleViewer, nightowl.SessionInfo{Method: nightowl.SignInOIDC})
	if nightowl.ErrorCode(err) != nightowl.EInternal || cookie != "" {
		t.Fatalf("SignInOIDC = %q, %v; want refused", cookie, err)
	}
	if ss, _ := store.Sessions(ctx, "ana@example.com"); len(ss) != 0 {
		t.Fatalf("%d sessions left", len(ss))
	}
	if u, err := store.User(ctx, "ana@example.com"); err != nil || u.Source != nightowl.SourceOIDC {
		t.Fatalf("account: %+v, %v", u, err)
	}
}

// memoryLog is an audit log in memory.
type memoryLog struct{ es []nightowl.AuditEntry }

func (e *memoryLog) Audit(_ context.Context, en nightowl.AuditEntry) error {
	e.es = append(e.es, en)
	return nil
}

// TestTokenThatMayApproveRecorded: a token made with --can-approve says so
// in token.create's entry; a plain one does not.
func TestTokenThatMayApproveRecorded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(t.TempDir(), "n.db"), Logger: slog.New(slog.DiscardHandler), FlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	svc, err := access.New(access.Options{Store: store, BcryptCost: bcrypt.MinCost, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.AddUser(ctx, "ana", nightowl.RoleResponder, "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	log := &memoryLog{}
	aa := &Access{Service: svc, Recorder: log, UserStore: store, Actor: func(context.Context) string { return "cli:root" }}
	tok, _, err := aa.CreateTokenWith(ctx, "ana", "deploy", "", 0, access.TokenOptions{CanApprove: true})
	if err != nil || !tok.CanApprove {
		t.Fatalf("a token that may approve: %+v %v", tok, err)
	}
	if _, _, err := aa.CreateToken(ctx, "ana", "ci", "", 0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := aa.CreateTokenWith(ctx, "ana", "dash", nightowl.RoleViewer, 0, access.TokenOptions{CanApprove: true}); nightowl.ErrorCode(err) != nightowl.EInvalid {
		t.Fatalf("a viewer's token that may approve: %v", err)
	}
	if len(log.es) != 2 || !strings.HasSuffix(log.es[0].Detail, "; can approve actions") || strings.Contains(log.es[1].Detail, "approve") ||
		log.es[0].Actor != "cli:root" || log.es[0].Action != "token.create" {
		t.Fatalf("entries: %+v", log.es)
	}
}
