package postgres

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/nightowl/nightowl"
)

// Unavailable reports whether err says that the database could not be
// reached or went away, rather than that it refused what was asked: a
// failed or dropped connection, a timeout (the caller's deadline or the
// server's statement and lock timeouts), a server shutting down or
// starting up. What it answers for such an error may succeed once the
// server is back, so a caller can keep it and try again; other SQL errors
// and domain errors would fail the same way again.
func Unavailable(err error) bool {
	if err == nil {
		return false
	}
	var de *nightowl.Error
	if errors.As(err, &de) {
		return false
	}
	// The caller gave up, not the database.
	if errors.Is(err, context.Canceled) {
		return false
	}
	// The server's own word comes first: a connection attempt refused for
	// a bad password is a ConnectError too, but no outage.
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return unavailableCode(pe.Code)
	}
	if errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err) {
		return true
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	if pgconn.SafeToRetry(err) || errors.Is(err, pgconn.ErrConnClosed) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	// A connection cut mid-answer reads as an end of file, and a refused
	// or reset one may come wrapped in no net.Error.
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE)
}

// unavailableCode says whether a SQLSTATE means the server cannot serve
// now: class 08 (connection exception), the shutdowns of class 57P, and the
// session timeouts the pool sets (postgres.go), which end a statement that
// a stuck server or another session's stuck transaction held up.
func unavailableCode(code string) bool {
	switch code {
	case "57P01", // admin_shutdown
		"57P02", // crash_shutdown
		"57P03", // cannot_connect_now: starting up or in recovery
		"57014", // query_canceled: statement_timeout
		"55P03", // lock_not_available: lock_timeout
		"25P03": // idle_in_transaction_session_timeout
		return true
	}
	return strings.HasPrefix(code, "08")
}
