package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/access"
	"github.com/nightowl/nightowl/internal/testdb"
)

// site is a local web app with the failures the checks must catch.
func site(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "<p>all good</p>") })
	mux.HandleFunc("/ro", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "<p>This site is currently in read-only mode.</p>")
	})
	mux.HandleFunc("/503", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
	})
	s := httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

const checksYAML = `storage: {sqlite: test.db}
defaults: {interval: 1s, timeout: 1s, fail_after: 1}
checks:
  - name: web-ok
    http: {url: "%[1]s/ok"}
    assert:
      writable: 'not (body contains "read-only mode")'
  - name: web-ro
    http: {url: "%[1]s/ro"}
    assert:
      ok_status: status == 200
      writable: 'not (body contains "read-only mode")'
  - name: web-503
    http: {url: "%[1]s/503"}
`

func writeConfig(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

// testCost is bcrypt's least cost: the tests' passwords need no strength.
const testCost = 4

func startApp(t *testing.T, cfgPath string) *App {
	t.Helper()
	a, err := New(context.Background(), Options{ConfigPath: cfgPath, Listen: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), BcryptCost: testCost, PublicTTL: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Stop(context.Background()) })
	return a
}

// adminToken adds the tests' admin, unless there is one, and returns a new
// API token of theirs.
func adminToken(t *testing.T, a *App) string {
	t.Helper()
	return userToken(t, a, "test-admin", "admin")
}

// userToken adds a user with the given role, unless there is one, and
// returns a new API token of theirs.
func userToken(t *testing.T, a *App, name string, role nightowl.Role) string {
	t.Helper()
	ctx := context.Background()
	if _, err := a.Access().AddUser(ctx, name, role, "correct horse battery staple"); err != nil && nightowl.ErrorCode(err) != nightowl.EConflict {
		t.Fatal(err)
	}
	// A responder's token may approve actions, as the tests' people do;
	// TestTokensApproveOnlyWhenAllowed tries one that may not.
	_, secret, err := a.Access().CreateTokenWith(ctx, name, "test", "", 0, access.TokenOptions{CanApprove: role.Allows(nightowl.RoleResponder)})
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

// getJSON makes a request with the API token tok and decodes the answer
// into out, unless out is nil.
func getJSON(t *testing.T, tok, method, url string, out any) int {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("%s %s: %v", method, url, err)
		}
	}
	return resp.StatusCode
}

type checkJSON struct {
	Name       string `json:"name"`
	Status     string `json:"status"`
	Cause      string `json:"cause"`
	Runs       int64  `json:"runs"`
	Assertions []struct {
		Name    string `json:"name"`
		OK      bool   `json:"ok"`
		Message string `json:"message"`
	} `json:"assertions"`
	Results []json.RawMessage `json:"results"`
}

type errorJSON struct {
	Error struct {
		Code    string   `json:"code"`
		Message string   `json:"message"`
		Details []string `json:"details"`
	} `json:"error"`
}

// waitFor polls fn until it returns true or 10 seconds pass.
func waitFor(t *testing.T, what string, fn func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !fn() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestServeAPIAndReload(t *testing.T) {
	t.Parallel()
	s := site(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "nightowl.yaml")
	writeConfig(t, cfgPath, fmt.Sprintf(checksYAML, s.URL))
	a := startApp(t, cfgPath)
	admin := adminToken(t, a)
	base := "http://" + a.Addr()

	var list struct{ Checks []checkJSON }
	waitFor(t, "every check to have run", func() bool {
		getJSON(t, admin, "GET", base+"/api/v1/checks", &list)
		for _, c := range list.Checks {
			if c.Status == "unknown" {
				return false
			}
		}
		return len(list.Checks) == 3
	})
	t.Run("worst first", func(t *testing.T) {
		got := []string{}
		for _, c := range list.Checks {
			got = append(got, c.Name+"="+c.Status)
		}
		if want := "web-503=down web-ro=down web-ok=up"; strings.Join(got, " ") != want {
			t.Errorf("checks = %v, want %s", got, want)
		}
	})
	t.Run("failing assertion says what it saw", func(t *testing.T) {
		var c checkJSON
		if code := getJSON(t, admin, "GET", base+"/api/v1/checks/web-ro?results=5", &c); code != 200 {
			t.Fatalf("status %d", code)
		}
		if c.Cause != `writable failed: body contains "read-only mode"` {
			t.Errorf("cause = %q", c.Cause)
		}
		if len(c.Assertions) != 2 || !c.Assertions[0].OK || c.Assertions[1].OK {
			t.Errorf("assertions = %+v", c.Assertions)
		}
		waitFor(t, "recent results to be stored", func() bool {
			getJSON(t, admin, "GET", base+"/api/v1/checks/web-ro?results=5", &c)
			return len(c.Results) > 0
		})
		var d checkJSON
		getJSON(t, admin, "GET", base+"/api/v1/checks/web-503", &d)
		if d.Cause != "http_ok failed: status >= 200 and status < 400 (status = 503)" &&
			d.Cause != "http_ok failed: status < 400 (status = 503)" {
			t.Errorf("503 cause = %q", d.Cause)
		}
	})
	t.Run("run now", func(t *testing.T) {
		var r struct {
			Check  string `json:"check"`
			Status string `json:"status"`
		}
		if code := getJSON(t, admin, "POST", base+"/api/v1/checks/web-ok/run", &r); code != 200 || r.Check != "web-ok" || r.Status != "up" {
			t.Errorf("run = %d %+v", code, r)
		}
	})
	t.Run("unknown check", func(t *testing.T) {
		var e errorJSON
		if code := getJSON(t, admin, "GET", base+"/api/v1/checks/nope", &e); code != 404 || e.Error.Code != "not_found" {
			t.Errorf("= %d %+v", code, e)
		}
	})
	t.Run("health and metrics", func(t *testing.T) {
		for _, p := range []string{"/healthz", "/readyz"} {
			if code := getJSON(t, admin, "GET", base+p, nil); code != 200 {
				t.Errorf("%s = %d", p, code)
			}
		}
		_, body := get(t, admin, base+"/metrics")
		for _, want := range []string{
			`nightowl_check_up{check="web-ok",type="http"} 1`,
			`nightowl_check_up{check="web-ro",type="http"} 0`,
			`nightowl_check_status{check="web-503",status="down"} 1`,
			`nightowl_scheduler_lag_seconds_bucket`,
			`nightowl_checks 3`,
			`nightowl_checks_late 0`,
			`nightowl_store_write_failures_total 0`,
			`nightowl_store_write_seconds_bucket{le="0.001"}`,
			`nightowl_http_requests_total{code="200",route="GET /readyz"} 1`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("metrics lack %s", want)
			}
		}
	})
	t.Run("bad reload keeps the old config running", func(t *testing.T) {
		writeConfig(t, cfgPath, fmt.Sprintf(checksYAML, s.URL)+"  - name: extra\n    http: {url: \""+s.URL+"/ok\"}\n    assert: {ok: stauts == 200}\n")
		var e errorJSON
		if code := getJSON(t, admin, "POST", base+"/api/v1/reload", &e); code != 400 || e.Error.Code != "invalid" {
			t.Fatalf("reload = %d %+v", code, e)
		}
		if len(e.Error.Details) != 1 || !strings.HasPrefix(e.Error.Details[0], cfgPath+":17:") ||
			!strings.HasSuffix(e.Error.Details[0], "checks[3].assert.ok: unknown name stauts") {
			t.Errorf("details = %q", e.Error.Details)
		}
		var before, after checkJSON
		getJSON(t, admin, "GET", base+"/api/v1/checks/web-ok", &before)
		waitFor(t, "checks to keep running", func() bool {
			getJSON(t, admin, "GET", base+"/api/v1/checks/web-ok", &after)
			return after.Runs > before.Runs
		})
		if code := getJSON(t, admin, "GET", base+"/api/v1/checks/extra", nil); code != 404 {
			t.Errorf("half-applied: extra check exists (%d)", code)
		}
	})
	t.Run("good reload applies", func(t *testing.T) {
		writeConfig(t, cfgPath, fmt.Sprintf(checksYAML, s.URL)+"  - name: extra\n    http: {url: \""+s.URL+"/ok\"}\n")
		if code := getJSON(t, admin, "POST", base+"/api/v1/reload", nil); code != 200 {
			t.Fatalf("reload = %d", code)
		}
		waitFor(t, "the new check to run", func() bool {
			var c checkJSON
			return getJSON(t, admin, "GET", base+"/api/v1/checks/extra", &c) == 200 && c.Status == "up"
		})
	})
}

func TestStateSurvivesRestart(t *testing.T) {
	t.Parallel()
	s := site(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "nightowl.yaml")
	writeConfig(t, cfgPath, fmt.Sprintf(checksYAML, s.URL))
	a, err := New(context.Background(), Options{ConfigPath: cfgPath, Listen: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	a.Start(context.Background())
	waitFor(t, "web-ro to go down", func() bool {
		v, _ := a.Check("web-ro")
		return v.State.Status == "down"
	})
	v, _ := a.Check("web-ro")
	since := v.State.Since
	a.Stop(context.Background())

	b, err := New(context.Background(), Options{ConfigPath: cfgPath, Listen: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Stop(context.Background())
	w, _ := b.Check("web-ro")
	if w.State.Status != "down" || !w.State.Since.Equal(since) {
		t.Errorf("after restart: %s since %v, want down since %v", w.State.Status, w.State.Since, since)
	}
	events, err := b.Store().Events(context.Background(), "web-ro", 10)
	if err != nil || len(events) == 0 || events[0].To != "down" {
		t.Errorf("events = %+v, %v", events, err)
	}
}

// TestInfoLogsKeepTargetsSecret runs checks that fail with targets and
// credentials in their config and asserts that nothing at info level names
// them.
func TestInfoLogsKeepTargetsSecret(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "nightowl.yaml")
	writeConfig(t, cfgPath, `storage: {sqlite: test.db}
defaults: {interval: 1s, timeout: 1s, fail_after: 1}
checks:
  - name: hidden
    http: {url: "http://127.0.0.1:1/marker-path", basic_auth: {username: marker-user, password: marker-pass}}
  - name: hidden-port
    tcp: {addr: "127.0.0.1:1"}
`)
	var logs strings.Builder
	var mu sync.Mutex
	a, err := New(context.Background(), Options{ConfigPath: cfgPath, Listen: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	if err != nil {
		t.Fatal(err)
	}
	a.Start(context.Background())
	waitFor(t, "both checks to go down", func() bool {
		v1, _ := a.Check("hidden")
		v2, _ := a.Check("hidden-port")
		return v1.State.Status == "down" && v2.State.Status == "down"
	})
	a.Stop(context.Background())
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logs.String(), "status changed") {
		t.Fatalf("no status change logged:\n%s", logs.String())
	}
	for _, secret := range []string{"marker", "127.0.0.1:1:", "127.0.0.1:1/"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("info logs contain %q:\n%s", secret, logs.String())
		}
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// skipUnlessCI skips locally and fails in CI, where every test must run.
func skipUnlessCI(t testing.TB, why string) { t.Helper(); testdb.SkipUnlessCI(t, why) }

// gatedRead reads files as the config loader does, but reads gated only
// once the test sends on release (or closes it): a file on a slow disk.
type gatedRead struct {
	gated   string
	release chan struct{}
}

func (g gatedRead) read(path string) ([]byte, error) {
	if path == g.gated {
		<-g.release
	}
	return os.ReadFile(path)
}

// TestSlowReloadDoesNotFreezeReads: while a reload waits on a config file
// that is slow to read, the status page and the config in force answer, a
// second reload waits its turn, and once the file can be read both reloads
// apply it.
func TestSlowReloadDoesNotFreezeReads(t *testing.T) {
	t.Parallel()
	s := site(t)
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "nightowl.yaml")
	comps := "components:\n  - {name: Website, checks: {names: [web-ok]}}\n"
	writeConfig(t, cfgFile, fmt.Sprintf(checksYAML, s.URL)+comps)
	a := startApp(t, cfgFile)
	base := "http://" + a.Addr()
	before := len(a.Config().Checks)

	slow := filepath.Join(dir, "slow.yaml")
	writeConfig(t, slow, fmt.Sprintf(checksYAML, s.URL)+"  - name: added\n    tcp: {addr: \"127.0.0.1:1\"}\n"+comps)
	g := gatedRead{gated: slow, release: make(chan struct{})}
	a.opts.ConfigPath, a.opts.ReadFile = slow, g.read
	reloaded := make(chan error, 2)
	for range 2 {
		go func() { reloaded <- a.Reload(context.Background()) }()
	}

	client := &http.Client{Timeout: 5 * time.Second}
	for range 3 {
		resp, err := client.Get(base + "/")
		if err != nil {
			t.Fatalf("the status page during a reload: %v", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("the status page during a reload: %d", resp.StatusCode)
		}
	}
	if got := len(a.Config().Checks); got != before {
		t.Fatalf("config in force during a reload: %d checks, want %d", got, before)
	}
	select {
	case err := <-reloaded:
		t.Fatalf("a reload ended before its file was read: %v", err)
	default:
	}
	// Each reload reads the file in turn: let each read.
	for i := range 2 {
		g.release <- struct{}{}
		if err := <-reloaded; err != nil {
			t.Fatalf("reload %d: %v", i, err)
		}
	}
	if got := len(a.Config().Checks); got != before+1 {
		t.Fatalf("after the reloads: %d checks, want %d", got, before+1)
	}
}

// TestReloadGivesUp: a reload whose context ends while it still reads the
// file is refused, and the config in force stays.
func TestReloadGivesUp(t *testing.T) {
	t.Parallel()
	s := site(t)
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "nightowl.yaml")
	writeConfig(t, cfgFile, fmt.Sprintf(checksYAML, s.URL))
	a := startApp(t, cfgFile)
	before := len(a.Config().Checks)
	g := gatedRead{gated: cfgFile, release: make(chan struct{})}
	a.opts.ReadFile = g.read
	// Let the abandoned read finish.
	defer close(g.release)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Reload(ctx) }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("reload: %v, want canceled", err)
	}
	if got := len(a.Config().Checks); got != before {
		t.Fatalf("config in force: %d checks, want %d", got, before)
	}
}

// TestReloadFinishesWithoutItsCaller: once the new config is in force, the
// rest of the reload (resolving alerts of removed checks, writing new
// heartbeat tokens) does not end with the context of whoever asked for it,
// an HTTP client that hung up.
func TestReloadFinishesWithoutItsCaller(t *testing.T) {
	t.Parallel()
	s := site(t)
	cfgFile := filepath.Join(t.TempDir(), "nightowl.yaml")
	writeConfig(t, cfgFile, fmt.Sprintf(checksYAML, s.URL))
	a := startApp(t, cfgFile)
	ctx, cancel := context.WithCancel(context.Background())
	var after error
	a.afterSwap = func(applying context.Context) {
		cancel()
		after = applying.Err()
	}
	if err := a.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if after != nil {
		t.Fatalf("the reload went on with an ended context: %v", after)
	}
}

// TestStopWaitsForReload: a reload still reading when the server stops is
// refused rather than applied to a closed store, and Stop waits for it.
func TestStopWaitsForReload(t *testing.T) {
	t.Parallel()
	s := site(t)
	cfgFile := filepath.Join(t.TempDir(), "nightowl.yaml")
	writeConfig(t, cfgFile, fmt.Sprintf(checksYAML, s.URL))
	a := startApp(t, cfgFile)
	g := gatedRead{gated: cfgFile, release: make(chan struct{})}
	a.opts.ReadFile = g.read
	reloaded := make(chan error, 1)
	go func() { reloaded <- a.Reload(context.Background()) }()
	for len(a.reloading) == 0 {
		runtime.Gosched()
	}
	stopped := make(chan error, 1)
	go func() { stopped <- a.Stop(context.Background()) }()
	for !a.stopping.Load() {
		runtime.Gosched()
	}
	select {
	case err := <-stopped:
		t.Fatalf("Stop returned during a reload: %v", err)
	default:
	}
	close(g.release)
	if err := <-reloaded; nightowl.ErrorCode(err) != nightowl.EConflict || !strings.Contains(err.Error(), "stopping") {
		t.Fatalf("the reload during Stop: %v", err)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("stop: %v", err)
	}
}
