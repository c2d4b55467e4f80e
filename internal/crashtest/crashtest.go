// Package crashtest kills a real nightowl server with SIGKILL, again and
// again at random moments while alerts fire and resolve, and then holds the
// outbox to its promise against what the webhook receivers got: no
// notification lost, and a duplicate only where a kill fell between a send
// and its record. The test beside it runs a short round; bench/crash runs a
// long one.
//
// Everything but the server lives in the harness's process and outlives
// every restart: the flapping site the checks watch, the two webhook
// receivers (one refuses a few requests, to exercise retries) and the
// client that acknowledges some alerts through the API.
package crashtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/notify"
	"github.com/nightowl/nightowl/sqlite"
)

// Options configure a Harness. The zero value of every field but Dir is
// usable.
type Options struct {
	// Dir holds the binary, the config, the database and the servers'
	// output; required, and used by one Harness only.
	Dir string
	// Binary is a nightowl built beforehand; when empty, cmd/nightowl of
	// the module the working directory is in is built into Dir.
	Binary string
	Kills  int    // times the server is killed; DefaultKills when zero
	Checks int    // HTTP checks; DefaultChecks when zero
	Seed   uint64 // drives flapping, refusals, acknowledgements and kills; from the clock when zero
	// Each process is killed a random time between MinUp and MaxUp after
	// it started (one in ten within 40 ms, as it starts); one time in two, the kill then waits up to half a second
	// more for a receiver to get a request, and falls while the receiver
	// holds it. DefaultMinUp and DefaultMaxUp when zero.
	MinUp, MaxUp time.Duration
	// Refuse is the fraction of requests the flaky receiver refuses;
	// DefaultRefuse when zero, none when negative. Most refusals are 429
	// with Retry-After: 1; one in five is a 503, which the sender backs off
	// from for 2.5 s to 5 s, so keep it small.
	Refuse float64
	// SettleTimeout bounds how long the last run may take to send
	// everything and resolve every alert; DefaultSettleTimeout when zero.
	SettleTimeout time.Duration
	// Logf reports progress; silent when nil.
	Logf func(format string, args ...any)
}

// Defaults of Options.
const (
	DefaultKills         = 20
	DefaultChecks        = 10
	DefaultMinUp         = 20 * time.Millisecond
	DefaultMaxUp         = 1500 * time.Millisecond
	DefaultRefuse        = 0.05
	DefaultSettleTimeout = 90 * time.Second
)

const (
	// interval is every check's interval and timeout: short, so that
	// alerts open and resolve within one process's life.
	interval = 300 * time.Millisecond
	// The flapper toggles one check every minGap to maxGap.
	minGap, maxGap = 50 * time.Millisecond, 400 * time.Millisecond
	// holdMax bounds how long a receiver holds a request between recording
	// and answering it.
	holdMax = 20 * time.Millisecond
	// One kill in ten falls in the first earlyKill of a process's life,
	// which is about how long it takes to start.
	earlyKill = 40 * time.Millisecond
	// aimWindow bounds how long an aimed kill waits for a request.
	aimWindow = 500 * time.Millisecond
	// stopTimeout bounds the last, graceful stop.
	stopTimeout = 30 * time.Second
	// readyTimeout bounds how long the last process may take to answer.
	readyTimeout = 30 * time.Second
)

// Harness runs one crash test. Close it when done: it kills a server left
// running and stops the in-process servers.
type Harness struct {
	opts     Options
	bin      string
	buildDur time.Duration
	cfg, db  string
	logPath  string
	log      *os.File
	listen   string // the server's address, the same for every process
	base     string // http://listen

	target             *target
	recv               *receiver
	targetURL, hookURL string
	servers            []*http.Server
	client             *http.Client
	token              string // the API token the harness acts with

	mu   sync.Mutex
	proc *proc // the latest server process
	ran  bool
}

// New builds the binary (unless opts names one) and starts the site and the
// receivers.
func New(ctx context.Context, opts Options) (*Harness, error) {
	if opts.Dir == "" {
		return nil, errors.New("crash test: no directory")
	}
	if opts.Kills <= 0 {
		opts.Kills = DefaultKills
	}
	if opts.Checks <= 0 {
		opts.Checks = DefaultChecks
	}
	if opts.Seed == 0 {
		opts.Seed = uint64(time.Now().UnixNano())
	}
	if opts.MinUp <= 0 {
		opts.MinUp = DefaultMinUp
	}
	if opts.MaxUp <= 0 {
		opts.MaxUp = DefaultMaxUp
	}
	if opts.MaxUp < opts.MinUp {
		return nil, fmt.Errorf("crash test: MaxUp %s is shorter than MinUp %s", opts.MaxUp, opts.MinUp)
	}
	switch {
	case opts.Refuse == 0:
		opts.Refuse = DefaultRefuse
	case opts.Refuse < 0:
		opts.Refuse = 0
	}
	if opts.SettleTimeout <= 0 {
		opts.SettleTimeout = DefaultSettleTimeout
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	h := &Harness{
		opts: opts, bin: opts.Binary,
		cfg:     filepath.Join(opts.Dir, "nightowl.yaml"),
		db:      filepath.Join(opts.Dir, "nightowl.db"),
		logPath: filepath.Join(opts.Dir, "server.log"),
		target:  newTarget(opts.Checks),
		recv:    newReceiver(rand.New(rand.NewPCG(opts.Seed, 2)), opts.Refuse, holdMax),
		// No keep-alives: a connection to a killed server is no use to
		// the next one.
		client: &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}},
	}
	if h.bin == "" {
		start := time.Now()
		bin, err := build(ctx, opts.Dir)
		if err != nil {
			return nil, err
		}
		h.bin, h.buildDur = bin, time.Since(start)
	}
	var err error
	if h.log, err = os.OpenFile(h.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
		return nil, fmt.Errorf("crash test: %w", err)
	}
	// The port is picked once: every process listens on the same one, as
	// a restarted server would.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("crash test: pick a port: %w", err)
	}
	h.listen = ln.Addr().String()
	h.base = "http://" + h.listen
	ln.Close()
	if h.targetURL, err = h.serve(h.target); err != nil {
		h.Close()
		return nil, err
	}
	if h.hookURL, err = h.serve(h.recv); err != nil {
		h.Close()
		return nil, err
	}
	return h, nil
}

func (h *Harness) serve(handler http.Handler) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("crash test: listen: %w", err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	h.servers = append(h.servers, srv)
	return "http://" + ln.Addr().String(), nil
}

// Seed is the seed in use: give it back as Options.Seed to replay the same
// flapping and kill choices (their timing still varies).
func (h *Harness) Seed() uint64 { return h.opts.Seed }

// LogPath is the file the servers wrote their output to.
func (h *Harness) LogPath() string { return h.logPath }

// Close kills the server if one still runs and stops the site and the
// receivers.
func (h *Harness) Close() {
	h.mu.Lock()
	p := h.proc
	h.mu.Unlock()
	if p != nil && !p.exited() {
		p.kill()
	}
	for _, srv := range h.servers {
		srv.Close()
	}
	if h.log != nil {
		h.log.Close()
	}
}

// writeConfig writes the config for server process run: the same each
// time but for the header that names the process.
func (h *Harness) writeConfig(run int) error {
	var b strings.Builder
	fmt.Fprintf(&b, "server: {listen: %q}\nstorage: {sqlite: nightowl.db}\n", h.listen)
	fmt.Fprintf(&b, "defaults: {interval: %s, timeout: %s, fail_after: 1, recover_after: 1}\nchecks:\n", interval, interval)
	for i := range h.opts.Checks {
		fmt.Fprintf(&b, "  - name: c%02d\n    http: {url: %q}\n", i, fmt.Sprintf("%s/t/%d", h.targetURL, i))
		if i%2 == 1 {
			b.WriteString("    fail_after: 2\n")
		}
	}
	b.WriteString("notify:\n  receivers:\n    ops:\n")
	for _, name := range []string{steady, flaky} {
		fmt.Fprintf(&b, "      - {webhook: {url: %q, headers: {%s: \"%d\"}}}\n", h.hookURL+"/hook/"+name, runHeader, run)
	}
	b.WriteString("  routes: [{escalation: ops}]\n  escalations:\n    ops: {steps: [{notify: ops}]}\n")
	if err := os.WriteFile(h.cfg, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("crash test: write config: %w", err)
	}
	return nil
}

func (h *Harness) start(run int) (*proc, error) {
	if err := h.writeConfig(run); err != nil {
		return nil, err
	}
	p, err := start(run, h.bin, h.cfg, h.log)
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	h.proc = p
	h.mu.Unlock()
	return p, nil
}

// Run kills the server Options.Kills times, starts it once more with every
// check up, waits for it to send everything and resolve every alert, stops
// it gracefully and compares the store with what the receivers got. The
// error is for the harness failing, or for the server not coming up or
// dying on its own (with its output); a broken guarantee is in
// Report.Problems. A Harness runs once.
func (h *Harness) Run(ctx context.Context) (*Report, error) {
	h.mu.Lock()
	ran := h.ran
	h.ran = true
	h.mu.Unlock()
	if ran {
		return nil, errors.New("crash test: a harness runs once")
	}
	begin := time.Now()
	seed := h.opts.Seed
	rep := &Report{Seed: seed, Checks: h.opts.Checks, Build: h.buildDur,
		Concurrency: notify.DefaultSendConcurrency, LogPath: h.logPath}
	defer func() { rep.Elapsed = rep.Build + time.Since(begin) }()

	if err := h.makeToken(ctx); err != nil {
		return rep, err
	}
	churn, stopChurn := context.WithCancel(ctx)
	defer stopChurn()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		rep.Downs = h.target.flap(churn, rand.New(rand.NewPCG(seed, 1)), minGap, maxGap)
	}()
	go func() {
		defer wg.Done()
		rep.Acks = h.acknowledge(churn, rand.New(rand.NewPCG(seed, 4)))
	}()
	rng := rand.New(rand.NewPCG(seed, 3))
	for run := 1; run <= h.opts.Kills; run++ {
		if err := h.crash(ctx, run, rng, rep); err != nil {
			stopChurn()
			wg.Wait()
			return rep, err
		}
		if run%10 == 0 || run == h.opts.Kills {
			got := h.recv.receipts()
			h.opts.Logf("crash test: %d/%d kills, %d requests received, %s", run, h.opts.Kills, len(got), time.Since(begin).Round(time.Second))
		}
	}
	stopChurn()
	wg.Wait()
	h.target.allUp()
	rep.Churn = time.Since(begin)

	settleStart := time.Now()
	final := h.opts.Kills + 1
	p, err := h.start(final)
	if err != nil {
		return rep, err
	}
	rctx, cancel := context.WithTimeout(ctx, readyTimeout)
	ready := h.waitReady(rctx, p)
	cancel()
	if !ready {
		if p.exited() {
			return rep, h.died(p)
		}
		p.kill()
		return rep, fmt.Errorf("crash test: the last server did not answer within %s\n%s", readyTimeout, tail(h.logPath, 40))
	}
	rep.Settled, rep.Outstanding = h.settle(ctx, p.started, time.Now().Add(h.opts.SettleTimeout))
	if err := p.stop(stopTimeout); err != nil {
		rep.StopErr = err.Error()
	}
	rep.Settle = time.Since(settleStart)
	if ctx.Err() != nil {
		return rep, ctx.Err()
	}
	h.opts.Logf("crash test: settled in %s; reading the store", rep.Settle.Round(time.Millisecond))

	alerts, stored, events, err := h.readStore(ctx)
	if err != nil {
		return rep, err
	}
	account(rep, alerts, stored, h.recv.receipts(), final)
	h.stale(rep, alerts)
	rep.Contradicted = contradicted(readLog(h.logPath, rep), events)
	if f, err := os.Create(filepath.Join(h.opts.Dir, "site.log")); err == nil {
		h.target.dump(f)
		f.Close()
	}
	return rep, nil
}

// crash starts server process run and kills it.
func (h *Harness) crash(ctx context.Context, run int, rng *rand.Rand, rep *Report) error {
	p, err := h.start(run)
	if err != nil {
		return err
	}
	killAt := p.started.Add(h.opts.MinUp + time.Duration(rng.Int64N(int64(h.opts.MaxUp-h.opts.MinUp)+1)))
	aim := rng.IntN(2) == 0
	if rng.IntN(10) == 0 {
		// While it starts: releasing its claims, reconciling alerts.
		killAt, aim = p.started.Add(time.Duration(rng.Int64N(int64(earlyKill)))), false
	}

	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ready := make(chan struct{})
	go func() {
		if h.waitReady(rctx, p) {
			close(ready)
		}
	}()
	wait := func(until time.Time, arrived <-chan struct{}) (bool, error) {
		timer := time.NewTimer(time.Until(until))
		defer timer.Stop()
		select {
		case <-ctx.Done():
			p.kill()
			return false, ctx.Err()
		case <-p.done:
			return false, h.died(p)
		case <-arrived:
			return true, nil
		case <-timer.C:
			return false, nil
		}
	}
	if _, err := wait(killAt, nil); err != nil {
		return err
	}
	if aim {
		h.recv.drainArrivals()
		hit, err := wait(killAt.Add(aimWindow), h.recv.arrived)
		if err != nil {
			return err
		}
		if hit {
			rep.KillsAimed++
		}
	}
	if h.recv.inflight.Load() > 0 {
		rep.KillsInFlight++
	}
	p.kill()
	rep.Kills++
	select {
	case <-ready:
	default:
		rep.KillsStarting++
	}
	return nil
}

// died describes a server that exited when nobody killed it.
func (h *Harness) died(p *proc) error {
	return fmt.Errorf("crash test: server run %d exited on its own after %s (%v); its output ends:\n%s",
		p.run, time.Since(p.started).Round(time.Millisecond), p.err, tail(h.logPath, 40))
}

// waitReady polls /healthz until it answers, the process exits or ctx ends.
func (h *Harness) waitReady(ctx context.Context, p *proc) bool {
	for {
		if resp, err := h.get(ctx, "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return true
			}
		}
		select {
		case <-ctx.Done():
			return false
		case <-p.done:
			return false
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func (h *Harness) get(ctx context.Context, path string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.base+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+h.token)
	return h.client.Do(req)
}

// makeToken makes a responder and an API token of theirs with the binary,
// on the storage, before the first server runs.
func (h *Harness) makeToken(ctx context.Context) error {
	if err := h.writeConfig(0); err != nil {
		return err
	}
	add := exec.CommandContext(ctx, h.bin, "user", "add", "-c", h.cfg, "--role", "responder", "--password-stdin", "crashtest")
	add.Stdin = strings.NewReader("crash test passphrase\n")
	if out, err := add.CombinedOutput(); err != nil {
		return fmt.Errorf("crash test: user add: %v\n%s", err, out)
	}
	out, err := exec.CommandContext(ctx, h.bin, "token", "create", "-c", h.cfg, "--user", "crashtest", "--name", "harness").Output()
	if err != nil {
		return fmt.Errorf("crash test: token create: %w", err)
	}
	h.token = strings.TrimSpace(string(out))
	return nil
}

func (h *Harness) getJSON(ctx context.Context, path string, out any) error {
	resp, err := h.get(ctx, path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("GET %s: %s: %s", path, resp.Status, bytes.TrimSpace(b))
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// acknowledge acknowledges a random firing alert every half second to
// three seconds, through the API, until ctx ends; it returns how many the
// server confirmed. Whether the server is up at the time is left to chance.
func (h *Harness) acknowledge(ctx context.Context, rng *rand.Rand) int {
	acked := 0
	for {
		select {
		case <-ctx.Done():
			return acked
		case <-time.After(500*time.Millisecond + time.Duration(rng.Int64N(int64(2500*time.Millisecond)))):
		}
		var list struct{ Alerts []nightowl.Alert }
		if err := h.getJSON(ctx, "/api/v1/alerts?state=open", &list); err != nil || len(list.Alerts) == 0 {
			continue
		}
		a := list.Alerts[rng.IntN(len(list.Alerts))]
		if a.State != nightowl.AlertFiring {
			continue
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.base+"/api/v1/alerts/"+a.ID+"/ack",
			nil)
		if err != nil {
			continue
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+h.token)
		if resp, err := h.client.Do(req); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				acked++
			}
		}
	}
}

// settle waits until every check has run and is up, no alert is open and
// nothing is pending, three polls in a row; or until deadline, when it says
// what was still outstanding.
func (h *Harness) settle(ctx context.Context, since, deadline time.Time) (bool, string) {
	stable, last := 0, ""
	for time.Now().Before(deadline) {
		if out := h.outstanding(ctx, since); out == "" {
			if stable++; stable == 3 {
				return true, ""
			}
		} else {
			stable, last = 0, out
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err().Error()
		case <-time.After(300 * time.Millisecond):
		}
	}
	return false, last
}

// outstanding says what the last server has yet to do; "" when nothing.
func (h *Harness) outstanding(ctx context.Context, since time.Time) string {
	var checks struct {
		Checks []struct {
			Name    string
			Status  nightowl.Status
			LastRun *time.Time `json:"last_run"`
		}
	}
	var open struct{ Alerts []nightowl.Alert }
	var pending struct{ Notifications []json.RawMessage }
	for path, out := range map[string]any{
		"/api/v1/checks":                                 &checks,
		"/api/v1/alerts?state=open&limit=1000":           &open,
		"/api/v1/notifications?state=pending&limit=1000": &pending,
	} {
		if err := h.getJSON(ctx, path, out); err != nil {
			return err.Error()
		}
	}
	var parts, notUp []string
	for _, c := range checks.Checks {
		if c.Status != nightowl.StatusUp || c.LastRun == nil || c.LastRun.Before(since) {
			notUp = append(notUp, c.Name+" "+string(c.Status))
		}
	}
	if len(notUp) > 0 {
		parts = append(parts, fmt.Sprintf("checks not up: %s", strings.Join(notUp, ", ")))
	}
	if n := len(open.Alerts); n > 0 {
		ids := make([]string, n)
		for i, a := range open.Alerts {
			ids[i] = a.ID + " " + a.Check + " " + string(a.State)
		}
		parts = append(parts, fmt.Sprintf("%d open alerts (%s)", n, clip(ids, 5)))
	}
	if n := len(pending.Notifications); n > 0 {
		parts = append(parts, fmt.Sprintf("%d pending notifications", n))
	}
	return strings.Join(parts, "; ")
}

// staleWindow is how long a site must have answered the same before an
// alert change that contradicts it counts as stale: several intervals, and
// far more than a request to the in-process site takes.
const staleWindow = time.Second

// stale finds the alerts that fired or resolved against what the site
// had been answering for staleWindow.
func (h *Harness) stale(rep *Report, alerts []nightowl.Alert) {
	for _, a := range alerts {
		var i int
		if _, err := fmt.Sscanf(a.Check, "c%d", &i); err != nil || i < 0 || i >= len(h.target.down) {
			continue
		}
		if down, ok := h.target.steadyAt(i, a.StartsAt.Add(-staleWindow), a.StartsAt); ok && !down {
			rep.StaleFires = append(rep.StaleFires, fmt.Sprintf("%s %s at %s", a.ID, a.Check, a.StartsAt.Format("15:04:05.000")))
		}
		if a.ResolvedAt.IsZero() {
			continue
		}
		if down, ok := h.target.steadyAt(i, a.ResolvedAt.Add(-staleWindow), a.ResolvedAt); ok && down {
			rep.StaleResolves = append(rep.StaleResolves, fmt.Sprintf("%s %s at %s", a.ID, a.Check, a.ResolvedAt.Format("15:04:05.000")))
		}
	}
}

// readStore reads every alert and notification from the database, which
// no process holds any more.
func (h *Harness) readStore(ctx context.Context) ([]nightowl.Alert, []nightowl.Notification, []nightowl.Event, error) {
	h.mu.Lock()
	p := h.proc
	h.mu.Unlock()
	if p != nil && !p.exited() {
		return nil, nil, nil, errors.New("crash test: the server still holds the database")
	}
	st, err := sqlite.Open(ctx, sqlite.Options{Path: h.db, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("crash test: %w", err)
	}
	defer st.Close()
	alerts, err := st.Alerts(ctx, nightowl.AlertQuery{Limit: math.MaxInt32})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("crash test: %w", err)
	}
	stored, err := st.Notifications(ctx, nightowl.NotificationQuery{Limit: math.MaxInt32})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("crash test: %w", err)
	}
	events, err := st.Events(ctx, "", 0)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("crash test: %w", err)
	}
	return alerts, stored, events, nil
}

var errorMsg = regexp.MustCompile(`level=ERROR msg=("(?:[^"\\]|\\.)*"|\S+)`)

// startChange is an alert a process opened or resolved as it started.
type startChange struct {
	run      int
	runStart time.Time
	line     string
	check    string
	fired    bool // or resolved
}

var (
	runLine   = regexp.MustCompile(`^=== run (\d+) at (\S+)`)
	alertLine = regexp.MustCompile(`msg="alert (firing|resolved)" alert=\S+ check=(\S+)`)
)

// readLog counts, in the servers' output, the ERROR lines by message, and
// returns the alerts each process opened and resolved as it started, before
// it said it was serving: the reconciliation of the alerts the store kept
// with the check states it restored, before any check had run.
func readLog(path string, rep *Report) []startChange {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	rep.ServerErrors = map[string]int{}
	var out []startChange
	run, runStart, starting := 0, time.Time{}, false
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if m := runLine.FindStringSubmatch(line); m != nil {
			run, _ = strconv.Atoi(m[1])
			runStart, _ = time.Parse(time.RFC3339Nano, m[2])
			starting = true
			continue
		}
		if strings.Contains(line, `msg="nightowl serving"`) {
			starting = false
		}
		if m := alertLine.FindStringSubmatch(line); m != nil && starting {
			out = append(out, startChange{run: run, runStart: runStart, line: line, check: m[2], fired: m[1] == "firing"})
			if m[1] == "firing" {
				rep.ReconcileFires++
			} else {
				rep.ReconcileResolves++
			}
		}
		if m := errorMsg.FindStringSubmatch(line); m != nil {
			rep.ServerErrors[strings.Trim(m[1], `"`)]++
		}
	}
	return out
}

// contradicted lists the alert changes made as a process started that
// go against the last status change the store had durably recorded for
// the check before that process started: an alert opened for a check whose
// last event was a recovery, or resolved for one whose last event was a
// failure. Such a change comes from a restored check state older than the
// event log and the alerts.
func contradicted(changes []startChange, events []nightowl.Event) []string {
	byCheck := map[string][]nightowl.Event{}
	for _, e := range events {
		if e.Kind == nightowl.EventStatus {
			byCheck[e.Check] = append(byCheck[e.Check], e)
		}
	}
	for _, es := range byCheck {
		slices.SortFunc(es, func(a, b nightowl.Event) int { return a.Time.Compare(b.Time) })
	}
	var out []string
	for _, c := range changes {
		var last *nightowl.Event
		for i, e := range byCheck[c.check] {
			if e.Time.Before(c.runStart) {
				last = &byCheck[c.check][i]
			}
		}
		if last == nil {
			continue
		}
		if (c.fired && last.To == nightowl.StatusUp) || (!c.fired && last.To == nightowl.StatusDown) {
			out = append(out, fmt.Sprintf("run %d: %s, though the last event before it started was %s→%s at %s",
				c.run, c.line, last.From, last.To, last.Time.UTC().Format("15:04:05.000")))
		}
	}
	return out
}

// tail returns the last n lines of the file at path.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
