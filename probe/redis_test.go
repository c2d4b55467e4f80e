package probe

import (
	"bufio"
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/assert"
	"github.com/nightowl/nightowl/internal/testdb"
)

// redisTestDB is the database the tests write to on the shared server; they
// empty it when they finish.
const redisTestDB = 9

// testRedis returns the address of the shared test server.
func testRedis(t *testing.T) string {
	t.Helper()
	addr := os.Getenv("NIGHTOWL_TEST_REDIS")
	if addr == "" {
		testdb.SkipUnlessCI(t, "NIGHTOWL_TEST_REDIS not set (e.g. 127.0.0.1:6379, or run scripts/test)")
	}
	return addr
}

// redisAdmin is a connection for setting up and inspecting a test server.
type redisAdmin struct {
	t *testing.T
	c *respConn
}

func dialRedisAdmin(t *testing.T, addr string, db int) *redisAdmin {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("connect to test redis: %v", err)
	}
	a := &redisAdmin{t: t, c: newRespConn(conn)}
	t.Cleanup(func() { a.c.Close() })
	if db != 0 {
		a.do("SELECT", strconv.Itoa(db))
	}
	return a
}

func (a *redisAdmin) do(args ...string) any {
	a.t.Helper()
	v, err := a.try(args...)
	if err != nil {
		a.t.Fatalf("%s: %v", args[0], err)
	}
	return v
}

func (a *redisAdmin) try(args ...string) (any, error) {
	a.c.conn.SetDeadline(time.Now().Add(10 * time.Second))
	return a.c.do(args...)
}

// config returns a setting and restores it when the test ends.
func (a *redisAdmin) keepConfig(name string) string {
	a.t.Helper()
	v := a.do("CONFIG", "GET", name).([]any)
	if len(v) != 2 {
		a.t.Fatalf("CONFIG GET %s: %v", name, v)
	}
	old := v[1].(string)
	a.t.Cleanup(func() { a.do("CONFIG", "SET", name, old) })
	return old
}

func (a *redisAdmin) info(section string) map[string]any {
	a.t.Helper()
	return parseRedisInfo(a.do("INFO", section).(string))
}

// useTestDB writes n keys to the test database, which is emptied when the
// test ends.
func useTestDB(t *testing.T, addr string, n int) *redisAdmin {
	t.Helper()
	a := dialRedisAdmin(t, addr, redisTestDB)
	a.do("FLUSHDB")
	t.Cleanup(func() { a.do("FLUSHDB") })
	for i := range n {
		a.do("SET", "nightowl-test:"+strconv.Itoa(i), strings.Repeat("x", 100))
	}
	return a
}

// startRedis runs a private redis-server in a temporary directory until the
// test ends; args choose its ports (--port, --tls-port) and role. It returns
// once port accepts connections.
func startRedis(t *testing.T, port string, args ...string) {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		testdb.SkipUnlessCI(t, "redis-server not installed")
	}
	dir := t.TempDir()
	log := filepath.Join(dir, "redis.log")
	argv := append([]string{"--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir,
		"--daemonize", "no", "--logfile", log}, args...)
	cmd := exec.Command(bin, argv...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	addr := net.JoinHostPort("127.0.0.1", port)
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		select {
		case <-exited:
			b, _ := os.ReadFile(log)
			t.Fatalf("redis-server %v exited: %s", args, b)
		default:
		}
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
	}
	b, _ := os.ReadFile(log)
	t.Fatalf("redis-server %v did not listen on %s: %s", args, addr, b)
}

func freePort(t *testing.T) string {
	_, port, _ := net.SplitHostPort(closedAddr(t))
	return port
}

// evalOn compiles an assertion over redis or exec facts and runs it.
func evalOn(t *testing.T, typ, src string, f nightowl.Facts) nightowl.AssertionResult {
	t.Helper()
	var c assert.Compiler
	a, err := c.Compile(typ, Types[typ].Facts, "a", src, "")
	if err != nil {
		t.Fatalf("compile %s: %v", src, err)
	}
	return a.Eval(f)
}

// waitRedis probes until cond holds on the facts, and returns the last result.
func waitRedis(t *testing.T, spec *Redis, within time.Duration, what string, cond func(nightowl.Result) bool) nightowl.Result {
	t.Helper()
	var r nightowl.Result
	for end := time.Now().Add(within); ; time.Sleep(100 * time.Millisecond) {
		r = runProbe(t, nil, spec, 5*time.Second)
		if cond(r) {
			return r
		}
		if time.Now().After(end) {
			t.Fatalf("%s: not within %v; error %q, facts %v", what, within, r.Error, factsBrief(r.Facts))
		}
	}
}

// factsBrief leaves the long info map out of failure messages.
func factsBrief(f nightowl.Facts) nightowl.Facts {
	out := nightowl.Facts{}
	for k, v := range f {
		if k != "info" {
			out[k] = v
		}
	}
	return out
}

func TestRedisFacts(t *testing.T) {
	addr := testRedis(t)
	useTestDB(t, addr, 3)
	r := runProbe(t, nil, &Redis{Addr: addr, DB: redisTestDB}, 5*time.Second)
	checkError(t, r, true, "")
	checkFacts(t, r.Facts, nightowl.Facts{"role": "master", "master_link_up": nil})
	info := r.Facts["info"].(map[string]any)
	types := map[string]string{
		"connected_clients":       "int",
		"used_memory":             "int",
		"uptime_in_seconds":       "int",
		"rdb_bgsave_in_progress":  "int",
		"mem_fragmentation_ratio": "float64",
		"used_cpu_sys":            "float64",
		"redis_version":           "string",
		"redis_git_sha1":          "string",
		"run_id":                  "string",
		"role":                    "string",
		"rdb_last_bgsave_status":  "string",
		"aof_last_write_status":   "string",
		"used_memory_human":       "string",
		"db9":                     "map[string]interface {}",
	}
	for k, want := range types {
		if got := fmt.Sprintf("%T", info[k]); got != want {
			t.Errorf("info.%s = %#v (%s), want a %s", k, info[k], got, want)
		}
	}
	if got := info["db9"].(map[string]any)["keys"]; got != 3 {
		t.Errorf("info.db9.keys = %#v, want 3", got)
	}
	if len(info) < 100 {
		t.Errorf("info has %d fields, want every INFO field", len(info))
	}
	if v, ok := r.Facts["bgsave_running_for"].(float64); !ok || v != 0 {
		t.Errorf("bgsave_running_for = %#v, want 0 when idle", r.Facts["bgsave_running_for"])
	}
	if v, ok := r.Facts["last_save_age"].(float64); !ok || v < 0 {
		t.Errorf("last_save_age = %#v", r.Facts["last_save_age"])
	}
	if got := judgeDefaults(t, "redis", r); got != nightowl.StatusUp {
		t.Errorf("status %s, want up", got)
	}
	for _, src := range []string{`info.db9.keys == 3`, `info.connected_clients >= 1`, `info.rdb_last_bgsave_status in ["ok", "err"]`,
		`role == "master"`, `info.mem_fragmentation_ratio > 0`} {
		if res := evalOn(t, "redis", src, r.Facts); !res.OK {
			t.Errorf("%s: %s", src, res.Message)
		}
	}
}

func TestRedisUnsavedChanges(t *testing.T) {
	addr := testRedis(t)
	admin := dialRedisAdmin(t, addr, 0)
	if admin.keepConfig("save") != "" {
		admin.do("CONFIG", "SET", "save", "")
	}
	const n = 200
	useTestDB(t, addr, n)
	r := runProbe(t, nil, &Redis{Addr: addr}, 5*time.Second)
	checkError(t, r, true, "")
	changes, ok := r.Facts["info"].(map[string]any)["rdb_changes_since_last_save"].(int)
	if !ok || changes < n {
		t.Fatalf("info.rdb_changes_since_last_save = %#v, want >= %d", r.Facts["info"].(map[string]any)["rdb_changes_since_last_save"], n)
	}
	res := evalOn(t, "redis", "info.rdb_changes_since_last_save < 100", r.Facts)
	if res.OK {
		t.Fatal("persisted held with unsaved changes")
	}
	if want := "info.rdb_changes_since_last_save < 100 (info.rdb_changes_since_last_save = "; !strings.HasPrefix(res.Message, want) {
		t.Errorf("message %q, want it to start %q", res.Message, want)
	}
	r.Assertions = []nightowl.AssertionResult{res}
	if r.Judge(); r.Status != nightowl.StatusDown {
		t.Errorf("status %s, want down", r.Status)
	}
}

func TestRedisSlowBGSAVE(t *testing.T) {
	addr := testRedis(t)
	admin := dialRedisAdmin(t, addr, 0)
	if admin.info("persistence")["rdb_bgsave_in_progress"] != 0 {
		t.Fatal("a BGSAVE is already running on the test server")
	}
	useTestDB(t, addr, 50)
	// The delay applies to every key the save writes, in every database;
	// aim for a save of about four seconds, long enough to be seen running
	// for more than a second.
	keys := 0
	for k, v := range admin.info("keyspace") {
		if m, ok := v.(map[string]any); ok && strings.HasPrefix(k, "db") {
			keys += m["keys"].(int)
		}
	}
	delay := max(1, int(4*time.Second/time.Microsecond)/keys)
	old := admin.keepConfig("rdb-key-save-delay")
	// Registered after keepConfig, so it runs first: with the delay back
	// at its old value the save still runs at the pace it started with,
	// so wait for it to end before the next test.
	t.Cleanup(func() {
		admin.do("CONFIG", "SET", "rdb-key-save-delay", old)
		for end := time.Now().Add(time.Minute); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
			if admin.info("persistence")["rdb_bgsave_in_progress"] == 0 {
				return
			}
		}
		t.Error("BGSAVE still running a minute after the test")
	})
	admin.do("CONFIG", "SET", "rdb-key-save-delay", strconv.Itoa(delay))
	if v := admin.do("BGSAVE"); v != "Background saving started" {
		t.Fatalf("BGSAVE: %v", v)
	}

	spec := &Redis{Addr: addr}
	var c assert.Compiler
	saving, err := c.Compile("redis", redisFacts, "saving", "bgsave_running_for < 1", "")
	if err != nil {
		t.Fatal(err)
	}
	r := waitRedis(t, spec, 10*time.Second, "bgsave_running_for >= 1", func(r nightowl.Result) bool {
		v, _ := r.Facts["bgsave_running_for"].(float64)
		return v >= 1
	})
	r.Assertions = []nightowl.AssertionResult{saving.Eval(r.Facts)}
	if r.Judge(); r.Status != nightowl.StatusDown {
		t.Errorf("status %s while BGSAVE runs for %v s, want down", r.Status, r.Facts["bgsave_running_for"])
	}
	if msg := r.Assertions[0].Message; !strings.HasPrefix(msg, "bgsave_running_for < 1 (bgsave_running_for = ") {
		t.Errorf("message %q", msg)
	}
	if got := r.Facts["info"].(map[string]any)["rdb_bgsave_in_progress"]; got != 1 {
		t.Errorf("info.rdb_bgsave_in_progress = %#v, want 1", got)
	}

	r = waitRedis(t, spec, 30*time.Second, "BGSAVE done", func(r nightowl.Result) bool {
		return r.Facts["bgsave_running_for"] == 0.0
	})
	r.Assertions = []nightowl.AssertionResult{saving.Eval(r.Facts)}
	if r.Judge(); r.Status != nightowl.StatusUp {
		t.Errorf("status %s after BGSAVE, want up: %v", r.Status, r.Assertions)
	}
	info := r.Facts["info"].(map[string]any)
	if info["rdb_last_bgsave_status"] != "ok" {
		t.Errorf("info.rdb_last_bgsave_status = %v", info["rdb_last_bgsave_status"])
	}
	if age, _ := r.Facts["last_save_age"].(float64); age > 5 {
		t.Errorf("last_save_age = %v right after a save", age)
	}
}

func TestRedisAuth(t *testing.T) {
	addr := testRedis(t)
	admin := dialRedisAdmin(t, addr, 0)
	user := fmt.Sprintf("nightowl-test-%d", os.Getpid())
	const password = "s3cret-pa55word"
	// The least a check needs: PING, INFO and, for db, SELECT.
	admin.do("ACL", "SETUSER", user, "reset", "on", ">"+password, "+ping", "+info", "+select")
	admin.do("ACL", "SETUSER", user+"-noinfo", "reset", "on", ">"+password, "+ping")
	t.Cleanup(func() { admin.do("ACL", "DELUSER", user, user+"-noinfo") })

	tests := []struct {
		name    string
		spec    Redis
		wantOK  bool
		wantErr string
	}{
		{"acl user", Redis{Addr: addr, Username: user, Password: password, DB: redisTestDB}, true, ""},
		{"wrong password", Redis{Addr: addr, Username: user, Password: "wrong-" + password}, false,
			"auth as " + user + ": WRONGPASS invalid username-password pair or user is disabled."},
		{"unknown user", Redis{Addr: addr, Username: user + "-nobody", Password: password}, false, "auth as " + user + "-nobody: WRONGPASS"},
		{"password without a configured one", Redis{Addr: addr, Password: password}, false, "auth: ERR AUTH <password> called without any password configured"},
		{"no info permission", Redis{Addr: addr, Username: user + "-noinfo", Password: password}, false, "info: NOPERM"},
		{"no select permission", Redis{Addr: addr, Username: user + "-noinfo", Password: password, DB: 1}, false, "select db 1: NOPERM"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runProbe(t, nil, &tt.spec, 5*time.Second)
			checkError(t, r, tt.wantOK, tt.wantErr)
			if strings.Contains(r.Error, password) {
				t.Errorf("error %q shows the password", r.Error)
			}
			want := nightowl.StatusUp
			if !tt.wantOK {
				want = nightowl.StatusDown
			}
			if got := judgeDefaults(t, "redis", r); got != want {
				t.Errorf("status %s, want %s", got, want)
			}
		})
	}

	t.Run("password required", func(t *testing.T) {
		port := freePort(t)
		startRedis(t, port, "--port", port, "--requirepass", password)
		a := net.JoinHostPort("127.0.0.1", port)
		r := runProbe(t, nil, &Redis{Addr: a}, 5*time.Second)
		checkError(t, r, false, "ping: NOAUTH Authentication required.")
		r = runProbe(t, nil, &Redis{Addr: a, Password: password}, 5*time.Second)
		checkError(t, r, true, "")
		r = runProbe(t, nil, &Redis{Addr: a, Password: "nope"}, 5*time.Second)
		checkError(t, r, false, "auth: WRONGPASS")
	})
}

func TestRedisUnreachable(t *testing.T) {
	refused := closedAddr(t)
	silent := serveTCP(t, listenTCP(t), func(c net.Conn) { time.Sleep(3 * time.Second) })
	httpish := serveTCP(t, listenTCP(t), func(c net.Conn) {
		bufio.NewReader(c).ReadString('\n')
		c.Write([]byte("HTTP/1.1 400 Bad Request\r\n\r\n"))
	})
	tests := []struct {
		name    string
		addr    string
		timeout time.Duration
		wantErr string
	}{
		{"refused", refused, 2 * time.Second, "connect " + refused + ": connection refused"},
		{"silent", silent, 300 * time.Millisecond, "ping: timed out after 300ms"},
		{"not redis", httpish, 2 * time.Second, `ping: not a Redis reply: "HTTP/1.1 400 Bad Request"`},
		{"unknown host", "nightowl-no-such-host.invalid:6379", 2 * time.Second, "resolve nightowl-no-such-host.invalid: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			r := runProbe(t, nil, &Redis{Addr: tt.addr}, tt.timeout)
			if took := time.Since(start); took > tt.timeout+time.Second {
				t.Errorf("took %v with a %v timeout", took, tt.timeout)
			}
			checkError(t, r, false, tt.wantErr)
			checkFacts(t, r.Facts, nightowl.Facts{"role": nil, "info": nil, "bgsave_running_for": nil, "master_link_up": nil})
			if got := judgeDefaults(t, "redis", r); got != nightowl.StatusDown {
				t.Errorf("status %s, want down", got)
			}
		})
	}
}

func TestRedisReplica(t *testing.T) {
	master := testRedis(t)
	host, mport, _ := net.SplitHostPort(master)
	admin := dialRedisAdmin(t, master, 0)
	// A diskless sync waits five seconds by default for more replicas to
	// join it.
	admin.keepConfig("repl-diskless-sync-delay")
	admin.do("CONFIG", "SET", "repl-diskless-sync-delay", "0")

	link := func(t *testing.T, r nightowl.Result) nightowl.AssertionResult {
		return evalOn(t, "redis", "master_link_up", r.Facts)
	}

	t.Run("linked", func(t *testing.T) {
		port := freePort(t)
		startRedis(t, port, "--port", port, "--replicaof", host, mport)
		spec := &Redis{Addr: net.JoinHostPort("127.0.0.1", port)}
		r := waitRedis(t, spec, 30*time.Second, "master_link_up", func(r nightowl.Result) bool {
			return r.Facts["master_link_up"] == true
		})
		checkFacts(t, r.Facts, nightowl.Facts{"role": "slave"})
		if info := r.Facts["info"].(map[string]any); info["master_port"] != mustAtoi(t, mport) {
			t.Errorf("info.master_port = %#v", info["master_port"])
		}
		if res := link(t, r); !res.OK {
			t.Errorf("master_link_up: %s", res.Message)
		}
		for _, src := range []string{"info.master_last_io_seconds_ago < 30", "info.master_sync_in_progress == 0"} {
			if res := evalOn(t, "redis", src, r.Facts); !res.OK {
				t.Errorf("on the replica: %s", res.Message)
			}
		}
		// The master lists its replica as a map.
		r = waitRedis(t, &Redis{Addr: master}, 10*time.Second, "replica online", func(r nightowl.Result) bool {
			return evalOn(t, "redis", `info.connected_slaves >= 1 and info.slave0.state == "online" and info.slave0.lag < 10`, r.Facts).OK
		})
		found := false
		for k, v := range r.Facts["info"].(map[string]any) {
			if m, ok := v.(map[string]any); ok && strings.HasPrefix(k, "slave") && m["port"] == mustAtoi(t, port) {
				found = true
			}
		}
		if !found {
			t.Errorf("the master's info lists no replica on port %s", port)
		}
	})

	t.Run("dead master", func(t *testing.T) {
		port := freePort(t)
		_, dead, _ := net.SplitHostPort(closedAddr(t))
		startRedis(t, port, "--port", port, "--replicaof", "127.0.0.1", dead)
		r := runProbe(t, nil, &Redis{Addr: net.JoinHostPort("127.0.0.1", port)}, 5*time.Second)
		checkError(t, r, true, "")
		checkFacts(t, r.Facts, nightowl.Facts{"role": "slave", "master_link_up": false})
		res := link(t, r)
		if res.OK {
			t.Error("master_link_up held with a dead master")
		}
		r.Assertions = []nightowl.AssertionResult{res}
		if r.Judge(); r.Status != nightowl.StatusDown {
			t.Errorf("status %s, want down", r.Status)
		}
	})
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestRedisTLS(t *testing.T) {
	ca := newTestCA(t, "redis CA")
	cert := ca.issue(t, leafOpts{subject: pkix.Name{CommonName: "redis.test"}, dnsNames: []string{"redis.test"}, ips: localhost, expires: 24 * time.Hour})
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	key, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key}), 0o600)
	caFile := ca.caFile(t)
	port := freePort(t)
	startRedis(t, port, "--port", "0", "--tls-port", port, "--tls-cert-file", certFile, "--tls-key-file", keyFile,
		"--tls-ca-cert-file", caFile, "--tls-auth-clients", "no")
	addr := net.JoinHostPort("127.0.0.1", port)

	tests := []struct {
		name    string
		spec    Redis
		wantOK  bool
		wantErr string
	}{
		{"trusted", Redis{Addr: addr, TLS: true, CAFile: caFile}, true, ""},
		{"server name", Redis{Addr: addr, TLS: true, CAFile: caFile, ServerName: "redis.test"}, true, ""},
		{"untrusted", Redis{Addr: addr, TLS: true}, false, "tls handshake with " + addr + ": x509: certificate signed by unknown authority"},
		{"wrong name", Redis{Addr: addr, TLS: true, CAFile: caFile, ServerName: "other.test"}, false, "tls handshake with " + addr + ": x509: certificate is valid for redis.test, not other.test"},
		{"insecure", Redis{Addr: addr, TLS: true, InsecureSkipVerify: true}, true, ""},
		{"plain to a tls port", Redis{Addr: addr}, false, "ping: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runProbe(t, nil, &tt.spec, 2*time.Second)
			checkError(t, r, tt.wantOK, tt.wantErr)
			if tt.wantOK {
				checkFacts(t, r.Facts, nightowl.Facts{"role": "master"})
			}
		})
	}
}

// TestRedisReusesConnections runs a check several times on one connection,
// and recovers when the server closed it in between.
func TestRedisReusesConnections(t *testing.T) {
	port := freePort(t)
	startRedis(t, port, "--port", port)
	addr := net.JoinHostPort("127.0.0.1", port)
	p, err := (&Redis{Addr: addr, DB: 2}).Prober(Env{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.(*redisProber).Close()
	admin := dialRedisAdmin(t, addr, 0)
	conns := func() int { return admin.info("stats")["total_connections_received"].(int) }
	before := conns()
	probe := func() nightowl.Result {
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		defer cancel()
		return p.Probe(ctx)
	}
	for range 3 {
		if r := probe(); !r.OK {
			t.Fatalf("probe: %s", r.Error)
		}
	}
	if got := conns() - before; got != 1 {
		t.Errorf("%d connections for 3 runs, want 1", got)
	}
	admin.do("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
	r := probe()
	checkError(t, r, true, "")
	if got := conns() - before; got != 2 {
		t.Errorf("%d connections after the server closed one, want 2", got)
	}
	// The new connection selected the database again.
	if info := r.Facts["info"].(map[string]any); info["db2"] != nil {
		t.Errorf("db2 = %v", info["db2"])
	}
	admin.do("SELECT", "2")
	admin.do("SET", "k", "v")
	if r := probe(); r.Facts["info"].(map[string]any)["db2"].(map[string]any)["keys"] != 1 {
		t.Errorf("db2 after SET = %v", r.Facts["info"].(map[string]any)["db2"])
	}
}

func TestRedisValidate(t *testing.T) {
	tests := []struct {
		name string
		spec Redis
		want []FieldError
	}{
		{"ok", Redis{Addr: "127.0.0.1:6379"}, nil},
		{"full", Redis{Addr: "cache:6380", Username: "mon", Password: "pw", DB: 3, TLS: true, CAFile: "/ca.pem", ServerName: "cache"}, nil},
		{"missing addr", Redis{}, []FieldError{{Key: "addr", Message: "required"}}},
		{"no port", Redis{Addr: "cache"}, []FieldError{{Key: "addr", Message: "must be host:port"}}},
		{"negative db", Redis{Addr: "cache:6379", DB: -1}, []FieldError{{Key: "db", Message: "must be 0 or more"}}},
		{"username without password", Redis{Addr: "cache:6379", Username: "mon"}, []FieldError{{Key: "password", Message: "required with username"}}},
		{"tls keys without tls", Redis{Addr: "cache:6379", CAFile: "/ca.pem", InsecureSkipVerify: true, ServerName: "x"}, []FieldError{
			{Key: "ca_file", Message: "needs tls: true"}, {Key: "insecure_skip_verify", Message: "needs tls: true"}, {Key: "server_name", Message: "needs tls: true"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.spec.Validate(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Validate() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseRedisInfo(t *testing.T) {
	text := "# Server\r\nredis_version:7.0.15\r\nredis_git_sha1:00000000\r\nrun_id:1234567890123456789012345678901234567890\r\n" +
		"uptime_in_seconds:1399\r\nconfig_file:\r\nexecutable:/usr/bin/redis-server\r\n\r\n" +
		"# Memory\r\nused_memory:1015488\r\nused_memory_human:991.69K\r\nmem_fragmentation_ratio:12.08\r\nmaxmemory_policy:noeviction\r\n" +
		"# Replication\r\nrole:master\r\nslave0:ip=127.0.0.1,port=6380,state=online,offset=1234,lag=0\r\nmaster_repl_offset:-1\r\n" +
		"# Stats\r\nlatency_percentiles_usec_ping:p50=1.003,p99=2.007,p99.9=5.015\r\nerrorstat_NOPERM:count=2\r\n" +
		"os:Linux 6.1 x86_64\r\nodd:a=b,c\r\ntrailing_dot:1.\r\nnan_value:nan\r\n" +
		"# Keyspace\r\ndb0:keys=1,expires=0,avg_ttl=0\r\ndb9:keys=200,expires=3,avg_ttl=1500\r\n"
	want := map[string]any{
		"redis_version": "7.0.15", "redis_git_sha1": "00000000", "run_id": "1234567890123456789012345678901234567890",
		"uptime_in_seconds": 1399, "config_file": "", "executable": "/usr/bin/redis-server",
		"used_memory": 1015488, "used_memory_human": "991.69K", "mem_fragmentation_ratio": 12.08, "maxmemory_policy": "noeviction",
		"role":                          "master",
		"slave0":                        map[string]any{"ip": "127.0.0.1", "port": 6380, "state": "online", "offset": 1234, "lag": 0},
		"master_repl_offset":            -1,
		"latency_percentiles_usec_ping": map[string]any{"p50": 1.003, "p99": 2.007, "p99.9": 5.015},
		"errorstat_NOPERM":              map[string]any{"count": 2},
		"os":                            "Linux 6.1 x86_64", "odd": "a=b,c", "trailing_dot": "1.", "nan_value": "nan",
		"db0": map[string]any{"keys": 1, "expires": 0, "avg_ttl": 0},
		"db9": map[string]any{"keys": 200, "expires": 3, "avg_ttl": 1500},
	}
	got := parseRedisInfo(text)
	if !reflect.DeepEqual(got, want) {
		for k := range want {
			if !reflect.DeepEqual(got[k], want[k]) {
				t.Errorf("%s = %#v, want %#v", k, got[k], want[k])
			}
		}
		for k := range got {
			if _, ok := want[k]; !ok {
				t.Errorf("unexpected %s = %#v", k, got[k])
			}
		}
	}
}

func TestRedisDerivedFacts(t *testing.T) {
	now := time.Unix(1_700_000_100, 0)
	tests := []struct {
		name string
		info map[string]any
		want nightowl.Facts
	}{
		{"idle master", map[string]any{"role": "master", "rdb_bgsave_in_progress": 0, "rdb_current_bgsave_time_sec": -1,
			"rdb_last_save_time": 1_700_000_000},
			nightowl.Facts{"role": "master", "bgsave_running_for": 0.0, "last_save_age": 100.0, "master_link_up": nil}},
		{"saving for a while, server clock", map[string]any{"role": "master", "rdb_bgsave_in_progress": 1, "rdb_current_bgsave_time_sec": 750,
			"rdb_last_save_time": 1_700_000_000, "server_time_usec": 1_700_000_040_500_000},
			nightowl.Facts{"role": "master", "bgsave_running_for": 750.0, "last_save_age": 40.5, "master_link_up": nil}},
		{"replica link up", map[string]any{"role": "slave", "master_link_status": "up"},
			nightowl.Facts{"role": "slave", "bgsave_running_for": nil, "last_save_age": nil, "master_link_up": true}},
		{"replica link down", map[string]any{"role": "slave", "master_link_status": "down"},
			nightowl.Facts{"role": "slave", "bgsave_running_for": nil, "last_save_age": nil, "master_link_up": false}},
		{"nothing known", map[string]any{},
			nightowl.Facts{"role": nil, "bgsave_running_for": nil, "last_save_age": nil, "master_link_up": nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := nightowl.Facts{"role": nil, "bgsave_running_for": nil, "last_save_age": nil, "master_link_up": nil}
			redisFactsFromInfo(f, tt.info, now)
			if !reflect.DeepEqual(f, tt.want) {
				t.Errorf("facts %v, want %v", f, tt.want)
			}
		})
	}
}

// TestRedisReadyMadeAssertions evaluates the assertions that
// docs/checks/redis.md offers on a real master: the ones meant for a master
// must evaluate (hold or fail, not stumble on a missing field), the replica
// ones must fail there.
func TestRedisReadyMadeAssertions(t *testing.T) {
	addr := testRedis(t)
	b, err := os.ReadFile(filepath.Join("..", "docs", "checks", "redis.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, _ := strings.Cut(string(b), "## Ready-made assertions\n")
	_, block, _ := strings.Cut(rest, "```yaml\n")
	block, _, _ = strings.Cut(block, "```")
	var parsed struct {
		Assert map[string]yaml.Node `yaml:"assert"`
	}
	if err := yaml.Unmarshal([]byte(block), &parsed); err != nil {
		t.Fatal(err)
	}
	useTestDB(t, addr, 1)
	admin := dialRedisAdmin(t, addr, 0)
	admin.do("SET", "nightowl-test:db0", "x")
	t.Cleanup(func() { admin.do("DEL", "nightowl-test:db0") })
	r := runProbe(t, nil, &Redis{Addr: addr}, 5*time.Second)
	checkError(t, r, true, "")

	replicaOnly := map[string]bool{"replica_link": true, "replica_fresh": true, "not_syncing": true, "has_replica": true, "replica_online": true}
	for name, node := range parsed.Assert {
		src := node.Value
		if node.Kind == yaml.MappingNode {
			var long struct{ Expr string }
			node.Decode(&long)
			src = long.Expr
		}
		res := evalOn(t, "redis", src, r.Facts)
		switch {
		case replicaOnly[name]:
			if res.OK {
				t.Errorf("%s held on a master without replicas", name)
			}
		case strings.HasPrefix(res.Message, "cannot evaluate"):
			t.Errorf("%s: %s", name, res.Message)
		}
	}
}
