// Package access decides who may use nightowl: it keeps people and their
// roles, signs them in with a password (rate-limited against guessing) into
// a session that a browser keeps in a cookie, and makes and checks the API
// tokens that scripts and the CLI use. The web layer asks it who a request
// acts for; `nightowl user` and `nightowl token` call it over the storage
// directly.
//
// No secret is ever stored or said: passwords are kept as bcrypt hashes,
// session cookies and token secrets as their SHA-256, and no error or log
// line carries a password, cookie or token secret.
package access

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"

	"github.com/nightowl/nightowl"
)

// Defaults of Options, and the bounds of a password.
const (
	DefaultBcryptCost  = 12
	DefaultSessionIdle = 12 * time.Hour
	DefaultSessionMax  = 7 * 24 * time.Hour
	// MinPassword is the fewest characters a password may have.
	MinPassword = 12
	// MaxPassword is the most bytes a password may have: bcrypt ignores
	// the rest, so a longer one would be weaker than it looks.
	MaxPassword = 72
)

// Sign-in failures are limited per account and client address, against
// guessing one person's password, and per address, against trying a few
// passwords on every account (limit.go). After MaxAccountFailures failures
// in a row at one account from one address (an IPv6 /64), each further
// attempt at it from there waits FirstDelay after the last, doubling up to
// MaxDelay; the run is forgotten FailureWindow after its last failure. An
// address that failed MaxAddressFailures times in the window that began
// with its first is refused until that window is over. Nothing is counted
// per account alone, so that strangers cannot keep its owner out.
const (
	MaxAccountFailures = 5
	FirstDelay         = time.Second
	MaxDelay           = time.Minute
	MaxAddressFailures = 20
	FailureWindow      = 15 * time.Minute
)

const (
	// touchEvery bounds how often using a session or token writes: the
	// API answers many requests a minute with the same credentials.
	touchEvery = time.Minute
	// pruneEvery is how often a sign-in deletes the sessions that have
	// ended, when the store can.
	pruneEvery  = time.Hour
	tokenPrefix = "nwl_"
	// secretBytes of crypto/rand make a token secret: 160 bits, 32
	// base32 characters.
	secretBytes = 20
	idBytes     = 5 // 8 base32 characters
	cookieBytes = 32
)

// Options configure a Service. Store is required; the zero value of every
// other field is usable.
type Options struct {
	Store nightowl.AccessStore
	Clock nightowl.Clock // nightowl.SystemClock when nil
	// BcryptCost is the cost of new password hashes; DefaultBcryptCost
	// when 0. Tests use bcrypt.MinCost.
	BcryptCost int
	// SessionIdle ends a session after this long unused; default 12h.
	SessionIdle time.Duration
	// SessionMax ends a session at the latest this long after sign-in;
	// default 7 days.
	SessionMax time.Duration
	// PasswordsOff turns off signing in with a password (access.local:
	// false) for everyone but BreakGlass, the account kept for when the
	// identity provider is down.
	PasswordsOff bool
	BreakGlass   string
	Logger       *slog.Logger // slog.Default() when nil
	// FactorKey (FactorKeySize bytes) seals TOTP keys in the store; no
	// TOTP key can be enrolled or checked without it.
	FactorKey []byte
	// RequireSecondFactor lists the roles whose people must enrol a
	// second factor before their session may do anything else.
	RequireSecondFactor []nightowl.Role
	// Issuer names the server in authenticator apps; DefaultIssuer when
	// empty.
	Issuer string
}

// Service manages users, sessions and API tokens. It is safe for
// concurrent use.
type Service struct {
	store nightowl.AccessStore
	clock nightowl.Clock
	cost  int
	idle  time.Duration
	max   time.Duration
	log   *slog.Logger

	passwordsOff bool
	breakGlass   string

	// dummy is a hash that sign-ins of unknown users compare against, so
	// that they take as long as those of known ones. Made on first use:
	// the CLI never needs it.
	dummy func() ([]byte, error)

	limits *limiter
	// codeLimits and codeAccounts limit second-factor codes.
	codeLimits    *limiter
	codeAccounts  *codeLimiter
	factorKey     []byte
	requireFactor []nightowl.Role
	issuer        string
	ceremonies    ceremonies

	// mu serialises this process's changes to users, tokens and sessions:
	// AddUser's check for an existing user and its save, and the writes
	// that record a token's or session's use against revoking the token,
	// signing out or removing the user, so that such a write, which
	// saves the whole row, cannot bring back one just deleted.
	mu       sync.Mutex
	prunedAt time.Time
}

// New returns a Service on opts.Store.
func New(opts Options) (*Service, error) {
	if opts.Store == nil {
		return nil, errors.New("access: no store")
	}
	if opts.Clock == nil {
		opts.Clock = nightowl.SystemClock{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.BcryptCost == 0 {
		opts.BcryptCost = DefaultBcryptCost
	}
	if opts.BcryptCost < bcrypt.MinCost || opts.BcryptCost > bcrypt.MaxCost {
		return nil, fmt.Errorf("access: bcrypt cost %d is outside %d..%d", opts.BcryptCost, bcrypt.MinCost, bcrypt.MaxCost)
	}
	if opts.SessionIdle < 0 || opts.SessionMax < 0 {
		return nil, errors.New("access: negative session idle time or lifetime")
	}
	if opts.SessionIdle == 0 {
		opts.SessionIdle = DefaultSessionIdle
	}
	if opts.SessionMax == 0 {
		opts.SessionMax = DefaultSessionMax
	}
	s := &Service{
		store:  opts.Store,
		clock:  opts.Clock,
		cost:   opts.BcryptCost,
		idle:   opts.SessionIdle,
		max:    opts.SessionMax,
		log:    opts.Logger,
		limits: newLimiter(),

		passwordsOff:  opts.PasswordsOff,
		breakGlass:    opts.BreakGlass,
		codeLimits:    newLimiter(),
		codeAccounts:  &codeLimiter{m: make(map[string]failures)},
		factorKey:     opts.FactorKey,
		requireFactor: opts.RequireSecondFactor,
		issuer:        cmp.Or(opts.Issuer, DefaultIssuer),
	}
	s.dummy = sync.OnceValues(func() ([]byte, error) {
		return bcrypt.GenerateFromPassword([]byte(rand.Text()), s.cost)
	})
	return s, nil
}

// namePattern is what a user's name may look like: short, lower case, safe
// in a URL, a log line and a shell.
var namePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._@-]{0,63}$`)

func checkName(name string) error {
	if !namePattern.MatchString(name) {
		return nightowl.Errorf(nightowl.EInvalid,
			"a user name is 1 to 64 of a-z, 0-9 and . _ @ -, starting with a letter or digit")
	}
	return nil
}

func checkRole(role nightowl.Role) error {
	if !role.Valid() {
		return nightowl.Errorf(nightowl.EInvalid, "unknown role %q: use viewer, responder or admin", role)
	}
	return nil
}

func checkPassword(password string) error {
	if utf8.RuneCountInString(password) < MinPassword {
		return nightowl.Errorf(nightowl.EInvalid, "a password needs at least %d characters", MinPassword)
	}
	if len(password) > MaxPassword {
		return nightowl.Errorf(nightowl.EInvalid, "a password may have at most %d bytes", MaxPassword)
	}
	return nil
}

func (s *Service) hash(password string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(password), s.cost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}

// public returns u without its password hash: callers have no use for it.
func public(u nightowl.User) nightowl.User {
	u.PasswordHash = ""
	return u
}

// AddUser creates a user. It is a conflict when the name is taken.
func (s *Service) AddUser(ctx context.Context, name string, role nightowl.Role, password string) (nightowl.User, error) {
	if err := errors.Join(checkName(name), checkRole(role), checkPassword(password)); err != nil {
		return nightowl.User{}, firstError(err)
	}
	h, err := s.hash(password)
	if err != nil {
		return nightowl.User{}, fmt.Errorf("add user %s: %w", name, err)
	}
	now := s.clock.Now().UTC()
	u := nightowl.User{Name: name, Role: role, PasswordHash: h, CreatedAt: now, RoleSince: now}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch _, err := s.store.User(ctx, name); nightowl.ErrorCode(err) {
	case "":
		return nightowl.User{}, nightowl.Errorf(nightowl.EConflict, "user %q exists", name)
	case nightowl.ENotFound:
	default:
		return nightowl.User{}, fmt.Errorf("add user %s: %w", name, err)
	}
	if err := s.store.SaveUser(ctx, &u); err != nil {
		return nightowl.User{}, fmt.Errorf("add user %s: %w", name, err)
	}
	return public(u), nil
}

// firstError returns the first of the errors errors.Join joined: one
// problem at a time reads better than three run together.
func firstError(err error) error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()[0]
	}
	return err
}

// SetPassword gives a user a new password and ends their sessions.
func (s *Service) SetPassword(ctx context.Context, name, password string) error {
	if err := checkPassword(password); err != nil {
		return err
	}
	h, err := s.hash(password)
	if err != nil {
		return fmt.Errorf("set password of %s: %w", name, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.store.User(ctx, name)
	if err != nil {
		return fmt.Errorf("set password of %s: %w", name, err)
	}
	u.PasswordHash = h
	if err := s.store.SaveUser(ctx, &u); err != nil {
		return fmt.Errorf("set password of %s: %w", name, err)
	}
	// Whoever had the old password is signed out with it.
	if err := s.store.DeleteSessions(ctx, name); err != nil {
		return fmt.Errorf("set password of %s: %w", name, err)
	}
	return nil
}

// ChangePassword is a signed-in user changing their own password: it
// needs the current one. Every session of theirs ends, and a new one
// starts for the browser that made the change, which is returned with its
// cookie: the person who changed it stays signed in, whoever else had the
// old password or a session is signed out. API tokens are not revoked.
func (s *Service) ChangePassword(ctx context.Context, name, current, password string) (nightowl.Session, string, error) {
	if err := checkPassword(password); err != nil {
		return nightowl.Session{}, "", err
	}
	u, err := s.store.User(ctx, name)
	if err != nil {
		return nightowl.Session{}, "", fmt.Errorf("change password of %s: %w", name, err)
	}
	if u.Source != "" {
		return nightowl.Session{}, "", nightowl.Errorf(nightowl.EInvalid,
			"%s signs in at the identity provider and has no password here: change it there", name)
	}
	// bcrypt reads only the first 72 bytes, as in Login.
	if bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(current)) != nil || len(current) > MaxPassword {
		return nightowl.Session{}, "", nightowl.Errorf(nightowl.EForbidden, "the current password is wrong")
	}
	if current == password {
		return nightowl.Session{}, "", nightowl.Errorf(nightowl.EInvalid, "the new password is the current one")
	}
	h, err := s.hash(password)
	if err != nil {
		return nightowl.Session{}, "", fmt.Errorf("change password of %s: %w", name, err)
	}
	if err := s.replaceHash(ctx, name, u.PasswordHash, h); err != nil {
		return nightowl.Session{}, "", err
	}
	sess, cookie, err := s.startSession(ctx, name, s.clock.Now(), nightowl.SessionInfo{Method: nightowl.SignInPassword})
	if err == nil {
		// Another change may land between the one above and the save.
		err = s.keepIfUnchanged(ctx, sess, h)
	}
	if err != nil {
		s.log.Warn("access: start a session after a change of password", "user", name, "err", err)
		return nightowl.Session{}, "", fmt.Errorf("%w, but %w", nightowl.ErrPasswordChanged,
			nightowl.Errorf(nightowl.ErrorCode(err), "a new session could not be started: sign in with the new password"))
	}
	return sess, cookie, nil
}

// replaceHash gives name the password hash h in place of old, and ends
// their sessions.
func (s *Service) replaceHash(ctx context.Context, name, old, h string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Read again: another change since the check of the current password
	// wins.
	cur, err := s.store.User(ctx, name)
	if err != nil {
		return fmt.Errorf("change password of %s: %w", name, err)
	}
	if cur.PasswordHash != old {
		return nightowl.Errorf(nightowl.EConflict, "the password of %s changed meanwhile: sign in again", name)
	}
	cur.PasswordHash = h
	if err := s.store.SaveUser(ctx, &cur); err != nil {
		return fmt.Errorf("change password of %s: %w", name, err)
	}
	if err := s.store.DeleteSessions(ctx, name); err != nil {
		return fmt.Errorf("%w, but %w", nightowl.ErrPasswordChanged,
			nightowl.Errorf(nightowl.EInternal, "ending your other sessions failed: change it again"))
	}
	return nil
}

// SetRole changes what a user may do, at once: sessions and tokens carry no
// role of their own beyond the user's. The last admin cannot be demoted.
func (s *Service) SetRole(ctx context.Context, name string, role nightowl.Role) error {
	if err := checkRole(role); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.store.User(ctx, name)
	if err != nil {
		return fmt.Errorf("set role of %s: %w", name, err)
	}
	if u.Role == nightowl.RoleAdmin && role != nightowl.RoleAdmin {
		if err := s.keepAnAdmin(ctx, name); err != nil {
			return fmt.Errorf("set role of %s: %w", name, err)
		}
	}
	if u.Role != role {
		u.Role, u.RoleSince = role, s.clock.Now().UTC()
	}
	if err := s.store.SaveUser(ctx, &u); err != nil {
		return fmt.Errorf("set role of %s: %w", name, err)
	}
	return nil
}

// HeldRoleBefore says why name cannot act with role as of t, or "" when
// they can: the account must have existed, with its role unchanged since,
// before t. An approval of an action request counts only then, so that an
// admin cannot mint (or promote) an account to approve their own request.
func (s *Service) HeldRoleBefore(ctx context.Context, name string, role nightowl.Role, t time.Time) (string, error) {
	u, err := s.store.User(ctx, name)
	if nightowl.ErrorCode(err) == nightowl.ENotFound {
		return fmt.Sprintf("there is no user %q", name), nil
	}
	if err != nil {
		return "", fmt.Errorf("read user %s: %w", name, err)
	}
	stamp := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
	switch {
	case !u.Role.Allows(role):
		return fmt.Sprintf("%s has the role %s, not %s", name, u.Role, role), nil
	case u.CreatedAt.After(t):
		return fmt.Sprintf("the account %s was created at %s, after the request was made at %s", name, stamp(u.CreatedAt), stamp(t)), nil
	case u.RoleSince.After(t):
		return fmt.Sprintf("the account %s was given its role (%s) at %s, after the request was made at %s", name, u.Role, stamp(u.RoleSince), stamp(t)), nil
	}
	return "", nil
}

// RemoveUser deletes a user with their tokens and sessions. The last admin
// cannot be removed.
func (s *Service) RemoveUser(ctx context.Context, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.store.User(ctx, name)
	if err != nil {
		return fmt.Errorf("remove user %s: %w", name, err)
	}
	if u.Role == nightowl.RoleAdmin {
		if err := s.keepAnAdmin(ctx, name); err != nil {
			return fmt.Errorf("remove user %s: %w", name, err)
		}
	}
	if err := s.store.DeleteUser(ctx, name); err != nil {
		return fmt.Errorf("remove user %s: %w", name, err)
	}
	return nil
}

// keepAnAdmin refuses to let the admin name go when nobody else is one:
// nobody could then manage people from the web. (`nightowl user add` on the
// storage can still make one.)
func (s *Service) keepAnAdmin(ctx context.Context, name string) error {
	us, err := s.store.Users(ctx)
	if err != nil {
		return err
	}
	for _, u := range us {
		if u.Role == nightowl.RoleAdmin && u.Name != name {
			return nil
		}
	}
	return nightowl.Errorf(nightowl.EConflict, "%s is the last admin: make someone else admin first", name)
}

// Users returns every user, by name, without password hashes.
func (s *Service) Users(ctx context.Context) ([]nightowl.User, error) {
	us, err := s.store.Users(ctx)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	for i := range us {
		us[i] = public(us[i])
	}
	return us, nil
}

// ErrPasswordsOff refuses a password sign-in when access.local is false
// and the name is not the break-glass account's.
var ErrPasswordsOff = nightowl.Errorf(nightowl.EUnauthorized, "signing in with a password is turned off here: sign in with single sign-on")

func errWrongLogin() error { return nightowl.Errorf(nightowl.EUnauthorized, "wrong name or password") }

// Login checks a name and password from addr (the client's IP address,
// without a port) and starts a session. It returns the session and the
// value of its cookie, which only the browser keeps.
//
// Failures slow down an account from the address they came from (growing
// delays after MaxAccountFailures) and limit an address (MaxAddressFailures
// in FailureWindow): an attempt too soon is refused with ERateLimited,
// however right the password, and says when to try again; success ends the
// run of the account from that address. An attempt from an address that
// has not failed is never held up by others' failures. An unknown name
// takes as long and fails the same way as a wrong password.
func (s *Service) Login(ctx context.Context, name, password, addr string) (nightowl.Session, string, error) {
	return s.LoginWith(ctx, name, password, nightowl.SessionInfo{Address: addr})
}

// LoginWith is Login with what the session records of where it began
// (info.Address is the client's address, which the limits count by).
func (s *Service) LoginWith(ctx context.Context, name, password string, info nightowl.SessionInfo) (nightowl.Session, string, error) {
	addr := info.Address
	now := s.clock.Now()
	// Only names that could be a user's get runs of failures of their
	// own; the rest are still counted per address, which also bounds the
	// runs one address can start. Errors never carry the name: people
	// type passwords into the wrong field.
	account := name
	if checkName(name) != nil {
		account = ""
	}
	addr = nightowl.ClientKey(addr)
	if retry, ok := s.limits.begin(account, addr, now); !ok {
		return nightowl.Session{}, "", rateLimited(retry.Sub(now))
	}
	if s.passwordsOff && (name != s.breakGlass || s.breakGlass == "") {
		// Counted by the limits like a wrong password, so that this
		// answer is no quicker way to tell the break-glass name.
		return nightowl.Session{}, "", ErrPasswordsOff
	}
	var u nightowl.User
	found := false
	if account != "" {
		var err error
		u, err = s.store.User(ctx, name)
		switch nightowl.ErrorCode(err) {
		case "":
			found = true
		case nightowl.ENotFound:
		default:
			return nightowl.Session{}, "", fmt.Errorf("sign in: %w", err)
		}
	}
	hash := []byte(u.PasswordHash)
	if _, err := bcrypt.Cost(hash); err != nil {
		// A user without a usable hash cannot sign in, and must not
		// be told apart by a quick refusal either.
		found = false
	}
	if !found {
		var err error
		if hash, err = s.dummy(); err != nil {
			return nightowl.Session{}, "", fmt.Errorf("sign in: %w", err)
		}
	}
	// bcrypt reads only the first 72 bytes: a longer password must not
	// pass for its prefix.
	match := bcrypt.CompareHashAndPassword(hash, []byte(password)) == nil && len(password) <= MaxPassword
	if !found || !match {
		return nightowl.Session{}, "", errWrongLogin()
	}
	current := s.upgradeHash(ctx, u, password)
	info.Method = nightowl.SignInPassword
	pending, err := s.pendingFor(ctx, u)
	if err != nil {
		return nightowl.Session{}, "", fmt.Errorf("sign in %s: %w", u.Name, err)
	}
	info.Pending, info.FactorAt = pending, time.Time{}
	sess, cookie, err := s.startSession(ctx, u.Name, now, info)
	if err != nil {
		return nightowl.Session{}, "", fmt.Errorf("sign in %s: %w", u.Name, err)
	}
	if err := s.keepIfUnchanged(ctx, sess, current); err != nil {
		return nightowl.Session{}, "", err
	}
	s.limits.succeeded(account, addr)
	s.pruneSessions(ctx, now)
	return sess, cookie, nil
}

// keepIfUnchanged refuses, and deletes, a session just saved for a
// password whose hash was hash, when the user's hash is no longer hash: a
// change of the password (here, by the CLI or on another node) landed
// between the password check and the save, and its deletion of the user's
// sessions may have run before the save. Reading the user after the
// session is saved closes the gap for every process on the store: a
// change this read does not see yet deletes its sessions after it, this
// one included. The cookie of a refused session is never handed out, so
// even a failed deletion leaves nobody holding it.
func (s *Service) keepIfUnchanged(ctx context.Context, sess nightowl.Session, hash string) error {
	cur, err := s.store.User(ctx, sess.User)
	switch {
	case err == nil && cur.PasswordHash == hash:
		return nil
	case err == nil, nightowl.ErrorCode(err) == nightowl.ENotFound:
		// The password changed, or the user was removed, meanwhile.
		err = errWrongLogin()
	default:
		err = fmt.Errorf("sign in %s: %w", sess.User, err)
	}
	if derr := s.deleteSession(ctx, sess.Hash); derr != nil {
		s.log.Warn("access: delete a session begun with a changed password", "user", sess.User, "err", derr)
	}
	return err
}

// StartSession starts a session of user, who proved who they are some
// other way than a password (an identity provider, an authenticating
// proxy), and returns it and the value of its cookie.
func (s *Service) StartSession(ctx context.Context, user string, info nightowl.SessionInfo) (nightowl.Session, string, error) {
	if _, err := s.store.User(ctx, user); err != nil {
		return nightowl.Session{}, "", err
	}
	now := s.clock.Now()
	sess, cookie, err := s.startSession(ctx, user, now, info)
	if err != nil {
		return nightowl.Session{}, "", fmt.Errorf("start a session of %s: %w", user, err)
	}
	s.pruneSessions(ctx, now)
	return sess, cookie, nil
}

// startSession starts a session of user at now, and returns it and the
// value of its cookie.
func (s *Service) startSession(ctx context.Context, user string, now time.Time, info nightowl.SessionInfo) (nightowl.Session, string, error) {
	cookie, hashed := newCookie()
	sess := nightowl.Session{
		Hash:        hashed,
		ID:          nightowl.NewID("s-", 8),
		SessionInfo: info,
		User:        user,
		CSRF:        base64.RawURLEncoding.EncodeToString(randomBytes(cookieBytes)),
		CreatedAt:   now.UTC(),
		MaxUntil:    now.Add(s.max).UTC(),
	}
	sess.ExpiresAt = earliest(now.Add(s.idle), sess.MaxUntil).UTC()
	if err := s.store.SaveSession(ctx, &sess); err != nil {
		return nightowl.Session{}, "", err
	}
	return sess, cookie, nil
}

// upgradeHash hashes the password again when its hash is cheaper than the
// configured cost, so that raising the cost reaches everyone who signs in.
// It returns the hash the password now has: the new one when it was saved,
// u's otherwise.
func (s *Service) upgradeHash(ctx context.Context, u nightowl.User, password string) string {
	if c, err := bcrypt.Cost([]byte(u.PasswordHash)); err != nil || c >= s.cost {
		return u.PasswordHash
	}
	h, err := s.hash(password)
	if err != nil {
		s.log.Warn("access: rehash password", "user", u.Name, "err", err)
		return u.PasswordHash
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// Read again: the password or role may have changed meanwhile.
	cur, err := s.store.User(ctx, u.Name)
	if err != nil || cur.PasswordHash != u.PasswordHash {
		return u.PasswordHash
	}
	cur.PasswordHash = h
	if err := s.store.SaveUser(ctx, &cur); err != nil {
		s.log.Warn("access: rehash password", "user", u.Name, "err", err)
		return u.PasswordHash
	}
	return h
}

// expiredSessionDeleter is a store that can delete the sessions that have
// ended in bulk, as sqlite.Store can; without it, an ended session is
// deleted only when its browser comes back.
type expiredSessionDeleter interface {
	DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error)
}

func (s *Service) pruneSessions(ctx context.Context, now time.Time) {
	d, ok := s.store.(expiredSessionDeleter)
	if !ok {
		return
	}
	s.mu.Lock()
	due := now.Sub(s.prunedAt) >= pruneEvery
	if due {
		s.prunedAt = now
	}
	s.mu.Unlock()
	if !due {
		return
	}
	if _, err := d.DeleteExpiredSessions(ctx, now); err != nil {
		s.log.Warn("access: delete ended sessions", "err", err)
	}
}

func errNoSession() error {
	return nightowl.Errorf(nightowl.EUnauthorized, "not signed in, or the session has ended: sign in again")
}

// Session returns the session whose cookie has the value cookie and its
// user. Each use moves the end of the session to SessionIdle from now, but
// never past its MaxUntil; the move is written at most once a minute. An
// ended session is deleted.
func (s *Service) Session(ctx context.Context, cookie string) (nightowl.Session, nightowl.User, error) {
	hash, ok := cookieHash(cookie)
	if !ok {
		return nightowl.Session{}, nightowl.User{}, errNoSession()
	}
	sess, err := s.store.SessionByHash(ctx, hash)
	if nightowl.ErrorCode(err) == nightowl.ENotFound {
		return nightowl.Session{}, nightowl.User{}, errNoSession()
	}
	if err != nil {
		return nightowl.Session{}, nightowl.User{}, fmt.Errorf("read session: %w", err)
	}
	now := s.clock.Now()
	if !now.Before(sess.ExpiresAt) || !now.Before(sess.MaxUntil) {
		if err := s.deleteSession(ctx, hash); err != nil {
			s.log.Warn("access: delete ended session", "user", sess.User, "err", err)
		}
		return nightowl.Session{}, nightowl.User{}, errNoSession()
	}
	u, err := s.store.User(ctx, sess.User)
	if nightowl.ErrorCode(err) == nightowl.ENotFound {
		return nightowl.Session{}, nightowl.User{}, errNoSession()
	}
	if err != nil {
		return nightowl.Session{}, nightowl.User{}, fmt.Errorf("read session of %s: %w", sess.User, err)
	}
	if next := earliest(now.Add(s.idle), sess.MaxUntil).UTC(); next.Sub(sess.ExpiresAt) >= touchEvery {
		if sess, err = s.touchSession(ctx, hash, next); err != nil {
			return nightowl.Session{}, nightowl.User{}, err
		}
	}
	return sess, public(u), nil
}

// touchSession moves a session's end to next.
func (s *Service) touchSession(ctx context.Context, hash []byte, next time.Time) (nightowl.Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Read again, under mu: the session may have been ended since.
	sess, err := s.store.SessionByHash(ctx, hash)
	if nightowl.ErrorCode(err) == nightowl.ENotFound {
		return sess, errNoSession()
	}
	if err != nil {
		return sess, fmt.Errorf("read session: %w", err)
	}
	if !next.After(sess.ExpiresAt) {
		return sess, nil
	}
	before := sess.ExpiresAt
	sess.ExpiresAt = next
	switch err := s.store.TouchSession(ctx, hash, next); nightowl.ErrorCode(err) {
	case "":
	case nightowl.ENotFound: // signed out, or the user is gone
		return sess, errNoSession()
	default:
		// Still signed in until the end last written; the next use
		// tries again.
		s.log.Warn("access: extend session", "user", sess.User, "err", err)
		sess.ExpiresAt = before
	}
	return sess, nil
}

func (s *Service) deleteSession(ctx context.Context, hash []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.store.DeleteSession(ctx, hash); err != nil && nightowl.ErrorCode(err) != nightowl.ENotFound {
		return err
	}
	return nil
}

// Logout ends the session whose cookie has the value cookie. Ending one
// that has already ended is no error.
func (s *Service) Logout(ctx context.Context, cookie string) error {
	hash, ok := cookieHash(cookie)
	if !ok {
		return nil
	}
	if err := s.deleteSession(ctx, hash); err != nil {
		return fmt.Errorf("sign out: %w", err)
	}
	return nil
}

// tokenNameMax bounds a token's name, which says where it is used ("ci",
// "grafana"): shown in lists, never parsed.
const tokenNameMax = 64

func checkTokenName(name string) error {
	bad := name == "" || utf8.RuneCountInString(name) > tokenNameMax || !utf8.ValidString(name)
	for _, r := range name {
		bad = bad || unicode.IsControl(r)
	}
	if bad {
		return nightowl.Errorf(nightowl.EInvalid, "a token's name is 1 to %d characters, without control characters", tokenNameMax)
	}
	return nil
}

// CreateToken makes an API token for user that acts with role (at most the
// user's own; the user's when empty) and expires ttl from now (never when
// ttl is 0). It returns the token and its secret, which is shown only this
// once: only its SHA-256 is kept.
func (s *Service) CreateToken(ctx context.Context, user, name string, role nightowl.Role, ttl time.Duration) (nightowl.Token, string, error) {
	return s.CreateTokenWith(ctx, user, name, role, ttl, TokenOptions{})
}

// TokenOptions are what a token may do beyond its role.
type TokenOptions struct {
	// CanApprove lets the token approve guarded actions; it needs a role
	// that may (responder).
	CanApprove bool
}

// CreateTokenWith is CreateToken with opts.
func (s *Service) CreateTokenWith(ctx context.Context, user, name string, role nightowl.Role, ttl time.Duration, opts TokenOptions) (nightowl.Token, string, error) {
	if err := checkTokenName(name); err != nil {
		return nightowl.Token{}, "", err
	}
	if ttl < 0 {
		return nightowl.Token{}, "", nightowl.Errorf(nightowl.EInvalid, "a token's lifetime cannot be negative")
	}
	u, err := s.store.User(ctx, user)
	if err != nil {
		return nightowl.Token{}, "", fmt.Errorf("create token for %s: %w", user, err)
	}
	if role == "" {
		role = u.Role
	}
	if err := checkRole(role); err != nil {
		return nightowl.Token{}, "", err
	}
	if !u.Role.Allows(role) {
		return nightowl.Token{}, "", nightowl.Errorf(nightowl.EInvalid,
			"%s is a %s and cannot have a token that acts as %s", u.Name, u.Role, role)
	}
	if opts.CanApprove && !role.Allows(nightowl.RoleResponder) {
		return nightowl.Token{}, "", nightowl.Errorf(nightowl.EInvalid,
			"a token that may approve actions needs the responder role or above, not %s", role)
	}
	now := s.clock.Now().UTC()
	t := nightowl.Token{Name: name, User: u.Name, Role: role, CreatedAt: now, CanApprove: opts.CanApprove}
	if ttl > 0 {
		t.ExpiresAt = now.Add(ttl)
	}
	// A clash of random IDs (40 bits) is unlikely, but the store refuses
	// one rather than overwrite a token: draw again.
	for range 3 {
		secret := tokenPrefix + lowerBase32.EncodeToString(randomBytes(secretBytes))
		t.ID = "t-" + lowerBase32.EncodeToString(randomBytes(idBytes))
		t.Hash = sha(secret)
		err = s.store.SaveToken(ctx, &t)
		if err == nil {
			return t, secret, nil
		}
		if nightowl.ErrorCode(err) != nightowl.EConflict {
			break
		}
	}
	return nightowl.Token{}, "", fmt.Errorf("create token for %s: %w", user, err)
}

func errUnknownToken() error {
	return nightowl.Errorf(nightowl.EUnauthorized, "unknown or revoked API token")
}

// Authenticate returns the token whose secret is secret (what follows
// "Bearer "), its user and the role it acts with: the token's, or the
// user's if that is less, as when the user was demoted after making it.
// Each use is recorded in LastUsed, at most once a minute.
func (s *Service) Authenticate(ctx context.Context, secret string) (nightowl.Token, nightowl.User, nightowl.Role, error) {
	if len(secret) != len(tokenPrefix)+lowerBase32.EncodedLen(secretBytes) || secret[:len(tokenPrefix)] != tokenPrefix {
		return nightowl.Token{}, nightowl.User{}, "", errUnknownToken()
	}
	hash := sha(secret)
	t, err := s.store.TokenByHash(ctx, hash)
	if nightowl.ErrorCode(err) == nightowl.ENotFound {
		return nightowl.Token{}, nightowl.User{}, "", errUnknownToken()
	}
	if err != nil {
		return nightowl.Token{}, nightowl.User{}, "", fmt.Errorf("read token: %w", err)
	}
	// The store found the token by its hash already; comparing again, in
	// constant time, costs nothing and does not trust the store's lookup
	// (a case-folding collation, a prefix match) with a secret.
	if subtle.ConstantTimeCompare(t.Hash, hash) != 1 {
		return nightowl.Token{}, nightowl.User{}, "", errUnknownToken()
	}
	now := s.clock.Now()
	if !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt) {
		return nightowl.Token{}, nightowl.User{}, "", nightowl.Errorf(nightowl.EUnauthorized,
			"API token %s expired at %s", t.ID, t.ExpiresAt.UTC().Format(time.RFC3339))
	}
	u, err := s.store.User(ctx, t.User)
	if nightowl.ErrorCode(err) == nightowl.ENotFound {
		return nightowl.Token{}, nightowl.User{}, "", errUnknownToken()
	}
	if err != nil {
		return nightowl.Token{}, nightowl.User{}, "", fmt.Errorf("read token %s: %w", t.ID, err)
	}
	role := t.Role
	if !u.Role.Allows(role) {
		role = u.Role
	}
	if now.Sub(t.LastUsed) >= touchEvery {
		if t, err = s.touchToken(ctx, hash, now.UTC()); err != nil {
			return nightowl.Token{}, nightowl.User{}, "", err
		}
	}
	return t, public(u), role, nil
}

// touchToken records that the token with the given hash was used at now.
func (s *Service) touchToken(ctx context.Context, hash []byte, now time.Time) (nightowl.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Read again, under mu: the token may have been revoked since.
	t, err := s.store.TokenByHash(ctx, hash)
	if nightowl.ErrorCode(err) == nightowl.ENotFound {
		return t, errUnknownToken()
	}
	if err != nil {
		return t, fmt.Errorf("read token: %w", err)
	}
	before := t.LastUsed
	t.LastUsed = now
	switch err := s.store.TouchToken(ctx, t.ID, now); nightowl.ErrorCode(err) {
	case "":
	case nightowl.ENotFound: // revoked, or the user is gone
		return t, errUnknownToken()
	default:
		// Knowing when a token was last used is worth a warning, not
		// refusing a request that is otherwise fine.
		s.log.Warn("access: record token use", "token", t.ID, "err", err)
		t.LastUsed = before
	}
	return t, nil
}

// Tokens lists a user's tokens; every token when user is empty.
func (s *Service) Tokens(ctx context.Context, user string) ([]nightowl.Token, error) {
	if user != "" {
		if _, err := s.store.User(ctx, user); err != nil {
			return nil, fmt.Errorf("list tokens of %s: %w", user, err)
		}
	}
	ts, err := s.store.Tokens(ctx, user)
	if err != nil {
		return nil, fmt.Errorf("list tokens of %s: %w", user, err)
	}
	return ts, nil
}

// RevokeToken deletes a token: it stops working at once.
func (s *Service) RevokeToken(ctx context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.store.DeleteToken(ctx, id); err != nil {
		return fmt.Errorf("revoke token %s: %w", id, err)
	}
	return nil
}

// lowerBase32 spells token secrets and IDs: lower case reads and types more
// easily, and base32 has no 0 or 1 to mistake for o or l.
var lowerBase32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

func randomBytes(n int) []byte {
	b := make([]byte, n)
	// crypto/rand.Read never fails: it crashes the program instead.
	rand.Read(b)
	return b
}

func sha(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// newCookie returns a new session cookie's value and the hash under which
// its session is kept.
func newCookie() (cookie string, hash []byte) {
	cookie = base64.RawURLEncoding.EncodeToString(randomBytes(cookieBytes))
	return cookie, sha(cookie)
}

// cookieHash returns the hash under which the session of a cookie is kept;
// false for a value no cookie of ours has, which needs no lookup.
func cookieHash(cookie string) ([]byte, bool) {
	if len(cookie) != base64.RawURLEncoding.EncodedLen(cookieBytes) {
		return nil, false
	}
	if _, err := base64.RawURLEncoding.DecodeString(cookie); err != nil {
		return nil, false
	}
	return sha(cookie), true
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
