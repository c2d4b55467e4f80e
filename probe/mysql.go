package probe

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/expr-lang/expr/types"
	"github.com/go-sql-driver/mysql"

	"github.com/nightowl/nightowl"
)

// MySQL is the mysql block of a check. One probe serves MySQL and MariaDB:
// they differ in a few statement and column names, which the probe tries in
// turn.
type MySQL struct {
	// DSN is in go-sql-driver's form: user:password@tcp(host:port)/dbname.
	DSN string `yaml:"dsn" secret:"true"`
	// CheckTables are "table" (in the DSN's database) or "database.table".
	CheckTables []string `yaml:"check_tables"`
	// CheckTablesEvery bounds how often CHECK TABLE runs: it reads whole
	// tables (and locks MyISAM ones), which no server should suffer every
	// 30 seconds. Between rounds the last result is reported again.
	CheckTablesEvery time.Duration `yaml:"check_tables_every"`
	// Query is any SQL whose result becomes the rows fact.
	Query string `yaml:"query"`
}

// DefaultMySQLCheckTablesEvery is how often CHECK TABLE runs by default.
const DefaultMySQLCheckTablesEvery = time.Hour

func newMySQL() Spec { return &MySQL{CheckTablesEvery: DefaultMySQLCheckTablesEvery} }

var mysqlFacts = types.Map{
	"read_only":       types.Bool,
	"super_read_only": types.Bool,
	"version":         types.String,
	"uptime":          types.Int,
	// Strict keys: replica.io_runing is a config error, not a run-time nil.
	"replica": types.Map{
		"io_running":  types.Bool,
		"sql_running": types.Bool,
		"lag":         types.Int,
		"last_error":  types.String,
	},
	"tables":   types.Map{types.Extra: types.String},
	"rows":     types.Array(types.Map{types.Extra: types.Any}),
	"duration": types.Float,
}

// mysqlDefaults is empty: a probe that connected and read the server's
// variables is the whole default test.
var mysqlDefaults []Default

// mysqlMaxRows bounds the rows fact: a query that returns a whole table
// should not hold it in every stored result.
const mysqlMaxRows = 1000

// Validate checks the block.
func (s *MySQL) Validate() []FieldError {
	var errs []FieldError
	if s.DSN == "" {
		errs = append(errs, FieldError{Key: "dsn", Message: "required"})
	} else if _, err := parseMySQLDSN(s.DSN); err != nil {
		errs = append(errs, FieldError{Key: "dsn", Message: err.Error()})
	}
	seen := map[string]bool{}
	for i, name := range s.CheckTables {
		key := fmt.Sprintf("check_tables[%d]", i)
		if _, ok := mysqlTableRef(name); !ok {
			errs = append(errs, FieldError{Key: key, Message: `must be "table" or "database.table"`})
		} else if seen[name] {
			errs = append(errs, FieldError{Key: key, Message: name + " is listed twice"})
		}
		seen[name] = true
	}
	if s.CheckTablesEvery <= 0 {
		errs = append(errs, FieldError{Key: "check_tables_every", Message: "must be positive"})
	}
	return errs
}

// parseMySQLDSN parses a DSN into the driver's config. Its errors never
// repeat the password, which a malformed DSN may put anywhere.
func parseMySQLDSN(dsn string) (*mysql.Config, error) {
	const form = "user:password@tcp(host:port)/dbname"
	if strings.Contains(dsn, "://") {
		return nil, errors.New("must be in the form " + form + ", not a URL")
	}
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		msg := strings.TrimPrefix(err.Error(), "invalid DSN: ")
		switch {
		case mentionsPassword(dsn, msg):
			msg = "cannot be parsed"
		case strings.HasPrefix(msg, "default addr for network"):
			// user:pw@db:3306/app, where the driver reads "db:3306" as
			// the name of a network.
			msg = "write the address as tcp(host:port)"
		}
		return nil, fmt.Errorf("not a valid DSN (%s): %s", form, msg)
	}
	switch cfg.Net {
	case "tcp", "tcp4", "tcp6", "unix":
	default:
		return nil, fmt.Errorf("not a valid DSN (%s): the network must be tcp or unix", form)
	}
	return cfg, nil
}

// mentionsPassword reports whether msg contains what could be the password
// of dsn: the text between the first ':' and any '@'. Parsing failed, so
// where the password ends is not known for sure.
func mentionsPassword(dsn, msg string) bool {
	colon := strings.IndexByte(dsn, ':')
	if colon < 0 {
		return false
	}
	for i := colon + 1; i < len(dsn); i++ {
		if dsn[i] == '@' && i > colon+1 && strings.Contains(msg, dsn[colon+1:i]) {
			return true
		}
	}
	return false
}

// mysqlTable is a table to CHECK: its name as configured, which keys the
// tables fact, and the quoted identifier that goes into the statement.
type mysqlTable struct {
	name, quoted string
}

func mysqlTableRef(name string) (mysqlTable, bool) {
	parts := strings.Split(name, ".")
	if len(parts) > 2 {
		return mysqlTable{}, false
	}
	quoted := make([]string, len(parts))
	for i, p := range parts {
		if strings.TrimSpace(p) == "" {
			return mysqlTable{}, false
		}
		quoted[i] = "`" + strings.ReplaceAll(p, "`", "``") + "`"
	}
	return mysqlTable{name: name, quoted: strings.Join(quoted, ".")}, true
}

// Prober parses the DSN now, so that a bad one is a config error, but opens
// the connection pool on the first run: a reload builds probers for every
// check and keeps the old one of each unchanged check, and a pool that was
// never used then costs nothing.
func (s *MySQL) Prober(env Env) (nightowl.Prober, error) {
	cfg, err := parseMySQLDSN(s.DSN)
	if err != nil {
		return nil, fmt.Errorf("dsn: %w", err)
	}
	log := env.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// The driver logs to stderr by default; what it says (a connection
	// found dead, say) is detail for debugging, not news.
	cfg.Logger = mysqlDriverLog{log}
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("dsn: %w", err)
	}
	p := &mysqlProber{
		connector: connector,
		addr:      cfg.Addr,
		query:     s.Query,
		every:     s.CheckTablesEvery,
		now:       time.Now,
	}
	if p.every <= 0 {
		p.every = DefaultMySQLCheckTablesEvery
	}
	for _, name := range s.CheckTables {
		t, ok := mysqlTableRef(name)
		if !ok {
			return nil, fmt.Errorf("check_tables: %q: must be \"table\" or \"database.table\"", name)
		}
		p.tables = append(p.tables, t)
	}
	return p, nil
}

type mysqlDriverLog struct{ log *slog.Logger }

func (l mysqlDriverLog) Print(v ...any) { l.log.Debug("mysql driver: " + fmt.Sprint(v...)) }

type mysqlProber struct {
	connector driver.Connector
	addr      string // host:port or socket path, for messages
	query     string
	tables    []mysqlTable
	every     time.Duration
	now       func() time.Time

	mu sync.Mutex
	db *sql.DB
	// The last CHECK TABLE round, reported again until it is due anew.
	tablesAt    time.Time
	tablesFact  map[string]any
	tablesErr   string
	tablesBusy  bool // a round is running in another run of the check
	tableRounds int  // rounds run, for tests
}

// pool opens the check's connection pool on first use.
func (p *mysqlProber) pool() *sql.DB {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.db == nil {
		p.db = sql.OpenDB(p.connector)
		// Two, so that a run started by hand does not wait for a scheduled
		// one; the probe runs its statements one after another on one.
		p.db.SetMaxOpenConns(2)
		p.db.SetMaxIdleConns(1)
		// A check that runs every minute keeps its connection; one that
		// runs rarely does not hold a server connection in between.
		p.db.SetConnMaxIdleTime(2 * time.Minute)
		// Reconnecting now and then follows a DSN host whose address
		// moved to a new primary.
		p.db.SetConnMaxLifetime(10 * time.Minute)
	}
	return p.db
}

// Close closes the connection pool; a later run opens a new one.
func (p *mysqlProber) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.db == nil {
		return nil
	}
	err := p.db.Close()
	p.db = nil
	return err
}

func (p *mysqlProber) Probe(ctx context.Context) (r nightowl.Result) {
	start := time.Now()
	facts := nightowl.Facts{
		"read_only": nil, "super_read_only": nil, "version": nil, "uptime": nil,
		"replica": nil, "tables": nil, "rows": nil,
	}
	r.Facts = facts

	conn, err := p.pool().Conn(ctx)
	if err != nil {
		return finish(r, start, connectError(ctx, p.addr, err, start))
	}
	defer conn.Close()
	if err := mysqlVariables(ctx, conn, facts); err != nil {
		return finish(r, start, "read variables: "+mysqlReason(ctx, err, start))
	}

	// From here on a failure costs only the facts of its part: the server
	// answered, and what could be read is worth reporting.
	var failed []string
	version, _ := facts["version"].(string)
	mariaDB := strings.Contains(strings.ToLower(version), "mariadb")
	replica, err := mysqlReplica(ctx, conn, mariaDB)
	if err != nil {
		failed = append(failed, "replica status: "+mysqlReason(ctx, err, start))
	} else if replica != nil {
		facts["replica"] = replica
	}
	if p.query != "" && ctx.Err() == nil {
		rows, err := mysqlQuery(ctx, conn, p.query)
		if err != nil {
			failed = append(failed, "query: "+mysqlReason(ctx, err, start))
		} else {
			facts["rows"] = rows
		}
	}
	if len(p.tables) > 0 && ctx.Err() == nil {
		tables, errText := p.checkTables(ctx, conn, start)
		if tables != nil {
			facts["tables"] = tables
		}
		if errText != "" {
			failed = append(failed, errText)
		}
	}
	r = finish(r, start, strings.Join(failed, "; "))
	r.OK = true
	return r
}

// mysqlVariables reads read_only, super_read_only (MySQL only), version and
// uptime. SHOW rather than SELECT @@super_read_only, which fails the whole
// statement on MariaDB.
func mysqlVariables(ctx context.Context, conn *sql.Conn, facts nightowl.Facts) error {
	vars, err := mysqlNameValues(ctx, conn,
		"SHOW GLOBAL VARIABLES WHERE Variable_name IN ('read_only', 'super_read_only', 'version')")
	if err != nil {
		return err
	}
	status, err := mysqlNameValues(ctx, conn, "SHOW GLOBAL STATUS WHERE Variable_name = 'Uptime'")
	if err != nil {
		return err
	}
	v, ok := vars["read_only"]
	if !ok {
		return errors.New("the server did not report read_only")
	}
	facts["read_only"] = mysqlOn(v)
	if v, ok := vars["super_read_only"]; ok {
		facts["super_read_only"] = mysqlOn(v)
	}
	if v, ok := vars["version"]; ok {
		facts["version"] = v
	}
	if n, err := strconv.Atoi(status["uptime"]); err == nil {
		facts["uptime"] = n
	}
	return nil
}

// mysqlNameValues runs a SHOW of two columns, name and value, and returns
// them by lower-case name.
func mysqlNameValues(ctx context.Context, conn *sql.Conn, stmt string) (map[string]string, error) {
	rows, err := conn.QueryContext(ctx, stmt)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var name, value string
		if err := rows.Scan(&name, &value); err != nil {
			return nil, err
		}
		out[strings.ToLower(name)] = value
	}
	return out, rows.Err()
}

// mysqlOn reads a boolean variable. Anything but OFF counts as on, so that
// a server whose read_only takes more values than ON and OFF (stricter
// modes of it) is still seen as read-only.
func mysqlOn(v string) bool {
	return !strings.EqualFold(v, "OFF") && v != "0" && v != ""
}

// mysqlReplica reads the replication status: nil on a server that does not
// replicate. MariaDB's ALL form covers every connection of multi-source
// replication, not just the default one. The REPLICA spelling is tried
// first, the SLAVE one on servers that predate it (MySQL before 8.0.22,
// MariaDB before 10.5), while MySQL 8.4 knows only the former.
func mysqlReplica(ctx context.Context, conn *sql.Conn, mariaDB bool) (map[string]any, error) {
	stmts := []string{"SHOW REPLICA STATUS", "SHOW SLAVE STATUS"}
	if mariaDB {
		stmts = []string{"SHOW ALL REPLICAS STATUS", "SHOW ALL SLAVES STATUS"}
	}
	var (
		channels []map[string]sql.NullString
		err      error
	)
	for _, stmt := range stmts {
		channels, err = mysqlRecords(ctx, conn, stmt)
		if !isMySQLError(err, 1064) { // ER_PARSE_ERROR: try the old spelling
			break
		}
	}
	if err != nil {
		return nil, err
	}
	return replicaFact(channels), nil
}

// replicaFact sums up the status rows, one per replication channel (MySQL)
// or connection (MariaDB), in the names of both: replication is running
// when every channel runs, and the lag is the largest, or nil when any
// channel's is unknown.
func replicaFact(channels []map[string]sql.NullString) map[string]any {
	if len(channels) == 0 {
		return nil
	}
	io, sqlRunning := true, true
	var lag any = 0
	var errs []string
	for _, c := range channels {
		col := func(names ...string) sql.NullString {
			for _, n := range names {
				if v, ok := c[n]; ok {
					return v
				}
			}
			return sql.NullString{}
		}
		// "Connecting" and "Preparing" are not running yet.
		io = io && col("replica_io_running", "slave_io_running").String == "Yes"
		sqlRunning = sqlRunning && col("replica_sql_running", "slave_sql_running").String == "Yes"
		// NULL means the server does not know (the SQL thread stopped,
		// or it caught up with an I/O thread that is not connected):
		// nil, never 0, so that "lag < 30" cannot pass on it.
		if l := col("seconds_behind_source", "seconds_behind_master"); !l.Valid {
			lag = nil
		} else if n, err := strconv.Atoi(l.String); err != nil {
			lag = nil
		} else if cur, ok := lag.(int); ok && n > cur {
			lag = n
		}
		var chErrs []string
		for _, e := range []string{col("last_io_error").String, col("last_sql_error").String} {
			if e != "" {
				chErrs = append(chErrs, e)
			}
		}
		if len(chErrs) == 0 && col("last_error").String != "" {
			chErrs = append(chErrs, col("last_error").String)
		}
		if name := col("channel_name", "connection_name").String; name != "" && len(channels) > 1 {
			for i := range chErrs {
				chErrs[i] = name + ": " + chErrs[i]
			}
		}
		errs = append(errs, chErrs...)
	}
	return map[string]any{
		"io_running":  io,
		"sql_running": sqlRunning,
		"lag":         lag,
		"last_error":  strings.Join(errs, "; "),
	}
}

// mysqlRecords runs stmt and returns its rows by lower-case column name.
func mysqlRecords(ctx context.Context, conn *sql.Conn, stmt string) ([]map[string]sql.NullString, error) {
	rows, err := conn.QueryContext(ctx, stmt)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var out []map[string]sql.NullString
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		rec := make(map[string]sql.NullString, len(cols))
		for i, c := range cols {
			rec[strings.ToLower(c)] = vals[i]
		}
		out = append(out, rec)
	}
	return out, rows.Err()
}

// mysqlQuery runs the check's query and returns at most mysqlMaxRows rows,
// each a map of column to value.
func mysqlQuery(ctx context.Context, conn *sql.Conn, query string) ([]any, error) {
	rows, err := conn.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.ColumnTypes()
	if err != nil {
		return nil, err
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	out := []any{}
	for len(out) < mysqlMaxRows && rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		row := make(map[string]any, len(cols))
		for i, c := range cols {
			row[c.Name()] = mysqlValue(vals[i], c.DatabaseTypeName())
		}
		out = append(out, row)
	}
	return out, rows.Err()
}

// mysqlValue turns what the driver scanned into a fact value: integers as
// int64, other numbers (DECIMAL included, which the driver leaves as text)
// as float64, everything else as a string.
func mysqlValue(v any, dbType string) any {
	switch x := v.(type) {
	case nil, int64, float64:
		return x
	case uint64:
		if x > math.MaxInt64 {
			return float64(x)
		}
		return int64(x)
	case float32:
		return float64(x)
	case []byte:
		if dbType == "DECIMAL" {
			if f, err := strconv.ParseFloat(string(x), 64); err == nil {
				return f
			}
		}
		return string(x)
	case time.Time:
		return x.Format(time.RFC3339Nano)
	}
	return fmt.Sprint(v)
}

// checkTables returns the tables fact and the text of a failure, from a new
// CHECK TABLE round when one is due, else from the last round.
func (p *mysqlProber) checkTables(ctx context.Context, conn *sql.Conn, start time.Time) (map[string]any, string) {
	now := p.now()
	p.mu.Lock()
	if p.tablesBusy || !p.tablesAt.IsZero() && now.Sub(p.tablesAt) < p.every {
		fact, errText := maps.Clone(p.tablesFact), p.tablesErr
		p.mu.Unlock()
		return fact, errText
	}
	p.tablesBusy = true
	p.mu.Unlock()

	fact, errText, expired := p.checkTableRound(ctx, conn, start)

	p.mu.Lock()
	defer p.mu.Unlock()
	p.tablesBusy = false
	p.tableRounds++
	// A failed round is tried again at the next run, since a dropped
	// connection or a grant just fixed should not blind the check for an
	// hour; but not one that ran out of time: the server carries on with a
	// CHECK TABLE whose client gave up, and starting another at every run
	// would pile them up.
	if expired {
		errText += "; next CHECK TABLE after " + now.Add(p.every).UTC().Format(time.RFC3339)
	}
	if errText == "" || expired {
		p.tablesAt, p.tablesFact, p.tablesErr = now, fact, errText
	}
	return maps.Clone(fact), errText
}

// checkTableRound runs CHECK TABLE on each table, one statement each so
// that a result row is easy to tie to the name it was configured as. A
// statement that fails (a missing privilege, the deadline) leaves the whole
// fact nil: a map without that table would let "every table is OK" pass.
func (p *mysqlProber) checkTableRound(ctx context.Context, conn *sql.Conn, start time.Time) (fact map[string]any, errText string, expired bool) {
	fact = make(map[string]any, len(p.tables))
	for _, t := range p.tables {
		recs, err := mysqlRecords(ctx, conn, "CHECK TABLE "+t.quoted)
		if err != nil {
			return nil, "check table " + t.name + ": " + mysqlReason(ctx, err, start), timedOut(ctx, err)
		}
		fact[t.name] = checkTableStatus(recs)
	}
	return fact, "", false
}

// checkTableStatus is the verdict of CHECK TABLE on one table. Its last row
// is the status ("OK", "Table is already up to date", "Operation failed",
// …); rows before it are notes, warnings and errors. The first error says
// most about what is wrong ("Size of datafile is: 5000 Should be: 20000"),
// where the status of a corrupt table may be just "Corrupt".
func checkTableStatus(recs []map[string]sql.NullString) string {
	for _, r := range recs {
		if strings.EqualFold(r["msg_type"].String, "error") {
			return r["msg_text"].String
		}
	}
	if len(recs) == 0 {
		return "no result"
	}
	return recs[len(recs)-1]["msg_text"].String
}

// mysqlReason is the text of a failed statement: the server's own error
// ("Error 1227 (42000): Access denied; …") or what became of the
// connection.
func mysqlReason(ctx context.Context, err error, start time.Time) string {
	var me *mysql.MySQLError
	switch {
	case timedOut(ctx, err):
		return timeoutText(ctx, start)
	case errors.As(err, &me):
		return me.Error()
	case errors.Is(err, mysql.ErrInvalidConn) || errors.Is(err, driver.ErrBadConn):
		return "connection lost"
	}
	return reason(ctx, err, start)
}

func isMySQLError(err error, number uint16) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == number
}
