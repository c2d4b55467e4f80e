package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/records"
)

// Users, tokens and sessions are written at once, each change in its own
// statement: a revoked token must stay revoked for every node.

var _ nightowl.AccessStore = (*Store)(nil)

// SaveUser creates a user, or updates the role, the time it was given and
// the password hash of one; CreatedAt is kept from when the user was
// created.
func (s *Store) SaveUser(ctx context.Context, u *nightowl.User) error {
	if err := records.CheckUser(u); err != nil {
		return err
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO users (name, role, password_hash, created_at, role_since) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (name) DO UPDATE SET role = excluded.role, password_hash = excluded.password_hash,
			role_since = excluded.role_since`,
		u.Name, string(u.Role), u.PasswordHash, recTime(u.CreatedAt), recTime(u.RoleSince))
	if err != nil {
		return fmt.Errorf("save user %s: %w", u.Name, err)
	}
	return nil
}

const recUserColumns = `name, role, password_hash, created_at, role_since`

func recScanUser(r pgx.Row) (nightowl.User, error) {
	var u nightowl.User
	var role string
	var created, since pgtype.Timestamptz
	if err := r.Scan(&u.Name, &role, &u.PasswordHash, &created, &since); err != nil {
		return u, err
	}
	u.Role, u.CreatedAt, u.RoleSince = nightowl.Role(role), recTimeOf(created), recTimeOf(since)
	return u, nil
}

// User returns the named user.
func (s *Store) User(ctx context.Context, name string) (nightowl.User, error) {
	u, err := recScanUser(s.pool.QueryRow(ctx, `SELECT `+recUserColumns+` FROM users WHERE name = $1`, name))
	if errors.Is(err, pgx.ErrNoRows) {
		return nightowl.User{}, records.NotFound("user", name)
	}
	if err != nil {
		return nightowl.User{}, fmt.Errorf("read user %s: %w", name, err)
	}
	return u, nil
}

// Users returns every user, by name.
func (s *Store) Users(ctx context.Context) ([]nightowl.User, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+recUserColumns+` FROM users ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("read users: %w", err)
	}
	out, err := recCollect(rows, func(r pgx.CollectableRow) (nightowl.User, error) { return recScanUser(r) })
	if err != nil {
		return nil, fmt.Errorf("read users: %w", err)
	}
	return out, nil
}

// DeleteUser removes a user; the foreign keys take their tokens and
// sessions with them, in the same statement.
func (s *Store) DeleteUser(ctx context.Context, name string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM users WHERE name = $1`, name)
	if err == nil && tag.RowsAffected() == 0 {
		err = records.NotFound("user", name)
	}
	if err != nil {
		return fmt.Errorf("delete user %s: %w", name, err)
	}
	return nil
}

// SaveToken creates a token, or updates the name, role, expiry and last use
// of one. A token's secret never changes: saving a token whose ID another
// token (with another hash or user) has, or whose hash another token has,
// is a conflict, so that a clash of random IDs cannot overwrite a token.
func (s *Store) SaveToken(ctx context.Context, t *nightowl.Token) error {
	if err := records.CheckToken(t); err != nil {
		return err
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO tokens (id, name, user_name, role, hash, created_at, expires_at, last_used)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (id) DO UPDATE SET name = excluded.name, role = excluded.role,
			expires_at = excluded.expires_at, last_used = excluded.last_used
		WHERE tokens.hash = excluded.hash AND tokens.user_name = excluded.user_name`,
		t.ID, t.Name, t.User, string(t.Role), t.Hash, recTime(t.CreatedAt), recTime(t.ExpiresAt), recTime(t.LastUsed))
	if err = records.TokenSaved(t, err, recRefusal(err), tag.RowsAffected()); err != nil {
		return fmt.Errorf("save token %s of user %s: %w", t.ID, t.User, err)
	}
	return nil
}

const recTokenColumns = `id, name, user_name, role, hash, created_at, expires_at, last_used`

func recScanToken(r pgx.Row) (nightowl.Token, error) {
	var t nightowl.Token
	var role string
	var created, expires, used pgtype.Timestamptz
	if err := r.Scan(&t.ID, &t.Name, &t.User, &role, &t.Hash, &created, &expires, &used); err != nil {
		return t, err
	}
	t.Role = nightowl.Role(role)
	t.CreatedAt, t.ExpiresAt, t.LastUsed = recTimeOf(created), recTimeOf(expires), recTimeOf(used)
	return t, nil
}

// TokenByHash finds a token by the hash of its secret.
func (s *Store) TokenByHash(ctx context.Context, hash []byte) (nightowl.Token, error) {
	t, err := recScanToken(s.pool.QueryRow(ctx, `SELECT `+recTokenColumns+` FROM tokens WHERE hash = $1`, hash))
	if errors.Is(err, pgx.ErrNoRows) {
		return nightowl.Token{}, records.NoSuch("token")
	}
	if err != nil {
		return nightowl.Token{}, fmt.Errorf("read token: %w", err)
	}
	return t, nil
}

// Tokens lists a user's tokens, or every token when user is empty, oldest
// first.
func (s *Store) Tokens(ctx context.Context, user string) ([]nightowl.Token, error) {
	var w recWhere
	if user != "" {
		w.add(`user_name = ` + w.arg(user))
	}
	rows, err := s.pool.Query(ctx, `SELECT `+recTokenColumns+` FROM tokens`+w.sql()+` ORDER BY created_at, id`, w.args...)
	if err != nil {
		return nil, fmt.Errorf("read tokens of user %s: %w", user, err)
	}
	out, err := recCollect(rows, func(r pgx.CollectableRow) (nightowl.Token, error) { return recScanToken(r) })
	if err != nil {
		return nil, fmt.Errorf("read tokens of user %s: %w", user, err)
	}
	return out, nil
}

// DeleteToken removes a token.
func (s *Store) DeleteToken(ctx context.Context, id string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM tokens WHERE id = $1`, id)
	if err == nil && tag.RowsAffected() == 0 {
		err = records.NotFound("token", id)
	}
	if err != nil {
		return fmt.Errorf("delete token %s: %w", id, err)
	}
	return nil
}

// SaveSession creates a session, or updates the CSRF token and times of one.
// A session never changes hands: saving one whose hash another user's
// session has is a conflict.
func (s *Store) SaveSession(ctx context.Context, ss *nightowl.Session) error {
	if err := records.CheckSession(ss); err != nil {
		return err
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO sessions (hash, user_name, csrf, created_at, expires_at, max_until)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (hash) DO UPDATE SET csrf = excluded.csrf,
			expires_at = excluded.expires_at, max_until = excluded.max_until
		WHERE sessions.user_name = excluded.user_name`,
		ss.Hash, ss.User, ss.CSRF, recTime(ss.CreatedAt), recTime(ss.ExpiresAt), recTime(ss.MaxUntil))
	if err = records.SessionSaved(ss, err, recRefusal(err), tag.RowsAffected()); err != nil {
		// Never the hash: it is as good as the cookie for finding the
		// session in a stolen copy of the database.
		return fmt.Errorf("save session of user %s: %w", ss.User, err)
	}
	return nil
}

// SessionByHash finds a session by the hash of its cookie.
func (s *Store) SessionByHash(ctx context.Context, hash []byte) (nightowl.Session, error) {
	var ss nightowl.Session
	var created, expires, maxUntil pgtype.Timestamptz
	err := s.pool.QueryRow(ctx, `SELECT hash, user_name, csrf, created_at, expires_at, max_until
		FROM sessions WHERE hash = $1`, hash).Scan(&ss.Hash, &ss.User, &ss.CSRF, &created, &expires, &maxUntil)
	if errors.Is(err, pgx.ErrNoRows) {
		return nightowl.Session{}, records.NoSuch("session")
	}
	if err != nil {
		return nightowl.Session{}, fmt.Errorf("read session: %w", err)
	}
	ss.CreatedAt, ss.ExpiresAt, ss.MaxUntil = recTimeOf(created), recTimeOf(expires), recTimeOf(maxUntil)
	return ss, nil
}

// DeleteSession removes a session.
func (s *Store) DeleteSession(ctx context.Context, hash []byte) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE hash = $1`, hash)
	if err == nil && tag.RowsAffected() == 0 {
		err = records.NoSuch("session")
	}
	if err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// DeleteExpiredSessions removes the sessions that have ended by now, idle
// or at their latest end, and returns how many. Sessions are otherwise
// deleted only when someone signs out or comes back after they ended.
func (s *Store) DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE expires_at <= $1 OR max_until <= $1`, now)
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// recTouch runs an update of one row that must exist. Unlike a save, it
// never brings back a row another node deleted meanwhile.
func (s *Store) recTouch(ctx context.Context, what, query string, args ...any) error {
	tag, err := s.pool.Exec(ctx, query, args...)
	if err == nil && tag.RowsAffected() == 0 {
		err = records.NoSuch(what)
	}
	if err != nil {
		return fmt.Errorf("record use of %s: %w", what, err)
	}
	return nil
}

// TouchToken records when a token was last used.
func (s *Store) TouchToken(ctx context.Context, id string, lastUsed time.Time) error {
	return s.recTouch(ctx, "token", `UPDATE tokens SET last_used = $1 WHERE id = $2`, recTime(lastUsed), id)
}

// TouchSession moves a session's idle end.
func (s *Store) TouchSession(ctx context.Context, hash []byte, expiresAt time.Time) error {
	return s.recTouch(ctx, "session", `UPDATE sessions SET expires_at = $1 WHERE hash = $2`, recTime(expiresAt), hash)
}

// DeleteSessions signs a user out everywhere.
func (s *Store) DeleteSessions(ctx context.Context, user string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE user_name = $1`, user); err != nil {
		return fmt.Errorf("delete sessions of %s: %w", user, err)
	}
	return nil
}
