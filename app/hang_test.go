package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/engine"
	"github.com/nightowl/nightowl/internal/testdb"
)

// hangProxy carries TCP connections to a server, and can stop carrying
// bytes without closing anything: to its clients the server hangs, as one
// behind a dead network path does, rather than refuse. What is sent
// meanwhile is held, and delivered when the proxy forwards again.
type hangProxy struct {
	ln     net.Listener
	target string
	done   chan struct{}
	wg     sync.WaitGroup

	mu     sync.Mutex
	resume chan struct{} // nil while forwarding; closed when a hang ends
	conns  map[net.Conn]bool
}

func newHangProxy(t *testing.T, target string) *hangProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &hangProxy{ln: ln, target: target, done: make(chan struct{}), conns: map[net.Conn]bool{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *hangProxy) addr() string { return p.ln.Addr().String() }

func (p *hangProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		select {
		case <-p.done:
			p.mu.Unlock()
			c.Close()
			s.Close()
			return
		default:
		}
		p.conns[c], p.conns[s] = true, true
		p.wg.Add(2)
		p.mu.Unlock()
		go p.pipe(s, c)
		go p.pipe(c, s)
	}
}

// pipe copies src to dst, holding what it read while the proxy hangs.
func (p *hangProxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	defer func() {
		p.mu.Lock()
		delete(p.conns, src)
		delete(p.conns, dst)
		p.mu.Unlock()
		src.Close()
		dst.Close()
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			resume := p.resume
			p.mu.Unlock()
			if resume != nil {
				select {
				case <-resume:
				case <-p.done:
					return
				}
			}
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// hang stops carrying bytes; every connection stays open.
func (p *hangProxy) hang() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.resume == nil {
		p.resume = make(chan struct{})
	}
}

// forward carries bytes again, first those held.
func (p *hangProxy) forward() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.resume != nil {
		close(p.resume)
		p.resume = nil
	}
}

func (p *hangProxy) close() {
	close(p.done)
	p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// hits is a target for HTTP checks that records when each path was asked
// for, and fails the paths it is told to.
type hits struct {
	mu   sync.Mutex
	at   map[string][]time.Time
	down sync.Map // path to true
}

func (h *hits) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	h.mu.Lock()
	h.at[r.URL.Path] = append(h.at[r.URL.Path], now)
	h.mu.Unlock()
	if _, down := h.down.Load(r.URL.Path); down {
		http.Error(w, "down on purpose", http.StatusInternalServerError)
		return
	}
	fmt.Fprint(w, "ok")
}

func (h *hits) set(path string, down bool) {
	if down {
		h.down.Store(path, true)
	} else {
		h.down.Delete(path)
	}
}

// between returns the times path was asked for within [from, to].
func (h *hits) between(path string, from, to time.Time) []time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []time.Time
	for _, at := range h.at[path] {
		if !at.Before(from) && !at.After(to) {
			out = append(out, at)
		}
	}
	return out
}

// maxGap is the longest time between from, the times in at, and to: how
// long a check went without running.
func maxGap(at []time.Time, from, to time.Time) time.Duration {
	var gap time.Duration
	prev := from
	for _, t := range append(at, to) {
		gap = max(gap, t.Sub(prev))
		prev = t
	}
	return gap
}

// syncLog is a log the server's goroutines and the test share.
type syncLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestStoreThatHangs runs a server on PostgreSQL through a proxy that stops
// carrying bytes, so that the database hangs instead of refusing, while a
// check goes down and up again. The checks keep running on time, the
// status changes are made and their alerts sent from memory, and once the
// proxy forwards again everything is written back, once.
//
// It runs alone, not in parallel with the other tests: it measures how
// punctually the checks run, which servers beside it would slow.
func TestStoreThatHangs(t *testing.T) {
	dsn := testdb.PostgresSchema(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newHangProxy(t, u.Host)
	u.Host = proxy.addr()

	target := &hits{at: map[string][]time.Time{}}
	srv := httptest.NewServer(target)
	t.Cleanup(srv.Close)
	h := newHook(t)
	const interval = time.Second
	steady := []string{"steady1", "steady2", "steady3"}
	var checks strings.Builder
	for _, name := range append([]string{"flap"}, steady...) {
		fmt.Fprintf(&checks, "  - name: %s\n    http: {url: \"%s/%s\"}\n", name, srv.URL, name)
	}
	cfg := filepath.Join(t.TempDir(), "nightowl.yaml")
	// The node timeout outlasts the hang: this node keeps its leases
	// however the cluster treats a node cut off from the database.
	writeConfig(t, cfg, fmt.Sprintf(`storage: {postgres: %q}
cluster: {node: n1, node_timeout: 60s}
defaults: {interval: %s, timeout: 1s, fail_after: 1, recover_after: 1}
checks:
%snotify:
  receivers:
    ops: [{webhook: {url: "%s/hook"}}]
  routes: [{escalation: ops}]
  escalations:
    ops: {steps: [{notify: ops}]}
`, u.String(), interval, checks.String(), h.srv.URL))

	logs := &syncLog{}
	a, err := New(context.Background(), Options{ConfigPath: cfg, Listen: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(logs, nil)), BcryptCost: testCost, PublicTTL: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	var hung atomic.Bool
	t.Cleanup(func() {
		proxy.forward() // a failed test must not leave the stop hanging too
		a.Stop(context.Background())
		if t.Failed() {
			t.Logf("server log:\n%s", logs)
		}
	})
	r := a.store.(*resilient)
	db := r.inner
	wait := func(what string, limit time.Duration, fn func() bool) {
		t.Helper()
		deadline := time.Now().Add(limit)
		for !fn() {
			if time.Now().After(deadline) {
				t.Fatalf("waited %v for %s (store hung: %v)", limit, what, hung.Load())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	status := func(check string) nightowl.Status {
		v, _ := a.engine.Check(check)
		return v.State.Status
	}
	messages := func() []string {
		var out []string
		for _, k := range h.kinds() {
			out = append(out, k)
		}
		return out
	}
	wait("every check to be up", 10*time.Second, func() bool {
		for _, c := range append([]string{"flap"}, steady...) {
			if status(c) != nightowl.StatusUp {
				return false
			}
		}
		return true
	})

	// The database hangs; the check goes down and up again meanwhile.
	hungAt := time.Now()
	proxy.hang()
	hung.Store(true)
	target.set("/flap", true)
	// The first write to find the store hung waits for its deadline;
	// the alert is sent from memory, once the sender is back from its
	// own claim on the hung store (as long again).
	const claim = 5 * time.Second
	wait("the firing message", 2*interval+engine.EventTimeout+2*claim+5*time.Second, func() bool {
		return slices.Equal(messages(), []string{"firing"})
	})
	t.Logf("firing message %v into the hang", time.Since(hungAt).Round(time.Millisecond))
	if events, _, _ := r.Spooled(); events == 0 {
		t.Fatal("the status change went to the database, which hangs: the proxy does not hang it")
	}
	qctx, cancel := context.WithTimeout(context.Background(), time.Second)
	if _, err := db.Events(qctx, "flap", 1); err == nil {
		t.Fatal("the database answered through a hung proxy")
	}
	cancel()
	target.set("/flap", false)
	wait("the resolved message", 2*interval+2*claim+5*time.Second, func() bool {
		return slices.Equal(messages(), []string{"firing", "resolved"})
	})
	// The metric an operator's alert reads tells of the hang: what waits
	// to be written grows old. (No write has failed yet: the writer's
	// batch still waits for its deadline.)
	if age := metricValue(t, a, "nightowl_store_oldest_unwritten_seconds"); age < 3 {
		t.Errorf("nightowl_store_oldest_unwritten_seconds is %v %v into the hang", age, time.Since(hungAt).Round(time.Second))
	}
	resumedAt := time.Now()
	hung.Store(false)
	proxy.forward()

	// The checks ran on time throughout: a steady check at its interval,
	// the one that changed held up only by its first write's deadline.
	t.Logf("the store hung for %v", resumedAt.Sub(hungAt).Round(time.Millisecond))
	for _, c := range steady {
		at := target.between("/"+c, hungAt, resumedAt)
		gap := maxGap(at, hungAt, resumedAt)
		t.Logf("%s: %d runs, longest gap %v", c, len(at), gap.Round(time.Millisecond))
		if gap > interval+1500*time.Millisecond {
			t.Errorf("%s ran %d times in the %v the store hung, once with a gap of %v; want one every %v",
				c, len(at), resumedAt.Sub(hungAt).Round(time.Millisecond), gap.Round(time.Millisecond), interval)
		}
	}
	flapAt := target.between("/flap", hungAt, resumedAt)
	gap := maxGap(flapAt, hungAt, resumedAt)
	t.Logf("flap: %d runs, longest gap %v", len(flapAt), gap.Round(time.Millisecond))
	if gap > interval+engine.EventTimeout+alertTimeout+1500*time.Millisecond {
		t.Errorf("flap went %v without running while the store hung", gap.Round(time.Millisecond))
	}

	// Everything kept is written back, then the server goes on as usual.
	wait("the write-back", 30*time.Second, func() bool {
		e, al, n := r.Spooled()
		return e+al+n == 0
	})
	t.Logf("written back %v after the store answered again", time.Since(resumedAt).Round(time.Millisecond))
	wait("the results kept to be written", 10*time.Second, func() bool {
		return metricValue(t, a, "nightowl_store_oldest_unwritten_seconds") < 3
	})
	target.set("/flap", true)
	wait("the second firing message", 2*interval+5*time.Second, func() bool {
		return slices.Equal(messages(), []string{"firing", "resolved", "firing"})
	})

	// What the database holds: each status change, alert and
	// notification once, and the results of the checks that ran while it
	// hung.
	ctx := context.Background()
	if err := a.store.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	events, err := db.Events(ctx, "flap", 100)
	if err != nil {
		t.Fatal(err)
	}
	var changes []string
	for _, e := range slices.Backward(events) {
		changes = append(changes, string(e.From)+">"+string(e.To))
	}
	if want := []string{"up>down", "down>up", "up>down"}; !slices.Equal(changes, want) {
		t.Errorf("events of flap in the database: %v, want %v", changes, want)
	}
	alerts, err := db.Alerts(ctx, nightowl.AlertQuery{Check: "flap"})
	if err != nil {
		t.Fatal(err)
	}
	var states []string
	for _, al := range slices.Backward(alerts) {
		states = append(states, string(al.State))
	}
	if want := []string{"resolved", "firing"}; !slices.Equal(states, want) {
		t.Errorf("alerts of flap in the database: %v, want %v", states, want)
	}
	wait("every notification recorded as sent", 10*time.Second, func() bool {
		ns, err := db.Notifications(ctx, nightowl.NotificationQuery{Limit: 100})
		if err != nil || len(ns) != 3 {
			return false
		}
		for _, n := range ns {
			if n.State != nightowl.NotificationSent {
				return false
			}
		}
		return true
	})
	ns, err := db.Notifications(ctx, nightowl.NotificationQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var outbox []string
	for _, n := range slices.Backward(ns) {
		outbox = append(outbox, string(n.Message.Kind))
	}
	if want := []string{"firing", "resolved", "firing"}; !slices.Equal(outbox, want) {
		t.Errorf("outbox: %v, want %v", outbox, want)
	}
	h.mu.Lock()
	for key, n := range h.keys {
		if n != 1 {
			t.Errorf("message %s arrived %d times", key, n)
		}
	}
	h.mu.Unlock()
	if got := messages(); len(got) != 3 {
		t.Errorf("messages: %v, want firing, resolved, firing", got)
	}
	for _, c := range steady {
		results, err := db.Results(ctx, c, 100)
		if err != nil {
			t.Fatal(err)
		}
		stored := 0
		for _, res := range results {
			if res.Start.After(hungAt) && res.Start.Before(resumedAt) {
				stored++
			}
		}
		// A run that began as the hang did may be counted on either side.
		ran := len(target.between("/"+c, hungAt.Add(100*time.Millisecond), resumedAt.Add(-100*time.Millisecond)))
		if stored < ran {
			t.Errorf("%s: %d results from while the store hung are in the database, want %d", c, stored, ran)
		}
	}
}

// metricValue is the sum of the values of the series of a's metrics that
// sel picks: a name, with labels to match as name{k="v",…}; gauges and
// counters.
func metricValue(t *testing.T, a *App, sel string) float64 {
	t.Helper()
	name, rest, _ := strings.Cut(sel, "{")
	want := map[string]string{}
	if rest = strings.TrimSuffix(rest, "}"); rest != "" {
		for _, kv := range strings.Split(rest, ",") {
			k, v, _ := strings.Cut(kv, "=")
			want[k] = strings.Trim(v, `"`)
		}
	}
	// While the store hangs its outbox cannot be read: the rest is
	// gathered all the same, as /metrics serves it.
	mfs, err := a.registry.Gather()
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		sum := 0.0
	series:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, l := range m.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if got[k] != v {
					continue series
				}
			}
			sum += m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
		return sum
	}
	t.Fatalf("no metric %s (%v)", name, err)
	return 0
}
