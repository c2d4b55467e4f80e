// Package storecopy moves what a SQLite store keeps into a PostgreSQL
// database, for an operator who outgrows one file: check history, alerts
// and their outbox, secrets, maintenance, people and their tokens and
// sessions, schedule overrides and calendar feeds, incidents, action
// requests and the audit log, whose chain
// verifies the same afterwards.
//
// The two schemas say the same things in two dialects (see the migrations
// of the sqlite and postgres packages): times are Unix nanoseconds in
// SQLite and timestamptz in PostgreSQL (but for the audit log and
// maintenance progress, nanoseconds in both), a rollup's start Unix seconds,
// booleans integers, JSON blobs json columns. SQLite keeps a check's recent
// results and pings in rings ordered by seq, PostgreSQL in rows ordered by
// id: they are copied in seq order and given new ids. The tables are one
// list, tables, each column named in both schemas with how its value
// changes; the test holds the list to both schemas, so that a new column
// left out of it fails.
//
// Everything is written in one PostgreSQL transaction, by COPY: a copy
// that fails anywhere leaves the target as it was. Both schemas must be
// current when Copy begins: the caller opens each store once first, which
// migrates it.
package storecopy

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite" // the "sqlite" driver
)

// kind is how a column's value changes on the way.
type kind int

const (
	same    kind = iota // integers and NULLs as they are
	text                // text, whether SQLite kept it as text or a blob
	bytes               // bytea
	jsonDoc             // a JSON document kept as a blob: json
	nanos               // Unix nanoseconds: timestamptz; NULL stays NULL
	seconds             // Unix seconds (a rollup's start): timestamptz
	boolean             // 0 or 1: boolean
)

// column is one column of a table: its name in PostgreSQL, what SQLite
// selects for it (its name there, when empty), and how the value changes.
type column struct {
	pg     string
	sqlite string
	kind   kind
}

// table is one table copied. order is the ORDER BY of SQLite's rows.
// identity names the PostgreSQL identity column whose values are copied
// and whose sequence must then go on past the largest; a table whose
// identity values are left out (results, pings) gets new ones, in order.
type table struct {
	name     string
	cols     []column
	order    string
	identity bool
}

// tables are the tables copied, parents before the tables that reference
// them. Not copied: SQLite's ring_heads (where each ring goes on, which
// PostgreSQL's ids say) and the slot and seq of results and pings (their
// order, which the new ids keep); PostgreSQL's cluster_nodes and
// check_leases stay empty, and incident_counter is set from the incidents.
// A notification's claim (claimed_by, claimed_until) is not carried: the
// sender that held it has stopped.
var tables = []table{
	{name: "checks", order: "id", identity: true, cols: []column{
		{pg: "id"}, {pg: "name", kind: text}}},
	{name: "states", order: "check_id", cols: []column{
		{pg: "check_id"}, {pg: "status", kind: text}, {pg: "since", kind: nanos}, {pg: "pending", kind: text},
		{pg: "streak"}, {pg: "last_run", kind: nanos}, {pg: "cause", kind: text}, {pg: "blocked_by", kind: text}, {pg: "underlying", kind: text}, {pg: "runs"}, {pg: "failures"}}},
	{name: "results", order: "check_id, seq", cols: []column{
		{pg: "check_id"}, {pg: "due", kind: nanos}, {pg: "start", kind: nanos}, {pg: "ok", kind: boolean},
		{pg: "duration_ns"}, {pg: "status", kind: text}, {pg: "error", kind: text},
		{pg: "facts", kind: bytes}, {pg: "assertions", kind: bytes}}},
	{name: "rollups", order: "check_id, period, start", cols: []column{
		{pg: "check_id"}, {pg: "period"}, {pg: "start", kind: seconds}, {pg: "runs"}, {pg: "failures"},
		{pg: "max_ns"}, {pg: "hist", kind: bytes}}},
	{name: "events", order: "id", identity: true, cols: []column{
		{pg: "id"}, {pg: "check_id"}, {pg: "time", kind: nanos}, {pg: "kind", kind: text},
		{pg: "from_status", kind: text}, {pg: "to_status", kind: text}, {pg: "cause", kind: text}}},
	{name: "pings", order: "check_id, seq", cols: []column{
		{pg: "check_id"}, {pg: "time", kind: nanos}, {pg: "kind", kind: text}, {pg: "exit_code"},
		{pg: "rid", kind: text}, {pg: "duration_ns"}, {pg: "method", kind: text}, {pg: "body", kind: bytes},
		{pg: "truncated", kind: boolean}, {pg: "user_agent", kind: text}, {pg: "remote", kind: text}}},
	{name: "heartbeats", order: "check_id", cols: []column{
		{pg: "check_id"}, {pg: "token", kind: text}, {pg: "last_ping", kind: nanos},
		{pg: "last_success", kind: nanos}, {pg: "started", kind: text}, {pg: "last_duration_ns"},
		{pg: "exit_code"}, {pg: "failed", kind: boolean}, {pg: "since", kind: nanos}}},
	{name: "alerts", order: "id", cols: []column{
		{pg: "id", kind: text}, {pg: "check_name", kind: text}, {pg: "state", kind: text},
		{pg: "starts_at", kind: nanos}, {pg: "data", kind: jsonDoc}, {pg: "version"}}},
	{name: "outbox", order: "id", identity: true, cols: []column{
		{pg: "id"}, {pg: "alert_id", kind: text}, {pg: "receiver", kind: text}, {pg: "state", kind: text},
		{pg: "attempts"}, {pg: "created_at", kind: nanos}, {pg: "next_at", kind: nanos},
		{pg: "claimed_by", sqlite: "NULL"}, {pg: "claimed_until", sqlite: "NULL"},
		{pg: "sent_at", kind: nanos}, {pg: "error", kind: text}, {pg: "message", kind: jsonDoc},
		{pg: "until_ack", kind: boolean}}},
	{name: "secrets", order: "name", cols: []column{
		{pg: "name", kind: text}, {pg: "value", kind: bytes}}},
	{name: "maintenance_windows", order: "id", cols: []column{
		{pg: "id", kind: text}, {pg: "data", kind: jsonDoc}}},
	{name: "maintenance_progress", order: "window", cols: []column{
		{pg: "window_id", sqlite: "window", kind: text}, {pg: "ends_at"}, {pg: "stage"}, {pg: "due"}}},
	{name: "users", order: "name", cols: []column{
		{pg: "name", kind: text}, {pg: "role", kind: text}, {pg: "password_hash", kind: text},
		{pg: "created_at", kind: nanos}, {pg: "role_since", kind: nanos}, {pg: "source", kind: text}}},
	{name: "tokens", order: "id", cols: []column{
		{pg: "id", kind: text}, {pg: "name", kind: text}, {pg: "user_name", kind: text}, {pg: "role", kind: text},
		{pg: "hash", kind: bytes}, {pg: "created_at", kind: nanos}, {pg: "expires_at", kind: nanos},
		{pg: "last_used", kind: nanos}, {pg: "can_approve", kind: boolean}}},
	{name: "second_factors", order: "id", cols: []column{
		{pg: "id", kind: text}, {pg: "user_name", kind: text}, {pg: "kind", kind: text}, {pg: "name", kind: text},
		{pg: "secret", kind: bytes}, {pg: "created_at", kind: nanos}, {pg: "confirmed_at", kind: nanos},
		{pg: "last_used", kind: nanos}, {pg: "last_step"}}},
	{name: "recovery_codes", order: "user_name, hash", cols: []column{
		{pg: "user_name", kind: text}, {pg: "hash", kind: bytes}, {pg: "created_at", kind: nanos}, {pg: "used_at", kind: nanos}}},
	{name: "sessions", order: "hash", cols: []column{
		{pg: "hash", kind: bytes}, {pg: "user_name", kind: text}, {pg: "csrf", kind: text},
		{pg: "created_at", kind: nanos}, {pg: "expires_at", kind: nanos}, {pg: "max_until", kind: nanos},
		{pg: "id", kind: text}, {pg: "method", kind: text}, {pg: "address", kind: text}, {pg: "user_agent", kind: text},
		{pg: "factor_at", kind: nanos}, {pg: "pending", kind: text}}},
	{name: "contact_methods", order: "id", cols: []column{
		{pg: "id", kind: text}, {pg: "user_name", kind: text}, {pg: "kind", kind: text}, {pg: "label", kind: text},
		{pg: "address", kind: text}, {pg: "created_at", kind: nanos}, {pg: "verified_at", kind: nanos},
		{pg: "code_hash", kind: bytes}, {pg: "code_expires", kind: nanos}, {pg: "code_tries"}}},
	{name: "notification_rules", order: "user_name, position", cols: []column{
		{pg: "user_name", kind: text}, {pg: "position"}, {pg: "contact_id", kind: text}, {pg: "after_ms"}}},
	{name: "schedule_overrides", order: "id", cols: []column{
		{pg: "id", kind: text}, {pg: "schedule", kind: text}, {pg: "user_name", kind: text},
		{pg: "from_at", kind: nanos}, {pg: "to_at", kind: nanos}, {pg: "reason", kind: text},
		{pg: "created_by", kind: text}, {pg: "created_at", kind: nanos}}},
	{name: "calendar_feeds", order: "kind, name", cols: []column{
		{pg: "kind", kind: text}, {pg: "name", kind: text}, {pg: "user_name", kind: text}, {pg: "hash", kind: bytes},
		{pg: "created_by", kind: text}, {pg: "created_at", kind: nanos}}},
	{name: "incidents", order: "seq", cols: []column{
		{pg: "seq"}, {pg: "id", kind: text}, {pg: "state", kind: text}, {pg: "created_at", kind: nanos},
		{pg: "resolved_at", kind: nanos}, {pg: "data", kind: jsonDoc}}},
	{name: "incident_updates", order: "id", identity: true, cols: []column{
		{pg: "id"}, {pg: "incident_id", kind: text}, {pg: "time", kind: nanos}, {pg: "by_name", kind: text},
		{pg: "public", kind: boolean}, {pg: "state", kind: text}, {pg: "impact", kind: text},
		{pg: "components", kind: jsonDoc}, {pg: "message", kind: text}}},
	{name: "action_requests", order: "id", cols: []column{
		{pg: "id", kind: text}, {pg: "action", kind: text}, {pg: "state", kind: text},
		{pg: "requested_at", kind: nanos}, {pg: "started_at", kind: nanos}, {pg: "data", kind: jsonDoc},
		{pg: "version"}}},
	// The audit log keeps its times in nanoseconds in both: its hashes
	// cover them.
	{name: "audit_log", order: "seq", cols: []column{
		{pg: "seq"}, {pg: "time_ns", sqlite: "time"}, {pg: "actor", kind: text}, {pg: "action", kind: text},
		{pg: "subject", kind: text}, {pg: "detail", kind: text}, {pg: "prev", kind: bytes}, {pg: "hash", kind: bytes}}},
	{name: "audit_head", order: "id", cols: []column{
		{pg: "id"}, {pg: "seq"}, {pg: "hash", kind: bytes}}},
	{name: "audit_checkpoints", order: "seq", cols: []column{
		{pg: "seq"}, {pg: "time_ns", sqlite: "time"}, {pg: "hash", kind: bytes}, {pg: "key_id", kind: text},
		{pg: "sig", kind: bytes}}},
}

// targetOnly are the PostgreSQL tables that have nothing to come from
// SQLite, and must be empty too: a cluster's bookkeeping.
var targetOnly = []string{"cluster_nodes", "check_leases"}

// Count is how many rows of a table were copied.
type Count struct {
	Table string
	Rows  int64
}

// ErrNotEmpty is Copy's answer for a target that holds nightowl data.
var ErrNotEmpty = errors.New("the PostgreSQL database already holds nightowl data; copy into an empty one")

// Options name the two databases. Both schemas must be current.
type Options struct {
	// SQLite is the path of the SQLite database copied from; it is only
	// read, in one snapshot.
	SQLite string
	// Postgres connects to the database copied into. It carries
	// credentials: it never appears in errors.
	Postgres string
}

// Copy copies every table of the SQLite store into the PostgreSQL
// database, which must hold no nightowl rows, in one transaction, and
// returns how many rows each table got. ctx bounds it all: a copy that
// runs out of time writes nothing.
func Copy(ctx context.Context, opts Options) ([]Count, error) {
	if opts.SQLite == "" || opts.Postgres == "" {
		return nil, errors.New("copy: name both the SQLite file and the PostgreSQL database")
	}
	// Opening a file that is not there would make an empty one.
	if _, err := os.Stat(opts.SQLite); err != nil {
		return nil, fmt.Errorf("copy: %w", err)
	}
	src, err := sql.Open("sqlite", readDSN(opts.SQLite))
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", opts.SQLite, err)
	}
	defer src.Close()
	// One snapshot of the whole file, whatever else writes to it.
	rtx, err := src.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("read sqlite %s: %w", opts.SQLite, err)
	}
	defer rtx.Rollback()

	cfg, err := pgx.ParseConfig(opts.Postgres)
	if err != nil {
		// pgx's parse errors quote the connection string, password and all.
		return nil, errors.New("copy to postgres: the connection string is not valid")
	}
	dst, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("copy to postgres %s: %w", name(cfg), err)
	}
	defer dst.Close(context.WithoutCancel(ctx))

	var counts []Count
	err = pgx.BeginFunc(ctx, dst, func(tx pgx.Tx) error {
		if err := claimEmpty(ctx, tx); err != nil {
			return err
		}
		for _, t := range tables {
			n, err := copyTable(ctx, rtx, tx, t)
			if err != nil {
				return fmt.Errorf("copy %s: %w", t.name, err)
			}
			counts = append(counts, Count{Table: t.name, Rows: n})
		}
		return carryOn(ctx, tx)
	})
	if err != nil {
		return nil, fmt.Errorf("copy %s to postgres %s: %w; nothing was written", opts.SQLite, name(cfg), err)
	}
	return counts, nil
}

// claimEmpty locks every table of the target for the rest of the
// transaction, so that no server starts writing it meanwhile, and refuses
// a target that holds any row.
func claimEmpty(ctx context.Context, tx pgx.Tx) error {
	names := slices.Clone(targetOnly)
	for _, t := range tables {
		names = append(names, t.name)
	}
	// A server on the target holds its locks for a moment at a time;
	// one that waits longer is a server that should not be there.
	if _, err := tx.Exec(ctx, `SET LOCAL lock_timeout = '30s'`); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `LOCK TABLE `+strings.Join(names, ", ")+`, incident_counter IN EXCLUSIVE MODE`); err != nil {
		return fmt.Errorf("lock the tables (does a server run on this database?): %w", err)
	}
	if _, err := tx.Exec(ctx, `SET LOCAL lock_timeout = 0`); err != nil {
		return err
	}
	var held []string
	for _, n := range names {
		var some bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+n+`)`).Scan(&some); err != nil {
			return fmt.Errorf("read %s: %w", n, err)
		}
		if some {
			held = append(held, n)
		}
	}
	var last int64
	if err := tx.QueryRow(ctx, `SELECT last FROM incident_counter WHERE id = 1`).Scan(&last); err != nil {
		return fmt.Errorf("read incident_counter: %w", err)
	}
	if last != 0 {
		held = append(held, "incident_counter")
	}
	if len(held) > 0 {
		return fmt.Errorf("%w (rows in %s)", ErrNotEmpty, strings.Join(held, ", "))
	}
	return nil
}

// copyTable streams one table's rows from SQLite into PostgreSQL's COPY,
// which writes identity columns as given, as INSERT's OVERRIDING SYSTEM
// VALUE does.
func copyTable(ctx context.Context, src *sql.Tx, dst pgx.Tx, t table) (int64, error) {
	sel := make([]string, len(t.cols))
	names := make([]string, len(t.cols))
	for i, c := range t.cols {
		sel[i] = c.pg
		if c.sqlite != "" {
			sel[i] = c.sqlite
		}
		// window is a keyword in both: quoted, it is a column.
		if sel[i] == "window" {
			sel[i] = `"window"`
		}
		names[i] = c.pg
	}
	order := strings.ReplaceAll(t.order, "window", `"window"`)
	rows, err := src.QueryContext(ctx, `SELECT `+strings.Join(sel, ", ")+` FROM `+t.name+` ORDER BY `+order)
	if err != nil {
		return 0, fmt.Errorf("read sqlite: %w", err)
	}
	defer rows.Close()
	vals := make([]any, len(t.cols))
	ptrs := make([]any, len(t.cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	n, err := dst.CopyFrom(ctx, pgx.Identifier{t.name}, names, pgx.CopyFromFunc(func() ([]any, error) {
		if !rows.Next() {
			return nil, rows.Err()
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		out := make([]any, len(vals))
		for i, c := range t.cols {
			v, err := convert(c.kind, vals[i])
			if err != nil {
				return nil, fmt.Errorf("column %s: %w", c.pg, err)
			}
			out[i] = v
		}
		return out, nil
	}))
	if err != nil {
		return 0, err
	}
	if t.identity {
		// The next id the database hands out follows the largest copied.
		if _, err := dst.Exec(ctx, `SELECT setval(pg_get_serial_sequence($1, 'id'), COALESCE(MAX(id), 0) + 1, false) FROM `+t.name,
			t.name); err != nil {
			return 0, fmt.Errorf("restart its ids: %w", err)
		}
	}
	return n, nil
}

// carryOn sets what PostgreSQL counts on its own: the next incident's
// number follows the largest copied, as it would in SQLite.
func carryOn(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, `UPDATE incident_counter SET last = (SELECT COALESCE(MAX(seq), 0) FROM incidents) WHERE id = 1`)
	if err != nil {
		return fmt.Errorf("set incident_counter: %w", err)
	}
	return nil
}

// zeroNanos is how SQLite keeps the zero time in a column that may not be
// NULL (a notification never due): its UnixNano, out of range as it is.
var zeroNanos = time.Time{}.UnixNano()

// convert changes a value SQLite gave into what PostgreSQL's column of
// kind k takes.
func convert(k kind, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch k {
	case same:
		return v, nil
	case text:
		if b, ok := v.([]byte); ok {
			return string(b), nil
		}
		return v, nil
	case bytes, jsonDoc:
		if s, ok := v.(string); ok {
			return []byte(s), nil
		}
		if b, ok := v.([]byte); ok {
			// An empty blob (the first audit entry's prev) is not NULL.
			if b == nil {
				b = []byte{}
			}
			return b, nil // a copy of its own: Scan into *any makes one
		}
		return nil, fmt.Errorf("%T is not text", v)
	case nanos, seconds, boolean:
		n, ok := v.(int64)
		if !ok {
			return nil, fmt.Errorf("%T is not an integer", v)
		}
		switch {
		case k == boolean:
			return n != 0, nil
		case k == seconds:
			return time.Unix(n, 0).UTC(), nil
		case n == zeroNanos:
			return time.Time{}, nil
		default:
			return time.Unix(0, n).UTC(), nil
		}
	}
	return nil, fmt.Errorf("unknown kind %d", k)
}

// readDSN opens the SQLite file to read only, waiting for a writer (a
// command adding a user) rather than failing.
func readDSN(path string) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "query_only(1)")
	esc := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	return "file:" + esc + "?" + q.Encode()
}

// name names a database without its credentials: user@host:port/database.
func name(cfg *pgx.ConnConfig) string {
	return fmt.Sprintf("%s@%s:%d/%s", cfg.User, cfg.Host, cfg.Port, cfg.Database)
}
