package main

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/nightowl/nightowl/internal/testdb"
)

// TestStoreCopy moves a server from SQLite to PostgreSQL as an operator
// would: a server on SQLite opens an alert, which is acknowledged, and an
// incident; the copy is refused while it runs; once it stops, the copy
// goes into an empty database, a second copy is refused, and a server on
// PostgreSQL goes on where the first stopped: the same token signs in, the
// same alert is acknowledged, incidents count on, and the audit chain
// verifies with the head it had.
func TestStoreCopy(t *testing.T) {
	dir := t.TempDir()
	const body = `server: {listen: %q}
defaults: {interval: 1s, timeout: 1s, fail_after: 1}
checks:
  - name: refused
    tcp: {addr: "127.0.0.1:1"}
storage: {%s: %q}
`
	addr := freePort(t)
	cfg := writeFile(t, dir, "nightowl.yaml", fmt.Sprintf(body, addr, "sqlite", filepath.Join(dir, "nightowl.db")))
	token := adminToken(t, cfg)
	stop := serveReady(t, cfg, addr)
	env := map[string]string{"NIGHTOWL_URL": "http://" + addr, "NIGHTOWL_TOKEN": token}
	var alert string
	waitUntil(t, "an open alert in status", func() bool {
		_, out, _ := runCmd(t, env, "status")
		i := strings.Index(out, "Open alerts")
		if i < 0 {
			return false
		}
		for _, line := range strings.Split(out[i:], "\n") {
			if f := strings.Fields(line); len(f) >= 3 && f[1] == "refused" {
				alert = f[0]
			}
		}
		return alert != ""
	})
	if code, out, errOut := runCmd(t, env, "ack", alert); code != 0 {
		t.Fatalf("ack: exit %d: %s%s", code, out, errOut)
	}
	if code, out, errOut := runCmd(t, env, "incident", "open", "--title", "Refused", "--message", "Looking."); code != 0 || !strings.Contains(out, "inc-1") {
		t.Fatalf("incident open: exit %d: %s%s", code, out, errOut)
	}

	dsn := testdb.PostgresSchema(t)
	if code, _, errOut := runCmd(t, nil, "store", "copy", "-c", cfg, "--to", dsn); code != 1 || !strings.Contains(errOut, "server is running") {
		t.Errorf("copy under a running server: exit %d: %s", code, errOut)
	}
	if code, serveErr := stop(); code != 0 {
		t.Fatalf("serve exited %d: %s", code, serveErr)
	}
	code, out, errOut := runCmd(t, nil, "audit", "verify", "-c", cfg)
	head := regexp.MustCompile(`head ([0-9a-f]{64})`).FindStringSubmatch(out)
	if code != 0 || head == nil {
		t.Fatalf("audit verify on sqlite: exit %d: %s%s", code, out, errOut)
	}
	// A rollup long past its retention, which a server would prune when
	// it next starts: the copy carries it, as every other row.
	want := rowCounts(t, filepath.Join(dir, "nightowl.db"), `INSERT INTO rollups SELECT check_id, period, start - 2 * 366 * 86400,
		runs, failures, max_ns, hist FROM rollups LIMIT 1`)
	code, out, errOut = runCmd(t, nil, "store", "copy", "-c", cfg, "--to", dsn)
	if code != 0 || !strings.Contains(out, "copied ") {
		t.Fatalf("store copy: exit %d:\n%s%s", code, out, errOut)
	}
	for table, n := range want {
		if !regexp.MustCompile(`(?m)^` + table + `\s+` + fmt.Sprint(n) + `$`).MatchString(out) {
			t.Errorf("the copy does not say it copied the %d rows of %s:\n%s", n, table, out)
		}
	}
	if code, out, errOut := runCmd(t, nil, "store", "copy", "-c", cfg, "--to", dsn); code != 1 || !strings.Contains(errOut, "already holds nightowl data") {
		t.Errorf("a second copy: exit %d: %s%s", code, out, errOut)
	}

	addr2 := freePort(t)
	cfg2 := writeFile(t, dir, "postgres.yaml", fmt.Sprintf(body, addr2, "postgres", dsn))
	if code, out, errOut := runCmd(t, nil, "audit", "verify", "-c", cfg2, "--expect-head", head[1]); code != 0 || !strings.Contains(out, "head "+head[1]) {
		t.Fatalf("audit verify on postgres: exit %d: %s%s", code, out, errOut)
	}
	if code, _, errOut := runCmd(t, nil, "store", "copy", "-c", cfg2, "--to", dsn); code != 1 || !strings.Contains(errOut, "PostgreSQL already") {
		t.Errorf("copy from a postgres config: exit %d: %s", code, errOut)
	}
	stop = serveReady(t, cfg2, addr2)
	env = map[string]string{"NIGHTOWL_URL": "http://" + addr2, "NIGHTOWL_TOKEN": token}
	if code, out, errOut := runCmd(t, env, "status"); code == 2 || !strings.Contains(out, alert) || !strings.Contains(out, "acknowledged") {
		t.Errorf("status on postgres: exit %d:\n%s%s", code, out, errOut)
	}
	if code, out, errOut := runCmd(t, env, "incident", "open", "--title", "Again", "--message", "Once more."); code != 0 || !strings.Contains(out, "inc-2") {
		t.Errorf("incident open on postgres: exit %d: %s%s", code, out, errOut)
	}
	if code, serveErr := stop(); code != 0 {
		t.Fatalf("serve on postgres exited %d: %s", code, serveErr)
	}
	if code, out, errOut := runCmd(t, nil, "audit", "verify", "-c", cfg2, "--expect-head", head[1]); code != 0 || strings.Contains(out, "head "+head[1]) {
		t.Errorf("audit verify after the server on postgres went on: exit %d: %s%s", code, out, errOut)
	}
}

func TestStoreCopyUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"store"}, "usage: nightowl store copy"},
		{[]string{"store", "move"}, `unknown subcommand "move"`},
		{[]string{"store", "copy"}, "usage: nightowl store copy"},
		{[]string{"store", "copy", "--to", "x", "extra"}, "usage: nightowl store copy"},
	} {
		if code, _, errOut := runCmd(t, nil, tc.args...); code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d: %s", tc.args, code, errOut)
		}
	}
	cfg := writeFile(t, t.TempDir(), "nightowl.yaml", "storage: {sqlite: nightowl.db}\n")
	if code, _, errOut := runCmd(t, nil, "store", "copy", "-c", cfg, "--to", "postgres://nobody@127.0.0.1:1/x"); code != 1 || !strings.Contains(errOut, "nightowl.db") {
		t.Errorf("copy of a store that is not there: exit %d: %s", code, errOut)
	}
}

// rowCounts runs stmt on the SQLite database at path, then counts the rows
// of the tables a copy carries, which a server has written to.
func rowCounts(t *testing.T, path, stmt string) map[string]int {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(stmt); err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, table := range []string{"checks", "states", "results", "rollups", "events", "alerts", "secrets", "users", "tokens",
		"incidents", "incident_updates", "audit_log", "audit_head"} {
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM ` + table).Scan(&n); err != nil || n == 0 {
			t.Fatalf("%s: %d rows, %v", table, n, err)
		}
		counts[table] = n
	}
	return counts
}
