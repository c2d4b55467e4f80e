package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// sites is a small web app hosting several sites, each with two switches:
// the read-only mode a planned failover puts every site in ("This site is
// currently in read-only mode"), and the site's own read-only switch, which
// it can trip by itself ("This site is read-only").
type sites struct {
	mu      sync.Mutex
	global  map[string]bool
	ownRO   map[string]bool
	srv     *httptest.Server
	changes []string
}

func newSites(t *testing.T) *sites {
	s := &sites{global: map[string]bool{}, ownRO: map[string]bool{}}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.Trim(r.URL.Path, "/")
		s.mu.Lock()
		g, o := s.global[name], s.ownRO[name]
		s.mu.Unlock()
		fmt.Fprintf(w, "<h1>%s</h1>", name)
		if g {
			fmt.Fprint(w, "<p>This site is currently in read-only mode.</p>")
		}
		if o {
			fmt.Fprint(w, "<p>This site is read-only.</p>")
		}
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *sites) set(m map[string]bool, site string, on bool) {
	s.mu.Lock()
	m[site] = on
	s.mu.Unlock()
}

// pager records the messages of a webhook receiver.
type pager struct {
	mu  sync.Mutex
	got []pagerMessage
	srv *httptest.Server
}

type pagerMessage struct {
	At    time.Time
	Kind  string
	Text  string
	Alert struct {
		Check       string
		Maintenance string
	}
}

func newPager(t *testing.T) *pager {
	p := &pager{}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m pagerMessage
		json.NewDecoder(r.Body).Decode(&m)
		m.At = time.Now()
		p.mu.Lock()
		p.got = append(p.got, m)
		p.mu.Unlock()
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *pager) find(kind, check string) (pagerMessage, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range p.got {
		if m.Kind == kind && m.Alert.Check == check {
			return m, true
		}
	}
	return pagerMessage{}, false
}

func (p *pager) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.got)
}

// buildBinary builds nightowl into a temporary directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "nightowl")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestMaintenanceEndToEnd is the first outage of the brief, through the
// real binary: a planned failover puts every site in read-only mode under a
// window that expects exactly that. One site trips its own read-only switch
// during the window, which must page during the window; and one site is left
// in read-only mode after it, which must page within verify.within.
func TestMaintenanceEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	app, pg := newSites(t), newPager(t)
	dir := t.TempDir()
	addr := freePort(t)
	const within = 4 * time.Second
	config := func(start, end time.Time) string {
		return fmt.Sprintf(`server: {listen: %q}
defaults: {interval: 500ms, timeout: 500ms, fail_after: 2, recover_after: 1}
checks:
  - name: math-site
    labels: {tier: web}
    http: {url: "%[2]s/math"}
    assert: &site
      ok_status: status == 200
      writable: 'not (body contains "read-only mode")'
      site_writable: 'not (body contains "This site is read-only")'
  - name: bio-site
    labels: {tier: web}
    http: {url: "%[2]s/bio"}
    assert: *site
maintenance:
  - name: march-failover
    start: %[3]s
    end: %[4]s
    checks: {labels: {tier: web}}
    expect: [writable]
    verify: {within: %[5]s}
notify:
  receivers: {oncall: [{webhook: {url: %[6]q}}]}
  routes: [{escalation: page}]
  escalations: {page: {steps: [{notify: oncall}]}}
`, addr, app.srv.URL, start.Format(time.RFC3339), end.Format(time.RFC3339), within, pg.srv.URL)
	}
	// The failover is first planned for an hour from now: however long
	// the server takes to start on a busy machine, it is still to come.
	later := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	cfg := writeFile(t, dir, "nightowl.yaml", config(later, later.Add(8*time.Second)))

	// The first admin and their token, made on the storage before the
	// server runs, with the binary.
	add := exec.Command(bin, "user", "add", "-c", cfg, "--role", "responder", "--password-stdin", "ana")
	add.Stdin = strings.NewReader("correct horse battery staple\n")
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("user add: %v\n%s", err, out)
	}
	tok, err := exec.Command(bin, "token", "create", "-c", cfg, "--user", "ana", "--name", "e2e").Output()
	if err != nil {
		t.Fatalf("token create: %v", err)
	}
	var logs strings.Builder
	cmd := exec.Command(bin, "serve", "-c", cfg)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	env := map[string]string{"NIGHTOWL_URL": "http://" + addr, "NIGHTOWL_TOKEN": strings.TrimSpace(string(tok))}
	waitUntil(t, "both sites up", func() bool {
		code, out, _ := runCmd(t, env, "status")
		return code == 0 && strings.Contains(out, "math-site") && strings.Contains(out, "bio-site")
	})
	_, out, _ := runCmd(t, env, "maint", "list")
	if !strings.Contains(out, "march-failover") || !strings.Contains(out, "upcoming") {
		t.Fatalf("maint list before the window:\n%s", out)
	}

	// The failover is moved to a moment from now, and the server reloads
	// its config. The window may be in force by the time the reload is
	// done; the sites go read-only once it is, as planned.
	start := time.Now().Add(time.Second).UTC().Truncate(time.Second)
	end := start.Add(8 * time.Second)
	writeFile(t, dir, "nightowl.yaml", config(start, end))
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the window in force", func() bool {
		_, out, _ := runCmd(t, env, "maint", "list")
		return strings.Contains(out, "in force")
	})
	app.set(app.global, "math", true)
	app.set(app.global, "bio", true)
	waitUntil(t, "both sites in maintenance", func() bool {
		_, out, _ := runCmd(t, env, "status")
		return strings.Count(out, "maintenance") >= 2
	})
	time.Sleep(time.Second)
	if n := pg.count(); n != 0 {
		t.Fatalf("an expected failure paged: %d messages", n)
	}

	// bio trips its own switch: not expected, so it pages now, during
	// the window, and says so.
	app.set(app.ownRO, "bio", true)
	waitUntilFor(t, "bio-site paged during the window", 5*time.Second, func() bool {
		_, ok := pg.find("firing", "bio-site")
		return ok
	})
	m, _ := pg.find("firing", "bio-site")
	if !m.At.Before(end) {
		t.Errorf("bio-site paged at %s, after the window ended at %s", m.At, end)
	}
	wantNote := "during maintenance march-failover — not expected: site_writable"
	if !strings.Contains(m.Alert.Maintenance, wantNote) || !strings.Contains(m.Text, wantNote) {
		t.Errorf("the page does not say what was not expected:\n%+v", m)
	}
	app.set(app.ownRO, "bio", false)

	// The window ends; bio's failover is undone, math is forgotten in
	// read-only mode.
	time.Sleep(time.Until(end) - 300*time.Millisecond)
	app.set(app.global, "bio", false)
	waitUntilFor(t, "math-site paged after the window", within+2*time.Second, func() bool {
		_, ok := pg.find("firing", "math-site")
		return ok
	})
	m, _ = pg.find("firing", "math-site")
	if m.At.Before(end) || m.At.After(end.Add(within+time.Second)) {
		t.Errorf("math-site paged at %s; the window ended at %s, verify.within %s", m.At.Format(time.RFC3339Nano), end, within)
	}
	if !strings.Contains(m.Text, "writable") {
		t.Errorf("the page does not say what failed:\n%s", m.Text)
	}
	waitUntilFor(t, "bio-site resolved", 5*time.Second, func() bool {
		_, ok := pg.find("resolved", "bio-site")
		return ok
	})
	if _, ok := pg.find("firing", "math-site"); !ok {
		t.Fatal("math-site not paged")
	}
	// The window's story is on math-site's history.
	waitUntilFor(t, "the verification on math-site's history", within+3*time.Second, func() bool {
		req, _ := http.NewRequest("GET", "http://"+addr+"/api/v1/checks/math-site", nil)
		req.Header.Set("Authorization", "Bearer "+env["NIGHTOWL_TOKEN"])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var c struct {
			Events []struct{ Kind, Cause string }
		}
		json.NewDecoder(resp.Body).Decode(&c)
		var history []string
		for _, e := range c.Events {
			if e.Kind == "maintenance" {
				history = append(history, e.Cause)
			}
		}
		all := strings.Join(history, "\n")
		return strings.Contains(all, "maintenance march-failover started; expects writable") &&
			strings.Contains(all, "maintenance march-failover ended; running every check in scope") &&
			strings.Contains(all, "verified 4s after maintenance march-failover: not recovered: math-site")
	})
	_, out, _ = runCmd(t, env, "maint", "list")
	if !strings.Contains(out, "ended") {
		t.Errorf("maint list after the window:\n%s", out)
	}
}

func waitUntilFor(t *testing.T, what string, d time.Duration, fn func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !fn() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
