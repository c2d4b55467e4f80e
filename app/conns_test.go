//go:build linux

package app

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// floodFileLimit is the file descriptor limit of the server under flood:
// low, so that a few hundred connections would use it all.
const floodFileLimit = 256

// TestConnectionFlood holds hundreds of connections open without sending
// a request, from one loopback address, against a real server in a child
// process whose file descriptor limit is 256. Meanwhile its http check
// keeps running and passing (no "too many open files"), a heartbeat ping
// from another address is taken, and /healthz answers a third.
func TestConnectionFlood(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		io.WriteString(w, "ok")
	}))
	defer target.Close()

	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestConnectionFloodServer$", "-test.count=1")
	cmd.Env = append(os.Environ(), "NIGHTOWL_FLOOD_SERVER="+target.URL)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		cmd.Wait()
	}()
	var base, pingPath string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 3 && f[0] == "READY" {
			base, pingPath = "http://"+f[1], f[2]
			break
		}
	}
	if base == "" {
		t.Fatal("the server did not start")
	}
	go io.Copy(io.Discard, stdout)

	other, third := clientFrom("127.0.0.2"), clientFrom("127.0.0.3")
	check := func() (status, errText string, runs int64) {
		resp, err := other.Get(base + "/api/v1/checks/site?results=0")
		if err != nil {
			return "unreachable", err.Error(), 0
		}
		defer resp.Body.Close()
		var c struct {
			Status string `json:"status"`
			Error  string `json:"error"`
			Runs   int64  `json:"runs"`
		}
		json.NewDecoder(resp.Body).Decode(&c)
		return c.Status, c.Error, c.Runs
	}
	waitFor(t, "the check to pass before the flood", func() bool { s, _, _ := check(); return s == "up" })

	// The flood: 400 connections from 127.0.0.1, half of them idle, half
	// sending the start of a request and nothing more.
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.1")}, Timeout: 2 * time.Second}
	for i := 0; i < 800 && len(conns) < 400; i++ {
		c, err := d.DialContext(ctx, "tcp", strings.TrimPrefix(base, "http://"))
		if err != nil {
			t.Logf("dial: %v", err)
			continue
		}
		if i%2 == 1 {
			fmt.Fprintf(c, "POST /ping/%d HTTP/1.1\r\nHost: x\r\n", i)
		}
		conns = append(conns, c)
	}
	if len(conns) < 300 {
		t.Fatalf("only %d connections made", len(conns))
	}
	// Let the server take all it will.
	time.Sleep(500 * time.Millisecond)

	resp, err := other.Get(base + "/healthz")
	if err != nil {
		t.Fatalf("/healthz from another address during the flood: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/healthz: %d", resp.StatusCode)
	}
	resp, err = third.Post(base+pingPath, "text/plain", strings.NewReader("backed up"))
	if err != nil {
		t.Fatalf("ping during the flood: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("ping during the flood: %d", resp.StatusCode)
	}
	_, _, runs := check()
	before := hits.Load()
	waitFor(t, "two more runs of the check during the flood", func() bool {
		_, _, r := check()
		return r >= runs+2 && hits.Load() >= before+2
	})
	if s, e, _ := check(); s != "up" || e != "" {
		t.Fatalf("the check during the flood: %s %q", s, e)
	}
}

// clientFrom is an HTTP client whose connections come from ip, a loopback
// address, one request a connection.
func clientFrom(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 3 * time.Second}
	return &http.Client{Timeout: 5 * time.Second,
		Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
}

// TestConnectionFloodServer is the server of TestConnectionFlood, in a
// process of its own with a low file descriptor limit.
func TestConnectionFloodServer(t *testing.T) {
	target := os.Getenv("NIGHTOWL_FLOOD_SERVER")
	if target == "" {
		t.Skip("the server side of TestConnectionFlood")
	}
	lim := syscall.Rlimit{Cur: floodFileLimit, Max: floodFileLimit}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "nightowl.yaml")
	writeConfig(t, cfg, `server: {anonymous: viewer}
storage: {sqlite: test.db}
defaults: {interval: 1s, timeout: 1s, fail_after: 1}
checks:
  - name: site
    http: {url: "`+target+`"}
  - name: job
    heartbeat: {period: 1h, grace: 1h}
`)
	a, err := New(t.Context(), Options{ConfigPath: cfg, Listen: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})), BcryptCost: testCost, PublicTTL: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer a.Stop(context.Background())
	ping, _ := a.PingURL("job")
	fmt.Printf("READY %s %s\n", a.Addr(), ping)
	// Until the test closes stdin, or a minute has passed.
	done := make(chan struct{})
	go func() { io.Copy(io.Discard, os.Stdin); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Minute):
	}
}
