// Package sqlstore is the SQL that nightowl's two stores, sqlite and
// postgres, share: the query text, the row scanners and the accessors of
// every table whose reads and writes are the same statements in both
// databases. Each store hands it a Conn on its own driver, a way to run a
// write transaction and a Dialect, the few things that really differ
// (placeholders, how a time column holds a time, how a LIMIT says "no
// limit", a column or two named otherwise); what is truly one database's
// (SQLite's rings and its single writer, PostgreSQL's leases, advisory
// locks, COPY and SKIP LOCKED) stays in that store's package.
//
// Query text is written once, with ? placeholders, and numbered for
// PostgreSQL as it is sent. A new table is one migration per dialect and
// one accessor here; internal/storetest runs every accessor against both
// stores.
package sqlstore

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nightowl/nightowl/internal/records"
)

// Scanner is one row: *sql.Row, *sql.Rows, pgx.Row and pgx.Rows all are.
type Scanner interface {
	Scan(dest ...any) error
}

// Rows is the result of a query, as both drivers give it.
type Rows interface {
	Scanner
	Next() bool
	Err() error
	Close()
}

// Conn runs statements on a pool or in a transaction of one driver. Query
// text reaches it in the driver's own placeholders. A row that is not
// there is an error that errors.Is finds sql.ErrNoRows in (pgx.ErrNoRows
// wraps it).
type Conn interface {
	Query(ctx context.Context, query string, args ...any) (Rows, error)
	QueryRow(ctx context.Context, query string, args ...any) Scanner
	// Exec runs a statement and returns how many rows it changed.
	Exec(ctx context.Context, query string, args ...any) (int64, error)
}

// Dialect is what the shared SQL needs to know of a database.
type Dialect struct {
	// Name begins the store's log messages: "sqlite", "postgres".
	Name string
	// Numbered placeholders ($1, $2, …) rather than ?.
	Numbered bool
	// Time is t as a time column holds it (Unix nanoseconds in SQLite, a
	// timestamptz in PostgreSQL). The columns that keep times to the
	// nanosecond in both (the audit log, maintenance progress) take
	// Nanos instead.
	Time func(t time.Time) any
	// RollupStart is a rollup's start (a whole hour or day) as the
	// column holds it: Unix seconds in SQLite, a timestamptz in
	// PostgreSQL.
	RollupStart func(t time.Time) any
	// Recent orders a check's recent results and pings, oldest first:
	// their seq in SQLite's rings, their id in PostgreSQL.
	Recent string
	// NoLimit is the LIMIT that means none: -1 in SQLite, NULL in
	// PostgreSQL.
	NoLimit any
	// ByName orders rows by a check's name as bytes, whatever the
	// database's collation: `COLLATE "C"` in PostgreSQL, nothing in
	// SQLite, which compares bytes already.
	ByName string
	// JSONField is the SQL for a top-level field of a JSON document
	// column, as text or NULL.
	JSONField func(column, field string) string
	// AuditTime names the audit log's time column, and ProgressWindow
	// maintenance progress's window column (window is a keyword in
	// PostgreSQL).
	AuditTime, ProgressWindow string
	// NewIncident inserts a new incident with the next number and returns
	// its ID; its arguments are records.IncidentPrefix, the state, the
	// creation and resolution times and the data.
	NewIncident string
	// LockAction and LockAudit, when not empty, take a lock for the
	// rest of the transaction before it reads when an action (the one
	// argument) last started, or the head of the audit log, so that
	// writers on other connections follow one another; SQLite's one
	// writer needs none.
	LockAction, LockAudit string
	// Refusal tells which constraint, if any, refused a write.
	Refusal func(error) records.Refusal
}

// Options build a DB.
type Options struct {
	Dialect Dialect
	// Read runs the reads: a pool that sees what was committed.
	Read Conn
	// Write runs fn in one write transaction. durable asks that the
	// commit reach the disk before Write returns; a store whose every
	// commit does so may ignore it.
	Write func(ctx context.Context, durable bool, fn func(tx Conn) error) error
	// Snapshot runs fn in a read-only transaction that sees one
	// snapshot of the database throughout.
	Snapshot func(ctx context.Context, fn func(tx Conn) error) error
	Now      func() time.Time
	Logger   *slog.Logger
}

// DB holds the accessors both stores share. A store embeds it, and so has
// them as its own methods; the methods it declares itself, for what its
// database does its own way, take their place.
type DB struct {
	d        Dialect
	read     Conn
	write    func(ctx context.Context, durable bool, fn func(tx Conn) error) error
	snapshot func(ctx context.Context, fn func(tx Conn) error) error
	now      func() time.Time
	log      *slog.Logger
	bound    sync.Map // query text with ? to the dialect's
}

// New returns the shared accessors over a store's connections.
func New(o Options) *DB {
	return &DB{d: o.Dialect, read: o.Read, write: o.Write, snapshot: o.Snapshot, now: o.Now, log: o.Logger}
}

// bind returns query in the dialect's placeholders.
func (db *DB) bind(query string) string {
	if !db.d.Numbered {
		return query
	}
	if q, ok := db.bound.Load(query); ok {
		return q.(string)
	}
	q := number(query)
	db.bound.Store(query, q)
	return q
}

// number turns each ? of query into $1, $2, …; the shared SQL has no ? in
// its string literals.
func number(query string) string {
	var b strings.Builder
	n := 0
	for _, part := range strings.SplitAfter(query, "?") {
		if strings.HasSuffix(part, "?") {
			n++
			b.WriteString(part[:len(part)-1] + "$" + strconv.Itoa(n))
			continue
		}
		b.WriteString(part)
	}
	return b.String()
}

// query runs query, written with ?, on c.
func (db *DB) query(ctx context.Context, c Conn, query string, args ...any) (Rows, error) {
	return c.Query(ctx, db.bind(query), args...)
}

// queryRow runs query, written with ?, on c.
func (db *DB) queryRow(ctx context.Context, c Conn, query string, args ...any) Scanner {
	return c.QueryRow(ctx, db.bind(query), args...)
}

// exec runs a statement, written with ?, on c.
func (db *DB) exec(ctx context.Context, c Conn, query string, args ...any) (int64, error) {
	return c.Exec(ctx, db.bind(query), args...)
}

// time is t as a time column holds it.
func (db *DB) time(t time.Time) any { return db.d.Time(t) }

// nullTime is t as a nullable time column holds it: NULL when t is zero.
func (db *DB) nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return db.d.Time(t)
}

// limit is a query's limit as a LIMIT argument: none when it is not
// positive.
func (db *DB) limit(limit int) any {
	if limit <= 0 {
		return db.d.NoLimit
	}
	return limit
}

// Nanos is t as Unix nanoseconds for a nullable integer column: NULL when
// t is zero.
func Nanos(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixNano()
}

// Collect reads every row of rows with scan and closes rows; nil when
// there is none.
func Collect[T any](rows Rows, err error, scan func(Scanner) (T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// Where builds the conditions of a query, with ? placeholders.
type Where struct {
	conds []string
	Args  []any
}

// Add adds a condition and the arguments of its placeholders.
func (w *Where) Add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.Args = append(w.Args, args...)
}

// SQL is the WHERE clause, empty when there are no conditions.
func (w *Where) SQL() string {
	if len(w.conds) == 0 {
		return ""
	}
	return ` WHERE ` + strings.Join(w.conds, ` AND `)
}

// At scans a time column of either dialect into t: Unix nanoseconds
// (SQLite) or a timestamptz (PostgreSQL), NULL as the zero time, read back
// in UTC as every store returns times.
func At(t *time.Time) any { return timeDest{t, time.Nanosecond} }

// AtSecond scans a time column that SQLite keeps as Unix seconds (a
// rollup's start, on a whole hour) and PostgreSQL as a timestamptz.
func AtSecond(t *time.Time) any { return timeDest{t, time.Second} }

type timeDest struct {
	t    *time.Time
	unit time.Duration
}

func (d timeDest) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		*d.t = time.Time{}
	case int64:
		if d.unit == time.Second {
			*d.t = time.Unix(v, 0).UTC()
		} else {
			*d.t = time.Unix(0, v).UTC()
		}
	case []byte:
		return d.Scan(string(v))
	case string:
		// An integer SQLite hands over as text, which database/sql
		// would have converted too.
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("scan %q into a time: %w", v, err)
		}
		return d.Scan(n)
	case time.Time:
		*d.t = v.UTC()
	default:
		return fmt.Errorf("scan %T into a time", v)
	}
	return nil
}
