package access

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/clocktest"
	"github.com/nightowl/nightowl/sqlite"
)

var t0 = time.Date(2026, 3, 18, 9, 0, 0, 0, time.UTC)

const (
	password = "correct horse battery"
	wrong    = "wrong horse battery!"
)

type fixture struct {
	svc   *Service
	store *sqlite.Store
	clock *clocktest.Fake
}

func newTest(t testing.TB) fixture {
	t.Helper()
	clock := clocktest.New(t0)
	store, err := sqlite.Open(context.Background(), sqlite.Options{
		Path:          filepath.Join(t.TempDir(), "nightowl.db"),
		Now:           clock.Now,
		Logger:        slog.New(slog.DiscardHandler),
		FlushInterval: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	svc, err := New(Options{Store: store, Clock: clock, BcryptCost: bcrypt.MinCost, Logger: slog.New(slog.DiscardHandler),
		FactorKey: bytes.Repeat([]byte{7}, FactorKeySize)})
	if err != nil {
		t.Fatal(err)
	}
	return fixture{svc: svc, store: store, clock: clock}
}

func (f fixture) addUser(t *testing.T, name string, role nightowl.Role) {
	t.Helper()
	if _, err := f.svc.AddUser(context.Background(), name, role, password); err != nil {
		t.Fatal(err)
	}
}

func (f fixture) login(t *testing.T, name string) (nightowl.Session, string) {
	t.Helper()
	sess, cookie, err := f.svc.Login(context.Background(), name, password, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	return sess, cookie
}

// wantCode fails unless err has the code want; "" wants no error.
func wantCode(t *testing.T, err error, want string) {
	t.Helper()
	if got := nightowl.ErrorCode(err); got != want {
		t.Fatalf("got %v (code %q), want code %q", err, got, want)
	}
}

// noSecret fails when an error says any of the secrets.
func noSecret(t *testing.T, err error, secrets ...string) {
	t.Helper()
	if err == nil {
		return
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(err.Error(), s) {
			t.Fatalf("error %q gives away a secret", err)
		}
	}
}

func TestNew(t *testing.T) {
	f := newTest(t)
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"no store", Options{}},
		{"cost too low", Options{Store: f.store, BcryptCost: bcrypt.MinCost - 1}},
		{"cost too high", Options{Store: f.store, BcryptCost: bcrypt.MaxCost + 1}},
		{"negative idle", Options{Store: f.store, SessionIdle: -time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.opts); err == nil {
				t.Fatal("no error")
			}
		})
	}
	s, err := New(Options{Store: f.store})
	if err != nil || s.cost != DefaultBcryptCost || s.idle != DefaultSessionIdle || s.max != DefaultSessionMax {
		t.Fatalf("defaults: %+v, %v", s, err)
	}
}

func TestAddUser(t *testing.T) {
	ctx := context.Background()
	f := newTest(t)
	f.addUser(t, "taken", nightowl.RoleViewer)
	for _, tc := range []struct {
		name, user string
		role       nightowl.Role
		password   string
		code       string
	}{
		{"ok", "alice", nightowl.RoleAdmin, password, ""},
		{"every allowed character", "a.l_i-c@e9", nightowl.RoleViewer, password, ""},
		{"longest name", strings.Repeat("a", 64), nightowl.RoleViewer, password, ""},
		{"shortest password", "bob", nightowl.RoleResponder, "123456789012", ""},
		{"shortest password in characters, not bytes", "carol", nightowl.RoleViewer, strings.Repeat("é", 12), ""},
		{"longest password", "dave", nightowl.RoleViewer, strings.Repeat("x", 72), ""},
		{"taken", "taken", nightowl.RoleViewer, password, nightowl.EConflict},
		{"empty name", "", nightowl.RoleViewer, password, nightowl.EInvalid},
		{"upper case", "Alice", nightowl.RoleViewer, password, nightowl.EInvalid},
		{"starts with a dot", ".alice", nightowl.RoleViewer, password, nightowl.EInvalid},
		{"space", "al ice", nightowl.RoleViewer, password, nightowl.EInvalid},
		{"slash", "al/ice", nightowl.RoleViewer, password, nightowl.EInvalid},
		{"name too long", strings.Repeat("a", 65), nightowl.RoleViewer, password, nightowl.EInvalid},
		{"no role", "erin", "", password, nightowl.EInvalid},
		{"unknown role", "erin", "root", password, nightowl.EInvalid},
		{"password too short", "erin", nightowl.RoleViewer, "12345678901", nightowl.EInvalid},
		{"password too long", "erin", nightowl.RoleViewer, strings.Repeat("x", 73), nightowl.EInvalid},
		{"password too long in bytes", "erin", nightowl.RoleViewer, strings.Repeat("é", 37), nightowl.EInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, err := f.svc.AddUser(ctx, tc.user, tc.role, tc.password)
			wantCode(t, err, tc.code)
			noSecret(t, err, tc.password)
			if err != nil {
				return
			}
			if u.Name != tc.user || u.Role != tc.role || !u.CreatedAt.Equal(t0) || u.PasswordHash != "" {
				t.Fatalf("AddUser returned %+v", u)
			}
			stored, err := f.store.User(ctx, tc.user)
			if err != nil {
				t.Fatal(err)
			}
			if bcrypt.CompareHashAndPassword([]byte(stored.PasswordHash), []byte(tc.password)) != nil {
				t.Fatalf("stored hash %q does not match the password", stored.PasswordHash)
			}
		})
	}
	if _, err := f.store.User(ctx, "erin"); nightowl.ErrorCode(err) != nightowl.ENotFound {
		t.Fatalf("a refused user was saved: %v", err)
	}
	us, err := f.svc.Users(ctx)
	if err != nil || len(us) != 7 {
		t.Fatalf("Users = %d users, %v; want 7", len(us), err)
	}
	for _, u := range us {
		if u.PasswordHash != "" {
			t.Fatalf("Users shows %s's password hash", u.Name)
		}
	}
}

func TestManageUsers(t *testing.T) {
	ctx := context.Background()
	f := newTest(t)
	f.addUser(t, "root", nightowl.RoleAdmin)
	f.addUser(t, "alice", nightowl.RoleResponder)
	for _, tc := range []struct {
		name string
		do   func() error
		code string
	}{
		{"set password", func() error { return f.svc.SetPassword(ctx, "alice", "a new password!") }, ""},
		{"set short password", func() error { return f.svc.SetPassword(ctx, "alice", "short") }, nightowl.EInvalid},
		{"set password of nobody", func() error { return f.svc.SetPassword(ctx, "zed", password) }, nightowl.ENotFound},
		{"set bad role", func() error { return f.svc.SetRole(ctx, "alice", "root") }, nightowl.EInvalid},
		{"set role of nobody", func() error { return f.svc.SetRole(ctx, "zed", nightowl.RoleAdmin) }, nightowl.ENotFound},
		{"demote the last admin", func() error { return f.svc.SetRole(ctx, "root", nightowl.RoleViewer) }, nightowl.EConflict},
		{"remove the last admin", func() error { return f.svc.RemoveUser(ctx, "root") }, nightowl.EConflict},
		{"promote", func() error { return f.svc.SetRole(ctx, "alice", nightowl.RoleAdmin) }, ""},
		{"demote an admin who is not the last", func() error { return f.svc.SetRole(ctx, "root", nightowl.RoleViewer) }, ""},
		{"remove nobody", func() error { return f.svc.RemoveUser(ctx, "zed") }, nightowl.ENotFound},
		{"remove", func() error { return f.svc.RemoveUser(ctx, "root") }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) { wantCode(t, tc.do(), tc.code) })
	}
	us, err := f.svc.Users(ctx)
	if err != nil || len(us) != 1 || us[0].Name != "alice" || us[0].Role != nightowl.RoleAdmin {
		t.Fatalf("users left: %+v, %v", us, err)
	}
	if _, _, err := f.svc.Login(ctx, "alice", password, "192.0.2.1"); nightowl.ErrorCode(err) != nightowl.EUnauthorized {
		t.Fatalf("the old password still signs in: %v", err)
	}
	if _, _, err := f.svc.Login(ctx, "alice", "a new password!", "192.0.2.1"); err != nil {
		t.Fatalf("the new password does not sign in: %v", err)
	}
}

func TestLogin(t *testing.T) {
	ctx := context.Background()
	f := newTest(t)
	f.addUser(t, "alice", nightowl.RoleResponder)
	long := strings.Repeat("x", MaxPassword)
	if _, err := f.svc.AddUser(ctx, "max", nightowl.RoleViewer, long); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, user, password string
		code                 string
	}{
		{"ok", "alice", password, ""},
		{"wrong password", "alice", wrong, nightowl.EUnauthorized},
		{"empty password", "alice", "", nightowl.EUnauthorized},
		{"unknown user", "bob", password, nightowl.EUnauthorized},
		{"not a name", "Alice Smith", password, nightowl.EUnauthorized},
		// bcrypt reads only 72 bytes: more must not pass for the prefix.
		{"longest password", "max", long, ""},
		{"password with more after 72 bytes", "max", long + "y", nightowl.EUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sess, cookie, err := f.svc.Login(ctx, tc.user, tc.password, "192.0.2.7")
			wantCode(t, err, tc.code)
			if err != nil {
				// Every failure says the same, and nothing of what was typed.
				if err.Error() != "wrong name or password" {
					t.Fatalf("failure says %q", err)
				}
				return
			}
			if sess.User != tc.user || !sess.CreatedAt.Equal(t0) || !sess.ExpiresAt.Equal(t0.Add(DefaultSessionIdle)) ||
				!sess.MaxUntil.Equal(t0.Add(DefaultSessionMax)) {
				t.Fatalf("session %+v", sess)
			}
			if !regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`).MatchString(cookie) || len(sess.CSRF) != 43 || sess.CSRF == cookie {
				t.Fatalf("cookie %q and CSRF token %q are not 32 random bytes each in base64url", cookie, sess.CSRF)
			}
			h := sha256.Sum256([]byte(cookie))
			stored, err := f.store.SessionByHash(ctx, h[:])
			if err != nil || stored.User != tc.user || stored.CSRF != sess.CSRF {
				t.Fatalf("stored session %+v, %v", stored, err)
			}
		})
	}
}

// TestUnknownUserCostsABcrypt: signing in as nobody compares against a hash
// of the same cost as a real user's, so that timing does not tell who
// exists.
func TestUnknownUserCostsABcrypt(t *testing.T) {
	f := newTest(t)
	f.svc.cost = bcrypt.MinCost + 1
	if _, _, err := f.svc.Login(context.Background(), "nobody", password, "192.0.2.1"); nightowl.ErrorCode(err) != nightowl.EUnauthorized {
		t.Fatal(err)
	}
	h, err := f.svc.dummy()
	if err != nil {
		t.Fatal(err)
	}
	if c, err := bcrypt.Cost(h); err != nil || c != bcrypt.MinCost+1 {
		t.Fatalf("dummy hash cost %d, %v", c, err)
	}
}

func TestLoginRateLimit(t *testing.T) {
	ctx := context.Background()
	type attempt struct {
		user, password, addr string
		code                 string
	}
	fail := func(user, addr string) attempt { return attempt{user, wrong, addr, nightowl.EUnauthorized} }
	ok := func(user, addr string) attempt { return attempt{user, password, addr, ""} }
	limited := func(user, addr string) attempt { return attempt{user, password, addr, nightowl.ERateLimited} }
	repeat := func(n int, a func(i int) attempt) []attempt {
		var out []attempt
		for i := range n {
			out = append(out, a(i))
		}
		return out
	}
	addr := func(i int) string { return fmt.Sprintf("198.51.100.%d", i+1) }
	for _, tc := range []struct {
		name     string
		attempts []attempt
		// after the attempts, advance the clock by wait and try once more
		wait time.Duration
		then attempt
	}{
		{
			name: "per account and address",
			attempts: append(repeat(MaxAccountFailures, func(i int) attempt { return fail("alice", "203.0.113.9") }),
				fail("alice", "203.0.113.9"), limited("alice", "203.0.113.9"), ok("alice", "203.0.113.10")),
			// the last failure was 3s before: the next waits 2s after it
			wait: time.Second,
			then: ok("alice", "203.0.113.9"),
		},
		{
			name:     "per account and address, forgotten a window after the last failure",
			attempts: repeat(MaxAccountFailures+1, func(i int) attempt { return fail("alice", "203.0.113.9") }),
			wait:     FailureWindow,
			then:     ok("alice", "203.0.113.9"),
		},
		{
			name: "per account and address, others are not held up",
			attempts: append(repeat(MaxAccountFailures, func(i int) attempt { return fail("alice", addr(0)) }),
				ok("bob", addr(0))),
		},
		{
			name: "per account and address, unknown names too, so that the limit tells nobody who exists",
			attempts: append(repeat(MaxAccountFailures+1, func(i int) attempt { return fail("nobody", addr(0)) }),
				attempt{"nobody", password, addr(0), nightowl.ERateLimited}),
		},
		{
			name: "per account and address, a guesser with many addresses holds nobody up",
			attempts: append(repeat(3*MaxAccountFailures, func(i int) attempt { return fail("alice", addr(i)) }),
				ok("alice", "203.0.113.9")),
		},
		{
			name: "success clears the account's failures from that address",
			attempts: append(append(append(
				repeat(MaxAccountFailures-1, func(i int) attempt { return fail("alice", addr(0)) }),
				ok("alice", addr(0))),
				repeat(MaxAccountFailures-1, func(i int) attempt { return fail("alice", addr(0)) })...),
				ok("alice", addr(0))),
		},
		{
			name: "the owner's success elsewhere leaves a guesser's run alone",
			attempts: append(repeat(MaxAccountFailures+1, func(i int) attempt { return fail("alice", addr(0)) }),
				ok("alice", "203.0.113.9"), fail("alice", addr(0)), limited("alice", addr(0))),
		},
		{
			name: "per address, across accounts",
			attempts: append(repeat(MaxAddressFailures, func(i int) attempt { return fail(fmt.Sprintf("user%d", i), "203.0.113.9") }),
				limited("alice", "203.0.113.9"), ok("alice", "203.0.113.10")),
			wait: FailureWindow,
			then: ok("bob", "203.0.113.9"),
		},
		{
			name: "per address, a name that cannot be a user counts too",
			attempts: append(repeat(MaxAddressFailures, func(i int) attempt { return fail(fmt.Sprintf("Not A Name %d", i), "203.0.113.9") }),
				limited("alice", "203.0.113.9")),
		},
		{
			name: "per address, an IPv6 /64 is one address",
			attempts: append(repeat(MaxAddressFailures, func(i int) attempt {
				return fail(fmt.Sprintf("user%d", i), fmt.Sprintf("2001:db8:1:2::%x", i+1))
			}), limited("alice", "2001:db8:1:2:ffff::1"), ok("alice", "2001:db8:1:3::1")),
		},
		{
			name: "per address, IPv4 mapped into IPv6 is the IPv4 address",
			attempts: append(repeat(MaxAddressFailures, func(i int) attempt { return fail(fmt.Sprintf("user%d", i), "203.0.113.9") }),
				limited("alice", "::ffff:203.0.113.9")),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newTest(t)
			f.addUser(t, "alice", nightowl.RoleViewer)
			f.addUser(t, "bob", nightowl.RoleViewer)
			try := func(i int, a attempt) {
				t.Helper()
				_, _, err := f.svc.Login(ctx, a.user, a.password, a.addr)
				if got := nightowl.ErrorCode(err); got != a.code {
					t.Fatalf("attempt %d (%s from %s): got %v (%q), want %q", i, a.user, a.addr, err, got, a.code)
				}
				noSecret(t, err, a.password)
				if a.code == nightowl.ERateLimited {
					if !strings.Contains(err.Error(), "try again in") {
						t.Fatalf("rate limit does not say when to try again: %q", err)
					}
					if d, ok := nightowl.RetryAfter(err); !ok || d <= 0 || d > FailureWindow {
						t.Fatalf("RetryAfter = %v, %v", d, ok)
					}
				}
				f.clock.Advance(time.Second)
			}
			for i, a := range tc.attempts {
				try(i, a)
			}
			if tc.then.user != "" {
				f.clock.Advance(tc.wait - time.Duration(len(tc.attempts))*time.Second)
				try(len(tc.attempts), tc.then)
			}
		})
	}
}

// TestLoginRateLimitMessage: the refusal says how long to wait, rounded up
// to a second under a minute and to a minute above.
func TestLoginRateLimitMessage(t *testing.T) {
	ctx := context.Background()
	f := newTest(t)
	f.addUser(t, "alice", nightowl.RoleViewer)
	for i := range MaxAddressFailures {
		if _, _, err := f.svc.Login(ctx, fmt.Sprint("user", i), wrong, "192.0.2.1"); nightowl.ErrorCode(err) != nightowl.EUnauthorized {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	for _, tc := range []struct {
		at   time.Duration
		want string
	}{
		{0, "try again in 15 minutes"},
		{10*time.Minute + time.Second, "try again in 5 minutes"},
		{14*time.Minute + 30*time.Second, "try again in 30 seconds"},
		{14*time.Minute + 59*time.Second, "try again in 1 second"},
	} {
		f.clock.Set(t0.Add(tc.at))
		_, _, err := f.svc.Login(ctx, "alice", password, "192.0.2.1")
		if nightowl.ErrorCode(err) != nightowl.ERateLimited || !strings.HasSuffix(err.Error(), tc.want) {
			t.Errorf("at +%v: %v, want …%q", tc.at, err, tc.want)
		}
		if d, ok := nightowl.RetryAfter(err); !ok || d != FailureWindow-tc.at {
			t.Errorf("at +%v: RetryAfter = %v, %v", tc.at, d, ok)
		}
	}
}

// TestLoginDelaysGrow: after MaxAccountFailures failures in a row at an
// account from one address, each attempt at it from there waits 1s, 2s,
// 4s … after the last failure, at most a minute, even with the right
// password; the owner signs in from elsewhere at any time, and from there
// once the delay is over, and other accounts are never held up.
func TestLoginDelaysGrow(t *testing.T) {
	ctx := context.Background()
	f := newTest(t)
	f.addUser(t, "alice", nightowl.RoleViewer)
	f.addUser(t, "bob", nightowl.RoleViewer)
	const guesser = "198.51.100.1"
	for i := range MaxAccountFailures {
		if _, _, err := f.svc.Login(ctx, "alice", wrong, guesser); nightowl.ErrorCode(err) != nightowl.EUnauthorized {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	want := []time.Duration{1, 2, 4, 8, 16, 32, 60, 60, 60}
	for i, w := range want {
		w *= time.Second
		_, _, err := f.svc.Login(ctx, "alice", password, guesser)
		if d, ok := nightowl.RetryAfter(err); !ok || d != w {
			t.Fatalf("delay %d: %v, RetryAfter %v, want %v", i, err, d, w)
		}
		if _, _, err := f.svc.Login(ctx, "alice", password, fmt.Sprintf("203.0.113.%d", i+1)); err != nil {
			t.Fatalf("the owner from elsewhere while the guesser waits: %v", err)
		}
		if _, _, err := f.svc.Login(ctx, "bob", password, guesser); err != nil {
			t.Fatalf("another account while alice waits: %v", err)
		}
		f.clock.Advance(w - time.Millisecond)
		if _, _, err := f.svc.Login(ctx, "alice", wrong, guesser); nightowl.ErrorCode(err) != nightowl.ERateLimited {
			t.Fatalf("before the delay is over: %v", err)
		}
		f.clock.Advance(time.Millisecond)
		if _, _, err := f.svc.Login(ctx, "alice", wrong, guesser); nightowl.ErrorCode(err) != nightowl.EUnauthorized {
			t.Fatalf("once the delay is over: %v", err)
		}
	}
	f.clock.Advance(MaxDelay)
	if _, _, err := f.svc.Login(ctx, "alice", password, guesser); err != nil {
		t.Fatalf("the owner after the delay: %v", err)
	}
	if _, _, err := f.svc.Login(ctx, "alice", wrong, guesser); nightowl.ErrorCode(err) != nightowl.EUnauthorized {
		t.Fatalf("success cleared the run: %v", err)
	}
}

// TestLoginStrangerKeepsGuessing: a stranger who guesses one account's
// password once a minute for two hours slows only themself; the owner,
// signing in from elsewhere now and then, always gets in.
func TestLoginStrangerKeepsGuessing(t *testing.T) {
	ctx := context.Background()
	f := newTest(t)
	f.addUser(t, "alice", nightowl.RoleViewer)
	const stranger, owner = "198.51.100.66", "203.0.113.9"
	refused := 0
	for i := range 120 {
		_, _, err := f.svc.Login(ctx, "alice", wrong, stranger)
		switch code := nightowl.ErrorCode(err); code {
		case nightowl.EUnauthorized:
		case nightowl.ERateLimited:
			refused++
		default:
			t.Fatalf("guess %d: %v", i, err)
		}
		if i >= MaxAccountFailures {
			// Right after a guess, the stranger must wait.
			if _, _, err := f.svc.Login(ctx, "alice", wrong, stranger); nightowl.ErrorCode(err) != nightowl.ERateLimited {
				t.Fatalf("guess %d: a second guess at once: %v, want rate limited", i, err)
			}
		}
		f.clock.Advance(30 * time.Second)
		if i%10 == 9 {
			if _, _, err := f.svc.Login(ctx, "alice", password, owner); err != nil {
				t.Fatalf("the owner, %d minutes into the guessing: %v", i+1, err)
			}
		}
		f.clock.Advance(30 * time.Second)
	}
	if refused > 0 {
		t.Errorf("the stranger's guesses a minute apart were refused %d times: the delay is at most a minute", refused)
	}
}

func TestSession(t *testing.T) {
	ctx := context.Background()
	idle, maxAge := DefaultSessionIdle, DefaultSessionMax
	// every6h uses a session every six hours, from sign-in until until.
	every6h := func(until time.Duration) []time.Duration {
		var uses []time.Duration
		for at := time.Duration(0); at <= until; at += 6 * time.Hour {
			uses = append(uses, at)
		}
		return uses
	}
	for _, tc := range []struct {
		name string
		// uses are the times, after sign-in, at which the cookie is used;
		// the last one's outcome is want.
		uses []time.Duration
		want string
		// wantExpires is when the session ends after the last use, as
		// stored.
		wantExpires time.Duration
	}{
		{"fresh", []time.Duration{0}, "", idle},
		{"used within a minute writes nothing", []time.Duration{59 * time.Second}, "", idle},
		{"used a minute later slides", []time.Duration{time.Minute}, "", time.Minute + idle},
		{"kept alive by use", []time.Duration{11 * time.Hour, 22 * time.Hour, 33 * time.Hour}, "", 33*time.Hour + idle},
		{"idle too long", []time.Duration{idle}, nightowl.EUnauthorized, 0},
		{"idle too long after sliding", []time.Duration{11 * time.Hour, 11*time.Hour + idle}, nightowl.EUnauthorized, 0},
		{"sliding stops at the latest end", every6h(maxAge - 6*time.Hour), "", maxAge},
		{"ends at the latest end however used", every6h(maxAge), nightowl.EUnauthorized, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newTest(t)
			f.addUser(t, "alice", nightowl.RoleResponder)
			_, cookie := f.login(t, "alice")
			h := sha256.Sum256([]byte(cookie))
			var err error
			for i, at := range tc.uses {
				f.clock.Set(t0.Add(at))
				var sess nightowl.Session
				var u nightowl.User
				sess, u, err = f.svc.Session(ctx, cookie)
				if i < len(tc.uses)-1 && err != nil {
					t.Fatalf("use at +%v: %v", at, err)
				}
				if err == nil && (u.Name != "alice" || u.Role != nightowl.RoleResponder || u.PasswordHash != "" || sess.User != "alice") {
					t.Fatalf("use at +%v: %+v %+v", at, sess, u)
				}
			}
			wantCode(t, err, tc.want)
			noSecret(t, err, cookie)
			stored, serr := f.store.SessionByHash(ctx, h[:])
			if tc.want != "" {
				if nightowl.ErrorCode(serr) != nightowl.ENotFound {
					t.Fatalf("an ended session is still stored: %+v, %v", stored, serr)
				}
				return
			}
			if serr != nil || !stored.ExpiresAt.Equal(t0.Add(tc.wantExpires)) || !stored.MaxUntil.Equal(t0.Add(maxAge)) {
				t.Fatalf("stored session ends %v (latest %v), %v; want %v", stored.ExpiresAt, stored.MaxUntil, serr, t0.Add(tc.wantExpires))
			}
		})
	}
}

func TestSessionCookies(t *testing.T) {
	ctx := context.Background()
	f := newTest(t)
	f.addUser(t, "alice", nightowl.RoleViewer)
	_, cookie := f.login(t, "alice")
	h := sha256.Sum256([]byte(cookie))
	for _, tc := range []struct {
		name, cookie string
	}{
		{"empty", ""},
		{"not ours", "hello"},
		{"right length, never issued", strings.Repeat("A", 43)},
		{"not base64url", strings.Repeat("*", 43)},
		{"the stored hash instead of the cookie", fmt.Sprintf("%x", h)},
		{"the cookie with more after it", cookie + "A"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := f.svc.Session(ctx, tc.cookie)
			wantCode(t, err, nightowl.EUnauthorized)
			noSecret(t, err, cookie, tc.cookie)
		})
	}
}

func TestLogout(t *testing.T) {
	ctx := context.Background()
	f := newTest(t)
	f.addUser(t, "alice", nightowl.RoleViewer)
	_, c1 := f.login(t, "alice")
	_, c2 := f.login(t, "alice")
	if err := f.svc.Logout(ctx, c1); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.svc.Session(ctx, c1); nightowl.ErrorCode(err) != nightowl.EUnauthorized {
		t.Fatalf("a signed-out session still works: %v", err)
	}
	if _, _, err := f.svc.Session(ctx, c2); err != nil {
		t.Fatalf("signing out one browser ended another: %v", err)
	}
	for _, c := range []string{c1, "", "junk"} {
		if err := f.svc.Logout(ctx, c); err != nil {
			t.Fatalf("signing out again: %v", err)
		}
	}
}

var (
	secretPattern  = regexp.MustCompile(`^nwl_[a-z2-7]{32}$`)
	tokenIDPattern = regexp.MustCompile(`^t-[a-z2-7]{8}$`)
)

func TestCreateToken(t *testing.T) {
	ctx := context.Background()
	f := newTest(t)
	f.addUser(t, "alice", nightowl.RoleResponder)
	for _, tc := range []struct {
		name, user, tokenName string
		role                  nightowl.Role
		ttl                   time.Duration
		code                  string
		wantRole              nightowl.Role
	}{
		{"the user's role", "alice", "laptop", "", 0, "", nightowl.RoleResponder},
		{"a lesser role", "alice", "grafana", nightowl.RoleViewer, time.Hour, "", nightowl.RoleViewer},
		{"a greater role", "alice", "ci", nightowl.RoleAdmin, 0, nightowl.EInvalid, ""},
		{"unknown role", "alice", "ci", "root", 0, nightowl.EInvalid, ""},
		{"unknown user", "zed", "ci", "", 0, nightowl.ENotFound, ""},
		{"no name", "alice", "", "", 0, nightowl.EInvalid, ""},
		{"name with a newline", "alice", "ci\nx", "", 0, nightowl.EInvalid, ""},
		{"name too long", "alice", strings.Repeat("n", 65), "", 0, nightowl.EInvalid, ""},
		{"negative ttl", "alice", "ci", "", -time.Second, nightowl.EInvalid, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok, secret, err := f.svc.CreateToken(ctx, tc.user, tc.tokenName, tc.role, tc.ttl)
			wantCode(t, err, tc.code)
			if err != nil {
				return
			}
			if !secretPattern.MatchString(secret) || !tokenIDPattern.MatchString(tok.ID) {
				t.Fatalf("secret %q or id %q malformed", secret, tok.ID)
			}
			if tok.User != tc.user || tok.Name != tc.tokenName || tok.Role != tc.wantRole || !tok.CreatedAt.Equal(t0) {
				t.Fatalf("token %+v", tok)
			}
			if wantExp := t0.Add(tc.ttl); tc.ttl == 0 && !tok.ExpiresAt.IsZero() || tc.ttl > 0 && !tok.ExpiresAt.Equal(wantExp) {
				t.Fatalf("token expires %v", tok.ExpiresAt)
			}
			// Only the secret's SHA-256 is kept.
			h := sha256.Sum256([]byte(secret))
			stored, err := f.store.TokenByHash(ctx, h[:])
			if err != nil || stored.ID != tok.ID {
				t.Fatalf("stored under its SHA-256: %+v, %v", stored, err)
			}
			if bytes.Contains(stored.Hash, []byte(secret)) || strings.Contains(stored.Name, secret) {
				t.Fatal("the secret is stored")
			}
		})
	}
	ts, err := f.svc.Tokens(ctx, "alice")
	if err != nil || len(ts) != 2 {
		t.Fatalf("Tokens(alice) = %+v, %v", ts, err)
	}
	if _, err := f.svc.Tokens(ctx, "zed"); nightowl.ErrorCode(err) != nightowl.ENotFound {
		t.Fatalf("Tokens(zed): %v", err)
	}
	_, s1, _ := f.svc.CreateToken(ctx, "alice", "one", "", 0)
	_, s2, _ := f.svc.CreateToken(ctx, "alice", "two", "", 0)
	if s1 == s2 {
		t.Fatal("two tokens have the same secret")
	}
}

func TestAuthenticate(t *testing.T) {
	ctx := context.Background()
	type step struct {
		name string
		// do runs before authenticating; it may change things.
		do       func(f fixture, tok nightowl.Token) error
		code     string
		wantRole nightowl.Role
	}
	setRole := func(user string, r nightowl.Role) func(f fixture, tok nightowl.Token) error {
		return func(f fixture, _ nightowl.Token) error { return f.svc.SetRole(ctx, user, r) }
	}
	wait := func(d time.Duration) func(f fixture, tok nightowl.Token) error {
		return func(f fixture, _ nightowl.Token) error { f.clock.Advance(d); return nil }
	}
	for _, tc := range []struct {
		name      string
		userRole  nightowl.Role
		tokenRole nightowl.Role
		ttl       time.Duration
		steps     []step
	}{
		{"acts with the token's role", nightowl.RoleAdmin, nightowl.RoleViewer, 0, []step{
			{"first use", nil, "", nightowl.RoleViewer},
			{"a year later", wait(365 * 24 * time.Hour), "", nightowl.RoleViewer},
		}},
		{"a user demoted after making the token", nightowl.RoleAdmin, "", 0, []step{
			{"as made", nil, "", nightowl.RoleAdmin},
			{"demoted", setRole("alice", nightowl.RoleResponder), "", nightowl.RoleResponder},
			{"demoted further", setRole("alice", nightowl.RoleViewer), "", nightowl.RoleViewer},
			{"promoted back", setRole("alice", nightowl.RoleAdmin), "", nightowl.RoleAdmin},
		}},
		{"expires", nightowl.RoleResponder, "", time.Hour, []step{
			{"fresh", nil, "", nightowl.RoleResponder},
			{"a second before", wait(time.Hour - time.Second), "", nightowl.RoleResponder},
			{"at expiry", wait(time.Second), nightowl.EUnauthorized, ""},
		}},
		{"revoked", nightowl.RoleResponder, "", 0, []step{
			{"before", nil, "", nightowl.RoleResponder},
			{"after", func(f fixture, tok nightowl.Token) error { return f.svc.RevokeToken(ctx, tok.ID) }, nightowl.EUnauthorized, ""},
		}},
		{"its user removed", nightowl.RoleViewer, "", 0, []step{
			{"before", nil, "", nightowl.RoleViewer},
			{"after", func(f fixture, _ nightowl.Token) error { return f.svc.RemoveUser(ctx, "alice") }, nightowl.EUnauthorized, ""},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newTest(t)
			f.addUser(t, "root", nightowl.RoleAdmin)
			f.addUser(t, "alice", tc.userRole)
			tok, secret, err := f.svc.CreateToken(ctx, "alice", "ci", tc.tokenRole, tc.ttl)
			if err != nil {
				t.Fatal(err)
			}
			for _, st := range tc.steps {
				if st.do != nil {
					if err := st.do(f, tok); err != nil {
						t.Fatalf("%s: %v", st.name, err)
					}
				}
				got, u, role, err := f.svc.Authenticate(ctx, secret)
				if nightowl.ErrorCode(err) != st.code {
					t.Fatalf("%s: got %v, want code %q", st.name, err, st.code)
				}
				noSecret(t, err, secret)
				if err != nil {
					continue
				}
				if got.ID != tok.ID || u.Name != "alice" || u.PasswordHash != "" || role != st.wantRole {
					t.Fatalf("%s: token %+v user %+v role %s; want role %s", st.name, got, u, role, st.wantRole)
				}
			}
		})
	}
}

func TestAuthenticateRefuses(t *testing.T) {
	ctx := context.Background()
	f := newTest(t)
	f.addUser(t, "alice", nightowl.RoleViewer)
	_, secret, err := f.svc.CreateToken(ctx, "alice", "ci", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256([]byte(secret))
	for _, tc := range []struct{ name, secret string }{
		{"empty", ""},
		{"no prefix", secret[4:]},
		{"another prefix", "xyz_" + secret[4:]},
		{"one character changed", secret[:len(secret)-1] + map[bool]string{true: "b", false: "a"}[secret[len(secret)-1] == 'a']},
		{"upper case", strings.ToUpper(secret)},
		{"with Bearer still on", "Bearer " + secret},
		{"the stored hash", fmt.Sprintf("%x", h)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, _, err := f.svc.Authenticate(ctx, tc.secret)
			wantCode(t, err, nightowl.EUnauthorized)
			noSecret(t, err, secret, tc.secret)
		})
	}
}

// TestTokenLastUsed: each use is recorded, but at most once a minute.
func TestTokenLastUsed(t *testing.T) {
	ctx := context.Background()
	f := newTest(t)
	f.addUser(t, "alice", nightowl.RoleViewer)
	tok, secret, err := f.svc.CreateToken(ctx, "alice", "ci", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		at, want time.Duration
	}{
		{0, 0},
		{30 * time.Second, 0},
		{59 * time.Second, 0},
		{time.Minute, time.Minute},
		{90 * time.Second, time.Minute},
		{10 * time.Minute, 10 * time.Minute},
	} {
		f.clock.Set(t0.Add(tc.at))
		got, _, _, err := f.svc.Authenticate(ctx, secret)
		if err != nil {
			t.Fatal(err)
		}
		stored, err := f.store.TokenByHash(ctx, tok.Hash)
		if err != nil {
			t.Fatal(err)
		}
		if !stored.LastUsed.Equal(t0.Add(tc.want)) || !got.LastUsed.Equal(stored.LastUsed) {
			t.Errorf("used at +%v: LastUsed %v stored, %v returned; want +%v", tc.at, stored.LastUsed, got.LastUsed, tc.want)
		}
	}
}

// TestRemovedUser: removing a user ends their sessions and tokens at once,
// and a user made again with the same name gets none of them back.
func TestRemovedUser(t *testing.T) {
	ctx := context.Background()
	f := newTest(t)
	f.addUser(t, "root", nightowl.RoleAdmin)
	f.addUser(t, "alice", nightowl.RoleResponder)
	_, cookie := f.login(t, "alice")
	_, secret, err := f.svc.CreateToken(ctx, "alice", "ci", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	_, rootCookie := f.login(t, "root")
	if err := f.svc.RemoveUser(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	f.addUser(t, "alice", nightowl.RoleAdmin)
	if _, _, err := f.svc.Session(ctx, cookie); nightowl.ErrorCode(err) != nightowl.EUnauthorized {
		t.Errorf("the removed user's session: %v", err)
	}
	if _, _, _, err := f.svc.Authenticate(ctx, secret); nightowl.ErrorCode(err) != nightowl.EUnauthorized {
		t.Errorf("the removed user's token: %v", err)
	}
	if ts, err := f.svc.Tokens(ctx, "alice"); err != nil || len(ts) != 0 {
		t.Errorf("the new alice has tokens: %+v, %v", ts, err)
	}
	if _, _, err := f.svc.Session(ctx, rootCookie); err != nil {
		t.Errorf("another user's session ended: %v", err)
	}
}

// TestRevokeToken: revoking is final, also against a use being recorded.
func TestRevokeToken(t *testing.T) {
	ctx := context.Background()
	f := newTest(t)
	f.addUser(t, "alice", nightowl.RoleViewer)
	tok, secret, err := f.svc.CreateToken(ctx, "alice", "ci", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.RevokeToken(ctx, tok.ID); err != nil {
		t.Fatal(err)
	}
	wantCode(t, f.svc.RevokeToken(ctx, tok.ID), nightowl.ENotFound)
	// The use of a token read just before it was revoked is not recorded,
	// which would bring it back.
	f.clock.Advance(time.Hour)
	if _, err := f.svc.touchToken(ctx, tok.Hash, f.clock.Now()); nightowl.ErrorCode(err) != nightowl.EUnauthorized {
		t.Fatalf("touching a revoked token: %v", err)
	}
	if _, _, _, err := f.svc.Authenticate(ctx, secret); nightowl.ErrorCode(err) != nightowl.EUnauthorized {
		t.Fatalf("a revoked token works: %v", err)
	}
	if ts, err := f.svc.Tokens(ctx, ""); err != nil || len(ts) != 0 {
		t.Fatalf("tokens after revoking: %+v, %v", ts, err)
	}
}

// TestLoginPrunesEndedSessions: signing in now and then deletes the
// sessions nobody came back to.
func TestLoginPrunesEndedSessions(t *testing.T) {
	ctx := context.Background()
	f := newTest(t)
	f.addUser(t, "alice", nightowl.RoleViewer)
	_, old := f.login(t, "alice")
	f.clock.Advance(DefaultSessionIdle + pruneEvery)
	f.login(t, "alice")
	h := sha256.Sum256([]byte(old))
	if _, err := f.store.SessionByHash(ctx, h[:]); nightowl.ErrorCode(err) != nightowl.ENotFound {
		t.Fatalf("an ended session is still stored: %v", err)
	}
}

// TestLoginRaisesCost: a password hashed at a lower cost than configured is
// hashed again when its user signs in.
func TestLoginRaisesCost(t *testing.T) {
	ctx := context.Background()
	f := newTest(t)
	f.addUser(t, "alice", nightowl.RoleViewer)
	f.svc.cost = bcrypt.MinCost + 1
	f.login(t, "alice")
	u, err := f.store.User(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if c, err := bcrypt.Cost([]byte(u.PasswordHash)); err != nil || c != bcrypt.MinCost+1 {
		t.Fatalf("cost after sign-in %d, %v", c, err)
	}
	f.login(t, "alice")
}

func TestNewPasswordEndsSessions(t *testing.T) {
	f := newTest(t)
	ctx := context.Background()
	f.addUser(t, "ana", nightowl.RoleResponder)
	_, cookie := f.login(t, "ana")
	if err := f.svc.SetPassword(ctx, "ana", "a much newer passphrase"); err != nil {
		t.Fatal(err)
	}
	_, _, err := f.svc.Session(ctx, cookie)
	wantCode(t, err, nightowl.EUnauthorized)
}

// TestTouchNeverRevives: recording a use of a token or session that
// another process deleted meanwhile does not bring it back.
func TestTouchNeverRevives(t *testing.T) {
	f := newTest(t)
	ctx := context.Background()
	f.addUser(t, "ana", nightowl.RoleResponder)
	tok, _, err := f.svc.CreateToken(ctx, "ana", "ci", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.store.DeleteToken(ctx, tok.ID); err != nil {
		t.Fatal(err)
	}
	wantCode(t, f.store.TouchToken(ctx, tok.ID, t0), nightowl.ENotFound)
	if ts, _ := f.store.Tokens(ctx, "ana"); len(ts) != 0 {
		t.Fatalf("a revoked token came back: %+v", ts)
	}
	sess, _ := f.login(t, "ana")
	if err := f.store.DeleteSession(ctx, sess.Hash); err != nil {
		t.Fatal(err)
	}
	wantCode(t, f.store.TouchSession(ctx, sess.Hash, t0.Add(time.Hour)), nightowl.ENotFound)
	if _, err := f.store.SessionByHash(ctx, sess.Hash); nightowl.ErrorCode(err) != nightowl.ENotFound {
		t.Fatalf("an ended session came back: %v", err)
	}
}

// TestHeldRoleBefore: an account counts as of a time only if it existed,
// with its role, by then; a role change restarts the clock.
func TestHeldRoleBefore(t *testing.T) {
	f := newTest(t)
	ctx := context.Background()
	f.addUser(t, "bo", nightowl.RoleResponder)
	f.addUser(t, "vic", nightowl.RoleViewer)
	request := t0.Add(time.Minute)
	f.clock.Set(t0.Add(2 * time.Minute))
	f.addUser(t, "late", nightowl.RoleResponder)
	if err := f.svc.SetRole(ctx, "vic", nightowl.RoleResponder); err != nil {
		t.Fatal(err)
	}
	if u, err := f.store.User(ctx, "vic"); err != nil || !u.RoleSince.Equal(t0.Add(2*time.Minute)) || !u.CreatedAt.Equal(t0) {
		t.Fatalf("vic after the promotion: %+v %v", u, err)
	}
	for _, c := range []struct{ name, why string }{
		{"bo", ""},
		{"late", "the account late was created at 2026-03-18T09:02:00Z, after the request was made at 2026-03-18T09:01:00Z"},
		{"vic", "the account vic was given its role (responder) at 2026-03-18T09:02:00Z, after the request was made at 2026-03-18T09:01:00Z"},
		{"nobody", `there is no user "nobody"`},
	} {
		why, err := f.svc.HeldRoleBefore(ctx, c.name, nightowl.RoleResponder, request)
		if err != nil || why != c.why {
			t.Errorf("%s: %q, %v; want %q", c.name, why, err, c.why)
		}
	}
	if why, _ := f.svc.HeldRoleBefore(ctx, "bo", nightowl.RoleAdmin, request); why != "bo has the role responder, not admin" {
		t.Errorf("bo as an admin: %q", why)
	}
}

// TestChangePassword: a user's own change needs the current password, ends
// every session of theirs, and starts a new one for the browser that made
// it; the new password signs in, the old one does not.
func TestChangePassword(t *testing.T) {
	f := newTest(t)
	ctx := context.Background()
	f.addUser(t, "ana", nightowl.RoleResponder)
	_, here := f.login(t, "ana")
	_, there := f.login(t, "ana")

	_, _, err := f.svc.ChangePassword(ctx, "ana", "not the password", "a much newer passphrase")
	wantCode(t, err, nightowl.EForbidden)
	_, _, err = f.svc.ChangePassword(ctx, "ana", password, "short")
	wantCode(t, err, nightowl.EInvalid)
	_, _, err = f.svc.ChangePassword(ctx, "ana", password, password)
	wantCode(t, err, nightowl.EInvalid)
	_, _, err = f.svc.ChangePassword(ctx, "zed", password, "a much newer passphrase")
	wantCode(t, err, nightowl.ENotFound)
	if _, _, err := f.svc.Session(ctx, there); err != nil {
		t.Fatalf("a refused change ended a session: %v", err)
	}

	sess, cookie, err := f.svc.ChangePassword(ctx, "ana", password, "a much newer passphrase")
	if err != nil {
		t.Fatal(err)
	}
	for _, old := range []string{here, there} {
		_, _, err := f.svc.Session(ctx, old)
		wantCode(t, err, nightowl.EUnauthorized)
	}
	if got, u, err := f.svc.Session(ctx, cookie); err != nil || u.Name != "ana" || !bytes.Equal(got.Hash, sess.Hash) {
		t.Fatalf("the new session: %+v %+v %v", got, u, err)
	}
	_, _, err = f.svc.Login(ctx, "ana", password, "192.0.2.1")
	wantCode(t, err, nightowl.EUnauthorized)
	if _, _, err := f.svc.Login(ctx, "ana", "a much newer passphrase", "192.0.2.1"); err != nil {
		t.Fatalf("the new password: %v", err)
	}
}

// racingStore is the store of a sign-in during which another process (the
// CLI, another node) changes the password: change runs just before or just
// after the session is saved.
type racingStore struct {
	nightowl.AccessStore
	change    func()
	afterSave bool
	saved     [][]byte
}

func (r *racingStore) SaveSession(ctx context.Context, ss *nightowl.Session) error {
	if r.change != nil && !r.afterSave {
		r.change()
	}
	err := r.AccessStore.SaveSession(ctx, ss)
	r.saved = append(r.saved, ss.Hash)
	if r.change != nil && r.afterSave {
		r.change()
	}
	return err
}

// TestPasswordChangeDuringLogin: a sign-in with the old password whose
// check overlaps a change of the password gets no session, wherever the
// change lands; nor does a change of the password that another one
// overtakes.
func TestPasswordChangeDuringLogin(t *testing.T) {
	for _, afterSave := range []bool{false, true} {
		t.Run(fmt.Sprintf("change after the save %v", afterSave), func(t *testing.T) {
			f := newTest(t)
			ctx := context.Background()
			f.addUser(t, "ana", nightowl.RoleResponder)
			rs := &racingStore{AccessStore: f.store, afterSave: afterSave}
			svc, err := New(Options{Store: rs, Clock: f.clock, BcryptCost: bcrypt.MinCost, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			// The other process is f.svc, on the same database.
			rs.change = func() {
				rs.change = nil
				if err := f.svc.SetPassword(ctx, "ana", "a much newer passphrase"); err != nil {
					t.Error(err)
				}
			}
			_, cookie, err := svc.Login(ctx, "ana", password, "192.0.2.1")
			wantCode(t, err, nightowl.EUnauthorized)
			if cookie != "" {
				if _, _, err := svc.Session(ctx, cookie); err == nil {
					t.Fatal("a session begun with the old password outlived the change")
				}
			}
			if len(rs.saved) != 1 {
				t.Fatalf("%d sessions saved", len(rs.saved))
			}
			if _, err := f.store.SessionByHash(ctx, rs.saved[0]); nightowl.ErrorCode(err) != nightowl.ENotFound {
				t.Fatalf("the session begun with the old password is still stored: %v", err)
			}
			if _, _, err := svc.Login(ctx, "ana", "a much newer passphrase", "192.0.2.1"); err != nil {
				t.Fatalf("the new password: %v", err)
			}
		})
	}
	t.Run("change overtaken", func(t *testing.T) {
		f := newTest(t)
		ctx := context.Background()
		f.addUser(t, "ana", nightowl.RoleResponder)
		rs := &racingStore{AccessStore: f.store}
		svc, err := New(Options{Store: rs, Clock: f.clock, BcryptCost: bcrypt.MinCost, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		rs.change = func() {
			rs.change = nil
			if err := f.svc.SetPassword(ctx, "ana", "an admin's choice of passphrase"); err != nil {
				t.Error(err)
			}
		}
		_, cookie, err := svc.ChangePassword(ctx, "ana", password, "a much newer passphrase")
		if !errors.Is(err, nightowl.ErrPasswordChanged) || cookie != "" {
			t.Fatalf("cookie %q, %v", cookie, err)
		}
		if _, err := f.store.SessionByHash(ctx, rs.saved[0]); nightowl.ErrorCode(err) != nightowl.ENotFound {
			t.Fatalf("the session of the overtaken change is still stored: %v", err)
		}
	})
}
