package access

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nightowl/nightowl"
)

// External is a person an identity provider vouched for: the name they
// get here, and the role their groups map to.
type External struct {
	Name string
	Role nightowl.Role
	// Source is where they come from (nightowl.SourceOIDC); it is what
	// makes an account theirs.
	Source string
}

// ExternalSignIn is what SignInExternal did: the session it started,
// its cookie, and what it changed of the account.
type ExternalSignIn struct {
	Session nightowl.Session
	Cookie  string
	// Created is true when the account was made by this sign-in.
	Created bool
	// RoleBefore is the account's role before this sign-in, when the
	// provider's groups changed it; "" when it did not change.
	RoleBefore nightowl.Role
}

// SignInExternal signs in someone an identity provider vouched for, and
// starts a session with info. Their account is made at their first
// sign-in, with no password (so that only the provider can sign them
// in), and their role follows e.Role at every sign-in. An account of the
// same name that did not come from the same source is never taken over:
// it is refused with EConflict, so that a provider that lets people pick
// their own name cannot make anyone an existing admin.
//
// A demotion by the provider applies even to the last admin: the provider
// is the authority on these accounts, and the break-glass account (or
// `nightowl user role` on the storage) remains.
func (s *Service) SignInExternal(ctx context.Context, e External, info nightowl.SessionInfo) (ExternalSignIn, error) {
	if err := errors.Join(checkName(e.Name), checkRole(e.Role)); err != nil {
		return ExternalSignIn{}, firstError(err)
	}
	if e.Source == "" {
		return ExternalSignIn{}, nightowl.Errorf(nightowl.EInvalid, "an external sign-in needs a source")
	}
	var out ExternalSignIn
	now := s.clock.Now()
	if err := s.linkExternal(ctx, e, now, &out); err != nil {
		return ExternalSignIn{}, err
	}
	sess, cookie, err := s.startSession(ctx, e.Name, now, info)
	if err != nil {
		return ExternalSignIn{}, fmt.Errorf("start a session of %s: %w", e.Name, err)
	}
	s.pruneSessions(ctx, now)
	out.Session, out.Cookie = sess, cookie
	return out, nil
}

// linkExternal makes e's account, or brings its role up to date.
func (s *Service) linkExternal(ctx context.Context, e External, now time.Time, out *ExternalSignIn) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.store.User(ctx, e.Name)
	switch nightowl.ErrorCode(err) {
	case "":
	case nightowl.ENotFound:
		u = nightowl.User{Name: e.Name, Role: e.Role, CreatedAt: now.UTC(), RoleSince: now.UTC(), Source: e.Source}
		if err := s.store.SaveUser(ctx, &u); err != nil {
			return fmt.Errorf("add user %s: %w", e.Name, err)
		}
		out.Created = true
		return nil
	default:
		return fmt.Errorf("read user %s: %w", e.Name, err)
	}
	if u.Source != e.Source {
		return nightowl.Errorf(nightowl.EConflict,
			"there is already a user %q here who signs in another way; ask an admin to remove them, or to sign you in as they do", e.Name)
	}
	if u.Role == e.Role {
		return nil
	}
	out.RoleBefore = u.Role
	u.Role, u.RoleSince = e.Role, now.UTC()
	if err := s.store.SaveUser(ctx, &u); err != nil {
		return fmt.Errorf("set role of %s: %w", e.Name, err)
	}
	return nil
}

// RenewFactor records on the session whose cookie is cookie, which must be
// user's, that its person proved who they are again at at (a fresh
// sign-in at the identity provider): what a step-up asks to be recent.
func (s *Service) RenewFactor(ctx context.Context, cookie, user string, at time.Time) (nightowl.Session, error) {
	hash, ok := cookieHash(cookie)
	if !ok {
		return nightowl.Session{}, errNoSession()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, err := s.store.SessionByHash(ctx, hash)
	if nightowl.ErrorCode(err) == nightowl.ENotFound {
		return nightowl.Session{}, errNoSession()
	}
	if err != nil {
		return nightowl.Session{}, fmt.Errorf("read session: %w", err)
	}
	if sess.User != user {
		return nightowl.Session{}, nightowl.Errorf(nightowl.EForbidden, "the identity provider signed in %s, not %s", user, sess.User)
	}
	if now := s.clock.Now(); !now.Before(sess.ExpiresAt) || !now.Before(sess.MaxUntil) {
		return nightowl.Session{}, errNoSession()
	}
	if at.After(sess.FactorAt) {
		sess.FactorAt = at.UTC()
	}
	if err := s.store.SaveSession(ctx, &sess); err != nil {
		return nightowl.Session{}, fmt.Errorf("save session of %s: %w", user, err)
	}
	return sess, nil
}

// ProxyUser returns the user an authenticating proxy named, without their
// password hash; ENotFound when there is none: a proxy cannot make
// accounts.
func (s *Service) ProxyUser(ctx context.Context, name string) (nightowl.User, error) {
	if checkName(name) != nil {
		return nightowl.User{}, nightowl.Errorf(nightowl.ENotFound, "no such user")
	}
	u, err := s.store.User(ctx, name)
	if err != nil {
		return nightowl.User{}, err
	}
	return public(u), nil
}
