package crashtest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/testdb"
)

// world is what the nodes of the cluster test check and notify: targets
// that say which node ran them and when, and a webhook receiver that counts
// each message by its Idempotency-Key.
type world struct {
	mu    sync.Mutex
	runs  []run
	down  map[string]bool
	msgs  []msg
	watch []run // watchdog pings: node and time
}

type run struct {
	check, node string
	at          time.Time
}

type msg struct {
	key, kind, check string
	at               time.Time
}

func (w *world) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if node, ok := strings.CutPrefix(r.URL.Path, "/watchdog/"); ok {
		w.watch = append(w.watch, run{node: node, at: time.Now()})
		return
	}
	if strings.HasPrefix(r.URL.Path, "/hook") {
		var m nightowl.Message
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &m); err != nil {
			rw.WriteHeader(http.StatusBadRequest)
			return
		}
		w.msgs = append(w.msgs, msg{key: r.Header.Get("Idempotency-Key"), kind: string(m.Kind), check: m.Alert.Check, at: time.Now()})
		return
	}
	c := strings.TrimPrefix(r.URL.Path, "/t/")
	w.runs = append(w.runs, run{check: c, node: r.Header.Get("X-Node"), at: time.Now()})
	if w.down[c] {
		rw.WriteHeader(http.StatusServiceUnavailable)
	}
}

func (w *world) setDown(checks []string, down bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, c := range checks {
		w.down[c] = down
	}
}

// runsSince returns, per check, the nodes that ran it since t and how often.
func (w *world) runsSince(t time.Time) map[string]map[string]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string]map[string]int{}
	for _, r := range w.runs {
		if r.at.Before(t) {
			continue
		}
		if out[r.check] == nil {
			out[r.check] = map[string]int{}
		}
		out[r.check][r.node]++
	}
	return out
}

// watchdogPings counts each node's watchdog pings between from and to.
func (w *world) watchdogPings(from, to time.Time) map[string]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string]int{}
	for _, p := range w.watch {
		if !p.at.Before(from) && p.at.Before(to) {
			out[p.node]++
		}
	}
	return out
}

// firstRunAfter is when check first ran after t on a node other than not;
// zero if it has not.
func (w *world) firstRunAfter(check, not string, t time.Time) time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, r := range w.runs {
		if r.check == check && r.node != not && r.at.After(t) {
			return r.at
		}
	}
	return time.Time{}
}

// messages counts what the receiver got: by "kind check", and by key.
func (w *world) messages() (byWhat map[string]int, dupKeys []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	byWhat = map[string]int{}
	keys := map[string]int{}
	for _, m := range w.msgs {
		byWhat[m.kind+" "+m.check]++
		keys[m.key]++
	}
	for k, n := range keys {
		if n > 1 {
			dupKeys = append(dupKeys, k)
		}
	}
	return byWhat, dupKeys
}

type node struct {
	name, cfg, addr string
	log             *os.File
	p               *proc
	db              *tcpProxy // the node's way to the database
}

// TestClusterOfThree runs three real nightowl processes on one PostgreSQL
// server of the test's own: each check runs on exactly one node through a
// minute of results; a node killed with SIGKILL has its checks running
// elsewhere within the 15s node timeout, its alerts carried on by the new
// owners and its loss alerted on, with no notification lost or sent twice;
// started again, it takes its share back.
func TestClusterOfThree(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three servers for about two minutes; skipped in -short")
	}
	pg := testdb.StartPostgres(t)
	ctx := context.Background()
	dir := t.TempDir()
	bin, err := build(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	w := &world{down: map[string]bool{}}
	srv := httptest.NewServer(w)
	defer srv.Close()

	const checks = 30
	var names []string
	for i := range checks {
		names = append(names, fmt.Sprintf("c%02d", i))
	}
	alerting := names[:6] // down from the start, so alerts are open when a node dies
	w.setDown(alerting, true)

	nodes := make([]*node, 3)
	for i := range nodes {
		n := &node{name: fmt.Sprintf("n%d", i+1), addr: freeAddr(t)}
		// Each node reaches the database through a proxy of its own, to
		// cut it off alone.
		n.db = newTCPProxy(t, fmt.Sprintf("127.0.0.1:%d", pg.Port))
		dsn := fmt.Sprintf("postgres://postgres@%s/postgres?sslmode=disable", n.db.Addr())
		var b strings.Builder
		fmt.Fprintf(&b, "server: {listen: %q}\nstorage: {postgres: %q}\ncluster: {node: %s}\n", n.addr, dsn, n.name)
		fmt.Fprintf(&b, "watchdog: {url: %q, every: 1s}\n", srv.URL+"/watchdog/"+n.name)
		b.WriteString("defaults: {interval: 1s, timeout: 1s, fail_after: 1, recover_after: 1}\nchecks:\n")
		for _, c := range names {
			fmt.Fprintf(&b, "  - name: %s\n    http: {url: %q, headers: {X-Node: %s}}\n", c, srv.URL+"/t/"+c, n.name)
		}
		fmt.Fprintf(&b, "notify:\n  send_resolved: true\n  receivers:\n    ops: [{webhook: {url: %q}}]\n", srv.URL+"/hook")
		b.WriteString("  routes: [{escalation: ops}]\n  escalations:\n    ops: {steps: [{notify: ops}]}\n")
		n.cfg = filepath.Join(dir, n.name+".yaml")
		if err := os.WriteFile(n.cfg, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		if n.log, err = os.Create(filepath.Join(dir, n.name+".log")); err != nil {
			t.Fatal(err)
		}
		nodes[i] = n
	}
	startNode := func(n *node, run int) {
		t.Helper()
		if n.p, err = start(run, bin, n.cfg, n.log); err != nil {
			t.Fatal(err)
		}
	}
	defer func() {
		for _, n := range nodes {
			if n.p != nil && !n.p.exited() {
				n.p.stop(10 * time.Second)
			}
		}
		if t.Failed() {
			for _, n := range nodes {
				t.Logf("%s's output ends:\n%s", n.name, tail(n.log.Name(), 30))
			}
		}
	}()
	for i, n := range nodes {
		startNode(n, i+1)
	}

	// Settle: every node runs checks, and every check runs on one node,
	// for five seconds.
	settled := time.Now()
	for {
		got := w.runsSince(time.Now().Add(-5 * time.Second))
		ok := len(got) == checks && time.Since(settled) > 5*time.Second
		seen := map[string]bool{}
		for _, c := range names {
			ok = ok && len(got[c]) == 1
			for n := range got[c] {
				seen[n] = true
			}
		}
		ok = ok && len(seen) == len(nodes)
		if ok {
			break
		}
		if time.Since(settled) > 60*time.Second {
			t.Fatalf("after 60s the checks do not run on one node each: %v", got)
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("settled in %s", time.Since(settled).Round(100*time.Millisecond))

	// A minute of results: every check on exactly one node, no double runs.
	window := time.Minute
	if d, err := time.ParseDuration(os.Getenv("NIGHTOWL_CLUSTER_WINDOW")); err == nil {
		window = d // shorter, to try changes quickly
	}
	from := time.Now()
	time.Sleep(window)
	got := w.runsSince(from)
	owner := map[string]string{}
	per := map[string]int{}
	for _, c := range names {
		if len(got[c]) != 1 {
			t.Fatalf("in a minute %s ran on %v, want one node", c, got[c])
		}
		for n, k := range got[c] {
			owner[c] = n
			per[n]++
			if k > int(window/time.Second)+2 {
				t.Errorf("%s ran %d times in %s at a 1s interval", c, k, window)
			}
		}
	}
	t.Logf("a minute of results: each check on one node; checks per node %v", per)
	for _, n := range nodes {
		if per[n.name] == 0 {
			t.Errorf("%s ran no checks: %v", n.name, per)
		}
	}
	byWhat, dups := w.messages()
	for _, c := range alerting {
		if byWhat["firing "+c] != 1 {
			t.Errorf("firing %s: %d messages, want 1 (%v)", c, byWhat["firing "+c], byWhat)
		}
	}

	// Kill n3. Its checks run elsewhere within the node timeout; the
	// alerts of its checks are resolved by their new owners when they
	// recover; its loss is alerted on, once.
	victim := nodes[2]
	var hers []string
	for _, c := range names {
		if owner[c] == victim.name {
			hers = append(hers, c)
		}
	}
	killed := time.Now()
	victim.p.kill()
	w.setDown(alerting, false)
	var worst time.Duration
	for _, c := range hers {
		for {
			if at := w.firstRunAfter(c, victim.name, killed); !at.IsZero() {
				worst = max(worst, at.Sub(killed))
				break
			}
			if time.Since(killed) > 40*time.Second {
				t.Fatalf("%s, of the killed node, has not run elsewhere 40s after the kill", c)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	t.Logf("the killed node's %d checks ran elsewhere within %s", len(hers), worst.Round(100*time.Millisecond))
	if worst > 15*time.Second {
		t.Errorf("the killed node's checks took %s to move, want within the 15s node timeout", worst)
	}
	waitFor(t, 30*time.Second, "the lost node alerted and every alert resolved", w.report, func() bool {
		byWhat, _ := w.messages()
		if byWhat["firing node:n3"] != 1 {
			return false
		}
		for _, c := range alerting {
			if byWhat["resolved "+c] != 1 {
				return false
			}
		}
		return true
	})

	// n3 comes back: it takes its share again, and its loss resolves.
	back := time.Now()
	startNode(victim, 4)
	waitFor(t, 40*time.Second, "the restarted node runs checks again", w.report, func() bool {
		return len(w.runsSinceBy(back.Add(3*time.Second), victim.name)) > 0
	})
	waitFor(t, 20*time.Second, "the lost node's alert resolved", w.report, func() bool {
		byWhat, _ := w.messages()
		return byWhat["resolved node:n3"] == 1
	})
	time.Sleep(3 * time.Second)
	from = time.Now()
	time.Sleep(5 * time.Second)
	got = w.runsSince(from)
	for _, c := range names {
		if len(got[c]) != 1 {
			t.Errorf("after the restart %s ran on %v, want one node", c, got[c])
		}
	}

	if got := w.watchdogPings(from, time.Now()); len(got) != len(nodes) {
		t.Errorf("watchdog pings from a healthy cluster: %v", got)
	}

	// PostgreSQL stops for a minute. The checks go on running, a check
	// that goes down meanwhile is alerted on from memory, and once the
	// database is back what happened is written to it.
	outage := names[6]
	pg.Stop(t)
	stopped := time.Now()
	w.setDown([]string{outage}, true)
	waitFor(t, 30*time.Second, "an alert during the outage", w.report, func() bool {
		byWhat, _ := w.messages()
		return byWhat["firing "+outage] == 1
	})
	t.Logf("alerted on %s %s into the outage", outage, time.Since(stopped).Round(100*time.Millisecond))
	time.Sleep(time.Until(stopped.Add(50 * time.Second)))
	got = w.runsSince(time.Now().Add(-10 * time.Second))
	for _, c := range names {
		if len(got[c]) != 1 || sum(got[c]) < 5 {
			t.Errorf("%s in the last 10s of the outage: %v, want runs on one node", c, got[c])
		}
	}
	time.Sleep(time.Until(stopped.Add(60 * time.Second)))
	// The watchdog stopped vouching for nodes whose store takes no writes.
	if got := w.watchdogPings(stopped.Add(20*time.Second), time.Now()); len(got) != 0 {
		t.Errorf("watchdog pings from 20s into the outage: %v", got)
	}
	// The database comes back for two nodes first. The node that alerted
	// on the outage's check stays cut off from it for 20s more, running
	// its checks from memory with the alert unwritten: the others, back
	// first, must not take its checks, or they would page again.
	cut := nodes[0]
	for _, n := range nodes {
		if owner[outage] == n.name {
			cut = n
		}
	}
	cut.db.setCut(true)
	pg.Start(t)
	t.Logf("PostgreSQL back after %s, but not for %s", time.Since(stopped).Round(100*time.Millisecond), cut.name)
	time.Sleep(20 * time.Second)
	got = w.runsSince(time.Now().Add(-10 * time.Second))
	for _, c := range names {
		if len(got[c]) != 1 {
			t.Errorf("%s while %s alone is cut off from the database: %v, want runs on one node", c, cut.name, got[c])
		}
	}
	if byWhat, _ := w.messages(); byWhat["firing "+outage] != 1 {
		t.Errorf("firing %s while %s alone is cut off: %d messages, want 1", outage, cut.name, byWhat["firing "+outage])
	}
	cut.db.setCut(false)
	waitFor(t, 30*time.Second, "the cut-off node's alert resolved", w.report, func() bool {
		byWhat, _ := w.messages()
		return byWhat["firing node:"+cut.name] <= 1 && byWhat["resolved node:"+cut.name] == byWhat["firing node:"+cut.name]
	})
	db := pg.Connect(t, "postgres")
	waitFor(t, 30*time.Second, "the outage's alert, notification and event written back", w.report, func() bool {
		var alerts, sent, events int
		qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		db.QueryRow(qctx, `SELECT count(*) FROM alerts WHERE check_name = $1 AND state IN ('firing', 'resolved')`, outage).Scan(&alerts)
		db.QueryRow(qctx, `SELECT count(*) FROM outbox o JOIN alerts a ON a.id = o.alert_id
			WHERE a.check_name = $1 AND o.state = 'sent'`, outage).Scan(&sent)
		db.QueryRow(qctx, `SELECT count(*) FROM events e JOIN checks c ON c.id = e.check_id
			WHERE c.name = $1 AND e.to_status = 'down'`, outage).Scan(&events)
		return alerts == 1 && sent == 1 && events >= 1
	})
	w.setDown([]string{outage}, false)
	waitFor(t, 30*time.Second, "the outage's alert resolved", w.report, func() bool {
		byWhat, _ := w.messages()
		return byWhat["resolved "+outage] == 1
	})
	back = time.Now()
	waitFor(t, 20*time.Second, "every node's watchdog pinging again", w.report, func() bool {
		return len(w.watchdogPings(back, time.Now())) == len(nodes)
	})

	byWhat, dups = w.messages()
	if len(dups) > 0 {
		t.Errorf("messages sent twice: %v", dups)
	}
	t.Log(w.report())
	for k, n := range byWhat {
		if n != 1 {
			t.Errorf("%s: %d messages, want 1", k, n)
		}
	}
}

// report says what the receiver got, for a failure's message.
func (w *world) report() string {
	byWhat, dups := w.messages()
	var kinds []string
	for k, n := range byWhat {
		kinds = append(kinds, fmt.Sprintf("%s×%d", k, n))
	}
	sort.Strings(kinds)
	return fmt.Sprintf("messages: %s; keys sent twice: %v", strings.Join(kinds, ", "), dups)
}

func sum(m map[string]int) int {
	n := 0
	for _, k := range m {
		n += k
	}
	return n
}

// runsSinceBy lists the checks node ran since t.
func (w *world) runsSinceBy(t time.Time, node string) []string {
	var out []string
	for c, nodes := range w.runsSince(t) {
		if nodes[node] > 0 {
			out = append(out, c)
		}
	}
	return out
}

func waitFor(t *testing.T, limit time.Duration, what string, state func() string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s; %s", limit, what, state())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
