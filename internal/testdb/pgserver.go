package testdb

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PGServer is a PostgreSQL instance of a test's own: initdb'ed into a
// directory under /tmp, listening on 127.0.0.1 on a port of its own, with
// trust authentication, stopped and removed when the test ends. It is for
// what the shared test server cannot be put through: replication, failover,
// being stopped.
type PGServer struct {
	Port int
	bin  string // where initdb, pg_ctl and pg_basebackup are
	base string // owned by the server's OS user; holds data, socket, log
	data string
	run  pgRunner
}

// pgRunner runs the PostgreSQL tools as an OS user that may run them:
// the postgres user when the tests run as root, which PostgreSQL refuses.
type pgRunner struct {
	asUser   string // "" to run as the current user
	uid, gid int
}

// pgBinDir finds the newest installed PostgreSQL's programs, or skips the
// test (fails it in CI).
func pgBinDir(t testing.TB) string {
	t.Helper()
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	var found []string
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			found = append(found, d)
		}
	}
	sort.Slice(found, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(found[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(found[j])))
		return vi < vj
	})
	if len(found) > 0 {
		return found[len(found)-1]
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		d := strings.TrimSpace(string(out))
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d
		}
	}
	SkipUnlessCI(t, "no PostgreSQL server programs (initdb) in /usr/lib/postgresql/*/bin or pg_config --bindir; apt-get install postgresql")
	return ""
}

func newPGRunner(t testing.TB) pgRunner {
	t.Helper()
	if os.Geteuid() != 0 {
		return pgRunner{uid: -1, gid: -1}
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		SkipUnlessCI(t, "running as root and there is no postgres OS user to run PostgreSQL as")
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return pgRunner{asUser: "postgres", uid: uid, gid: gid}
}

// cmd runs a PostgreSQL program in dir, a directory the user can enter
// (initdb and pg_ctl want to know their working directory).
func (r pgRunner) cmd(dir, prog string, args ...string) *exec.Cmd {
	var c *exec.Cmd
	if r.asUser == "" {
		c = exec.Command(prog, args...)
	} else {
		c = exec.Command("runuser", append([]string{"-u", r.asUser, "--", prog}, args...)...)
	}
	c.Dir = dir
	// Settings of the environment (PGHOST, PGPORT, …) would send the
	// tools elsewhere.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") {
			c.Env = append(c.Env, kv)
		}
	}
	return c
}

func (r pgRunner) run(t testing.TB, dir, prog string, args ...string) {
	t.Helper()
	out, err := r.cmd(dir, prog, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(prog), strings.Join(args, " "), err, out)
	}
}

// newPGBase makes the directory an instance lives in, owned by the user
// that runs it. t.TempDir's directories may not be reachable by that user.
func newPGBase(t testing.TB, r pgRunner) string {
	t.Helper()
	base, err := os.MkdirTemp("/tmp", "nightowl-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if err := os.Chmod(base, 0o700); err != nil {
		t.Fatal(err)
	}
	if r.uid >= 0 {
		if err := os.Chown(base, r.uid, r.gid); err != nil {
			t.Fatal(err)
		}
	}
	return base
}

// pgFreePort returns a port on 127.0.0.1 that nothing listened on a moment ago.
func pgFreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// pgTestSettings trade durability for speed: these instances live for one
// test.
var pgTestSettings = []string{
	"listen_addresses = '127.0.0.1'",
	"shared_buffers = 16MB",
	"max_connections = 30",
	"fsync = off",
	"synchronous_commit = off",
	"full_page_writes = off",
	"wal_level = replica",
	"max_wal_senders = 5",
	"max_replication_slots = 5",
	"wal_keep_size = 64MB",
	"logging_collector = off",
	"log_min_messages = warning",
}

// StartPostgres initdb's and starts an instance that replicas can stream
// from. settings are extra postgresql.conf lines.
func StartPostgres(t testing.TB, settings ...string) *PGServer {
	t.Helper()
	bin := pgBinDir(t)
	r := newPGRunner(t)
	base := newPGBase(t, r)
	s := &PGServer{Port: pgFreePort(t), bin: bin, base: base, data: filepath.Join(base, "data"), run: r}
	r.run(t, base, filepath.Join(bin, "initdb"), "-D", s.data, "-U", "postgres", "--auth=trust",
		"-E", "UTF8", "--no-locale", "--no-sync", "--no-instructions")
	s.appendFile(t, "pg_hba.conf", "host replication all 127.0.0.1/32 trust")
	s.configure(t, settings)
	s.start(t)
	return s
}

// StartReplica takes a base backup of s and starts it as a streaming
// replica on a port of its own. name becomes its cluster_name, which is
// the application_name it connects with ("" leaves it "walreceiver"). It
// returns once the primary reports it streaming.
func (s *PGServer) StartReplica(t testing.TB, name string, settings ...string) *PGServer {
	t.Helper()
	base := newPGBase(t, s.run)
	rs := &PGServer{Port: pgFreePort(t), bin: s.bin, base: base, data: filepath.Join(base, "data"), run: s.run}
	s.run.run(t, base, filepath.Join(s.bin, "pg_basebackup"), "-D", rs.data, "-h", "127.0.0.1",
		"-p", strconv.Itoa(s.Port), "-U", "postgres", "-R", "-X", "stream", "-c", "fast", "--no-sync")
	if name != "" {
		settings = append(settings, "cluster_name = '"+name+"'")
	}
	rs.configure(t, settings)
	rs.start(t)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := s.Connect(t, "postgres")
	for {
		var n int
		err := c.QueryRow(ctx, `SELECT count(*) FROM pg_stat_replication
			WHERE state = 'streaming' AND client_port IS NOT NULL AND replay_lsn IS NOT NULL`).Scan(&n)
		if err != nil {
			t.Fatalf("wait for the replica to stream: %v\n%s", err, rs.logTail())
		}
		if n > 0 {
			return rs
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the replica on port %d did not start streaming within 30s\n%s", rs.Port, rs.logTail())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// configure appends the test settings, then the caller's, which win. The
// socket goes into the instance's own directory, away from the system
// server's.
func (s *PGServer) configure(t testing.TB, settings []string) {
	t.Helper()
	lines := append([]string{}, pgTestSettings...)
	lines = append(lines, "port = "+strconv.Itoa(s.Port), "unix_socket_directories = '"+s.base+"'")
	s.appendFile(t, "postgresql.conf", append(lines, settings...)...)
}

func (s *PGServer) appendFile(t testing.TB, name string, lines ...string) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(s.data, name), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("\n" + strings.Join(lines, "\n") + "\n"); err != nil {
		t.Fatal(err)
	}
}

func (s *PGServer) start(t testing.TB) {
	t.Helper()
	s.Start(t)
	t.Cleanup(func() { s.Stop(t) })
}

// Start starts the instance again after Stop, on the same port with the
// same data.
func (s *PGServer) Start(t testing.TB) {
	t.Helper()
	logFile := filepath.Join(s.base, "server.log")
	out, err := s.run.cmd(s.base, filepath.Join(s.bin, "pg_ctl"), "-D", s.data, "-l", logFile, "-w", "-t", "60", "start").CombinedOutput()
	if err != nil {
		t.Fatalf("pg_ctl start: %v\n%s\n%s", err, out, s.logTail())
	}
}

// Stop stops the instance at once, as a crash would; stopping twice is fine.
func (s *PGServer) Stop(t testing.TB) {
	if _, err := os.Stat(filepath.Join(s.data, "postmaster.pid")); err != nil {
		return
	}
	out, err := s.run.cmd(s.base, filepath.Join(s.bin, "pg_ctl"), "-D", s.data, "-m", "immediate", "-w", "stop").CombinedOutput()
	if err != nil {
		t.Errorf("pg_ctl stop: %v\n%s", err, out)
	}
}

// DSN reaches database db as user.
func (s *PGServer) DSN(user, db string) string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", user, s.Port, db)
}

// Connect opens a connection as postgres, closed at cleanup.
func (s *PGServer) Connect(t testing.TB, db string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, s.DSN("postgres", db))
	if err != nil {
		t.Fatalf("connect to the test instance on port %d: %v", s.Port, err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// Exec runs statements on database postgres as postgres.
func (s *PGServer) Exec(t testing.TB, stmts ...string) {
	t.Helper()
	c := s.Connect(t, "postgres")
	for _, q := range stmts {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := c.Exec(ctx, q)
		cancel()
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

func (s *PGServer) logTail() string {
	b, _ := os.ReadFile(filepath.Join(s.base, "server.log"))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}
