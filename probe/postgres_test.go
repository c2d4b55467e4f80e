package probe

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/url"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/assert"
	"github.com/nightowl/nightowl/internal/testdb"
)

// pgTestDSN is the shared PostgreSQL server of the tests.
func pgTestDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("NIGHTOWL_TEST_POSTGRES")
	if dsn == "" {
		testdb.SkipUnlessCI(t, "NIGHTOWL_TEST_POSTGRES is not set; scripts/test sets it, or point it at a server: "+
			"postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	}
	return dsn
}

// pgWithDatabase returns dsn with its database replaced.
func pgWithDatabase(t testing.TB, dsn, db string) string {
	t.Helper()
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatal(err)
		}
		u.Path = "/" + db
		return u.String()
	}
	// In key=value form the last of a repeated key counts.
	return dsn + " dbname=" + db
}

// pgAdmin connects to the shared server, closed at cleanup.
func pgAdmin(t testing.TB) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, pgTestDSN(t))
	if err != nil {
		t.Fatalf("connect to NIGHTOWL_TEST_POSTGRES: %v", err)
	}
	t.Cleanup(func() { pgClose(c) })
	return c
}

func pgExec(t testing.TB, c *pgx.Conn, stmts ...string) {
	t.Helper()
	for _, q := range stmts {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := c.Exec(ctx, q)
		cancel()
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// pgTestDB creates a database of the test's own on the shared server, runs
// setup in it, and drops it at cleanup. It returns the database's name and
// a DSN that reaches it.
func pgTestDB(t testing.TB, setup ...string) (name, dsn string) {
	t.Helper()
	admin := pgAdmin(t)
	b := make([]byte, 6)
	rand.Read(b)
	name = "nightowl_probe_test_" + hex.EncodeToString(b)
	pgExec(t, admin, "CREATE DATABASE "+name)
	t.Cleanup(func() {
		// DROP DATABASE waits for a checkpoint, and a checkpoint of the
		// shared server under way when other tests keep its disk busy
		// can take longer than any statement of a test: seen at 30s.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})
	dsn = pgWithDatabase(t, pgTestDSN(t), name)
	if len(setup) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer pgClose(c)
		pgExec(t, c, setup...)
	}
	return name, dsn
}

// pgProberOf builds the probe of spec, closed at cleanup.
func pgProberOf(t testing.TB, spec *Postgres) *pgProber {
	t.Helper()
	if errs := spec.Validate(); len(errs) > 0 {
		t.Fatalf("Validate: %v", errs)
	}
	p, err := spec.Prober(Env{})
	if err != nil {
		t.Fatalf("Prober: %v", err)
	}
	pp := p.(*pgProber)
	t.Cleanup(func() { pp.Close() })
	return pp
}

// pgRunOnce runs p under timeout and checks what every result carries:
// every fact of the table, nil when unknown, and the duration.
func pgRunOnce(t testing.TB, p *pgProber, timeout time.Duration) nightowl.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	r := p.Probe(ctx)
	if d, ok := r.Facts["duration"].(float64); !ok || d <= 0 {
		t.Fatalf("duration fact = %#v, want a positive float64", r.Facts["duration"])
	}
	for fact := range Types["postgres"].Facts {
		if _, ok := r.Facts[fact]; !ok {
			t.Errorf("fact %s missing (want it present, nil when unknown)", fact)
		}
	}
	if len(r.Facts) != len(Types["postgres"].Facts) {
		t.Errorf("facts %v, want exactly those of the table", r.Facts)
	}
	return r
}

func pgProbe(t testing.TB, spec *Postgres, timeout time.Duration) nightowl.Result {
	t.Helper()
	return pgRunOnce(t, pgProberOf(t, spec), timeout)
}

func pgWantStatus(t testing.TB, r nightowl.Result, want nightowl.Status, asserts ...string) {
	t.Helper()
	r = judge(t, "postgres", r, asserts...)
	if r.Status != want {
		t.Errorf("status %s, want %s; error %q, assertions %+v, facts %v", r.Status, want, r.Error, r.Assertions, r.Facts)
	}
}

func pgWantOK(t testing.TB, r nightowl.Result) {
	t.Helper()
	if !r.OK || r.Error != "" {
		t.Fatalf("OK = %v, error %q; want a clean run", r.OK, r.Error)
	}
}

func TestPostgresValidate(t *testing.T) {
	const secret = "hunter2"
	tests := []struct {
		name string
		spec Postgres
		want []FieldError // Message compared as a prefix
	}{
		{"url", Postgres{DSN: "postgres://nightowl:" + secret + "@db.example.com:5433/app?sslmode=require"}, nil},
		{"key=value", Postgres{DSN: "host=db.example.com user=nightowl password='" + secret + " x' dbname=app"}, nil},
		{"tables", Postgres{DSN: "postgres://db/app", ExpectTables: []string{"users", "audit.log"}}, nil},
		{"missing dsn", Postgres{}, []FieldError{{Key: "dsn", Message: "required"}}},
		{"bad escape in url password", Postgres{DSN: "postgres://nightowl:" + secret + "%zz@db.example.com/app"},
			[]FieldError{{Key: "dsn", Message: "not a valid PostgreSQL connection string: not a valid URL"}}},
		{"space in unquoted password", Postgres{DSN: "host=db user=nightowl password=" + secret + " " + secret + "x dbname=app"},
			[]FieldError{{Key: "dsn", Message: "not a valid PostgreSQL connection string: not valid key=value pairs"}}},
		{"bad sslmode", Postgres{DSN: "postgres://nightowl:" + secret + "@db/app?sslmode=sometimes"},
			[]FieldError{{Key: "dsn", Message: "not a valid PostgreSQL connection string: failed to configure TLS: sslmode is invalid"}}},
		{"bad connect_timeout", Postgres{DSN: "postgres://nightowl:" + secret + "@db/app?connect_timeout=soon"},
			[]FieldError{{Key: "dsn", Message: "not a valid PostgreSQL connection string: invalid connect_timeout"}}},
		{"tables empty and twice", Postgres{DSN: "postgres://db/app", ExpectTables: []string{"a", " ", "a"}},
			[]FieldError{{Key: "expect_tables[1]", Message: "empty table name"}, {Key: "expect_tables[2]", Message: `"a" is listed twice`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.spec.Validate()
			if len(got) != len(tt.want) {
				t.Fatalf("Validate = %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i].Key != tt.want[i].Key || !strings.HasPrefix(got[i].Message, tt.want[i].Message) {
					t.Errorf("error %d = %v, want %v…", i, got[i], tt.want[i])
				}
				if strings.Contains(got[i].Message, secret) || tt.spec.DSN != "" && strings.Contains(got[i].Message, tt.spec.DSN) {
					t.Errorf("error %q repeats the password or the DSN", got[i].Message)
				}
			}
			if tt.want == nil || tt.want[0].Key != "dsn" || tt.spec.DSN == "" {
				return
			}
			if _, err := tt.spec.Prober(Env{}); err == nil || strings.Contains(err.Error(), secret) {
				t.Errorf("Prober error = %v, want one without the password", err)
			}
		})
	}
}

// TestPostgresFactTypes: the element shapes are typed, so a misspelt field
// is a config error rather than an assertion that never holds.
func TestPostgresFactTypes(t *testing.T) {
	tests := []struct {
		expr string
		ok   bool
	}{
		{"not read_only and not in_recovery", true},
		{`version startsWith "15."`, true},
		{"replication_lag < 30", true},
		{"len(replicas) >= 1", true},
		{`all(replicas, .state == "streaming" and .lag_bytes < 16777216)`, true},
		{`any(replicas, .name == "db2")`, true},
		{`all(values(tables), {#})`, true},
		{"tables.users and tables['audit.log']", true},
		{"rows[0].n == 1 and len(rows) > 0", true},
		{`all(replicas, .stat == "streaming")`, false},
		{"replicas[0].lag > 0", false},
		{"replication_lags < 30", false},
		{`tables.users == "OK"`, false},
		{"read_only > 1", false},
	}
	var c assert.Compiler
	for _, tt := range tests {
		_, err := c.Compile("postgres", Types["postgres"].Facts, "a", tt.expr, "")
		if (err == nil) != tt.ok {
			t.Errorf("compile %s: err = %v, want ok %v", tt.expr, err, tt.ok)
		}
	}
}

// TestPostgresReadOnly reproduces a database switched read-only the way a
// maintenance script does it: new sessions see it, and the check goes down.
func TestPostgresReadOnly(t *testing.T) {
	roName, roDSN := pgTestDB(t)
	pgExec(t, pgAdmin(t), "ALTER DATABASE "+roName+" SET default_transaction_read_only = on")
	_, rwDSN := pgTestDB(t)
	tests := []struct {
		name     string
		dsn      string
		readOnly bool
		want     nightowl.Status
	}{
		{"read-only database", roDSN, true, nightowl.StatusDown},
		{"writable database", rwDSN, false, nightowl.StatusUp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := pgProbe(t, &Postgres{DSN: tt.dsn}, 5*time.Second)
			pgWantOK(t, r)
			checkFacts(t, r.Facts, nightowl.Facts{"read_only": tt.readOnly, "in_recovery": false, "replication_lag": nil})
			pgWantStatus(t, r, tt.want, "writable: not read_only")
		})
	}
}

// TestPostgresFacts checks the basics on the shared server, a primary.
func TestPostgresFacts(t *testing.T) {
	_, dsn := pgTestDB(t)
	r := pgProbe(t, &Postgres{DSN: dsn}, 5*time.Second)
	pgWantOK(t, r)
	if v, ok := r.Facts["version"].(string); !ok || !strings.Contains(v, ".") {
		t.Errorf("version = %#v, want server_version such as \"15.4\"", r.Facts["version"])
	}
	if reps, ok := r.Facts["replicas"].([]any); !ok || reps == nil {
		t.Errorf("replicas = %#v, want a list on a primary", r.Facts["replicas"])
	}
	checkFacts(t, r.Facts, nightowl.Facts{"in_recovery": false, "read_only": false, "replication_lag": nil, "tables": nil, "rows": nil})
	pgWantStatus(t, r, nightowl.StatusUp, "primary: not in_recovery and not read_only", `versioned: version != ""`)
}

func TestPostgresTables(t *testing.T) {
	_, dsn := pgTestDB(t, "CREATE TABLE a (id int)", "CREATE SCHEMA audit", `CREATE TABLE audit."Log" (id int)`)
	r := pgProbe(t, &Postgres{DSN: dsn, ExpectTables: []string{"a", "b", "public.a", `audit."Log"`, "audit.log"}}, 5*time.Second)
	pgWantOK(t, r)
	checkFacts(t, r.Facts, nightowl.Facts{"tables": map[string]any{
		"a": true, "b": false, "public.a": true, `audit."Log"`: true, "audit.log": false,
	}})
	pgWantStatus(t, r, nightowl.StatusDown, "tables_exist: all(values(tables), {#})")
	pgWantStatus(t, r, nightowl.StatusUp, "a_exists: tables.a and tables['public.a']")
}

func TestPostgresQuery(t *testing.T) {
	_, dsn := pgTestDB(t)
	many := make([]any, pgMaxRows)
	for i := range many {
		many[i] = map[string]any{"n": int64(i + 1)}
	}
	ts := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name  string
		query string
		want  []any
	}{
		{"columns and NULL", `SELECT 1 AS n, 'x' AS s, NULL::text AS z`,
			[]any{map[string]any{"n": int64(1), "s": "x", "z": nil}}},
		{"numbers", `SELECT 2::int2 AS i2, 3::int4 AS i4, 4::int8 AS i8, 7::oid AS o,
			1.5::float4 AS f4, 2.25::float8 AS f8, 12.5::numeric AS dec, 1000000::numeric AS whole,
			sum(x) AS total, 'NaN'::float8 AS nan`,
			[]any{map[string]any{"i2": int64(2), "i4": int64(3), "i8": int64(4), "o": int64(7),
				"f4": 1.5, "f8": 2.25, "dec": 12.5, "whole": int64(1000000), "total": nil, "nan": "NaN"}}},
		{"other types", `SELECT true AS b, interval '1 day 90 seconds' AS iv, '{"a": [1, "x"]}'::jsonb AS j,
			ARRAY[1, 2] AS arr, '00000000-0000-0000-0000-00000000002a'::uuid AS u,
			'10.0.0.1'::inet AS ip, '10.0.0.0/8'::cidr AS net, '\x6869'::bytea AS by,
			'2024-01-02 03:04:05+00'::timestamptz AS ts, '0/3000060'::pg_lsn AS lsn`,
			[]any{map[string]any{"b": true, "iv": 86490.0, "j": map[string]any{"a": []any{1.0, "x"}},
				"arr": []any{int64(1), int64(2)}, "u": "00000000-0000-0000-0000-00000000002a",
				"ip": "10.0.0.1", "net": "10.0.0.0/8", "by": "hi", "ts": ts, "lsn": "0/3000060"}}},
		{"no rows", `SELECT 1 AS n WHERE false`, []any{}},
		{"not a select", `CREATE TEMP TABLE t (x int)`, []any{}},
		{"bounded", `SELECT n FROM generate_series(1, 1500) AS n`, many},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// sum over no rows is NULL: a numeric that is not there.
			query := strings.Replace(tt.query, "sum(x) AS total", "(SELECT sum(x) FROM (SELECT 1::numeric AS x WHERE false) s) AS total", 1)
			r := pgProbe(t, &Postgres{DSN: dsn, Query: query}, 10*time.Second)
			pgWantOK(t, r)
			got, _ := r.Facts["rows"].([]any)
			if got == nil || !reflect.DeepEqual(pgComparable(got), pgComparable(tt.want)) {
				t.Errorf("rows = %#v\nwant %#v", r.Facts["rows"], tt.want)
			}
		})
	}
	t.Run("assertions", func(t *testing.T) {
		r := pgProbe(t, &Postgres{DSN: dsn, Query: `SELECT 1 AS n, 'x' AS s, NULL::text AS z,
			now() - interval '1 hour' AS at, interval '1 hour' AS age`}, 5*time.Second)
		pgWantStatus(t, r, nightowl.StatusUp, `one: rows[0].n == 1 and rows[0].s == "x" and rows[0].z == nil`,
			`fresh: (now() - rows[0].at).Hours() < 2`, "backup_recent: rows[0].age < 26 * 3600")
		pgWantStatus(t, r, nightowl.StatusDown, `stale: (now() - rows[0].at).Minutes() < 30`)
	})
}

// pgComparable makes times comparable by DeepEqual, whatever their zone.
func pgComparable(rows []any) []any {
	out := make([]any, len(rows))
	for i, r := range rows {
		m, ok := r.(map[string]any)
		if !ok {
			out[i] = r
			continue
		}
		c := make(map[string]any, len(m))
		for k, v := range m {
			if tm, ok := v.(time.Time); ok {
				v = tm.UTC().Format(time.RFC3339Nano)
			}
			c[k] = v
		}
		out[i] = c
	}
	return out
}

// TestPostgresPartialFailure: a part that fails leaves its fact nil and
// names itself in the error; the rest is reported and the probe is OK.
func TestPostgresPartialFailure(t *testing.T) {
	_, dsn := pgTestDB(t, "CREATE TABLE a (id int)")
	tests := []struct {
		name    string
		spec    Postgres
		wantErr string
		nilFact []string
	}{
		{"query", Postgres{Query: "SELECT * FROM nightowl_missing", ExpectTables: []string{"a"}},
			`query: ERROR: relation "nightowl_missing" does not exist (SQLSTATE 42P01)`, []string{"rows"}},
		{"tables and query", Postgres{Query: "SELECT 1/0 AS n", ExpectTables: []string{"a.b.c.d"}},
			"tables: ERROR: improper relation name (too many dotted names): a.b.c.d (SQLSTATE 42601); " +
				"query: ERROR: division by zero (SQLSTATE 22012)", []string{"tables", "rows"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.spec.DSN = dsn
			r := pgProbe(t, &tt.spec, 5*time.Second)
			if !r.OK || r.Error != tt.wantErr {
				t.Errorf("OK = %v, Error = %q; want OK and %q", r.OK, r.Error, tt.wantErr)
			}
			for _, f := range tt.nilFact {
				if r.Facts[f] != nil {
					t.Errorf("%s = %#v, want nil", f, r.Facts[f])
				}
			}
			checkFacts(t, r.Facts, nightowl.Facts{"in_recovery": false, "read_only": false})
			if r.Facts["version"] == nil || r.Facts["replicas"] == nil {
				t.Errorf("version and replicas missing: %v", r.Facts)
			}
			if tt.spec.ExpectTables[0] == "a" {
				checkFacts(t, r.Facts, nightowl.Facts{"tables": map[string]any{"a": true}})
			}
			// The error alone does not fail the check; an assertion
			// on the missing fact does, and says why.
			pgWantStatus(t, r, nightowl.StatusUp)
			pgWantStatus(t, r, nightowl.StatusDown, "has_rows: len(rows) > 0")
		})
	}
}

// TestPostgresUnreachable needs no server: nothing listens, or something
// listens and never answers.
func TestPostgresUnreachable(t *testing.T) {
	const secret = "hunter2-secret"
	silent := listenTCP(t)
	t.Cleanup(func() { silent.Close() })
	var mu sync.Mutex
	var held []io.Closer
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	closed := closedAddr(t)
	tests := []struct {
		name    string
		addr    string
		timeout time.Duration
		wantErr string
	}{
		{"connection refused", closed, 2 * time.Second, "connect " + closed + ": connection refused"},
		{"no answer", silent.Addr().String(), 300 * time.Millisecond, "connect " + silent.Addr().String() + " timed out after 300ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dsn := "postgres://nightowl:" + secret + "@" + tt.addr + "/app?sslmode=disable"
			start := time.Now()
			r := pgProbe(t, &Postgres{DSN: dsn, Query: "SELECT 1"}, tt.timeout)
			if took := time.Since(start); took > tt.timeout+500*time.Millisecond {
				t.Errorf("took %v with a timeout of %v", took, tt.timeout)
			}
			checkError(t, r, false, tt.wantErr)
			if strings.Contains(r.Error, secret) {
				t.Errorf("error %q holds the password", r.Error)
			}
			checkFacts(t, r.Facts, nightowl.Facts{"in_recovery": nil, "read_only": nil, "version": nil, "replicas": nil, "rows": nil})
			pgWantStatus(t, r, nightowl.StatusDown)
		})
	}
}

func TestPostgresNoSuchDatabase(t *testing.T) {
	dsn := pgWithDatabase(t, pgTestDSN(t), "nightowl_no_such_database")
	r := pgProbe(t, &Postgres{DSN: dsn}, 5*time.Second)
	cfg, err := pgConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	checkError(t, r, false, "connect "+pgAddr(cfg)+`: FATAL: database "nightowl_no_such_database" does not exist (SQLSTATE 3D000)`)
}

// TestPostgresSessionReuse: runs share a session, and one that the server
// closed while it idled costs nothing but a reconnect.
func TestPostgresSessionReuse(t *testing.T) {
	_, dsn := pgTestDB(t)
	p := pgProberOf(t, &Postgres{DSN: dsn, Query: "SELECT pg_backend_pid() AS pid, current_setting('application_name') AS app"})
	pid := func() int64 {
		t.Helper()
		r := pgRunOnce(t, p, 5*time.Second)
		pgWantOK(t, r)
		rows := r.Facts["rows"].([]any)
		row := rows[0].(map[string]any)
		if row["app"] != "nightowl" {
			t.Errorf("application_name = %v, want nightowl", row["app"])
		}
		return row["pid"].(int64)
	}
	first := pid()
	if second := pid(); second != first {
		t.Fatalf("second run used backend %d, first %d: want the session kept", second, first)
	}
	admin := pgAdmin(t)
	pgExec(t, admin, "SELECT pg_terminate_backend("+strconv.FormatInt(first, 10)+")")
	pgWaitFor(t, admin, "SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = "+strconv.FormatInt(first, 10))
	if third := pid(); third == first {
		t.Fatalf("third run reports the terminated backend %d", third)
	}
}

// TestPostgresSchemaChange: a query keeps working on a kept session after
// the table it reads changed shape.
func TestPostgresSchemaChange(t *testing.T) {
	_, dsn := pgTestDB(t, "CREATE TABLE jobs (id int)", "INSERT INTO jobs VALUES (1)")
	p := pgProberOf(t, &Postgres{DSN: dsn, Query: "SELECT * FROM jobs"})
	r := pgRunOnce(t, p, 5*time.Second)
	pgWantOK(t, r)
	c, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pgClose(c)
	pgExec(t, c, "ALTER TABLE jobs ADD COLUMN state text DEFAULT 'queued'")
	r = pgRunOnce(t, p, 5*time.Second)
	pgWantOK(t, r)
	checkFacts(t, r.Facts, nightowl.Facts{"rows": []any{map[string]any{"id": int64(1), "state": "queued"}}})
}

// pgWaitFor polls a boolean query on c until it holds, for up to 10s.
func pgWaitFor(t testing.TB, c *pgx.Conn, query string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		var ok bool
		err := c.QueryRow(ctx, query).Scan(&ok)
		cancel()
		if err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still not true after 10s: %s", query)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestPostgresTimeoutCancels: a query stuck past the timeout ends the probe
// on time and is cancelled on the server, where it would otherwise run on
// and pile up with each run.
func TestPostgresTimeoutCancels(t *testing.T) {
	name, dsn := pgTestDB(t)
	start := time.Now()
	r := pgProbe(t, &Postgres{DSN: dsn, Query: "SELECT pg_sleep(60) AS slept"}, time.Second)
	if took := time.Since(start); took > 1500*time.Millisecond {
		t.Errorf("took %v with a timeout of 1s", took)
	}
	if !r.OK || r.Error != "query: timed out after 1s" {
		t.Errorf("OK = %v, Error = %q; want OK and the query timed out", r.OK, r.Error)
	}
	checkFacts(t, r.Facts, nightowl.Facts{"read_only": false, "rows": nil})
	pgWaitFor(t, pgAdmin(t), "SELECT count(*) = 0 FROM pg_stat_activity WHERE datname = '"+name+"' AND query LIKE '%pg_sleep(60)%' AND state = 'active'")
}

// TestPostgresReplication starts a primary and a streaming replica of its
// own and reproduces the failures a replica check is for: the replica
// falls behind, the primary loses its replica, the monitoring role lacks
// the privilege to see replication.
func TestPostgresReplication(t *testing.T) {
	primary := testdb.StartPostgres(t)
	replica := primary.StartReplica(t, "")
	primary.Exec(t, "CREATE TABLE beat (at timestamptz)", "INSERT INTO beat VALUES (now())")
	replicaConn := replica.Connect(t, "postgres")
	pgWaitFor(t, replicaConn, "SELECT to_regclass('beat') IS NOT NULL")

	onPrimary := pgProberOf(t, &Postgres{DSN: primary.DSN("postgres", "postgres")})
	onReplica := pgProberOf(t, &Postgres{DSN: replica.DSN("postgres", "postgres"), ExpectTables: []string{"beat"}})

	t.Run("replica", func(t *testing.T) {
		r := pgRunOnce(t, onReplica, 5*time.Second)
		pgWantOK(t, r)
		checkFacts(t, r.Facts, nightowl.Facts{"in_recovery": true, "read_only": true, "replicas": nil,
			"tables": map[string]any{"beat": true}})
		if lag, ok := r.Facts["replication_lag"].(float64); !ok || lag < 0 || lag > 5 {
			t.Errorf("replication_lag = %#v, want a few seconds at most", r.Facts["replication_lag"])
		}
		pgWantStatus(t, r, nightowl.StatusUp, "replicating: replication_lag < 30")
		pgWantStatus(t, r, nightowl.StatusDown, "writable: not read_only")
	})
	t.Run("primary", func(t *testing.T) {
		r := pgRunOnce(t, onPrimary, 5*time.Second)
		pgWantOK(t, r)
		checkFacts(t, r.Facts, nightowl.Facts{"in_recovery": false, "read_only": false, "replication_lag": nil})
		reps, _ := r.Facts["replicas"].([]any)
		if len(reps) != 1 {
			t.Fatalf("replicas = %#v, want the replica", r.Facts["replicas"])
		}
		rep := reps[0].(map[string]any)
		if rep["name"] != "127.0.0.1" || rep["state"] != "streaming" {
			t.Errorf("replica = %v, want name 127.0.0.1 (walreceiver connects from there), state streaming", rep)
		}
		if lag, ok := rep["lag_bytes"].(int64); !ok || lag < 0 {
			t.Errorf("lag_bytes = %#v, want an int64 >= 0", rep["lag_bytes"])
		}
		pgWantStatus(t, r, nightowl.StatusUp, "has_replica: len(replicas) >= 1",
			`replicas_streaming: all(replicas, .state == "streaming" and .lag_bytes < 16777216)`)
	})
	t.Run("replay paused", func(t *testing.T) {
		pgExec(t, replicaConn, "SELECT pg_wal_replay_pause()")
		t.Cleanup(func() { pgExec(t, replicaConn, "SELECT pg_wal_replay_resume()") })
		primary.Exec(t, "INSERT INTO beat VALUES (now())")
		pgWaitFor(t, replicaConn, "SELECT pg_last_wal_receive_lsn() > pg_last_wal_replay_lsn()")
		time.Sleep(200 * time.Millisecond)
		r := pgRunOnce(t, onReplica, 5*time.Second)
		pgWantOK(t, r)
		if lag, ok := r.Facts["replication_lag"].(float64); !ok || lag < 0.2 {
			t.Errorf("replication_lag = %#v, want the time since the last replayed commit", r.Facts["replication_lag"])
		}
		pgWantStatus(t, r, nightowl.StatusDown, "current: replication_lag < 0.1")
	})
	t.Run("without privileges", func(t *testing.T) {
		primary.Exec(t, "CREATE ROLE nightowl_plain LOGIN", "CREATE SCHEMA audit", "CREATE TABLE audit.log (id int)")
		plain := pgProberOf(t, &Postgres{DSN: primary.DSN("nightowl_plain", "postgres"), ExpectTables: []string{"audit.log"}})
		r := pgRunOnce(t, plain, 5*time.Second)
		want := "replicas: permission denied to read pg_stat_replication (grant pg_monitor to the monitoring role); " +
			"tables: ERROR: permission denied for schema audit (SQLSTATE 42501)"
		if !r.OK || r.Error != want || r.Facts["replicas"] != nil || r.Facts["tables"] != nil {
			t.Errorf("OK = %v, Error = %q, replicas %v, tables %v; want OK, %q, nil, nil",
				r.OK, r.Error, r.Facts["replicas"], r.Facts["tables"], want)
		}
		checkFacts(t, r.Facts, nightowl.Facts{"in_recovery": false, "read_only": false})
		pgWantStatus(t, r, nightowl.StatusDown, "has_replica: len(replicas) >= 1")

		// What docs/checks/postgres.md tells people to grant.
		primary.Exec(t, "GRANT pg_monitor TO nightowl_plain", "GRANT USAGE ON SCHEMA audit TO nightowl_plain")
		r = pgRunOnce(t, plain, 5*time.Second)
		pgWantOK(t, r)
		checkFacts(t, r.Facts, nightowl.Facts{"tables": map[string]any{"audit.log": true}})
		pgWantStatus(t, r, nightowl.StatusUp, `has_replica: any(replicas, .state == "streaming")`)
	})
	t.Run("replica lost", func(t *testing.T) {
		replica.Stop(t)
		c := primary.Connect(t, "postgres")
		pgWaitFor(t, c, "SELECT count(*) = 0 FROM pg_stat_replication")
		r := pgRunOnce(t, onPrimary, 5*time.Second)
		pgWantOK(t, r)
		checkFacts(t, r.Facts, nightowl.Facts{"replicas": []any{}})
		pgWantStatus(t, r, nightowl.StatusDown, "has_replica: len(replicas) >= 1")
	})
}

// TestPostgresProberKeepsNoSessionsAfterClose: a reload drops probers; their
// sessions must not linger on the server.
func TestPostgresProberKeepsNoSessionsAfterClose(t *testing.T) {
	name, dsn := pgTestDB(t)
	p := pgProberOf(t, &Postgres{DSN: dsn})
	pgWantOK(t, pgRunOnce(t, p, 5*time.Second))
	admin := pgAdmin(t)
	count := "SELECT count(*) %s 0 FROM pg_stat_activity WHERE datname = '" + name + "' AND application_name = 'nightowl'"
	pgWaitFor(t, admin, strings.Replace(count, "%s", ">", 1))
	p.Close()
	pgWaitFor(t, admin, strings.Replace(count, "%s", "=", 1))
}

// TestPostgresIdleSessionsExpire: a prober that is dropped without Close
// (as a config reload drops them) still lets go of the server.
func TestPostgresIdleSessionsExpire(t *testing.T) {
	name, dsn := pgTestDB(t)
	p := pgProberOf(t, &Postgres{DSN: dsn})
	p.pool.age = 300 * time.Millisecond
	pgWantOK(t, pgRunOnce(t, p, 5*time.Second))
	admin := pgAdmin(t)
	pgWaitFor(t, admin, "SELECT count(*) = 0 FROM pg_stat_activity WHERE datname = '"+name+"' AND application_name = 'nightowl'")
	// And the next run connects afresh.
	pgWantOK(t, pgRunOnce(t, p, 5*time.Second))
}
