package access

import (
	"bytes"
	"context"
	"image/png"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
	"golang.org/x/crypto/bcrypt"

	"github.com/nightowl/nightowl"
)

// enrol gives name a confirmed TOTP key through a session of theirs and
// returns its secret, the recovery codes and the session's cookie.
func (f fixture) enrol(t *testing.T, name string) (secret string, codes []string, cookie string) {
	t.Helper()
	ctx := context.Background()
	_, cookie = f.login(t, name)
	e, err := f.svc.BeginTOTP(ctx, cookie, "phone")
	if err != nil {
		t.Fatal(err)
	}
	code, _ := totp.GenerateCode(e.Secret, f.clock.Now())
	sess, codes, err := f.svc.ConfirmTOTP(ctx, cookie, e.ID, code, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	if sess.Pending != "" || !sess.FactorAt.Equal(f.clock.Now()) {
		t.Fatalf("after enrolling: %+v", sess.SessionInfo)
	}
	return e.Secret, codes, cookie
}

func TestTOTPEnrolAndSignIn(t *testing.T) {
	ctx := context.Background()
	f := newTest(t)
	f.addUser(t, "ana", nightowl.RoleResponder)
	_, other := f.login(t, "ana")

	_, cookie := f.login(t, "ana")
	e, err := f.svc.BeginTOTP(ctx, cookie, "phone")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := png.Decode(bytes.NewReader(e.QR)); err != nil || !strings.HasPrefix(e.URL, "otpauth://totp/nightowl:ana?") {
		t.Fatalf("enrolment: %v, %q", err, e.URL)
	}
	// Not confirmed yet: it does not count, and the secret is sealed.
	if has, _ := f.svc.HasFactor(ctx, "ana"); has {
		t.Fatal("an unconfirmed key counts")
	}
	raw, _ := f.store.Factors(ctx, "ana")
	if len(raw) != 1 || bytes.Contains(raw[0].Secret, []byte(e.Secret)) {
		t.Fatalf("the stored key is not sealed: %+v", raw)
	}
	_, _, err = f.svc.ConfirmTOTP(ctx, cookie, e.ID, "000000", "192.0.2.1")
	wantCode(t, err, nightowl.EUnauthorized)
	code, _ := totp.GenerateCode(e.Secret, f.clock.Now())
	_, codes, err := f.svc.ConfirmTOTP(ctx, cookie, e.ID, code, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	if len(codes) != RecoveryCodes {
		t.Fatalf("recovery codes: %v", codes)
	}
	// The other session ended with the change of factors.
	_, _, err = f.svc.Session(ctx, other)
	wantCode(t, err, nightowl.EUnauthorized)

	// Signing in now waits for a code.
	sess, c2, err := f.svc.Login(ctx, "ana", password, "192.0.2.7")
	if err != nil || sess.Pending != nightowl.SessionNeedsFactor || !sess.FactorAt.IsZero() {
		t.Fatalf("sign-in with a factor: %+v, %v", sess.SessionInfo, err)
	}
	// The code just used at confirmation is not good again.
	_, _, _, err = f.svc.VerifyFactor(ctx, c2, code, "192.0.2.7")
	wantCode(t, err, nightowl.EUnauthorized)
	f.clock.Advance(30 * time.Second)
	code, _ = totp.GenerateCode(e.Secret, f.clock.Now())
	sess, used, _, err := f.svc.VerifyFactor(ctx, c2, code, "192.0.2.7")
	if err != nil || used != CodeTOTP || sess.Pending != "" || !sess.FactorAt.Equal(f.clock.Now()) {
		t.Fatalf("VerifyFactor = %+v, %q, %v", sess.SessionInfo, used, err)
	}
	if got, _, _ := f.svc.Session(ctx, c2); got.Pending != "" {
		t.Fatalf("the stored session still waits: %+v", got.SessionInfo)
	}
	// Twice in the same step is refused: a code is good once.
	_, _, _, err = f.svc.VerifyFactor(ctx, c2, code, "192.0.2.7")
	wantCode(t, err, nightowl.EUnauthorized)
}

func TestRecoveryCodeOnce(t *testing.T) {
	ctx := context.Background()
	f := newTest(t)
	f.addUser(t, "ana", nightowl.RoleResponder)
	_, codes, _ := f.enrol(t, "ana")
	_, cookie, err := f.svc.Login(ctx, "ana", password, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	sess, used, left, err := f.svc.VerifyFactor(ctx, cookie, strings.ToUpper(codes[3]), "192.0.2.1")
	if err != nil || used != CodeRecovery || left != RecoveryCodes-1 || sess.Pending != "" {
		t.Fatalf("recovery code: %+v %q %d %v", sess.SessionInfo, used, left, err)
	}
	_, cookie, _ = f.svc.Login(ctx, "ana", password, "192.0.2.1")
	_, _, _, err = f.svc.VerifyFactor(ctx, cookie, codes[3], "192.0.2.1")
	wantCode(t, err, nightowl.EUnauthorized)
	// Stored as hashes only.
	var found bool
	for _, c := range codes {
		h := sha(strings.ReplaceAll(c, "-", ""))
		found = found || f.store.UseRecoveryCode(ctx, "ana", h, f.clock.Now()) == nil
	}
	if !found {
		t.Fatal("no recovery code was stored as its SHA-256")
	}
}

func TestCodeAttemptsLimited(t *testing.T) {
	ctx := context.Background()
	f := newTest(t)
	f.addUser(t, "ana", nightowl.RoleResponder)
	secret, _, _ := f.enrol(t, "ana")
	_, cookie, _ := f.svc.Login(ctx, "ana", password, "192.0.2.1")
	var err error
	for i := range MaxCodeFailures + 1 {
		// From ever new addresses: the account's own count stops them.
		_, _, _, err = f.svc.VerifyFactor(ctx, cookie, "000000", "198.51.100."+string(rune('1'+i%9)))
		if nightowl.ErrorCode(err) == nightowl.ERateLimited {
			break
		}
		f.clock.Advance(time.Minute)
	}
	wantCode(t, err, nightowl.ERateLimited)
	code, _ := totp.GenerateCode(secret, f.clock.Now())
	_, _, _, err = f.svc.VerifyFactor(ctx, cookie, code, "192.0.2.99")
	wantCode(t, err, nightowl.ERateLimited)
	f.clock.Advance(FailureWindow)
	code, _ = totp.GenerateCode(secret, f.clock.Now())
	_, _, _, err = f.svc.VerifyFactor(ctx, cookie, code, "192.0.2.99")
	wantCode(t, err, "")
}

func TestRequireSecondFactor(t *testing.T) {
	ctx := context.Background()
	f := newTest(t)
	svc, err := New(Options{Store: f.store, Clock: f.clock, BcryptCost: bcrypt.MinCost, FactorKey: make([]byte, FactorKeySize),
		RequireSecondFactor: []nightowl.Role{nightowl.RoleAdmin}})
	if err != nil {
		t.Fatal(err)
	}
	f.svc = svc
	f.addUser(t, "root", nightowl.RoleAdmin)
	f.addUser(t, "vic", nightowl.RoleViewer)
	if s, _ := f.login(t, "vic"); s.Pending != "" {
		t.Fatalf("a viewer waits for %q", s.Pending)
	}
	if s, _ := f.login(t, "root"); s.Pending != nightowl.SessionNeedsEnrolment {
		t.Fatalf("an admin without a factor waits for %q", s.Pending)
	}
	f.enrol(t, "root")
	if s, _ := f.login(t, "root"); s.Pending != nightowl.SessionNeedsFactor {
		t.Fatalf("an admin with a factor waits for %q", s.Pending)
	}
	_ = ctx
}

func TestRemoveFactorEndsOtherSessions(t *testing.T) {
	ctx := context.Background()
	f := newTest(t)
	f.addUser(t, "ana", nightowl.RoleResponder)
	_, _, cookie := f.enrol(t, "ana")
	_, other := f.login(t, "ana")
	fs, _ := f.svc.Factors(ctx, "ana")
	if len(fs) != 1 || fs[0].Secret != nil {
		t.Fatalf("factors: %+v", fs)
	}
	if _, err := f.svc.RemoveFactor(ctx, cookie, fs[0].ID); err != nil {
		t.Fatal(err)
	}
	_, _, err := f.svc.Session(ctx, other)
	wantCode(t, err, nightowl.EUnauthorized)
	if _, _, err := f.svc.Session(ctx, cookie); err != nil {
		t.Fatalf("the session that removed it ended: %v", err)
	}
	if n, _ := f.svc.RecoveryCodesLeft(ctx, "ana"); n != 0 {
		t.Fatalf("%d recovery codes left after the last factor went", n)
	}
	if s, _ := f.login(t, "ana"); s.Pending != "" {
		t.Fatalf("without factors, a sign-in waits for %q", s.Pending)
	}
}

func TestSessionsListAndEnd(t *testing.T) {
	ctx := context.Background()
	f := newTest(t)
	f.addUser(t, "ana", nightowl.RoleResponder)
	f.addUser(t, "bo", nightowl.RoleResponder)
	s1, _, err := f.svc.LoginWith(ctx, "ana", password, nightowl.SessionInfo{Address: "192.0.2.1", UserAgent: "Firefox"})
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Second)
	s2, c2 := f.login(t, "ana")
	f.login(t, "bo")
	ss, err := f.svc.Sessions(ctx, "ana")
	if err != nil || len(ss) != 2 || ss[0].ID != s2.ID || ss[1].UserAgent != "Firefox" || ss[1].CSRF != "" {
		t.Fatalf("Sessions = %+v, %v", ss, err)
	}
	if all, _ := f.svc.Sessions(ctx, ""); len(all) != 3 {
		t.Fatalf("everyone's: %d", len(all))
	}
	_, err = f.svc.EndSession(ctx, "bo", s2.ID)
	wantCode(t, err, nightowl.ENotFound)
	if _, err := f.svc.EndSession(ctx, "ana", s2.ID); err != nil {
		t.Fatal(err)
	}
	_, _, err = f.svc.Session(ctx, c2)
	wantCode(t, err, nightowl.EUnauthorized)
	_ = s1
}
