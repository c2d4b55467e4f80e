package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/records"
)

// Users, tokens and sessions are written at once and durably: they change
// when someone signs in, makes a token or uses one (at most once a minute
// each), so rarely that a sync each is nothing, and a revoked token must
// stay revoked after a crash.

// SaveUser creates a user, or updates the role, the time it was given, the
// password hash and the source of one; CreatedAt is kept from when the user was
// created.
func (db *DB) SaveUser(ctx context.Context, u *nightowl.User) error {
	if err := records.CheckUser(u); err != nil {
		return err
	}
	err := db.write(ctx, true, func(tx Conn) error {
		_, err := db.exec(ctx, tx, `INSERT INTO users (name, role, password_hash, created_at, role_since, source) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET role = excluded.role, password_hash = excluded.password_hash,
				role_since = excluded.role_since, source = excluded.source`,
			u.Name, string(u.Role), u.PasswordHash, db.nullTime(u.CreatedAt), db.nullTime(u.RoleSince), u.Source)
		return err
	})
	if err != nil {
		return fmt.Errorf("save user %s: %w", u.Name, err)
	}
	return nil
}

const userColumns = `name, role, password_hash, created_at, role_since, source`

func scanUser(sc Scanner) (nightowl.User, error) {
	var u nightowl.User
	err := sc.Scan(&u.Name, &u.Role, &u.PasswordHash, At(&u.CreatedAt), At(&u.RoleSince), &u.Source)
	return u, err
}

// User returns the named user.
func (db *DB) User(ctx context.Context, name string) (nightowl.User, error) {
	u, err := scanUser(db.queryRow(ctx, db.read, `SELECT `+userColumns+` FROM users WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nightowl.User{}, records.NotFound("user", name)
	}
	if err != nil {
		return nightowl.User{}, fmt.Errorf("read user %s: %w", name, err)
	}
	return u, nil
}

// Users returns every user, by name.
func (db *DB) Users(ctx context.Context) ([]nightowl.User, error) {
	rows, err := db.query(ctx, db.read, `SELECT `+userColumns+` FROM users ORDER BY name`)
	out, err := Collect(rows, err, scanUser)
	if err != nil {
		return nil, fmt.Errorf("read users: %w", err)
	}
	return out, nil
}

// DeleteUser removes a user; the foreign keys take their tokens and
// sessions with them, in the same transaction.
func (db *DB) DeleteUser(ctx context.Context, name string) error {
	err := db.write(ctx, true, func(tx Conn) error {
		n, err := db.exec(ctx, tx, `DELETE FROM users WHERE name = ?`, name)
		if err == nil && n == 0 {
			err = records.NotFound("user", name)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("delete user %s: %w", name, err)
	}
	return nil
}

// SaveToken creates a token, or updates the name, role, expiry and last use
// of one. A token's secret never changes: saving a token whose ID another
// token (with another hash or user) has, or whose hash another token has,
// is a conflict, so that a clash of random IDs cannot overwrite a token.
func (db *DB) SaveToken(ctx context.Context, t *nightowl.Token) error {
	if err := records.CheckToken(t); err != nil {
		return err
	}
	err := db.write(ctx, true, func(tx Conn) error {
		n, err := db.exec(ctx, tx, `INSERT INTO tokens (id, name, user_name, role, hash, created_at, expires_at, last_used, can_approve)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET name = excluded.name, role = excluded.role,
				expires_at = excluded.expires_at, last_used = excluded.last_used, can_approve = excluded.can_approve
			WHERE tokens.hash = excluded.hash AND tokens.user_name = excluded.user_name`,
			t.ID, t.Name, t.User, string(t.Role), t.Hash, db.nullTime(t.CreatedAt), db.nullTime(t.ExpiresAt), db.nullTime(t.LastUsed), t.CanApprove)
		return records.TokenSaved(t, err, db.d.Refusal(err), n)
	})
	if err != nil {
		return fmt.Errorf("save token %s of user %s: %w", t.ID, t.User, err)
	}
	return nil
}

const tokenColumns = `id, name, user_name, role, hash, created_at, expires_at, last_used, can_approve`

func scanToken(sc Scanner) (nightowl.Token, error) {
	var t nightowl.Token
	err := sc.Scan(&t.ID, &t.Name, &t.User, &t.Role, &t.Hash, At(&t.CreatedAt), At(&t.ExpiresAt), At(&t.LastUsed), &t.CanApprove)
	return t, err
}

// TokenByHash finds a token by the hash of its secret.
func (db *DB) TokenByHash(ctx context.Context, hash []byte) (nightowl.Token, error) {
	t, err := scanToken(db.queryRow(ctx, db.read, `SELECT `+tokenColumns+` FROM tokens WHERE hash = ?`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return nightowl.Token{}, records.NoSuch("token")
	}
	if err != nil {
		return nightowl.Token{}, fmt.Errorf("read token: %w", err)
	}
	return t, nil
}

// Tokens lists a user's tokens, or every token when user is empty, oldest
// first.
func (db *DB) Tokens(ctx context.Context, user string) ([]nightowl.Token, error) {
	var w Where
	if user != "" {
		w.Add(`user_name = ?`, user)
	}
	rows, err := db.query(ctx, db.read, `SELECT `+tokenColumns+` FROM tokens`+w.SQL()+` ORDER BY created_at, id`, w.Args...)
	out, err := Collect(rows, err, scanToken)
	if err != nil {
		return nil, fmt.Errorf("read tokens of user %s: %w", user, err)
	}
	return out, nil
}

// DeleteToken removes a token.
func (db *DB) DeleteToken(ctx context.Context, id string) error {
	err := db.write(ctx, true, func(tx Conn) error {
		n, err := db.exec(ctx, tx, `DELETE FROM tokens WHERE id = ?`, id)
		if err == nil && n == 0 {
			err = records.NotFound("token", id)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("delete token %s: %w", id, err)
	}
	return nil
}

// SaveSession creates a session, or updates the CSRF token and times of one.
// A session never changes hands: saving one whose hash another user's
// session has is a conflict.
func (db *DB) SaveSession(ctx context.Context, ss *nightowl.Session) error {
	if err := records.CheckSession(ss); err != nil {
		return err
	}
	err := db.write(ctx, true, func(tx Conn) error {
		n, err := db.exec(ctx, tx, `INSERT INTO sessions (hash, user_name, csrf, created_at, expires_at, max_until,
				id, method, address, user_agent, factor_at, pending)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (hash) DO UPDATE SET csrf = excluded.csrf,
				expires_at = excluded.expires_at, max_until = excluded.max_until,
				factor_at = excluded.factor_at, pending = excluded.pending
			WHERE sessions.user_name = excluded.user_name`,
			ss.Hash, ss.User, ss.CSRF, db.nullTime(ss.CreatedAt), db.nullTime(ss.ExpiresAt), db.nullTime(ss.MaxUntil),
			ss.ID, ss.Method, ss.Address, ss.UserAgent, db.nullTime(ss.FactorAt), ss.Pending)
		return records.SessionSaved(ss, err, db.d.Refusal(err), n)
	})
	if err != nil {
		// Never the hash: it is as good as the cookie for finding the
		// session in a stolen copy of the database.
		return fmt.Errorf("save session of user %s: %w", ss.User, err)
	}
	return nil
}

const sessionColumns = `hash, user_name, csrf, created_at, expires_at, max_until, id, method, address, user_agent, factor_at, pending`

func scanSession(sc Scanner) (nightowl.Session, error) {
	var ss nightowl.Session
	err := sc.Scan(&ss.Hash, &ss.User, &ss.CSRF, At(&ss.CreatedAt), At(&ss.ExpiresAt), At(&ss.MaxUntil),
		&ss.ID, &ss.Method, &ss.Address, &ss.UserAgent, At(&ss.FactorAt), &ss.Pending)
	return ss, err
}

// Sessions lists a user's sessions, newest first; every user's when user
// is empty.
func (db *DB) Sessions(ctx context.Context, user string) ([]nightowl.Session, error) {
	var w Where
	if user != "" {
		w.Add(`user_name = ?`, user)
	}
	rows, err := db.query(ctx, db.read, `SELECT `+sessionColumns+` FROM sessions`+w.SQL()+` ORDER BY created_at DESC, id`, w.Args...)
	out, err := Collect(rows, err, scanSession)
	if err != nil {
		return nil, fmt.Errorf("read sessions: %w", err)
	}
	return out, nil
}

// SessionByHash finds a session by the hash of its cookie.
func (db *DB) SessionByHash(ctx context.Context, hash []byte) (nightowl.Session, error) {
	ss, err := scanSession(db.queryRow(ctx, db.read, `SELECT `+sessionColumns+` FROM sessions WHERE hash = ?`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return nightowl.Session{}, records.NoSuch("session")
	}
	if err != nil {
		return nightowl.Session{}, fmt.Errorf("read session: %w", err)
	}
	return ss, nil
}

// DeleteSession removes a session.
func (db *DB) DeleteSession(ctx context.Context, hash []byte) error {
	err := db.write(ctx, true, func(tx Conn) error {
		n, err := db.exec(ctx, tx, `DELETE FROM sessions WHERE hash = ?`, hash)
		if err == nil && n == 0 {
			err = records.NoSuch("session")
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// DeleteExpiredSessions removes the sessions that have ended by now, idle
// or at their latest end, and returns how many. Sessions are otherwise
// deleted only when someone signs out or comes back after they ended. Not
// synced at once: a session that comes back after a power cut has ended
// anyway, and is refused and deleted when next used.
func (db *DB) DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error) {
	var n int64
	err := db.write(ctx, false, func(tx Conn) error {
		var err error
		n, err = db.exec(ctx, tx, `DELETE FROM sessions WHERE expires_at <= ? OR max_until <= ?`, db.time(now), db.time(now))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}
	return int(n), nil
}

// touch runs an update of one row that must exist, without syncing: losing
// the record of a use to a power cut costs nothing. Unlike a save, it never
// brings back a row another process deleted meanwhile.
func (db *DB) touch(ctx context.Context, what, query string, args ...any) error {
	err := db.write(ctx, false, func(tx Conn) error {
		n, err := db.exec(ctx, tx, query, args...)
		if err == nil && n == 0 {
			err = records.NoSuch(what)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("record use of %s: %w", what, err)
	}
	return nil
}

// TouchToken records when a token was last used.
func (db *DB) TouchToken(ctx context.Context, id string, lastUsed time.Time) error {
	return db.touch(ctx, "token", `UPDATE tokens SET last_used = ? WHERE id = ?`, db.nullTime(lastUsed), id)
}

// TouchSession moves a session's idle end.
func (db *DB) TouchSession(ctx context.Context, hash []byte, expiresAt time.Time) error {
	return db.touch(ctx, "session", `UPDATE sessions SET expires_at = ? WHERE hash = ?`, db.nullTime(expiresAt), hash)
}

// DeleteSessions signs a user out everywhere.
func (db *DB) DeleteSessions(ctx context.Context, user string) error {
	err := db.write(ctx, true, func(tx Conn) error {
		_, err := db.exec(ctx, tx, `DELETE FROM sessions WHERE user_name = ?`, user)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete sessions of %s: %w", user, err)
	}
	return nil
}
