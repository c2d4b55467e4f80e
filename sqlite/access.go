package sqlite

import (
	"errors"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/records"
	modernc "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Users, tokens and sessions are read and written by the shared SQL
// (internal/sqlstore), at once and durably, on the writer goroutine like
// everything else: they change when someone signs in, makes a
// token or uses one (at most once a minute each), so rarely that an fsync
// each is nothing, and a revoked token must stay revoked after a crash.
//
// `nightowl user add` opens the same file from another process while the
// server runs; its writes take the write lock at BEGIN (see dsn) and wait
// for the server's, so both only ever see whole changes.

var _ nightowl.AccessStore = (*Store)(nil)

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
