package postgres

import (
	"context"
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
	NoLimit:        nil,
	ByName:         ` COLLATE "C"`,
	JSONField:      func(column, field string) string { return column + `->>'` + field + `'` },
	AuditTime:      "time_ns",
	ProgressWindow: "window_id",
	Refusal:        recRefusal,
}

// shared returns the shared accessors over s's pool.
func (s *Store) shared() *sqlstore.DB {
	return sqlstore.New(sqlstore.Options{Dialect: dialect, Read: pgConn{s.pool}, Write: s.write,
		Now: s.opts.Now, Logger: s.log})
}

// write runs fn in one transaction; every commit waits for the disk.
func (s *Store) write(ctx context.Context, _ bool, fn func(tx sqlstore.Conn) error) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return fn(pgConn{tx}) })
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
