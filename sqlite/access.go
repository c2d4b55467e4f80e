package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/records"
	modernc "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Users, tokens and sessions are written at once and durably, on the writer
// goroutine like everything else: they change when someone signs in, makes a
// token or uses one (at most once a minute each), so rarely that an fsync
// each is nothing, and a revoked token must stay revoked after a crash.
//
// `nightowl user add` opens the same file from another process while the
// server runs; its writes take the write lock at BEGIN (see dsn) and wait
// for the server's, so both only ever see whole changes.

var _ nightowl.AccessStore = (*Store)(nil)

// SaveUser creates a user, or updates the role, the time it was given and
// the password hash of one; CreatedAt is kept from when the user was
// created.
func (s *Store) SaveUser(ctx context.Context, u *nightowl.User) error {
	if err := records.CheckUser(u); err != nil {
		return err
	}
	err := s.do(ctx, func() error {
		return s.inTx(ctx, true, func(w *txWriter) error {
			return w.exec(`INSERT INTO users (name, role, password_hash, created_at, role_since) VALUES (?, ?, ?, ?, ?)
				ON CONFLICT (name) DO UPDATE SET role = excluded.role, password_hash = excluded.password_hash,
					role_since = excluded.role_since`,
				u.Name, string(u.Role), u.PasswordHash, nanos(u.CreatedAt), nanos(u.RoleSince))
		})
	})
	if err != nil {
		return fmt.Errorf("save user %s: %w", u.Name, err)
	}
	return nil
}

const userColumns = `name, role, password_hash, created_at, role_since`

func scanUser(sc interface{ Scan(...any) error }) (nightowl.User, error) {
	var u nightowl.User
	var created, since sql.NullInt64
	if err := sc.Scan(&u.Name, &u.Role, &u.PasswordHash, &created, &since); err != nil {
		return u, err
	}
	u.CreatedAt, u.RoleSince = fromNanos(created), fromNanos(since)
	return u, nil
}

// User returns the named user.
func (s *Store) User(ctx context.Context, name string) (nightowl.User, error) {
	u, err := scanUser(s.rdb.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nightowl.User{}, records.NotFound("user", name)
	}
	if err != nil {
		return nightowl.User{}, fmt.Errorf("read user %s: %w", name, err)
	}
	return u, nil
}

// Users returns every user, by name.
func (s *Store) Users(ctx context.Context) ([]nightowl.User, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+userColumns+` FROM users ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("read users: %w", err)
	}
	defer rows.Close()
	var out []nightowl.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("read users: %w", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read users: %w", err)
	}
	return out, nil
}

// DeleteUser removes a user; the foreign keys take their tokens and
// sessions with them, in the same transaction.
func (s *Store) DeleteUser(ctx context.Context, name string) error {
	err := s.do(ctx, func() error {
		return s.inTx(ctx, true, func(w *txWriter) error {
			n, err := w.execCount(`DELETE FROM users WHERE name = ?`, name)
			if err == nil && n == 0 {
				err = records.NotFound("user", name)
			}
			return err
		})
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
func (s *Store) SaveToken(ctx context.Context, t *nightowl.Token) error {
	if err := records.CheckToken(t); err != nil {
		return err
	}
	err := s.do(ctx, func() error {
		return s.inTx(ctx, true, func(w *txWriter) error {
			n, err := w.execCount(`INSERT INTO tokens (id, name, user_name, role, hash, created_at, expires_at, last_used)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (id) DO UPDATE SET name = excluded.name, role = excluded.role,
					expires_at = excluded.expires_at, last_used = excluded.last_used
				WHERE tokens.hash = excluded.hash AND tokens.user_name = excluded.user_name`,
				t.ID, t.Name, t.User, string(t.Role), t.Hash, nanos(t.CreatedAt), nanos(t.ExpiresAt), nanos(t.LastUsed))
			return records.TokenSaved(t, err, refusal(err), n)
		})
	})
	if err != nil {
		return fmt.Errorf("save token %s of user %s: %w", t.ID, t.User, err)
	}
	return nil
}

const tokenColumns = `id, name, user_name, role, hash, created_at, expires_at, last_used`

func scanToken(sc interface{ Scan(...any) error }) (nightowl.Token, error) {
	var t nightowl.Token
	var created, expires, used sql.NullInt64
	if err := sc.Scan(&t.ID, &t.Name, &t.User, &t.Role, &t.Hash, &created, &expires, &used); err != nil {
		return t, err
	}
	t.CreatedAt, t.ExpiresAt, t.LastUsed = fromNanos(created), fromNanos(expires), fromNanos(used)
	return t, nil
}

// TokenByHash finds a token by the hash of its secret.
func (s *Store) TokenByHash(ctx context.Context, hash []byte) (nightowl.Token, error) {
	t, err := scanToken(s.rdb.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE hash = ?`, hash))
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
func (s *Store) Tokens(ctx context.Context, user string) ([]nightowl.Token, error) {
	query := `SELECT ` + tokenColumns + ` FROM tokens`
	var args []any
	if user != "" {
		query += ` WHERE user_name = ?`
		args = append(args, user)
	}
	rows, err := s.rdb.QueryContext(ctx, query+` ORDER BY created_at, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("read tokens of user %s: %w", user, err)
	}
	defer rows.Close()
	var out []nightowl.Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("read tokens of user %s: %w", user, err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read tokens of user %s: %w", user, err)
	}
	return out, nil
}

// DeleteToken removes a token.
func (s *Store) DeleteToken(ctx context.Context, id string) error {
	err := s.do(ctx, func() error {
		return s.inTx(ctx, true, func(w *txWriter) error {
			n, err := w.execCount(`DELETE FROM tokens WHERE id = ?`, id)
			if err == nil && n == 0 {
				err = records.NotFound("token", id)
			}
			return err
		})
	})
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
	err := s.do(ctx, func() error {
		return s.inTx(ctx, true, func(w *txWriter) error {
			n, err := w.execCount(`INSERT INTO sessions (hash, user_name, csrf, created_at, expires_at, max_until)
				VALUES (?, ?, ?, ?, ?, ?)
				ON CONFLICT (hash) DO UPDATE SET csrf = excluded.csrf,
					expires_at = excluded.expires_at, max_until = excluded.max_until
				WHERE sessions.user_name = excluded.user_name`,
				ss.Hash, ss.User, ss.CSRF, nanos(ss.CreatedAt), nanos(ss.ExpiresAt), nanos(ss.MaxUntil))
			return records.SessionSaved(ss, err, refusal(err), n)
		})
	})
	if err != nil {
		// Never the hash: it is as good as the cookie for finding the
		// session in a stolen copy of the file.
		return fmt.Errorf("save session of user %s: %w", ss.User, err)
	}
	return nil
}

// SessionByHash finds a session by the hash of its cookie.
func (s *Store) SessionByHash(ctx context.Context, hash []byte) (nightowl.Session, error) {
	var ss nightowl.Session
	var created, expires, maxUntil sql.NullInt64
	err := s.rdb.QueryRowContext(ctx, `SELECT hash, user_name, csrf, created_at, expires_at, max_until
		FROM sessions WHERE hash = ?`, hash).Scan(&ss.Hash, &ss.User, &ss.CSRF, &created, &expires, &maxUntil)
	if errors.Is(err, sql.ErrNoRows) {
		return nightowl.Session{}, records.NoSuch("session")
	}
	if err != nil {
		return nightowl.Session{}, fmt.Errorf("read session: %w", err)
	}
	ss.CreatedAt, ss.ExpiresAt, ss.MaxUntil = fromNanos(created), fromNanos(expires), fromNanos(maxUntil)
	return ss, nil
}

// DeleteSession removes a session.
func (s *Store) DeleteSession(ctx context.Context, hash []byte) error {
	err := s.do(ctx, func() error {
		return s.inTx(ctx, true, func(w *txWriter) error {
			n, err := w.execCount(`DELETE FROM sessions WHERE hash = ?`, hash)
			if err == nil && n == 0 {
				err = records.NoSuch("session")
			}
			return err
		})
	})
	if err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// DeleteExpiredSessions removes the sessions that have ended by now, idle
// or at their latest end, and returns how many. Sessions are otherwise
// deleted only when someone signs out or comes back after they ended.
func (s *Store) DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error) {
	var n int64
	err := s.do(ctx, func() error {
		// Not synced at once: a session that comes back after a power cut
		// has ended anyway, and is refused and deleted when next used.
		return s.inTx(ctx, false, func(w *txWriter) error {
			var err error
			n, err = w.execCount(`DELETE FROM sessions WHERE expires_at <= ? OR max_until <= ?`,
				now.UnixNano(), now.UnixNano())
			return err
		})
	})
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}
	return int(n), nil
}

// execCount runs a statement and returns how many rows it changed.
func (w *txWriter) execCount(query string, args ...any) (int64, error) {
	st, err := w.stmt(query)
	if err != nil {
		return 0, err
	}
	res, err := st.ExecContext(w.ctx, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// refusal tells which constraint, if any, refused a write: a FOREIGN KEY
// is a token or session of a user who is not there.
func refusal(err error) records.Refusal {
	var e *modernc.Error
	if !errors.As(err, &e) {
		return records.NotRefused
	}
	switch e.Code() {
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return records.ForeignKey
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE:
		return records.Unique
	}
	return records.NotRefused
}

// touch runs an update of one row that must exist, without syncing: losing
// the record of a use to a power cut costs nothing. Unlike a save, it never
// brings back a row another process deleted meanwhile.
func (s *Store) touch(ctx context.Context, what, query string, args ...any) error {
	err := s.do(ctx, func() error {
		return s.inTx(ctx, false, func(w *txWriter) error {
			n, err := w.execCount(query, args...)
			if err == nil && n == 0 {
				err = records.NoSuch(what)
			}
			return err
		})
	})
	if err != nil {
		return fmt.Errorf("record use of %s: %w", what, err)
	}
	return nil
}

// TouchToken records when a token was last used.
func (s *Store) TouchToken(ctx context.Context, id string, lastUsed time.Time) error {
	return s.touch(ctx, "token", `UPDATE tokens SET last_used = ? WHERE id = ?`, nanos(lastUsed), id)
}

// TouchSession moves a session's idle end.
func (s *Store) TouchSession(ctx context.Context, hash []byte, expiresAt time.Time) error {
	return s.touch(ctx, "session", `UPDATE sessions SET expires_at = ? WHERE hash = ?`, nanos(expiresAt), hash)
}

// DeleteSessions signs a user out everywhere.
func (s *Store) DeleteSessions(ctx context.Context, user string) error {
	err := s.do(ctx, func() error {
		return s.inTx(ctx, true, func(w *txWriter) error {
			_, err := w.execCount(`DELETE FROM sessions WHERE user_name = ?`, user)
			return err
		})
	})
	if err != nil {
		return fmt.Errorf("delete sessions of %s: %w", user, err)
	}
	return nil
}
