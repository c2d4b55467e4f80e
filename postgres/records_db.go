package postgres

import (
	"errors"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/nightowl/nightowl/internal/records"
)

// What the record stores (alerts, maintenance, people, incidents, actions,
// the audit log) need of PostgreSQL beside the shared SQL
// (internal/sqlstore): which errors it tells apart, and how a LIMIT says
// none.

// recLimit is a query's limit as a LIMIT argument: NULL, no limit, when it
// is not positive.
func recLimit(limit int) any {
	if limit <= 0 {
		return nil
	}
	return limit
}

// recRefusal tells which constraint, if any, refused a write, by its
// SQLSTATE.
func recRefusal(err error) records.Refusal {
	var e *pgconn.PgError
	if !errors.As(err, &e) {
		return records.NotRefused
	}
	switch e.Code {
	case "23503": // foreign_key_violation
		return records.ForeignKey
	case "23505": // unique_violation
		return records.Unique
	}
	return records.NotRefused
}
