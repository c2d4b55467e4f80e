package access

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"errors"
	"fmt"
	"image/png"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"

	"github.com/nightowl/nightowl"
)

// Second factors: a TOTP key (an authenticator app) or a WebAuthn
// credential, and ten one-time recovery codes for when neither is at hand.
//
// A TOTP key must be kept in a form the server can compute codes from, so
// it is sealed with AES-256-GCM under Options.FactorKey (the store's
// factor key) with the factor's ID as additional data: a row copied out of
// the table, or shown by mistake, does not give the key away, though a
// whole copy of the database with its secrets table does. Recovery codes
// are kept as their SHA-256 only. Neither a key nor a code is ever logged
// or put in an error.
const (
	// RecoveryCodes is how many recovery codes a person gets at once.
	RecoveryCodes = 10
	// recoveryBytes of crypto/rand make a recovery code: 50 bits, 10
	// base32 characters, shown as two groups of five.
	recoveryBytes = 10 * 5 / 8
	totpPeriod    = 30
	// totpSkew accepts the code of the step before and after the
	// current one, for clocks a little apart.
	totpSkew = 1
	// MaxCodeFailures wrong codes at one account in FailureWindow, from
	// any addresses, refuse further codes until the window is over: the
	// person typing them already has the password, and a 6-digit code
	// falls to a million guesses.
	MaxCodeFailures = 10
	// factorNameMax bounds a factor's name.
	factorNameMax = 64
	// DefaultIssuer names nightowl in authenticator apps.
	DefaultIssuer = "nightowl"
)

// FactorKeySize is the size of Options.FactorKey.
const FactorKeySize = 32

// codeLimiter counts wrong codes per account across addresses, on top of
// the per-address limits that sign-ins have (limiter).
type codeLimiter struct {
	mu sync.Mutex
	m  map[string]failures
}

func (c *codeLimiter) begin(user string, now time.Time) (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f := current(c.m, user, now, addrFrom)
	if f.n >= MaxCodeFailures {
		return f.since.Add(FailureWindow), false
	}
	c.m[user] = f.add(now)
	return time.Time{}, true
}

func (c *codeLimiter) succeeded(user string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f, ok := c.m[user]; ok && f.n > 0 {
		f.n--
		c.m[user] = f
	}
}

func (s *Service) aead() (cipher.AEAD, error) {
	if len(s.factorKey) != FactorKeySize {
		return nil, nightowl.Errorf(nightowl.EInternal, "second factors are not available: the server has no factor key")
	}
	b, err := aes.NewCipher(s.factorKey)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

func (s *Service) seal(id string, secret []byte) ([]byte, error) {
	g, err := s.aead()
	if err != nil {
		return nil, err
	}
	nonce := randomBytes(g.NonceSize())
	return g.Seal(nonce, nonce, secret, []byte(id)), nil
}

func (s *Service) open(f nightowl.Factor) (string, error) {
	g, err := s.aead()
	if err != nil {
		return "", err
	}
	if len(f.Secret) < g.NonceSize() {
		return "", fmt.Errorf("second factor %s: sealed key too short", f.ID)
	}
	b, err := g.Open(nil, f.Secret[:g.NonceSize()], f.Secret[g.NonceSize():], []byte(f.ID))
	if err != nil {
		return "", fmt.Errorf("second factor %s: the key does not open with the factor key", f.ID)
	}
	return string(b), nil
}

// HasFactor reports whether user has a confirmed second factor.
func (s *Service) HasFactor(ctx context.Context, user string) (bool, error) {
	fs, err := s.Factors(ctx, user)
	return len(fs) > 0, err
}

// Factors lists user's confirmed second factors, without their secrets.
func (s *Service) Factors(ctx context.Context, user string) ([]nightowl.Factor, error) {
	fs, err := s.store.Factors(ctx, user)
	if err != nil {
		return nil, fmt.Errorf("list second factors of %s: %w", user, err)
	}
	out := fs[:0]
	for _, f := range fs {
		if !f.ConfirmedAt.IsZero() {
			f.Secret = nil
			out = append(out, f)
		}
	}
	return out, nil
}

// RecoveryCodesLeft counts user's unused recovery codes.
func (s *Service) RecoveryCodesLeft(ctx context.Context, user string) (int, error) {
	return s.store.RecoveryCodesLeft(ctx, user)
}

// pendingFor is what a session of u signed in with a password waits for: a
// second factor when they have one, enrolling one when their role must
// have one, else nothing.
func (s *Service) pendingFor(ctx context.Context, u nightowl.User) (string, error) {
	has, err := s.HasFactor(ctx, u.Name)
	switch {
	case err != nil:
		return "", err
	case has:
		return nightowl.SessionNeedsFactor, nil
	case slices.Contains(s.requireFactor, u.Role):
		return nightowl.SessionNeedsEnrolment, nil
	}
	return "", nil
}

// sessionOf reads the live session of cookie.
func (s *Service) sessionOf(ctx context.Context, cookie string) (nightowl.Session, error) {
	sess, _, err := s.Session(ctx, cookie)
	return sess, err
}

// BeginTOTP starts enrolling a TOTP key for the person of the session of
// cookie: it is kept, unconfirmed, until ConfirmTOTP sees a code of it,
// and replaces any other key of theirs still unconfirmed.
func (s *Service) BeginTOTP(ctx context.Context, cookie, name string) (nightowl.TOTPEnrolment, error) {
	sess, err := s.sessionOf(ctx, cookie)
	if err != nil {
		return nightowl.TOTPEnrolment{}, err
	}
	name = strings.TrimSpace(name)
	if name == "" {
		name = "authenticator app"
	}
	if err := checkFactorName(name); err != nil {
		return nightowl.TOTPEnrolment{}, err
	}
	if _, err := s.aead(); err != nil {
		return nightowl.TOTPEnrolment{}, err
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: s.issuer, AccountName: sess.User, Period: totpPeriod,
		Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1, Rand: randReader{}})
	if err != nil {
		return nightowl.TOTPEnrolment{}, fmt.Errorf("make a TOTP key: %w", err)
	}
	f := nightowl.Factor{ID: nightowl.NewID("f-", 8), User: sess.User, Kind: nightowl.FactorTOTP, Name: name,
		CreatedAt: s.clock.Now().UTC()}
	if f.Secret, err = s.seal(f.ID, []byte(key.Secret())); err != nil {
		return nightowl.TOTPEnrolment{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old, err := s.store.Factors(ctx, sess.User)
	if err != nil {
		return nightowl.TOTPEnrolment{}, fmt.Errorf("enrol a second factor: %w", err)
	}
	for _, o := range old {
		if o.Kind == nightowl.FactorTOTP && o.ConfirmedAt.IsZero() {
			if err := s.store.DeleteFactor(ctx, sess.User, o.ID); err != nil && nightowl.ErrorCode(err) != nightowl.ENotFound {
				return nightowl.TOTPEnrolment{}, fmt.Errorf("enrol a second factor: %w", err)
			}
		}
	}
	if err := s.store.SaveFactor(ctx, &f); err != nil {
		return nightowl.TOTPEnrolment{}, fmt.Errorf("enrol a second factor: %w", err)
	}
	img, err := key.Image(240, 240)
	if err != nil {
		return nightowl.TOTPEnrolment{}, fmt.Errorf("draw the QR code: %w", err)
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return nightowl.TOTPEnrolment{}, fmt.Errorf("draw the QR code: %w", err)
	}
	return nightowl.TOTPEnrolment{ID: f.ID, Secret: key.Secret(), URL: key.URL(), QR: b.Bytes()}, nil
}

// randReader is crypto/rand for otp's key generation.
type randReader struct{}

func (randReader) Read(p []byte) (int, error) { copy(p, randomBytes(len(p))); return len(p), nil }

func checkFactorName(name string) error {
	if len(name) > factorNameMax || checkTokenName(name) != nil {
		return nightowl.Errorf(nightowl.EInvalid, "a second factor's name is 1 to %d characters, without control characters", factorNameMax)
	}
	return nil
}

// ConfirmTOTP confirms the key id that the person of the session of cookie
// is enrolling with a code of it. The key counts from then on; the session
// has given a second factor now, and the person's other sessions end. When
// they had no recovery codes left, it returns ten new ones, to be shown
// once.
func (s *Service) ConfirmTOTP(ctx context.Context, cookie, id, code, addr string) (nightowl.Session, []string, error) {
	sess, err := s.sessionOf(ctx, cookie)
	if err != nil {
		return nightowl.Session{}, nil, err
	}
	now := s.clock.Now()
	if err := s.beginCode(sess.User, addr, now); err != nil {
		return nightowl.Session{}, nil, err
	}
	fs, err := s.store.Factors(ctx, sess.User)
	if err != nil {
		return nightowl.Session{}, nil, fmt.Errorf("confirm a second factor: %w", err)
	}
	i := slices.IndexFunc(fs, func(f nightowl.Factor) bool { return f.ID == id && f.Kind == nightowl.FactorTOTP })
	if i < 0 || !fs[i].ConfirmedAt.IsZero() {
		return nightowl.Session{}, nil, nightowl.Errorf(nightowl.ENotFound, "no TOTP key %s is being enrolled: start again", id)
	}
	f := fs[i]
	step, err := s.checkTOTP(f, code, now)
	if err != nil {
		return nightowl.Session{}, nil, err
	}
	f.ConfirmedAt, f.LastUsed, f.LastStep = now.UTC(), now.UTC(), step
	if err := s.store.SaveFactor(ctx, &f); err != nil {
		return nightowl.Session{}, nil, fmt.Errorf("confirm a second factor: %w", err)
	}
	s.codeSucceeded(sess.User, addr)
	var codes []string
	if left, err := s.store.RecoveryCodesLeft(ctx, sess.User); err == nil && left == 0 {
		if codes, err = s.newRecoveryCodes(ctx, sess.User); err != nil {
			return nightowl.Session{}, nil, err
		}
	}
	sess, err = s.factorGiven(ctx, sess, now)
	if err != nil {
		return nightowl.Session{}, nil, err
	}
	return sess, codes, s.endOtherSessions(ctx, sess)
}

// NewRecoveryCodes replaces the recovery codes of the person of the session
// of cookie, who must have a second factor, with ten new ones, shown once.
func (s *Service) NewRecoveryCodes(ctx context.Context, cookie string) ([]string, error) {
	sess, err := s.sessionOf(ctx, cookie)
	if err != nil {
		return nil, err
	}
	if has, err := s.HasFactor(ctx, sess.User); err != nil || !has {
		if err == nil {
			err = nightowl.Errorf(nightowl.EConflict, "enrol a second factor first")
		}
		return nil, err
	}
	return s.newRecoveryCodes(ctx, sess.User)
}

func (s *Service) newRecoveryCodes(ctx context.Context, user string) ([]string, error) {
	codes := make([]string, RecoveryCodes)
	hashes := make([][]byte, RecoveryCodes)
	for i := range codes {
		c := lowerBase32.EncodeToString(randomBytes(recoveryBytes))
		codes[i] = c[:5] + "-" + c[5:]
		hashes[i] = sha(c)
	}
	if err := s.store.SetRecoveryCodes(ctx, user, hashes, s.clock.Now().UTC()); err != nil {
		return nil, fmt.Errorf("make recovery codes: %w", err)
	}
	return codes, nil
}

// beginCode counts an attempt at a code against the limits: per account
// and address like a password, and per account across addresses.
func (s *Service) beginCode(user, addr string, now time.Time) error {
	addr = nightowl.ClientKey(addr)
	if retry, ok := s.codeLimits.begin(user, addr, now); !ok {
		return codesLimited(retry.Sub(now))
	}
	if retry, ok := s.codeAccounts.begin(user, now); !ok {
		return codesLimited(retry.Sub(now))
	}
	return nil
}

func (s *Service) codeSucceeded(user, addr string) {
	s.codeLimits.succeeded(user, nightowl.ClientKey(addr))
	s.codeAccounts.succeeded(user)
}

func codesLimited(after time.Duration) error {
	err := rateLimited(after)
	return nightowl.RateLimited(after, "too many wrong codes: %s",
		strings.TrimPrefix(nightowl.ErrorMessage(err), "too many failed sign-ins: "))
}

func errWrongCode() error {
	return nightowl.Errorf(nightowl.EUnauthorized, "wrong or used code")
}

// checkTOTP returns the time step of code when it is one of f's key near
// now, and newer than the last taken.
func (s *Service) checkTOTP(f nightowl.Factor, code string, now time.Time) (int64, error) {
	code = strings.Join(strings.Fields(code), "")
	if len(code) != 6 {
		return 0, errWrongCode()
	}
	secret, err := s.open(f)
	if err != nil {
		return 0, err
	}
	cur := now.Unix() / totpPeriod
	for step := cur - totpSkew; step <= cur+totpSkew; step++ {
		want, err := hotp.GenerateCodeCustom(secret, uint64(step), hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			return 0, fmt.Errorf("second factor %s: %w", f.ID, err)
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 && step > f.LastStep {
			return step, nil
		}
	}
	return 0, errWrongCode()
}

// Kinds of code VerifyFactor takes, as it tells which was used.
const (
	CodeTOTP     = "totp"
	CodeRecovery = "recovery code"
)

// VerifyFactor takes a second factor from the person of the session of
// cookie: a code of a TOTP key of theirs, or one of their recovery codes
// (each good once). The session has then given a second factor now: what
// it waited for (SessionNeedsFactor) is done, and a step-up is fresh. It
// says which kind of code was used, and, for a recovery code, how many are
// left. Attempts are limited like sign-ins (beginCode).
func (s *Service) VerifyFactor(ctx context.Context, cookie, code, addr string) (sess nightowl.Session, used string, left int, err error) {
	if sess, err = s.sessionOf(ctx, cookie); err != nil {
		return nightowl.Session{}, "", 0, err
	}
	now := s.clock.Now()
	if err := s.beginCode(sess.User, addr, now); err != nil {
		return nightowl.Session{}, "", 0, err
	}
	fs, err := s.store.Factors(ctx, sess.User)
	if err != nil {
		return nightowl.Session{}, "", 0, fmt.Errorf("check a second factor: %w", err)
	}
	compact := strings.ToLower(strings.Join(strings.Fields(code), ""))
	if len(compact) == 6 {
		for _, f := range fs {
			if f.Kind != nightowl.FactorTOTP || f.ConfirmedAt.IsZero() {
				continue
			}
			step, err := s.checkTOTP(f, compact, now)
			if nightowl.ErrorCode(err) == nightowl.EUnauthorized {
				continue
			}
			if err != nil {
				return nightowl.Session{}, "", 0, err
			}
			// Two nodes may take the same code at once: the store
			// lets one.
			if err := s.store.UseFactorStep(ctx, f.ID, step, now.UTC()); err != nil {
				if nightowl.ErrorCode(err) == nightowl.EConflict {
					return nightowl.Session{}, "", 0, errWrongCode()
				}
				return nightowl.Session{}, "", 0, fmt.Errorf("check a second factor: %w", err)
			}
			used = CodeTOTP
			break
		}
	} else if rc := strings.ReplaceAll(compact, "-", ""); len(rc) == 10 && slices.ContainsFunc(fs, func(f nightowl.Factor) bool { return !f.ConfirmedAt.IsZero() }) {
		switch err := s.store.UseRecoveryCode(ctx, sess.User, sha(rc), now.UTC()); nightowl.ErrorCode(err) {
		case "":
			used = CodeRecovery
			left, _ = s.store.RecoveryCodesLeft(ctx, sess.User)
		case nightowl.ENotFound:
		default:
			return nightowl.Session{}, "", 0, fmt.Errorf("check a recovery code: %w", err)
		}
	}
	if used == "" {
		return nightowl.Session{}, "", 0, errWrongCode()
	}
	s.codeSucceeded(sess.User, addr)
	sess, err = s.factorGiven(ctx, sess, now)
	return sess, used, left, err
}

// factorGiven records that sess gave a second factor at now: what it waited
// for is done.
func (s *Service) factorGiven(ctx context.Context, sess nightowl.Session, now time.Time) (nightowl.Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, err := s.store.SessionByHash(ctx, sess.Hash)
	if nightowl.ErrorCode(err) == nightowl.ENotFound {
		return nightowl.Session{}, errNoSession()
	}
	if err != nil {
		return nightowl.Session{}, fmt.Errorf("read session: %w", err)
	}
	cur.FactorAt, cur.Pending = now.UTC(), ""
	if err := s.store.SaveSession(ctx, &cur); err != nil {
		return nightowl.Session{}, fmt.Errorf("record a second factor on the session of %s: %w", cur.User, err)
	}
	return cur, nil
}

// endOtherSessions ends every session of sess's person but sess: after a
// change of their factors, whoever had only their password, or a session,
// must sign in again.
func (s *Service) endOtherSessions(ctx context.Context, sess nightowl.Session) error {
	all, err := s.store.Sessions(ctx, sess.User)
	if err != nil {
		return fmt.Errorf("end the other sessions of %s: %w", sess.User, err)
	}
	var errs []error
	for _, o := range all {
		if !bytes.Equal(o.Hash, sess.Hash) {
			if err := s.deleteSession(ctx, o.Hash); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("end the other sessions of %s: %w", sess.User, err)
	}
	return nil
}

// RemoveFactor removes the second factor id of the person of the session of
// cookie, and ends their other sessions. Removing the last one takes the
// recovery codes with it. A step-up guards it (the web layer), so that a
// borrowed session cannot strip its person's factors.
func (s *Service) RemoveFactor(ctx context.Context, cookie, id string) (nightowl.Factor, error) {
	sess, err := s.sessionOf(ctx, cookie)
	if err != nil {
		return nightowl.Factor{}, err
	}
	fs, err := s.Factors(ctx, sess.User)
	if err != nil {
		return nightowl.Factor{}, err
	}
	i := slices.IndexFunc(fs, func(f nightowl.Factor) bool { return f.ID == id })
	if i < 0 {
		return nightowl.Factor{}, nightowl.Errorf(nightowl.ENotFound, "you have no second factor %s", id)
	}
	if err := s.store.DeleteFactor(ctx, sess.User, id); err != nil {
		return nightowl.Factor{}, fmt.Errorf("remove a second factor: %w", err)
	}
	if len(fs) == 1 {
		if err := s.store.SetRecoveryCodes(ctx, sess.User, nil, s.clock.Now().UTC()); err != nil {
			return fs[i], fmt.Errorf("remove the recovery codes: %w", err)
		}
	}
	return fs[i], s.endOtherSessions(ctx, sess)
}

// StepUpAge is how long ago sess last gave a second factor; false when it
// never did.
func StepUpAge(sess nightowl.Session, now time.Time) (time.Duration, bool) {
	if sess.FactorAt.IsZero() {
		return 0, false
	}
	return now.Sub(sess.FactorAt), true
}
