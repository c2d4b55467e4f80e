package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr/types"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"

	"github.com/nightowl/nightowl"
)

// Postgres is the postgres block of a check.
type Postgres struct {
	// DSN is a URL (postgres://user:pass@host/db?sslmode=require) or
	// key=value pairs. It may hold a password, so no message repeats it.
	DSN string `yaml:"dsn" secret:"true"`
	// ExpectTables are relations that must exist, as SQL names them:
	// "schema.table", or "table" found through the search_path.
	ExpectTables []string `yaml:"expect_tables"`
	// Query is one SQL statement whose result becomes the rows fact.
	Query string `yaml:"query"`
}

func newPostgres() Spec { return &Postgres{} }

var pgReplicaFacts = types.Map{
	"name":      types.String,
	"state":     types.String,
	"lag_bytes": types.Int64,
}

var postgresFacts = types.Map{
	"in_recovery":     types.Bool,
	"read_only":       types.Bool,
	"version":         types.String,
	"replication_lag": types.Float,
	"replicas":        types.Array(pgReplicaFacts),
	"tables":          types.Map{types.Extra: types.Bool},
	"rows":            types.Array(types.Map{types.Extra: types.Any}),
	"duration":        types.Float,
}

// postgresDefaults is empty: connecting and reading the server's state is
// the test, and a probe that could not is down without an assertion.
var postgresDefaults []Default

// Validate checks the block.
func (s *Postgres) Validate() []FieldError {
	var errs []FieldError
	if s.DSN == "" {
		errs = append(errs, FieldError{Key: "dsn", Message: "required"})
	} else if _, err := pgConfig(s.DSN); err != nil {
		errs = append(errs, FieldError{Key: "dsn", Message: err.Error()})
	}
	seen := make(map[string]bool, len(s.ExpectTables))
	for i, name := range s.ExpectTables {
		key := "expect_tables[" + strconv.Itoa(i) + "]"
		switch {
		case strings.TrimSpace(name) == "":
			errs = append(errs, FieldError{Key: key, Message: "empty table name"})
		case seen[name]:
			errs = append(errs, FieldError{Key: key, Message: fmt.Sprintf("%q is listed twice", name)})
		}
		seen[name] = true
	}
	return errs
}

// Prober parses the DSN once; connections are opened by the first run, so
// that a server that is down when the config loads is a failing check, not
// a config error.
func (s *Postgres) Prober(env Env) (nightowl.Prober, error) {
	cfg, err := pgConfig(s.DSN)
	if err != nil {
		return nil, fmt.Errorf("dsn: %w", err)
	}
	return &pgProber{
		pool:   &pgPool{cfg: cfg, age: pgSessionAge},
		addr:   pgAddr(cfg),
		tables: append([]string(nil), s.ExpectTables...),
		query:  s.Query,
	}, nil
}

// pgConfig parses a DSN and sets what every nightowl session needs.
func pgConfig(dsn string) (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, pgParseError(err)
	}
	if _, ok := cfg.RuntimeParams["application_name"]; !ok {
		// Lets a DBA tell the monitor's sessions from the application's.
		cfg.RuntimeParams["application_name"] = "nightowl"
	}
	if !strings.Contains(dsn, "default_query_exec_mode") {
		// Unnamed statements, in one round trip each: nothing is cached
		// that a schema change could invalidate between runs (a cached
		// SELECT * fails once after ALTER TABLE), and PgBouncer in
		// transaction mode needs no configuration.
		cfg.DefaultQueryExecMode = pgx.QueryExecModeExec
	}
	cfg.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler { return &pgCancel{conn: c} }
	return cfg, nil
}

// pgParseError says why a DSN does not parse without repeating it. pgx masks
// the passwords it recognises, but in a malformed DSN it cannot always tell
// where a password ends: a space in an unquoted key=value password turns its
// tail into a key, which pgx's message quotes.
func pgParseError(err error) error {
	const invalid = "not a valid PostgreSQL connection string"
	var pce *pgconn.ParseConfigError
	if !errors.As(err, &pce) {
		return errors.New(invalid)
	}
	bare := *pce
	bare.ConnString = ""
	detail := strings.TrimPrefix(bare.Error(), "cannot parse ``: ")
	inner := bare.Unwrap()
	if inner != nil {
		detail = strings.TrimSuffix(detail, " ("+inner.Error()+")")
	}
	switch detail {
	case "failed to parse as URL":
		return errors.New(invalid + ": not a valid URL (percent-encode @ : / # ? and spaces in the user name and password)")
	case "failed to parse as keyword/value":
		return errors.New(invalid + ": not valid key=value pairs (quote values that contain spaces or quotes: password='a b')")
	}
	// What remains names a setting and its value (sslmode, port,
	// connect_timeout, a certificate file), never the password.
	if inner != nil {
		detail += ": " + inner.Error()
	}
	return errors.New(invalid + ": " + detail)
}

// pgAddr names the server in messages as the DSN names it.
func pgAddr(cfg *pgx.ConnConfig) string {
	port := strconv.Itoa(int(cfg.Port))
	if strings.HasPrefix(cfg.Host, "/") {
		return cfg.Host + "/.s.PGSQL." + port
	}
	return net.JoinHostPort(cfg.Host, port)
}

type pgProber struct {
	pool   *pgPool
	addr   string
	tables []string
	query  string
}

// pgMaxRows bounds the rows fact: a monitoring query that returns a whole
// table would otherwise be kept with every result.
const pgMaxRows = 1000

func (p *pgProber) Probe(ctx context.Context) (r nightowl.Result) {
	start := time.Now()
	facts := nightowl.Facts{
		"in_recovery":     nil,
		"read_only":       nil,
		"version":         nil,
		"replication_lag": nil,
		"replicas":        nil,
		"tables":          nil,
		"rows":            nil,
	}
	r.Facts = facts

	s, errText := p.open(ctx, facts, start)
	if s == nil {
		return finish(r, start, errText)
	}
	defer p.pool.put(ctx, s)

	// Each part that fails leaves its fact nil and says so in the error;
	// the server answered, so the probe itself succeeded.
	var failed []string
	part := func(name string, err error) {
		if err != nil {
			failed = append(failed, name+": "+pgReason(ctx, err, start))
		}
	}
	if facts["in_recovery"] == true {
		part("replication_lag", readReplicationLag(ctx, s.conn, facts))
	} else {
		part("replicas", readReplicas(ctx, s.conn, facts))
	}
	if len(p.tables) > 0 {
		part("tables", readTables(ctx, s.conn, p.tables, facts))
	}
	if p.query != "" {
		part("query", readRows(ctx, s.conn, p.query, facts))
	}
	r = finish(r, start, "")
	r.Error = strings.Join(failed, "; ")
	return r
}

// Close ends the sessions the prober keeps open between runs.
func (p *pgProber) Close() error {
	p.pool.close()
	return nil
}

// open returns a session that has read the basic facts, or nil and why not.
// A kept session may have been closed by the server while it idled (a
// restart, pg_terminate_backend); that says nothing about the server now, so
// the probe moves on to another session or a new connection.
func (p *pgProber) open(ctx context.Context, facts nightowl.Facts, start time.Time) (*pgSession, string) {
	for {
		s, err := p.pool.get(ctx)
		if err != nil {
			return nil, pgConnectError(ctx, p.addr, err, start)
		}
		err = readBasics(ctx, s.conn, facts)
		if err == nil {
			return s, ""
		}
		p.pool.put(ctx, s)
		if s.reused && s.conn.IsClosed() && ctx.Err() == nil {
			continue
		}
		return nil, "read server state: " + pgReason(ctx, err, start)
	}
}

// readBasics runs as a statement of its own, so transaction_read_only is
// that of a fresh transaction: on when the server is a standby or when
// default_transaction_read_only is on for this database or role.
func readBasics(ctx context.Context, c *pgx.Conn, facts nightowl.Facts) error {
	var inRecovery, readOnly bool
	var version string
	err := c.QueryRow(ctx, `SELECT pg_is_in_recovery(),
		current_setting('transaction_read_only') = 'on',
		current_setting('server_version')`).Scan(&inRecovery, &readOnly, &version)
	if err != nil {
		return err
	}
	facts["in_recovery"] = inRecovery
	facts["read_only"] = readOnly
	facts["version"] = version
	return nil
}

// readReplicationLag reports 0 while replay has caught up with what was
// received: a replica of an idle primary is current however old its last
// replayed transaction. The lag is nil when neither is known (nothing
// replayed yet).
func readReplicationLag(ctx context.Context, c *pgx.Conn, facts nightowl.Facts) error {
	var lag *float64
	err := c.QueryRow(ctx, `SELECT CASE
		WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
		ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp())
		END::float8`).Scan(&lag)
	if err != nil {
		return err
	}
	if lag == nil {
		return nil
	}
	// The replay timestamp comes from the primary's clock, which may be
	// ahead of this one.
	facts["replication_lag"] = max(*lag, 0)
	return nil
}

// readReplicas lists the WAL senders of a primary. A replica connects as
// "walreceiver" unless its primary_conninfo or cluster_name names it, and
// then its address tells it apart better.
func readReplicas(ctx context.Context, c *pgx.Conn, facts nightowl.Facts) error {
	rows, err := c.Query(ctx, `SELECT
		coalesce(nullif(nullif(application_name, ''), 'walreceiver'), host(client_addr), nullif(application_name, ''), 'pid ' || pid),
		state,
		pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::int8
		FROM pg_stat_replication ORDER BY 1`)
	if err != nil {
		return err
	}
	defer rows.Close()
	list := []any{}
	for rows.Next() {
		var name string
		var state *string
		var lag *int64
		if err := rows.Scan(&name, &state, &lag); err != nil {
			return err
		}
		if state == nil {
			// Without pg_read_all_stats the view hides everything but
			// the pid rather than failing.
			return errors.New("permission denied to read pg_stat_replication (grant pg_monitor to the monitoring role)")
		}
		replica := map[string]any{"name": name, "state": *state, "lag_bytes": nil}
		if lag != nil {
			replica["lag_bytes"] = *lag
		}
		list = append(list, replica)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	facts["replicas"] = list
	return nil
}

// readTables resolves the names as SQL would: to_regclass follows the
// search_path for a bare name and folds unquoted names to lower case.
func readTables(ctx context.Context, c *pgx.Conn, names []string, facts nightowl.Facts) error {
	rows, err := c.Query(ctx, `SELECT to_regclass(name) IS NOT NULL
		FROM unnest($1::text[]) WITH ORDINALITY AS t(name, n) ORDER BY n`, names)
	if err != nil {
		return err
	}
	defer rows.Close()
	tables := make(map[string]any, len(names))
	for i := 0; rows.Next(); i++ {
		var exists bool
		if err := rows.Scan(&exists); err != nil {
			return err
		}
		if i < len(names) {
			tables[names[i]] = exists
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	facts["tables"] = tables
	return nil
}

// readRows runs the check's query; each row becomes a map by column name.
func readRows(ctx context.Context, c *pgx.Conn, query string, facts nightowl.Facts) error {
	rows, err := c.Query(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	fields := rows.FieldDescriptions()
	list := []any{}
	for len(list) < pgMaxRows && rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return err
		}
		row := make(map[string]any, len(vals))
		for i, v := range vals {
			row[fields[i].Name] = pgValue(v)
		}
		list = append(list, row)
	}
	// Close reads what is left past pgMaxRows, so that the session stays
	// usable and a failure after the last kept row is still reported.
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	facts["rows"] = list
	return nil
}

// pgConnectError describes a failed connection without the DSN: pgx's own
// text names the user and database and wraps the reason in several layers.
func pgConnectError(ctx context.Context, addr string, err error, start time.Time) string {
	if timedOut(ctx, err) || pgconn.Timeout(err) {
		return "connect " + addr + " " + timeoutText(ctx, start)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return "connect " + addr + ": " + pgErr.Error()
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		// "resolve db.example.com: no such host" names the host already.
		return reason(ctx, err, start)
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return "connect " + addr + ": " + reason(ctx, err, start)
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) && ce.Unwrap() != nil {
		err = ce.Unwrap()
	}
	return "connect " + addr + ": " + reason(ctx, err, start)
}

// pgReason is the text of a failed statement: the server's message with its
// SQLSTATE, or why the statement never got an answer.
func pgReason(ctx context.Context, err error, start time.Time) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Error()
	}
	if pgconn.Timeout(err) {
		return timeoutText(ctx, start)
	}
	return reason(ctx, err, start)
}

// pgCancel ends a statement at the probe's deadline on both ends. The
// socket's deadline gives control back to the probe at once; the cancel
// request stops the statement on the server, where a query stuck behind a
// lock would otherwise run on, and each later run would add one more.
type pgCancel struct {
	conn *pgconn.PgConn
}

// pgCancelWait bounds the cancel request, which needs a connection of its
// own to the server.
const pgCancelWait = 5 * time.Second

func (h *pgCancel) HandleCancel(context.Context) {
	h.conn.Conn().SetDeadline(time.Now())
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), pgCancelWait)
		defer cancel()
		h.conn.CancelRequest(ctx)
	}()
}

func (h *pgCancel) HandleUnwatchAfterCancel() {
	h.conn.Conn().SetDeadline(time.Time{})
}
