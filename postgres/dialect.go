package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/nightowl/nightowl/internal/sqlstore"
)

// PostgreSQL as the shared SQL (internal/sqlstore) sees it: numbered
// placeholders, timestamptz times, a NULL LIMIT for none, names sorted as
// bytes whatever the database's collation, and every commit durable.
var dialect = sqlstore.Dialect{
	Name:           "postgres",
	Numbered:       true,
	Time:           func(t time.Time) any { return t },
	RollupStart:    func(t time.Time) any { return t },
	Recent:         "id",
	NoLimit:        nil,
	ByName:         ` COLLATE "C"`,
	JSONField:      func(column, field string) string { return column + `->>'` + field + `'` },
	AuditTime:      "time_ns",
	ProgressWindow: "window_id",
	Refusal:        recRefusal,
	// Read committed: the statements after the lock see what the
	// append or start before committed. An action's lock is keyed by a
	// hash of its name: two names with one hash only share a lock.
	LockAction: fmt.Sprintf(`SELECT pg_advisory_xact_lock(%d, hashtext(?))`, int32(recActionLock)),
	LockAudit:  fmt.Sprintf(`SELECT pg_advisory_xact_lock(%d)`, int64(recAuditLock)),
	// The number comes from the counter row, bumped in the same
	// transaction: nodes opening incidents at once take turns on its
	// lock, and each gets the next number.
	NewIncident: `WITH n AS (UPDATE incident_counter SET last = last + 1 WHERE id = 1 RETURNING last)
		INSERT INTO incidents (seq, id, state, created_at, resolved_at, data)
		SELECT n.last, ?::text || n.last, ?, ?, ?, ? FROM n
		RETURNING id`,
}

// shared returns the shared accessors over s's pool.
func (s *Store) shared() *sqlstore.DB {
	return sqlstore.New(sqlstore.Options{Dialect: dialect, Read: pgConn{s.pool}, Write: s.write,
		Snapshot: s.snapshot, Now: s.opts.Now, Logger: s.log})
}

// write runs fn in one transaction; every commit waits for the disk.
func (s *Store) write(ctx context.Context, _ bool, fn func(tx sqlstore.Conn) error) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return fn(pgConn{tx}) })
}

// snapshot runs fn in a read-only, repeatable-read transaction: one
// snapshot, however much the nodes write meanwhile.
func (s *Store) snapshot(ctx context.Context, fn func(tx sqlstore.Conn) error) error {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	return fn(pgConn{tx})
}

// pgConn is the pool, or a transaction, as the shared SQL runs statements.
type pgConn struct {
	db interface {
		Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
		QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
		Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	}
}

func (c pgConn) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	return c.db.Query(ctx, query, args...)
}

func (c pgConn) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Scanner {
	return c.db.QueryRow(ctx, query, args...)
}

func (c pgConn) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := c.db.Exec(ctx, query, args...)
	return tag.RowsAffected(), err
}
