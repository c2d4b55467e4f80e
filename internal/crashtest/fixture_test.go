package crashtest

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
)

// The fault tests share one binary, built by the first of them to need it.
var faultBin struct {
	once      sync.Once
	dir, path string
	err       error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if faultBin.dir != "" {
		os.RemoveAll(faultBin.dir)
	}
	os.Exit(code)
}

func binary(t *testing.T) string {
	t.Helper()
	faultBin.once.Do(func() {
		if faultBin.dir, faultBin.err = os.MkdirTemp("", "nightowl-faults-"); faultBin.err == nil {
			faultBin.path, faultBin.err = build(context.Background(), faultBin.dir)
		}
	})
	if faultBin.err != nil {
		t.Fatal(faultBin.err)
	}
	return faultBin.path
}

// site is what the checks of a fault test watch: /t/NAME answers 200, or
// 503 while NAME is set down, and every request is counted.
type site struct {
	srv  *httptest.Server
	mu   sync.Mutex
	down map[string]bool
	hits map[string][]time.Time
}

func newSite(t *testing.T) *site {
	s := &site{down: map[string]bool{}, hits: map[string][]time.Time{}}
	s.srv = httptest.NewServer(s)
	t.Cleanup(s.srv.Close)
	return s
}

func (s *site) url(name string) string { return s.srv.URL + "/t/" + name }

func (s *site) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/t/")
	s.mu.Lock()
	s.hits[name] = append(s.hits[name], time.Now())
	down := s.down[name]
	s.mu.Unlock()
	if down {
		http.Error(w, "down on purpose", http.StatusServiceUnavailable)
	}
}

func (s *site) set(name string, down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down[name] = down
}

// hitsSince counts the requests for name since t.
func (s *site) hitsSince(name string, t time.Time) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, at := range s.hits[name] {
		if !at.Before(t) {
			n++
		}
	}
	return n
}

// inbox is the webhook receivers of a fault test: /hook/NAME records each
// message it takes and answers 200.
type inbox struct {
	srv  *httptest.Server
	mu   sync.Mutex
	msgs []hookMsg
}

type hookMsg struct {
	receiver, key string
	kind          nightowl.MessageKind
	alert         nightowl.Alert
	ackURL        string
	at            time.Time
}

func newInbox(t *testing.T) *inbox {
	in := &inbox{}
	in.srv = httptest.NewServer(in)
	t.Cleanup(in.srv.Close)
	return in
}

func (in *inbox) url(receiver string) string { return in.srv.URL + "/hook/" + receiver }

func (in *inbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var m nightowl.Message
	if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	in.mu.Lock()
	in.msgs = append(in.msgs, hookMsg{receiver: strings.TrimPrefix(r.URL.Path, "/hook/"),
		key: r.Header.Get("Idempotency-Key"), kind: m.Kind, alert: m.Alert, ackURL: m.AckURL, at: time.Now()})
	in.mu.Unlock()
}

// find returns the messages of kind about check ("" for any check) that
// receiver ("" for any) took.
func (in *inbox) find(receiver string, kind nightowl.MessageKind, check string) []hookMsg {
	in.mu.Lock()
	defer in.mu.Unlock()
	var out []hookMsg
	for _, m := range in.msgs {
		if (receiver == "" || m.receiver == receiver) && m.kind == kind && (check == "" || m.alert.Check == check) {
			out = append(out, m)
		}
	}
	return out
}

// String lists what was received, for a failure's message.
func (in *inbox) String() string {
	in.mu.Lock()
	defer in.mu.Unlock()
	var parts []string
	for _, m := range in.msgs {
		parts = append(parts, fmt.Sprintf("%s:%s %s", m.receiver, m.kind, m.alert.Check))
	}
	return "received: [" + strings.Join(parts, ", ") + "]"
}

// opsNotify is the notify section of a fault test whose alerts all go to
// the inbox's ops webhook, resolutions included, on one route with route's
// keys besides its escalation ("group_wait: 2s").
func opsNotify(in *inbox, route string) string {
	return fmt.Sprintf("notify:\n  receivers:\n    ops: [{webhook: {url: %q}}]\n"+
		"  routes: [{escalation: ops, %s}]\n"+
		"  escalations:\n    ops: {steps: [{notify: ops}]}\n  send_resolved: true\n", in.url("ops"), route)
}

// waitAllUp waits until the server has n checks, every one up.
func (s *server) waitAllUp(n int) {
	s.t.Helper()
	waitFor(s.t, 30*time.Second, "every check up", s.tail, func() bool {
		cs := s.checks()
		for _, c := range cs {
			if c.Status != nightowl.StatusUp {
				return false
			}
		}
		return len(cs) == n
	})
}

// server is one `nightowl serve` of a fault test, restarted as the test
// says, always with the same config, database and address.
type server struct {
	t       *testing.T
	bin     string
	cfg, db string
	addr    string
	token   string
	env     []string // added to the process's environment
	wrap    []string // a command the server runs under (as unshare)
	log     *os.File
	p       *proc
	runs    int
	client  *http.Client
}

// newServer writes a config with the listen address, the SQLite file db
// and body (the rest), and makes a responder's token with the binary.
func newServer(t *testing.T, db, body string) *server {
	t.Helper()
	dir := t.TempDir()
	s := &server{t: t, bin: binary(t), db: db, addr: freeAddr(t), cfg: filepath.Join(dir, "nightowl.yaml"),
		client: &http.Client{Timeout: 10 * time.Second}}
	cfg := fmt.Sprintf("server: {listen: %q}\nstorage: {sqlite: %q}\n%s", s.addr, db, body)
	if err := os.WriteFile(s.cfg, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	var err error
	if s.log, err = os.Create(filepath.Join(dir, "server.log")); err != nil {
		t.Fatal(err)
	}
	s.token = cliToken(t, s.bin, s.cfg, "ana")
	t.Cleanup(func() {
		if s.p != nil && !s.p.exited() {
			s.p.stop(20 * time.Second)
		}
		if t.Failed() {
			t.Logf("the server's output ends:\n%s", tail(s.log.Name(), 40))
		}
		s.log.Close()
	})
	return s
}

// start starts the server and waits for it to answer.
func (s *server) start() {
	s.t.Helper()
	s.runs++
	args := append(slices.Clone(s.wrap), s.bin, "serve", "-c", s.cfg)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = filepath.Dir(s.cfg)
	cmd.Env = append(os.Environ(), s.env...)
	var err error
	if s.p, err = startCmd(s.runs, cmd, s.log); err != nil {
		s.t.Fatal(err)
	}
	waitFor(s.t, 30*time.Second, "the server to answer", s.tail, func() bool {
		if s.p.exited() {
			s.t.Fatalf("the server exited: %v\n%s", s.p.err, s.tail())
		}
		code, _ := s.call("GET", "/healthz", nil)
		return code == http.StatusOK
	})
}

// stop stops the server with SIGTERM, as a supervisor does.
func (s *server) stop() {
	s.t.Helper()
	if err := s.p.stop(30 * time.Second); err != nil {
		s.t.Fatalf("%v\n%s", err, s.tail())
	}
}

func (s *server) tail() string { return "the server's output ends:\n" + tail(s.log.Name(), 30) }

// logged reports whether the server's output has a line with every one of
// parts.
func (s *server) logged(parts ...string) bool {
	b, _ := os.ReadFile(s.log.Name())
	for _, line := range strings.Split(string(b), "\n") {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			return true
		}
	}
	return false
}

// call makes an API call as the test's responder; code 0 is an error.
func (s *server) call(method, path string, body any) (int, []byte) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, "http://"+s.addr+path, rd)
	req.Header.Set("Authorization", "Bearer "+s.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, []byte(err.Error())
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// get decodes the answer to GET path into out, failing the test unless it
// is a 200.
func (s *server) get(path string, out any) {
	s.t.Helper()
	code, b := s.call("GET", path, nil)
	if code != http.StatusOK {
		s.t.Fatalf("GET %s: %d %s", path, code, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		s.t.Fatalf("GET %s: %v", path, err)
	}
}

// checkJSON is what the API says about a check.
type checkJSON struct {
	Name      string          `json:"name"`
	Status    nightowl.Status `json:"status"`
	Cause     string          `json:"cause"`
	BlockedBy string          `json:"blocked_by"`
	Error     string          `json:"error"`
	LastRun   *time.Time      `json:"last_run"`
	Runs      int64           `json:"runs"`
}

func (s *server) checks() map[string]checkJSON {
	s.t.Helper()
	var out struct{ Checks []checkJSON }
	s.get("/api/v1/checks", &out)
	m := map[string]checkJSON{}
	for _, c := range out.Checks {
		m[c.Name] = c
	}
	return m
}

func (s *server) alerts(query string) []nightowl.Alert {
	s.t.Helper()
	var out struct{ Alerts []nightowl.Alert }
	s.get("/api/v1/alerts?limit=1000&"+query, &out)
	return out.Alerts
}

// mountTmpfs mounts a tmpfs of size bytes on a new directory for the rest
// of the test. A kernel that refuses (not root, no CAP_SYS_ADMIN) skips the
// test with its answer, in CI too: there is nothing else to test with.
func mountTmpfs(t *testing.T, size int) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("nightowl-faults", dir, "tmpfs", 0, fmt.Sprintf("size=%d", size)); err != nil {
		t.Skipf("mount a %d-byte tmpfs on %s: %v", size, dir, err)
	}
	t.Cleanup(func() { unmount(t, dir) })
	return dir
}

func unmount(t *testing.T, dir string) {
	if err := syscall.Unmount(dir, 0); err != nil {
		t.Logf("unmount %s: %v; detaching it", dir, err)
		syscall.Unmount(dir, syscall.MNT_DETACH)
	}
}

// fill writes a file in dir until the file system is full, and returns its
// path.
func fill(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("fill %s: %v", dir, err)
			}
			break
		}
	}
	// A last page's worth may still fit.
	for {
		if _, err := f.Write(chunk[:512]); err != nil {
			break
		}
	}
	return path
}

// readDB opens the SQLite file for reading only, while a server may be
// writing it.
func readDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func count(t *testing.T, db *sql.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// tool returns the path of a program the test needs; without it the test
// is skipped, but fails in CI, which has it.
func tool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s: %v", name, err)
		}
		t.Skipf("%s: %v", name, err)
	}
	return path
}

// mountExt4 makes an ext4 file system of size bytes in a file and mounts it
// on a new directory through a loop device, for the rest of the test. A
// kernel that refuses skips the test with its answer, in CI too.
func mountExt4(t *testing.T, size int64) string {
	t.Helper()
	mkfs, mount := tool(t, "mkfs.ext4"), tool(t, "mount")
	img := filepath.Join(t.TempDir(), "fs.img")
	f, err := os.Create(img)
	if err == nil {
		err = errors.Join(f.Truncate(size), f.Close())
	}
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(mkfs, "-q", "-F", img).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v\n%s", err, out)
	}
	dir := t.TempDir()
	if out, err := exec.Command(mount, "-o", "loop", img, dir).CombinedOutput(); err != nil {
		t.Skipf("mount an ext4 file system through a loop device: %v: %s", err, bytes.TrimSpace(out))
	}
	t.Cleanup(func() { unmount(t, dir) })
	return dir
}
