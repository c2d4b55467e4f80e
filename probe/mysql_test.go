package probe

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/assert"
	"github.com/nightowl/nightowl/internal/testdb"
)

// mysqlProbe builds the probe of spec and runs it once.
func mysqlProbe(t *testing.T, spec *MySQL, timeout time.Duration) (*mysqlProber, nightowl.Result) {
	t.Helper()
	p := mysqlProberOf(t, spec)
	return p, mysqlRunOnce(t, p, timeout)
}

func mysqlProberOf(t *testing.T, spec *MySQL) *mysqlProber {
	t.Helper()
	if spec.CheckTablesEvery == 0 {
		spec.CheckTablesEvery = DefaultMySQLCheckTablesEvery
	}
	if errs := spec.Validate(); len(errs) > 0 {
		t.Fatalf("Validate: %v", errs)
	}
	p, err := spec.Prober(Env{})
	if err != nil {
		t.Fatalf("Prober: %v", err)
	}
	mp := p.(*mysqlProber)
	t.Cleanup(func() { mp.Close() })
	return mp
}

func mysqlRunOnce(t *testing.T, p *mysqlProber, timeout time.Duration) nightowl.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	r := p.Probe(ctx)
	if d, ok := r.Facts["duration"].(float64); !ok || d <= 0 {
		t.Fatalf("duration fact = %#v, want a positive float64", r.Facts["duration"])
	}
	for fact := range Types["mysql"].Facts {
		if _, ok := r.Facts[fact]; !ok {
			t.Errorf("fact %s missing (want it present, nil when unknown)", fact)
		}
	}
	return r
}

// mysqlWantStatus fails unless the judged result has the status want.
func mysqlWantStatus(t *testing.T, r nightowl.Result, want nightowl.Status) {
	t.Helper()
	if r.Status != want {
		t.Errorf("status %s, want %s; error %q; assertions %+v; facts %v", r.Status, want, r.Error, r.Assertions, r.Facts)
	}
}

// mysqlUnique makes names that concurrent runs of the tests (several
// engineers, one server) do not share.
func mysqlUnique(prefix string) string {
	return fmt.Sprintf("%s_%d_%d", prefix, os.Getpid(), time.Now().UnixNano()%1e9)
}

// mysqlGlobalLock serialises the tests that change or depend on the shared
// server's global read_only across test processes, until the test ends.
func mysqlGlobalLock(t *testing.T, db *sql.DB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK('nightowl_test_read_only', 100)").Scan(&got); err != nil || got.Int64 != 1 {
		conn.Close()
		t.Fatalf("GET_LOCK = %v, %v", got, err)
	}
	t.Cleanup(func() {
		conn.ExecContext(context.Background(), "DO RELEASE_LOCK('nightowl_test_read_only')")
		conn.Close()
	})
}

// mysqlDSNAs is dsn with another user and password.
func mysqlDSNAs(t *testing.T, dsn, user, password string) string {
	t.Helper()
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.User, cfg.Passwd = user, password
	return cfg.FormatDSN()
}

func TestMySQLValidate(t *testing.T) {
	tests := []struct {
		name string
		spec MySQL
		want []FieldError
	}{
		{"valid", MySQL{DSN: "u:p@tcp(db:3306)/app", CheckTables: []string{"t", "app.t2"}, CheckTablesEvery: time.Hour}, nil},
		{"unix socket", MySQL{DSN: "u@unix(/run/mysqld/mysqld.sock)/", CheckTablesEvery: time.Hour}, nil},
		{"dsn required", MySQL{CheckTablesEvery: time.Hour}, []FieldError{{Key: "dsn", Message: "required"}}},
		{"no slash", MySQL{DSN: "u:s3cretpw@tcp(db:3306)", CheckTablesEvery: time.Hour},
			[]FieldError{{Key: "dsn", Message: "not a valid DSN (user:password@tcp(host:port)/dbname): missing the slash separating the database name"}}},
		{"address not closed", MySQL{DSN: "u:s3cretpw@tcp(db:3306/app", CheckTablesEvery: time.Hour},
			[]FieldError{{Key: "dsn", Message: "not a valid DSN (user:password@tcp(host:port)/dbname): network address not terminated (missing closing brace)"}}},
		{"url", MySQL{DSN: "mysql://u:s3cretpw@db:3306/app", CheckTablesEvery: time.Hour},
			[]FieldError{{Key: "dsn", Message: "must be in the form user:password@tcp(host:port)/dbname, not a URL"}}},
		{"host without tcp()", MySQL{DSN: "u:s3cretpw@db:3306/app", CheckTablesEvery: time.Hour},
			[]FieldError{{Key: "dsn", Message: "not a valid DSN (user:password@tcp(host:port)/dbname): write the address as tcp(host:port)"}}},
		{"password in a bad parameter", MySQL{DSN: "u:pw@tcp(db)/app?parseTime=s3cretpw@x", CheckTablesEvery: time.Hour},
			[]FieldError{{Key: "dsn", Message: "not a valid DSN (user:password@tcp(host:port)/dbname): cannot be parsed"}}},
		{"bad tables", MySQL{DSN: "u@tcp(db)/app", CheckTables: []string{"a.b.c", "", "db.", "t", "t"}, CheckTablesEvery: time.Hour},
			[]FieldError{
				{Key: "check_tables[0]", Message: `must be "table" or "database.table"`},
				{Key: "check_tables[1]", Message: `must be "table" or "database.table"`},
				{Key: "check_tables[2]", Message: `must be "table" or "database.table"`},
				{Key: "check_tables[4]", Message: "t is listed twice"},
			}},
		{"every not positive", MySQL{DSN: "u@tcp(db)/app"}, []FieldError{{Key: "check_tables_every", Message: "must be positive"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.spec.Validate()
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Validate() = %q, want %q", got, tt.want)
			}
			for _, fe := range got {
				if strings.Contains(fe.Message, "s3cretpw") {
					t.Errorf("message leaks the password: %q", fe.Message)
				}
			}
		})
	}
	if d := newMySQL().(*MySQL).CheckTablesEvery; d != time.Hour {
		t.Errorf("default check_tables_every = %v, want 1h", d)
	}
}

func TestMySQLFactTypes(t *testing.T) {
	var c assert.Compiler
	facts := Types["mysql"].Facts
	for _, src := range []string{
		"not read_only", "super_read_only == nil or not super_read_only",
		`version startsWith "10."`, "uptime > 60",
		"replica.io_running and replica.sql_running and replica.lag < 30", `replica.last_error == ""`,
		"replica == nil",
		`all(values(tables), {# == "OK"})`, `all(values(tables), # == "OK")`, `tables["shop.orders"] == "OK"`,
		"rows[0].n == 1", "len(rows) > 0", `rows[0].state in ["ok", "idle"]`,
		"duration < 1",
	} {
		if _, err := c.Compile("mysql", facts, "a", src, ""); err != nil {
			t.Errorf("%s: %v", src, err)
		}
	}
	// Typos and type errors are config errors, not a check that is down
	// for the wrong reason.
	for _, src := range []string{"replica.io_runing", "read_only == 1", "replica.lag < \"30\"", "uptime startsWith \"1\""} {
		if _, err := c.Compile("mysql", facts, "a", src, ""); err == nil {
			t.Errorf("%s compiled, want an error", src)
		}
	}
	if len(Types["mysql"].Defaults) != 0 {
		t.Errorf("defaults %v, want none: connecting is the test", Types["mysql"].Defaults)
	}
}

// TestMySQLReplicaFact covers the column names and shapes of servers this
// machine does not run: MySQL 8.4 and multi-channel replication.
func TestMySQLReplicaFact(t *testing.T) {
	s := func(v string) sql.NullString { return sql.NullString{String: v, Valid: true} }
	null := sql.NullString{}
	tests := []struct {
		name string
		rows []map[string]sql.NullString
		want map[string]any
	}{
		{"primary", nil, nil},
		{"mysql 8.4 running", []map[string]sql.NullString{{
			"replica_io_running": s("Yes"), "replica_sql_running": s("Yes"), "seconds_behind_source": s("3"),
			"last_io_error": s(""), "last_sql_error": s(""), "channel_name": s(""),
		}}, map[string]any{"io_running": true, "sql_running": true, "lag": 3, "last_error": ""}},
		{"mysql 8.4 connecting, lag unknown", []map[string]sql.NullString{{
			"replica_io_running": s("Connecting"), "replica_sql_running": s("Yes"), "seconds_behind_source": null,
			"last_io_error": s("error connecting to source 'repl@db1:3306' - retry-time: 60 retries: 3"), "last_sql_error": s(""),
		}}, map[string]any{"io_running": false, "sql_running": true, "lag": nil,
			"last_error": "error connecting to source 'repl@db1:3306' - retry-time: 60 retries: 3"}},
		{"mariadb stopped with an error", []map[string]sql.NullString{{
			"slave_io_running": s("Yes"), "slave_sql_running": s("No"), "seconds_behind_master": null,
			"last_error": s("Error 'Duplicate entry'"), "last_io_error": s(""), "last_sql_error": s("Error 'Duplicate entry'"),
		}}, map[string]any{"io_running": true, "sql_running": false, "lag": nil, "last_error": "Error 'Duplicate entry'"}},
		{"only last_error", []map[string]sql.NullString{{
			"slave_io_running": s("Yes"), "slave_sql_running": s("No"), "seconds_behind_master": null, "last_error": s("broken"),
		}}, map[string]any{"io_running": true, "sql_running": false, "lag": nil, "last_error": "broken"}},
		{"two channels: the worst of both", []map[string]sql.NullString{
			{"replica_io_running": s("Yes"), "replica_sql_running": s("Yes"), "seconds_behind_source": s("2"), "channel_name": s("a")},
			{"replica_io_running": s("Yes"), "replica_sql_running": s("Yes"), "seconds_behind_source": s("40"), "channel_name": s("b"),
				"last_io_error": s("timeout")},
		}, map[string]any{"io_running": true, "sql_running": true, "lag": 40, "last_error": "b: timeout"}},
		{"two connections, one stopped", []map[string]sql.NullString{
			{"slave_io_running": s("Yes"), "slave_sql_running": s("Yes"), "seconds_behind_master": s("0"), "connection_name": s("")},
			{"slave_io_running": s("No"), "slave_sql_running": s("Yes"), "seconds_behind_master": null, "connection_name": s("eu")},
		}, map[string]any{"io_running": false, "sql_running": true, "lag": nil, "last_error": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := replicaFact(tt.rows)
			if tt.want == nil {
				if got != nil {
					t.Errorf("replicaFact = %v, want nil", got)
				}
				return
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("replicaFact = %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

func TestMySQLCheckTableStatus(t *testing.T) {
	row := func(typ, text string) map[string]sql.NullString {
		return map[string]sql.NullString{"msg_type": {String: typ, Valid: true}, "msg_text": {String: text, Valid: true}}
	}
	tests := []struct {
		name string
		rows []map[string]sql.NullString
		want string
	}{
		{"ok", []map[string]sql.NullString{row("status", "OK")}, "OK"},
		{"note then status", []map[string]sql.NullString{row("note", "The storage engine for the table doesn't support check"), row("status", "OK")}, "OK"},
		{"warning then status", []map[string]sql.NullString{row("warning", "1 client is using or hasn't closed the table properly"), row("status", "Table is already up to date")}, "Table is already up to date"},
		{"error before the status", []map[string]sql.NullString{row("Error", "Table 'app.gone' doesn't exist"), row("status", "Operation failed")}, "Table 'app.gone' doesn't exist"},
		{"corrupt", []map[string]sql.NullString{row("error", "Size of datafile is: 5000 Should be: 20000"), row("error", "Corrupt")}, "Size of datafile is: 5000 Should be: 20000"},
		{"nothing", nil, "no result"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := checkTableStatus(tt.rows); got != tt.want {
				t.Errorf("checkTableStatus = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestMySQLUnreachable(t *testing.T) {
	t.Run("refused", func(t *testing.T) {
		addr := closedAddr(t)
		start := time.Now()
		_, r := mysqlProbe(t, &MySQL{DSN: "nightowl:s3cretpw@tcp(" + addr + ")/app"}, 3*time.Second)
		checkError(t, r, false, "connect "+addr+": connection refused")
		if strings.Contains(r.Error, "s3cretpw") {
			t.Errorf("error leaks the password: %q", r.Error)
		}
		if el := time.Since(start); el > 3*time.Second {
			t.Errorf("took %v", el)
		}
		r = judge(t, "mysql", r)
		mysqlWantStatus(t, r, nightowl.StatusDown)
	})
	t.Run("no greeting", func(t *testing.T) {
		// Accepts the connection and never says a word, like a server
		// hung at start-up.
		addr := serveTCP(t, listenTCP(t), func(c net.Conn) { time.Sleep(3 * time.Second) })
		start := time.Now()
		_, r := mysqlProbe(t, &MySQL{DSN: "nightowl:s3cretpw@tcp(" + addr + ")/app"}, 500*time.Millisecond)
		checkError(t, r, false, "connect "+addr+": timed out after 500ms")
		if el := time.Since(start); el > 1500*time.Millisecond {
			t.Errorf("took %v with a 500ms timeout", el)
		}
		checkFacts(t, r.Facts, nightowl.Facts{"read_only": nil, "version": nil, "replica": nil})
	})
	t.Run("bad password", func(t *testing.T) {
		dsn := mysqlDSNAs(t, mysqlTestDSN(t), "nightowl_nobody", "s3cretpw")
		cfg, _ := mysql.ParseDSN(dsn)
		_, r := mysqlProbe(t, &MySQL{DSN: dsn}, 5*time.Second)
		checkError(t, r, false, "connect "+cfg.Addr+": Error 1045 (28000): Access denied for user 'nightowl_nobody'")
		if strings.Contains(r.Error, "s3cretpw") {
			t.Errorf("error leaks the password: %q", r.Error)
		}
	})
}

func TestMySQLFacts(t *testing.T) {
	dsn := mysqlTestDSN(t)
	mysqlGlobalLock(t, mysqlOpen(t, dsn))
	p, r := mysqlProbe(t, &MySQL{DSN: dsn}, 5*time.Second)
	checkError(t, r, true, "")
	checkFacts(t, r.Facts, nightowl.Facts{"read_only": false, "replica": nil, "tables": nil, "rows": nil})
	if v, _ := r.Facts["version"].(string); !strings.Contains(v, "MariaDB") {
		t.Errorf("version = %#v, want MariaDB's", r.Facts["version"])
	}
	if r.Facts["super_read_only"] != nil {
		t.Errorf("super_read_only = %#v, want nil on MariaDB", r.Facts["super_read_only"])
	}
	if up, ok := r.Facts["uptime"].(int); !ok || up <= 0 {
		t.Errorf("uptime = %#v, want a positive int", r.Facts["uptime"])
	}
	mysqlWantStatus(t, judge(t, "mysql", r, "up: uptime > 0", "writable: not read_only", "primary: replica == nil"), nightowl.StatusUp)

	// Later runs reuse the pooled connection.
	for range 3 {
		if r := mysqlRunOnce(t, p, 5*time.Second); !r.OK {
			t.Fatal(r.Error)
		}
	}
	if st := p.db.Stats(); st.OpenConnections != 1 || st.MaxOpenConnections != 2 {
		t.Errorf("pool: %d open connections (max %d), want 1 (max 2)", st.OpenConnections, st.MaxOpenConnections)
	}
}

func TestMySQLReadOnly(t *testing.T) {
	dsn := mysqlTestDSN(t)
	db := mysqlOpen(t, dsn)
	mysqlGlobalLock(t, db)
	p := mysqlProberOf(t, &MySQL{DSN: dsn})
	const writable = "writable: not read_only"

	r := mysqlRunOnce(t, p, 5*time.Second)
	checkFacts(t, r.Facts, nightowl.Facts{"read_only": false})
	mysqlWantStatus(t, judge(t, "mysql", r, writable), nightowl.StatusUp)

	mysqlExec(t, db, "SET GLOBAL read_only = 1")
	t.Cleanup(func() { mysqlExec(t, db, "SET GLOBAL read_only = 0") })
	r = mysqlRunOnce(t, p, 5*time.Second)
	checkError(t, r, true, "")
	checkFacts(t, r.Facts, nightowl.Facts{"read_only": true})
	r = judge(t, "mysql", r, writable)
	mysqlWantStatus(t, r, nightowl.StatusDown)
	if f := r.Failed(); len(f) != 1 || f[0].Message != "read_only (read_only = true)" {
		t.Errorf("failed assertions %+v", f)
	}

	mysqlExec(t, db, "SET GLOBAL read_only = 0")
	r = mysqlRunOnce(t, p, 5*time.Second)
	checkFacts(t, r.Facts, nightowl.Facts{"read_only": false})
	mysqlWantStatus(t, judge(t, "mysql", r, writable), nightowl.StatusUp)
}

func TestMySQLQuery(t *testing.T) {
	dsn := mysqlTestDSN(t)
	tests := []struct {
		name    string
		query   string
		want    []any
		wantLen int
		wantErr string
		assert  string
	}{
		{name: "scalars", query: "SELECT 1 AS n, 'x' AS s, NULL AS z, 1.5 AS d, CAST(2.5 AS DOUBLE) AS f, CAST(7 AS UNSIGNED) AS u",
			want:   []any{map[string]any{"n": int64(1), "s": "x", "z": nil, "d": 1.5, "f": 2.5, "u": int64(7)}},
			assert: `ok: rows[0].n == 1 and rows[0].s == "x" and rows[0].z == nil and rows[0].d > 1`},
		{name: "several rows", query: "SELECT seq AS n FROM seq_1_to_3",
			want:   []any{map[string]any{"n": int64(1)}, map[string]any{"n": int64(2)}, map[string]any{"n": int64(3)}},
			assert: "ok: len(rows) == 3 and rows[2].n == 3"},
		{name: "no rows", query: "SELECT 1 AS n FROM DUAL WHERE 1 = 0", want: []any{}, assert: "ok: len(rows) == 0"},
		{name: "bounded", query: "SELECT seq FROM seq_1_to_1500", wantLen: mysqlMaxRows},
		{name: "fails", query: "SELECT * FROM nightowl_no_such_table",
			wantErr: "query: Error 1146 (42S02): Table 'test.nightowl_no_such_table' doesn't exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, r := mysqlProbe(t, &MySQL{DSN: dsn, Query: tt.query}, 5*time.Second)
			// A failed query costs its fact only.
			checkError(t, r, true, tt.wantErr)
			if _, ok := r.Facts["read_only"].(bool); !ok {
				t.Errorf("read_only = %#v, want it reported", r.Facts["read_only"])
			}
			rows, _ := r.Facts["rows"].([]any)
			switch {
			case tt.wantErr != "":
				if r.Facts["rows"] != nil {
					t.Errorf("rows = %#v, want nil", r.Facts["rows"])
				}
			case tt.wantLen > 0:
				if len(rows) != tt.wantLen {
					t.Errorf("%d rows, want %d", len(rows), tt.wantLen)
				}
			default:
				if !reflect.DeepEqual(r.Facts["rows"], tt.want) {
					t.Errorf("rows = %#v\nwant %#v", r.Facts["rows"], tt.want)
				}
			}
			if tt.assert != "" {
				mysqlWantStatus(t, judge(t, "mysql", r, tt.assert), nightowl.StatusUp)
			}
		})
	}
}

func TestMySQLPartialFailure(t *testing.T) {
	dsn := mysqlTestDSN(t)
	db := mysqlOpen(t, dsn)
	user, table := mysqlUnique("nightowl_np"), "test."+mysqlUnique("nightowl_pf")
	mysqlExec(t, db, "CREATE TABLE "+table+" (id INT PRIMARY KEY)",
		"CREATE USER '"+user+"'@'%' IDENTIFIED BY 'pw'")
	t.Cleanup(func() { mysqlExec(t, db, "DROP USER '"+user+"'@'%'", "DROP TABLE "+table) })
	// No REPLICATION CLIENT or SLAVE MONITOR, and no privilege on the table
	// (nor on its database, so the DSN names none).
	udsn := mysqlDSNAs(t, dsn, user, "pw")
	cfg, _ := mysql.ParseDSN(udsn)
	cfg.DBName = ""
	p := mysqlProberOf(t, &MySQL{DSN: cfg.FormatDSN(), CheckTables: []string{table}, Query: "SELECT 1 AS n"})

	r := mysqlRunOnce(t, p, 5*time.Second)
	checkError(t, r, true, "replica status: Error 1227 (42000): Access denied; you need (at least one of) the SUPER, SLAVE MONITOR privilege(s)")
	if want := "; check table " + table + ": Error 1142 (42000): CHECK TABLE command denied to user"; !strings.Contains(r.Error, want) {
		t.Errorf("error %q does not contain %q; facts %v", r.Error, want, r.Facts)
	}
	checkFacts(t, r.Facts, nightowl.Facts{"replica": nil, "tables": nil, "rows": []any{map[string]any{"n": int64(1)}}})
	if _, ok := r.Facts["read_only"].(bool); !ok {
		t.Errorf("read_only = %#v, want it reported", r.Facts["read_only"])
	}
	if v, _ := r.Facts["version"].(string); v == "" {
		t.Errorf("version = %#v, want it reported", r.Facts["version"])
	}
	// Assertions over what could not be read fail, and say why.
	r = judge(t, "mysql", r, "writable: not read_only", "replicating: replica.io_running and replica.sql_running",
		`tables_ok: all(values(tables), {# == "OK"})`)
	mysqlWantStatus(t, r, nightowl.StatusDown)
	for _, a := range r.Failed() {
		if a.Name == "writable" || !strings.HasPrefix(a.Message, "cannot evaluate") {
			t.Errorf("assertion %s: %s", a.Name, a.Message)
		}
	}
	if len(r.Failed()) != 2 {
		t.Errorf("failed %+v, want replicating and tables_ok", r.Failed())
	}

	// A denied CHECK TABLE is cheap and may be granted any minute: it is
	// tried again at the next run, not after check_tables_every.
	mysqlExec(t, db, "GRANT SELECT ON "+table+" TO '"+user+"'@'%'")
	r = mysqlRunOnce(t, p, 5*time.Second)
	checkFacts(t, r.Facts, nightowl.Facts{"tables": map[string]any{table: "OK"}})
	if strings.Contains(r.Error, "check table") {
		t.Errorf("error %q after the grant", r.Error)
	}
}

func TestMySQLCheckTablesEvery(t *testing.T) {
	dsn := mysqlTestDSN(t)
	db := mysqlOpen(t, dsn)
	table := mysqlUnique("nightowl_every")
	mysqlExec(t, db, "CREATE TABLE "+table+" (id INT PRIMARY KEY)")
	t.Cleanup(func() { mysqlExec(t, db, "DROP TABLE IF EXISTS "+table) })

	p := mysqlProberOf(t, &MySQL{DSN: dsn, CheckTables: []string{table, "test." + table}, CheckTablesEvery: time.Hour})
	now := time.Date(2026, 3, 17, 22, 0, 0, 0, time.UTC)
	p.now = func() time.Time { return now }
	ok := map[string]any{table: "OK", "test." + table: "OK"}

	r := mysqlRunOnce(t, p, 5*time.Second)
	checkError(t, r, true, "")
	checkFacts(t, r.Facts, nightowl.Facts{"tables": ok})
	mysqlWantStatus(t, judge(t, "mysql", r, `tables_ok: all(values(tables), {# == "OK"})`), nightowl.StatusUp)

	// Within the period the last round is reported again, even though the
	// table is gone by now.
	mysqlExec(t, db, "DROP TABLE "+table)
	for _, d := range []time.Duration{time.Second, 59 * time.Minute} {
		now = now.Add(d)
		r = mysqlRunOnce(t, p, 5*time.Second)
		checkFacts(t, r.Facts, nightowl.Facts{"tables": ok})
	}
	if p.tableRounds != 1 {
		t.Errorf("%d CHECK TABLE rounds within the hour, want 1", p.tableRounds)
	}

	now = now.Add(time.Minute)
	r = mysqlRunOnce(t, p, 5*time.Second)
	gone := "Table 'test." + table + "' doesn't exist"
	checkError(t, r, true, "")
	checkFacts(t, r.Facts, nightowl.Facts{"tables": map[string]any{table: gone, "test." + table: gone}})
	if p.tableRounds != 2 {
		t.Errorf("%d CHECK TABLE rounds after the hour, want 2", p.tableRounds)
	}
	r = judge(t, "mysql", r, `tables_ok: all(values(tables), {# == "OK"})`)
	mysqlWantStatus(t, r, nightowl.StatusDown)
}

// TestMySQLCheckTableTimeout: a CHECK TABLE that runs out of time is not
// started again at every run, since the server carries on with the one whose
// client gave up.
func TestMySQLCheckTableTimeout(t *testing.T) {
	dsn := mysqlTestDSN(t)
	db := mysqlOpen(t, dsn)
	table := mysqlUnique("nightowl_locked")
	mysqlExec(t, db, "CREATE TABLE "+table+" (id INT PRIMARY KEY)")
	t.Cleanup(func() { mysqlExec(t, db, "DROP TABLE IF EXISTS "+table) })
	// A table locked for writing makes CHECK TABLE wait.
	lock, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lock.ExecContext(context.Background(), "LOCK TABLES "+table+" WRITE"); err != nil {
		t.Fatal(err)
	}
	unlocked := false
	unlock := func() {
		if !unlocked {
			lock.ExecContext(context.Background(), "UNLOCK TABLES")
			lock.Close()
			unlocked = true
		}
	}
	t.Cleanup(unlock)

	p := mysqlProberOf(t, &MySQL{DSN: dsn, CheckTables: []string{table}, CheckTablesEvery: time.Hour})
	now := time.Date(2026, 3, 17, 22, 0, 0, 0, time.UTC)
	p.now = func() time.Time { return now }
	r := mysqlRunOnce(t, p, time.Second)
	want := "check table " + table + ": timed out after 1s; next CHECK TABLE after 2026-03-17T23:00:00Z"
	checkError(t, r, true, want)
	checkFacts(t, r.Facts, nightowl.Facts{"tables": nil})
	if _, ok := r.Facts["read_only"].(bool); !ok {
		t.Errorf("read_only = %#v, want it reported", r.Facts["read_only"])
	}

	unlock()
	now = now.Add(10 * time.Minute)
	r = mysqlRunOnce(t, p, 5*time.Second)
	checkError(t, r, true, want)
	if p.tableRounds != 1 {
		t.Errorf("%d rounds, want 1", p.tableRounds)
	}
	now = now.Add(time.Hour)
	r = mysqlRunOnce(t, p, 5*time.Second)
	checkError(t, r, true, "")
	checkFacts(t, r.Facts, nightowl.Facts{"tables": map[string]any{table: "OK"}})
}

func TestMySQLReplica(t *testing.T) {
	primary, replica := testdb.StartMariaDBReplication(t)
	p := mysqlProberOf(t, &MySQL{DSN: replica.DSN})
	const replicating = "replicating: replica.io_running and replica.sql_running"
	const lagging = "lag_ok: replica.lag < 30"

	// Wait for the replica to connect.
	var r nightowl.Result
	deadline := time.Now().Add(30 * time.Second)
	for {
		r = mysqlRunOnce(t, p, 5*time.Second)
		if rep, _ := r.Facts["replica"].(map[string]any); rep != nil && rep["io_running"] == true && rep["sql_running"] == true {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replication did not start: %s %v", r.Error, r.Facts)
		}
		time.Sleep(100 * time.Millisecond)
	}
	checkError(t, r, true, "")
	rep := r.Facts["replica"].(map[string]any)
	if lag, ok := rep["lag"].(int); !ok || lag < 0 {
		t.Errorf("lag = %#v, want a number of seconds", rep["lag"])
	}
	if rep["last_error"] != "" {
		t.Errorf("last_error = %q", rep["last_error"])
	}
	mysqlWantStatus(t, judge(t, "mysql", r, replicating, lagging), nightowl.StatusUp)

	// The primary has no replica status.
	pr := mysqlRunOnce(t, mysqlProberOf(t, &MySQL{DSN: primary.DSN}), 5*time.Second)
	checkError(t, pr, true, "")
	checkFacts(t, pr.Facts, nightowl.Facts{"replica": nil, "read_only": false})
	mysqlWantStatus(t, judge(t, "mysql", pr, "primary: replica == nil"), nightowl.StatusUp)
	mysqlWantStatus(t, judge(t, "mysql", pr, replicating), nightowl.StatusDown)

	// The SQL thread stopped: not replicating, and the lag is unknown,
	// not 0.
	replica.Exec(t, "STOP SLAVE SQL_THREAD")
	r = mysqlRunOnce(t, p, 5*time.Second)
	checkError(t, r, true, "")
	checkFacts(t, r.Facts, nightowl.Facts{"replica": map[string]any{
		"io_running": true, "sql_running": false, "lag": nil, "last_error": ""}})
	r = judge(t, "mysql", r, replicating, lagging)
	mysqlWantStatus(t, r, nightowl.StatusDown)
	msgs := map[string]string{}
	for _, a := range r.Failed() {
		msgs[a.Name] = a.Message
	}
	if msgs["replicating"] != "replica.sql_running (replica.sql_running = false)" {
		t.Errorf("replicating: %q", msgs["replicating"])
	}
	if !strings.HasPrefix(msgs["lag_ok"], "cannot evaluate") {
		t.Errorf("lag_ok: %q", msgs["lag_ok"])
	}

	// Replication broken by a row that the replica has already: its SQL
	// thread stops with the error.
	primary.Exec(t, "CREATE DATABASE shop", "CREATE TABLE shop.orders (id INT PRIMARY KEY)")
	replica.Exec(t, "START SLAVE SQL_THREAD")
	testdb.WaitFor(t, replica, "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'shop'")
	replica.Exec(t, "INSERT INTO shop.orders VALUES (1)")
	primary.Exec(t, "INSERT INTO shop.orders VALUES (1)")
	deadline = time.Now().Add(30 * time.Second)
	for {
		r = mysqlRunOnce(t, p, 5*time.Second)
		if rep, _ := r.Facts["replica"].(map[string]any); rep != nil && rep["last_error"] != "" && rep["sql_running"] == false {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replication did not break: %s %v", r.Error, r.Facts)
		}
		time.Sleep(50 * time.Millisecond)
	}
	rep = r.Facts["replica"].(map[string]any)
	if msg, _ := rep["last_error"].(string); !strings.Contains(msg, "Duplicate entry") {
		t.Errorf("last_error = %q", msg)
	}
	mysqlWantStatus(t, judge(t, "mysql", r, replicating), nightowl.StatusDown)
	mysqlWantStatus(t, judge(t, "mysql", r, `no_error: replica.last_error == ""`), nightowl.StatusDown)
}

func TestMySQLCorruptTable(t *testing.T) {
	m := testdb.StartMariaDB(t, testdb.MariaDBOptions{})
	m.Exec(t, "CREATE DATABASE shop",
		"CREATE TABLE shop.orders (id INT PRIMARY KEY, item VARCHAR(50)) ENGINE=MyISAM",
		"INSERT INTO shop.orders SELECT seq, CONCAT('item ', seq) FROM shop.seq_1_to_1000",
		"CREATE TABLE shop.customers (id INT PRIMARY KEY) ENGINE=InnoDB")
	p := mysqlProberOf(t, &MySQL{DSN: m.DSNFor("shop"), CheckTables: []string{"orders", "shop.customers"}})
	now := time.Now()
	p.now = func() time.Time { return now }
	const tablesOK = `tables_ok: all(values(tables), {# == "OK"})`

	r := mysqlRunOnce(t, p, 5*time.Second)
	checkError(t, r, true, "")
	checkFacts(t, r.Facts, nightowl.Facts{"tables": map[string]any{"orders": "OK", "shop.customers": "OK"}})
	mysqlWantStatus(t, judge(t, "mysql", r, tablesOK), nightowl.StatusUp)

	// Half the data file lost, as after a crash or a bad disk.
	m.Exec(t, "FLUSH TABLES")
	myd := filepath.Join(m.DataDir, "shop", "orders.MYD")
	fi, err := os.Stat(myd)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(myd, fi.Size()/2); err != nil {
		t.Fatal(err)
	}
	now = now.Add(DefaultMySQLCheckTablesEvery)
	r = mysqlRunOnce(t, p, 5*time.Second)
	checkError(t, r, true, "")
	tables, _ := r.Facts["tables"].(map[string]any)
	if s, _ := tables["orders"].(string); !strings.HasPrefix(s, "Size of datafile is:") {
		t.Errorf("orders: %#v, want the size error", tables["orders"])
	}
	if tables["shop.customers"] != "OK" {
		t.Errorf("customers: %#v", tables["shop.customers"])
	}
	r = judge(t, "mysql", r, tablesOK, `orders_ok: tables.orders == "OK"`)
	mysqlWantStatus(t, r, nightowl.StatusDown)
	if len(r.Failed()) != 2 {
		t.Errorf("failed %+v", r.Failed())
	}
}
