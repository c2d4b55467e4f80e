package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

func runCmd(t *testing.T, environ map[string]string, args ...string) (int, string, string) {
	t.Helper()
	return runCmdIn(t, environ, "", args...)
}

// runCmdIn runs a command with stdin as its standard input.
func runCmdIn(t *testing.T, environ map[string]string, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb, getenv: func(k string) string { return environ[k] }}
	code := run(context.Background(), e, args)
	return code, out.String(), errb.String()
}

// adminToken makes an admin and an API token of theirs in the storage of
// the config at cfg, through the CLI, as the first admin is made: before
// the server runs.
func adminToken(t *testing.T, cfg string) string {
	t.Helper()
	if code, out, errOut := runCmdIn(t, nil, "correct horse battery staple\n", "user", "add", "-c", cfg, "--role", "admin", "--password-stdin", "ops"); code != 0 {
		t.Fatalf("user add: exit %d: %s%s", code, out, errOut)
	}
	code, out, errOut := runCmd(t, nil, "token", "create", "-c", cfg, "--user", "ops", "--name", "test")
	if code != 0 || !strings.HasPrefix(out, "nwl_") {
		t.Fatalf("token create: exit %d: %s%s", code, out, errOut)
	}
	return strings.TrimSpace(out)
}

func site(t *testing.T) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "fine") })
	mux.HandleFunc("/ro", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "This site is currently in read-only mode.")
	})
	mux.HandleFunc("/503", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) })
	s := httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCheck(t *testing.T) {
	s := site(t)
	dir := t.TempDir()
	cfg := writeFile(t, dir, "nightowl.yaml", fmt.Sprintf(`checks:
  - name: healthy
    http: {url: "%[1]s/ok"}
    assert: {writable: 'not (body contains "read-only mode")'}
  - name: readonly
    http: {url: "%[1]s/ro"}
    assert: {writable: 'not (body contains "read-only mode")'}
  - name: unavailable
    http: {url: "%[1]s/503"}
`, s.URL))
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		code     int
		want     []string
		dontWant []string
	}{
		{"healthy target exits 0", []string{"check", "-c", cfg, "healthy"}, nil, 0,
			[]string{"up", "healthy"}, []string{"failed"}},
		{"read-only names the assertion", []string{"check", "-c", cfg, "readonly"}, nil, 1,
			[]string{"readonly is down:", `  writable failed: body contains "read-only mode"`}, nil},
		{"503 exits 1", []string{"check", "unavailable", "-c", cfg}, nil, 1,
			[]string{"unavailable is down:", "http_ok failed: status < 400 (status = 503)"}, nil},
		{"all, worst first", []string{"check"}, map[string]string{"NIGHTOWL_CONFIG": cfg}, 1,
			[]string{"down    readonly", "down    unavailable", "up      healthy"}, nil},
		{"unknown name", []string{"check", "-c", cfg, "nope"}, nil, 2, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCmd(t, tt.env, tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d\n%s%s", code, tt.code, out, errOut)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tt.dontWant {
				if strings.Contains(out, w) {
					t.Errorf("output has %q:\n%s", w, out)
				}
			}
		})
	}
	t.Run("json", func(t *testing.T) {
		code, out, _ := runCmd(t, nil, "check", "-c", cfg, "--json", "readonly")
		var body struct {
			Results []struct {
				Check      string
				Status     string
				Assertions []struct{ Name, Message string }
			}
		}
		if err := json.Unmarshal([]byte(out), &body); err != nil || code != 1 {
			t.Fatalf("exit %d, %v: %s", code, err, out)
		}
		if len(body.Results) != 1 || body.Results[0].Status != "down" || body.Results[0].Assertions[0].Message != `body contains "read-only mode"` {
			t.Errorf("results = %+v", body.Results)
		}
	})
}

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, dir, "good.yaml", "checks:\n  - name: a\n    tcp: {addr: \"127.0.0.1:1\"}\n")
	bad := writeFile(t, dir, "bad.yaml", "checks:\n  - name: a\n    http: {url: \"ftp://x\"}\n    assert: {ok: stauts == 200}\n")
	code, out, _ := runCmd(t, nil, "validate", "-c", good)
	if code != 0 || out != good+": ok, 1 checks\n" {
		t.Errorf("good: %d %q", code, out)
	}
	code, _, errOut := runCmd(t, nil, "validate", "-c", bad)
	want := bad + ":3:17: checks[0].http.url: scheme must be \"http\" or \"https\"\n" +
		bad + ":4:18: checks[0].assert.ok: unknown name stauts\n"
	if code != 2 || errOut != want {
		t.Errorf("bad: exit %d\n%s\nwant\n%s", code, errOut, want)
	}
	if code, _, errOut := runCmd(t, nil, "validate", "-c", filepath.Join(dir, "missing.yaml")); code != 2 || errOut == "" {
		t.Errorf("missing file: %d %q", code, errOut)
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := runCmd(t, nil, "--version")
	if code != 0 || !strings.HasPrefix(out, "nightowl ") || !strings.Contains(out, runtime.GOOS+"/"+runtime.GOARCH) {
		t.Errorf("%d %q", code, out)
	}
	// A release build's stamps are shown as given.
	defer func(v, c, d string) { version, commit, date = v, c, d }(version, commit, date)
	version, commit, date = "v1.2.3", "0123456789abcdef0123", "2026-12-07T10:00:00Z"
	if _, out, _ = runCmd(t, nil, "--version"); !strings.HasPrefix(out, "nightowl v1.2.3 (commit 0123456789ab, built 2026-12-07T10:00:00Z, go") {
		t.Errorf("stamped: %q", out)
	}
}

func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestServeStatusAndSIGHUP runs `serve` in-process, asks it with `status`,
// and reloads it with a real SIGHUP: a bad config is refused and the server
// keeps answering with the old one; a good one is applied.
func TestServeStatusAndSIGHUP(t *testing.T) {
	s := site(t)
	dir := t.TempDir()
	addr := freePort(t)
	body := fmt.Sprintf("server: {listen: %q}\ndefaults: {interval: 1s, timeout: 1s, fail_after: 1}\nchecks:\n  - name: healthy\n    http: {url: \"%s/ok\"}\n", addr, s.URL)
	cfg := writeFile(t, dir, "nightowl.yaml", body)
	token := adminToken(t, cfg)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	var serveErr bytes.Buffer
	go func() {
		e := &env{stdout: &bytes.Buffer{}, stderr: &serveErr, getenv: func(string) string { return "" }}
		done <- run(ctx, e, []string{"serve", "-c", cfg})
	}()
	clientEnv := map[string]string{"NIGHTOWL_URL": "http://" + addr, "NIGHTOWL_TOKEN": token}
	waitUntil(t, "the check to be up", func() bool {
		code, out, _ := runCmd(t, clientEnv, "status")
		return code == 0 && strings.Contains(out, "up      healthy")
	})

	writeFile(t, dir, "nightowl.yaml", body+"  - name: broken\n    http: {url: \"nope\"}\n")
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	time.Sleep(300 * time.Millisecond)
	code, out, _ := runCmd(t, clientEnv, "status", "--json")
	if code != 0 || strings.Contains(out, "broken") || !strings.Contains(out, `"healthy"`) {
		t.Errorf("after a bad reload: exit %d\n%s", code, out)
	}

	writeFile(t, dir, "nightowl.yaml", body+"  - name: refused\n    tcp: {addr: \"127.0.0.1:1\"}\n")
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	waitUntil(t, "the new check to be down", func() bool {
		code, out, _ := runCmd(t, clientEnv, "status")
		return code == 1 && strings.Contains(out, "down    refused")
	})
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("serve exited %d: %s", code, serveErr.String())
	}
	if !strings.Contains(serveErr.String(), "config reload refused") {
		t.Errorf("serve log lacks the refused reload:\n%s", serveErr.String())
	}
}

func waitUntil(t *testing.T, what string, fn func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !fn() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestAck finds an open alert through `status` and acknowledges it with
// `ack`, against a server run in-process.
func TestAck(t *testing.T) {
	dir := t.TempDir()
	addr := freePort(t)
	cfg := writeFile(t, dir, "nightowl.yaml", fmt.Sprintf(`server: {listen: %q}
defaults: {interval: 1s, timeout: 1s, fail_after: 1}
checks:
  - name: refused
    tcp: {addr: "127.0.0.1:1"}
`, addr))
	token := adminToken(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() {
		e := &env{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}, getenv: func(string) string { return "" }}
		done <- run(ctx, e, []string{"serve", "-c", cfg})
	}()
	defer func() { cancel(); <-done }()
	clientEnv := map[string]string{"NIGHTOWL_URL": "http://" + addr, "NIGHTOWL_TOKEN": token}
	var id string
	waitUntil(t, "an open alert in status", func() bool {
		_, out, _ := runCmd(t, clientEnv, "status")
		i := strings.Index(out, "Open alerts")
		if i < 0 {
			return false
		}
		for _, line := range strings.Split(out[i:], "\n") {
			if f := strings.Fields(line); len(f) >= 3 && f[1] == "refused" {
				id = f[0]
				return true
			}
		}
		return false
	})
	code, out, errOut := runCmd(t, clientEnv, "ack", id)
	if code != 0 || !strings.Contains(out, "acknowledged "+id+" (refused) by ops") {
		t.Fatalf("ack: exit %d\n%s%s", code, out, errOut)
	}
	_, out, _ = runCmd(t, clientEnv, "status")
	if !strings.Contains(out, "acknowledged") {
		t.Errorf("status after ack:\n%s", out)
	}
	code, _, errOut = runCmd(t, clientEnv, "ack", "nosuchalert")
	if code != 1 || !strings.Contains(errOut, "not_found") {
		t.Errorf("ack of an unknown alert: exit %d: %s", code, errOut)
	}
	if code, _, _ := runCmd(t, clientEnv, "ack"); code != 2 {
		t.Errorf("ack without an alert: exit %d, want 2", code)
	}
}

// TestMaintCLI starts, lists and ends a window by hand against a server run
// in-process.
func TestMaintCLI(t *testing.T) {
	s := site(t)
	dir := t.TempDir()
	addr := freePort(t)
	cfg := writeFile(t, dir, "nightowl.yaml", fmt.Sprintf(`server: {listen: %q}
defaults: {interval: 1s, timeout: 1s, fail_after: 1}
checks:
  - name: shop
    labels: {tier: web}
    http: {url: "%s/ro"}
    assert:
      writable: 'not (body contains "read-only mode")'
`, addr, s.URL))
	token := adminToken(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() {
		e := &env{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}, getenv: func(string) string { return "" }}
		done <- run(ctx, e, []string{"serve", "-c", cfg})
	}()
	defer func() { cancel(); <-done }()
	env := map[string]string{"NIGHTOWL_URL": "http://" + addr, "NIGHTOWL_TOKEN": token}
	waitUntil(t, "the server", func() bool { code, _, _ := runCmd(t, env, "status"); return code != 2 })

	code, _, errOut := runCmd(t, env, "maint", "start", "--checks", "tier=web", "--expect", "writeable", "--for", "1h")
	if code != 1 || !strings.Contains(errOut, `no check in scope has an assertion "writeable" (assertions in scope: writable)`) {
		t.Fatalf("a misspelt expectation: exit %d: %s", code, errOut)
	}
	if code, _, errOut := runCmd(t, env, "maint", "start", "--checks", "tier=web"); code != 2 || !strings.Contains(errOut, "required") {
		t.Fatalf("missing flags: exit %d: %s", code, errOut)
	}
	code, out, errOut := runCmd(t, env, "maint", "start", "--checks", "tier=web", "--expect", "writable", "--for", "1h", "--name", "failover")
	if code != 0 || !strings.Contains(out, "maintenance m-") {
		t.Fatalf("maint start: exit %d: %s%s", code, out, errOut)
	}
	id := strings.Fields(out)[1]
	waitUntil(t, "shop in maintenance", func() bool {
		_, out, _ := runCmd(t, env, "status")
		return strings.Contains(out, "maintenance  shop")
	})
	_, out, _ = runCmd(t, env, "maint", "list")
	if !strings.Contains(out, id) || !strings.Contains(out, "in force") || !strings.Contains(out, "tier=web (1)") {
		t.Fatalf("maint list:\n%s", out)
	}
	if code, out, errOut := runCmd(t, env, "maint", "end", "failover"); code != 0 || !strings.Contains(out, "maintenance failover ended") {
		t.Fatalf("maint end: exit %d: %s%s", code, out, errOut)
	}
	if code, _, errOut := runCmd(t, env, "maint", "end", id); code != 1 || !strings.Contains(errOut, "conflict") {
		t.Fatalf("ending it again: exit %d: %s", code, errOut)
	}
	waitUntil(t, "shop down after the window", func() bool {
		_, out, _ := runCmd(t, env, "status")
		return strings.Contains(out, "down         shop") || strings.Contains(out, "down    shop")
	})
}

// TestValidateStops: SIGINT and SIGTERM end the context that validate
// loads the config with, and validate ends with it.
func TestValidateStops(t *testing.T) {
	cfg := writeFile(t, t.TempDir(), "nightowl.yaml", "checks: []\n")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var stderr bytes.Buffer
	e := &env{stdout: &bytes.Buffer{}, stderr: &stderr, getenv: func(string) string { return "" }}
	if code := run(ctx, e, []string{"validate", "-c", cfg}); code != exitNotUp || !strings.Contains(stderr.String(), "stopped") {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
}

// TestValidateRefusesFIFO: a config path that is not a regular file is
// refused at once, named, rather than waited on.
func TestValidateRefusesFIFO(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "slow.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("no FIFOs here: %v", err)
	}
	code, _, errOut := runCmd(t, nil, "validate", "-c", fifo)
	if code != exitBadConfig && code != exitNotUp || !strings.Contains(errOut, fifo+" is not a regular file (a FIFO)") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
}

// TestServeLogsAsConfigured: server.log {format: json} makes every line
// serve writes once the config is read one JSON object.
func TestServeLogsAsConfigured(t *testing.T) {
	dir := t.TempDir()
	addr := freePort(t)
	cfg := writeFile(t, dir, "nightowl.yaml", fmt.Sprintf("server: {listen: %q, log: {format: json, level: info}}\n", addr))
	stop := serveReady(t, cfg, addr)
	code, serveErr := stop()
	if code != 0 {
		t.Fatalf("serve exited %d: %s", code, serveErr)
	}
	var msgs []string
	for line := range strings.Lines(serveErr) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not a JSON line: %q (%v)", line, err)
		}
		msg, _ := m["msg"].(string)
		msgs = append(msgs, msg)
	}
	if !slices.Contains(msgs, "nightowl serving") || !slices.Contains(msgs, "shutting down") {
		t.Errorf("messages %q lack the start and the shutdown", msgs)
	}
}

// serveReady runs `serve -c cfg` in-process until its /readyz on addr
// answers 200. stop ends it and returns its exit code and what it wrote
// to standard error.
func serveReady(t *testing.T, cfg, addr string) (stop func() (int, string)) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	var serveErr bytes.Buffer
	go func() {
		e := &env{stdout: &bytes.Buffer{}, stderr: &serveErr, getenv: func(string) string { return "" }}
		done <- run(ctx, e, []string{"serve", "-c", cfg})
	}()
	stopped := false
	stop = func() (int, string) {
		if stopped {
			return 0, serveErr.String()
		}
		stopped = true
		cancel()
		code := <-done
		return code, serveErr.String()
	}
	t.Cleanup(func() { stop() })
	waitUntil(t, "the server to answer", func() bool {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return stop
}
