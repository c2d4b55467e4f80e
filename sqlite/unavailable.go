package sqlite

import (
	"context"
	"errors"

	"github.com/nightowl/nightowl"
	modernc "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Unavailable reports whether err says that the database file cannot take
// writes for now, rather than that it refused what was asked: a full disk,
// a file system gone read-only, an I/O error, a lock another process holds
// past the busy timeout. What it answers for such an error may succeed once
// the disk has room or is writable again, so a caller can keep it and try
// again; constraint failures and domain errors would fail the same way
// again.
func Unavailable(err error) bool {
	if err == nil {
		return false
	}
	var de *nightowl.Error
	if errors.As(err, &de) {
		return false
	}
	var e *modernc.Error
	if errors.As(err, &e) {
		switch e.Code() & 0xff { // the primary code of an extended one
		case sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN,
			sqlite3.SQLITE_PERM, sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return true
		}
		return false
	}
	// The write was not taken before the caller's deadline: the writer
	// is stuck on the disk.
	return errors.Is(err, context.DeadlineExceeded)
}
