package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/nightowl/nightowl/internal/records"
)

// What the record stores (alerts, maintenance, people, incidents, actions,
// the audit log) share: how times, limits and JSON documents go in and out,
// and which PostgreSQL errors they tell apart.

// recTime is t for a nullable timestamptz column: NULL when t is zero, as
// the sqlite package stores it.
func recTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// recTimeOf reads a nullable timestamptz back: zero when NULL, and in UTC,
// as every store returns times.
func recTimeOf(t pgtype.Timestamptz) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}

// recNanos is t as Unix nanoseconds for a nullable bigint column: the
// columns that keep times to the nanosecond (see migrations/0002).
func recNanos(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixNano()
}

// recFromNanos reads a nullable bigint of Unix nanoseconds back.
func recFromNanos(n *int64) time.Time {
	if n == nil {
		return time.Time{}
	}
	return time.Unix(0, *n).UTC()
}

// recLimit is a query's limit as a LIMIT argument: NULL, no limit, when it
// is not positive.
func recLimit(limit int) any {
	if limit <= 0 {
		return nil
	}
	return limit
}

// recWhere builds a WHERE clause with numbered parameters.
type recWhere struct {
	conds []string
	args  []any
}

// arg adds v as the next parameter and returns its placeholder.
func (w *recWhere) arg(v any) string {
	w.args = append(w.args, v)
	return "$" + strconv.Itoa(len(w.args))
}

func (w *recWhere) add(cond string) { w.conds = append(w.conds, cond) }

// sql is the WHERE clause, empty when there are no conditions.
func (w *recWhere) sql() string {
	if len(w.conds) == 0 {
		return ""
	}
	return ` WHERE ` + strings.Join(w.conds, ` AND `)
}

// recQuerier is a pool or a transaction.
type recQuerier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// recReadJSON runs a query whose one column is a JSON document (the tables
// that keep a record whole: alerts, action requests) and decodes
// each row into a T, as the sqlite package's readJSON does. what names the
// rows in errors.
func recReadJSON[T any](ctx context.Context, db recQuerier, what, query string, args ...any) ([]T, error) {
	rows, err := db.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	out, err := recCollect(rows, func(r pgx.CollectableRow) (T, error) {
		var v T
		var data []byte
		if err := r.Scan(&data); err != nil {
			return v, err
		}
		return v, json.Unmarshal(data, &v)
	})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	return out, nil
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

// recCollect reads every row with fn, closing rows; nil when there is none,
// as the sqlite package returns.
func recCollect[T any](rows pgx.Rows, fn pgx.RowToFunc[T]) ([]T, error) {
	return pgx.AppendRows([]T(nil), rows, fn)
}
