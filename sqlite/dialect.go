package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/nightowl/nightowl/internal/sqlstore"
)

// SQLite as the shared SQL (internal/sqlstore) sees it: times are Unix
// nanoseconds, LIMIT -1 is none, names compare as bytes already, and every
// write goes through the writer goroutine.
var dialect = sqlstore.Dialect{
	Name:        "sqlite",
	Time:        func(t time.Time) any { return t.UnixNano() },
	RollupStart: func(t time.Time) any { return t.Unix() },
	Recent:      "seq",
	NoLimit:     -1,
	JSONField: func(column, field string) string {
		return `json_extract(CAST(` + column + ` AS TEXT), '$.` + field + `')`
	},
	AuditTime:      "time",
	ProgressWindow: "window",
	Refusal:        refusal,
	// One writer: nothing can take the number between reading the
	// largest and inserting the next.
	NewIncident: `INSERT INTO incidents (seq, id, state, created_at, resolved_at, data)
		SELECT n, ? || n, ?, ?, ?, ? FROM (SELECT COALESCE(MAX(seq), 0) + 1 AS n FROM incidents)
		RETURNING id`,
}

// shared returns the shared accessors over s's pools.
func (s *Store) shared() *sqlstore.DB {
	return sqlstore.New(sqlstore.Options{Dialect: dialect, Read: sqlConn{s.rdb}, Write: s.write,
		Snapshot: s.snapshot, Now: s.opts.Now, Logger: s.log})
}

// write runs fn in one transaction on the writer goroutine; durable makes
// the commit wait for the disk.
func (s *Store) write(ctx context.Context, durable bool, fn func(tx sqlstore.Conn) error) error {
	return s.do(ctx, func() error {
		return s.inTx(ctx, durable, func(w *txWriter) error { return fn(w) })
	})
}

// snapshot runs fn in a read-only transaction of the read pool: one
// snapshot, whatever the writer commits meanwhile.
func (s *Store) snapshot(ctx context.Context, fn func(tx sqlstore.Conn) error) error {
	tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback()
	return fn(sqlConn{tx})
}

// sqlConn is a database/sql pool, or a transaction, as the shared SQL
// runs statements.
type sqlConn struct {
	db interface {
		QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
		QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
		ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	}
}

func (c sqlConn) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	rows, err := c.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

func (c sqlConn) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Scanner {
	return c.db.QueryRowContext(ctx, query, args...)
}

func (c sqlConn) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := c.db.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { r.Rows.Close() }

// The writer's transaction runs the shared SQL on its prepared statements,
// under the context the transaction was begun with.

func (w *txWriter) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	st, err := w.stmt(query)
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

func (w *txWriter) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Scanner {
	return w.queryRow(query, args...)
}

func (w *txWriter) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	return w.execCount(query, args...)
}
