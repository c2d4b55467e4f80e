// Package testdb starts database servers of a test's own, in temporary
// directories on free ports, for what must not happen to the shared ones:
// replication, a table corrupted on disk, replication stopped and started.
package testdb

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Exec runs statements in order on db, failing the test on the first error.
func Exec(t testing.TB, db *sql.DB, stmts ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// MariaDB is a mariadbd of a test's own, in a temporary directory and on
// a free port: for what must not happen to the shared server (replication,
// a table corrupted on disk). It is killed when the test ends.
type MariaDB struct {
	Port    int
	DataDir string
	// DSN connects as root (all privileges, no password) over TCP, with no
	// default database.
	DSN string
	DB  *sql.DB
}

// MariaDBOptions configures a test instance.
type MariaDBOptions struct {
	ServerID int  // 1 when zero
	LogBin   bool // write a binary log, as a primary must
}

// mariaDBBinaries returns the paths of mariadbd and mariadb-install-db, or
// skips the test (fails it in CI) when they are not installed.
func mariaDBBinaries(t testing.TB) (server, install string) {
	t.Helper()
	find := func(name string, dirs ...string) string {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
		for _, d := range dirs {
			if p := filepath.Join(d, name); fileExists(p) {
				return p
			}
		}
		return ""
	}
	server = find("mariadbd", "/usr/sbin", "/usr/libexec")
	install = find("mariadb-install-db", "/usr/bin", "/usr/scripts")
	if server == "" || install == "" {
		msg := "mariadbd and mariadb-install-db are needed to start a test instance (apt-get install mariadb-server)"
		SkipUnlessCI(t, msg)
	}
	return server, install
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// StartMariaDB initialises a data directory and starts mariadbd on it. It
// is tuned to start fast and stay small: a tiny buffer pool and redo log,
// no performance schema, no name resolution, and no automatic repair of
// MyISAM tables (a test that corrupts one wants to see it).
func StartMariaDB(t testing.TB, opts MariaDBOptions) *MariaDB {
	t.Helper()
	// The MariaDB packages come with the shared server the tests use.
	if os.Getenv("NIGHTOWL_TEST_MYSQL") == "" {
		SkipUnlessCI(t, "NIGHTOWL_TEST_MYSQL is not set (e.g. root@tcp(127.0.0.1:3306)/test); scripts/test sets it")
	}
	server, install := mariaDBBinaries(t)
	if opts.ServerID == 0 {
		opts.ServerID = 1
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	innodb := []string{"--innodb-buffer-pool-size=8M", "--innodb-log-file-size=4M"}

	cmd := exec.Command(install, append([]string{"--no-defaults", "--datadir=" + data, "--user=root",
		"--auth-root-authentication-method=normal", "--skip-test-db"}, innodb...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mariadb-install-db: %v\n%s", err, out)
	}
	// The grant lets root in over TCP: with --skip-name-resolve the
	// root@localhost account that install-db creates matches the socket
	// only. Not binary-logged, or a replica would fail replaying it.
	initSQL := filepath.Join(dir, "init.sql")
	if err := os.WriteFile(initSQL, []byte("SET sql_log_bin = 0;\n"+
		"CREATE USER IF NOT EXISTS root@'127.0.0.1';\n"+
		"GRANT ALL ON *.* TO root@'127.0.0.1' WITH GRANT OPTION;\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	// The port is free when chosen but may be taken before mariadbd binds
	// it; then try another.
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port := mariaDBFreePort(t)
		args := append([]string{"--no-defaults", "--datadir=" + data, "--user=root",
			"--socket=" + filepath.Join(dir, "sock"), "--pid-file=" + filepath.Join(dir, "pid"),
			"--log-error=" + filepath.Join(dir, "error.log"),
			"--bind-address=127.0.0.1", "--port=" + strconv.Itoa(port),
			"--server-id=" + strconv.Itoa(opts.ServerID), "--init-file=" + initSQL,
			"--skip-name-resolve", "--performance-schema=OFF", "--myisam-recover-options=OFF",
			"--innodb-use-native-aio=0", "--max-connections=50", "--table-open-cache=200",
			"--relay-log=" + filepath.Join(dir, "relay")}, innodb...)
		if opts.LogBin {
			args = append(args, "--log-bin="+filepath.Join(dir, "binlog"), "--binlog-format=ROW")
		}
		m, err := runMariaDB(t, server, args, port, filepath.Join(dir, "error.log"))
		if err == nil {
			m.DataDir = data
			return m
		}
		lastErr = err
	}
	t.Fatalf("start mariadbd: %v", lastErr)
	return nil
}

func mariaDBFreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// runMariaDB starts mariadbd and waits until root can run a statement over
// TCP, or the process exits.
func runMariaDB(t testing.TB, server string, args []string, port int, errLog string) (*MariaDB, error) {
	cmd := exec.Command(server, args...)
	killWithParent(cmd)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cmd.Process.Kill()
			<-exited
		})
	}

	dsn := fmt.Sprintf("root@tcp(127.0.0.1:%d)/", port)
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		stop()
		return nil, err
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err = db.PingContext(ctx)
		cancel()
		if err == nil {
			break
		}
		select {
		case <-exited:
			db.Close()
			log, _ := os.ReadFile(errLog)
			return nil, fmt.Errorf("mariadbd exited (%v): %s", waitErr, lastLines(string(log), 15))
		default:
		}
		if time.Now().After(deadline) {
			db.Close()
			stop()
			log, _ := os.ReadFile(errLog)
			return nil, fmt.Errorf("mariadbd did not answer within a minute: %v\n%s", err, lastLines(string(log), 15))
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Killed rather than shut down: the data is thrown away anyway.
	t.Cleanup(func() {
		db.Close()
		stop()
	})
	return &MariaDB{Port: port, DSN: dsn, DB: db}, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// DSNFor is the instance's DSN with a default database.
func (m *MariaDB) DSNFor(database string) string {
	cfg, err := mysql.ParseDSN(m.DSN)
	if err != nil {
		panic(err)
	}
	cfg.DBName = database
	return cfg.FormatDSN()
}

// Exec runs statements on the instance as root.
func (m *MariaDB) Exec(t testing.TB, stmts ...string) {
	t.Helper()
	Exec(t, m.DB, stmts...)
}

// ReplicateFrom makes m a replica of primary (which must have LogBin) from
// the start of its binary log, and starts replication. It does not wait for
// the replica to connect.
func (m *MariaDB) ReplicateFrom(t testing.TB, primary *MariaDB) {
	t.Helper()
	m.Exec(t, fmt.Sprintf("CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = %d, "+
		"MASTER_USER = 'root', MASTER_PASSWORD = '', MASTER_CONNECT_RETRY = 1, MASTER_USE_GTID = slave_pos",
		primary.Port), "START SLAVE")
}

// StartMariaDBReplication starts a primary and a replica of it.
func StartMariaDBReplication(t testing.TB) (primary, replica *MariaDB) {
	t.Helper()
	primary = StartMariaDB(t, MariaDBOptions{ServerID: 1, LogBin: true})
	replica = StartMariaDB(t, MariaDBOptions{ServerID: 2})
	replica.ReplicateFrom(t, primary)
	return primary, replica
}

// WaitFor waits until query, which returns one number, returns more
// than zero on m: for what replication brings over.
func WaitFor(t testing.TB, m *MariaDB, query string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n int
		err := m.DB.QueryRow(query).Scan(&n)
		if err == nil && n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still %d after 30s (%v)", query, n, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
