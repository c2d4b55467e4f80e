package crashtest

import (
	"fmt"
	"net"
	"net/http"
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

// privateRedis starts a redis-server of the test's own on a free port (a
// hung Redis must not hang the other tests' one), and returns its address
// and the process, which the test stops (SIGSTOP) and lets go on
// (SIGCONT) as a Redis stuck in a save does.
func privateRedis(t *testing.T) (string, *exec.Cmd) {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server is not installed; scripts/test installs it")
	}
	addr := freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no",
		"--dir", t.TempDir(), "--logfile", "")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGCONT)
		cmd.Process.Kill()
		cmd.Wait()
	})
	waitFor(t, 10*time.Second, "the test's redis-server to listen", func() string { return addr }, func() bool {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return addr, cmd
}

// pinger pings the heartbeat checks it is told are alive, every 300ms, as
// workers that are running do.
type pinger struct {
	mu    sync.Mutex
	alive map[string]bool
	stop  chan struct{}
	done  sync.WaitGroup
}

func startPinger(t *testing.T, addr string, tokens map[string]string) *pinger {
	p := &pinger{alive: map[string]bool{}, stop: make(chan struct{})}
	client := &http.Client{Timeout: 2 * time.Second}
	p.done.Go(func() {
		tick := time.NewTicker(300 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-tick.C:
			}
			p.mu.Lock()
			var names []string
			for n, ok := range p.alive {
				if ok {
					names = append(names, n)
				}
			}
			p.mu.Unlock()
			for _, n := range names {
				if resp, err := client.Get("http://" + addr + "/ping/" + tokens[n]); err == nil {
					resp.Body.Close()
				}
			}
		}
	})
	t.Cleanup(func() { close(p.stop); p.done.Wait() })
	return p
}

func (p *pinger) set(alive bool, names ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, n := range names {
		p.alive[n] = alive
	}
}

func workerNames(n int) []string {
	var out []string
	for i := 1; i <= n; i++ {
		out = append(out, fmt.Sprintf("worker-%d", i))
	}
	return out
}

// TestRedisHangBlocksItsWorkers is the Stella outage through the real
// binary: Redis hangs (its process stopped) and the ten workers that need
// it stop pinging. Exactly one page goes out, about Redis, and one update
// lists the ten workers as blocked by it; none of them pages. Redis comes
// back and nine workers with it: the one still silent pages, on its own,
// once its grace is over, saying that Redis recovered.
func TestRedisHangBlocksItsWorkers(t *testing.T) {
	redisAddr, redis := privateRedis(t)
	in := newInbox(t)
	workers := workerNames(10)
	tokens := map[string]string{}
	var b strings.Builder
	fmt.Fprintf(&b, "defaults: {interval: 500ms, timeout: 400ms, fail_after: 1, recover_after: 1}\nchecks:\n")
	fmt.Fprintf(&b, "  - name: redis-main\n    redis: {addr: %q}\n", redisAddr)
	for _, w := range workers {
		tokens[w] = w + "-token-0123456789"
		fmt.Fprintf(&b, "  - name: %s\n    heartbeat: {period: 2s, grace: 2s, token: %q}\n    depends_on: [redis-main]\n", w, tokens[w])
	}
	b.WriteString(opsNotify(in, "group_wait: 2s, group_interval: 1m"))
	srv := newServer(t, filepath.Join(t.TempDir(), "nightowl.db"), b.String())
	srv.start()
	p := startPinger(t, srv.addr, tokens)
	p.set(true, workers...)
	srv.waitAllUp(1 + len(workers))

	// Redis hangs, and the workers stop.
	if err := redis.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	p.set(false, workers...)
	hung := time.Now()
	waitFor(t, 30*time.Second, "every worker blocked by redis-main, and the update that lists them", in.String, func() bool {
		cs := srv.checks()
		for _, w := range workers {
			if c := cs[w]; c.Status != nightowl.StatusBlocked || c.BlockedBy != "redis-main" {
				return false
			}
		}
		for _, m := range in.find("ops", nightowl.MessageUpdate, "redis-main") {
			if slices.Equal(m.alert.Blocked, workers) || len(m.alert.Blocked) == len(workers) {
				return true
			}
		}
		return false
	})
	t.Logf("ten workers blocked and told in an update %s after Redis hung", time.Since(hung).Round(time.Millisecond))
	firing := in.find("", nightowl.MessageFiring, "")
	if len(firing) != 1 || firing[0].alert.Check != "redis-main" {
		t.Fatalf("pages while Redis hung: want exactly one, about redis-main; %s", in)
	}
	if c := srv.checks()["worker-1"]; c.Cause != "blocked: redis-main is down" {
		t.Errorf("worker-1's cause: %q", c.Cause)
	}

	// Redis comes back, and nine workers with it.
	if err := redis.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	p.set(true, slices.DeleteFunc(slices.Clone(workers), func(w string) bool { return w == "worker-3" })...)
	back := time.Now()
	waitFor(t, 30*time.Second, "redis-main resolved, and a page for worker-3 alone", in.String, func() bool {
		return len(in.find("ops", nightowl.MessageResolved, "redis-main")) == 1 &&
			len(in.find("ops", nightowl.MessageFiring, "worker-3")) == 1
	})
	t.Logf("worker-3 paged %s after Redis came back", time.Since(back).Round(time.Millisecond))
	if m := in.find("ops", nightowl.MessageFiring, "worker-3")[0]; !strings.Contains(m.alert.Cause, "redis-main has recovered") {
		t.Errorf("worker-3's page says %q; want it to say redis-main recovered", m.alert.Cause)
	}
	cs := srv.checks()
	for _, w := range workers {
		want := nightowl.StatusUp
		if w == "worker-3" {
			want = nightowl.StatusDown
		}
		if cs[w].Status != want {
			t.Errorf("%s after Redis came back: %s (%s), want %s", w, cs[w].Status, cs[w].Cause, want)
		}
	}
	if n := len(in.find("", nightowl.MessageFiring, "")); n != 2 {
		t.Errorf("%d pages in all, want two: redis-main and worker-3; %s", n, in)
	}
}

// TestRouterDownOnePage: thirty web checks sit behind one router, checked
// as a TCP port. The router goes away, and the web checks fail with it:
// one page, about the router, whichever check noticed first, listing the
// thirty checks blocked (the route's group_wait holds it while they
// join). It comes back: one resolution, nothing else.
func TestRouterDownOnePage(t *testing.T) {
	s, in := newSite(t), newInbox(t)
	routerAddr := freeAddr(t)
	var mu sync.Mutex
	var router net.Listener
	open := func() {
		mu.Lock()
		defer mu.Unlock()
		var err error
		for range 50 {
			if router, err = net.Listen("tcp", routerAddr); err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			t.Fatal(err)
		}
		l := router
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
	}
	closeRouter := func() {
		mu.Lock()
		defer mu.Unlock()
		router.Close()
	}
	open()
	t.Cleanup(closeRouter)

	var webs []string
	var b strings.Builder
	fmt.Fprintf(&b, "defaults: {interval: 500ms, timeout: 400ms, fail_after: 1, recover_after: 1}\nchecks:\n")
	fmt.Fprintf(&b, "  - name: router\n    tcp: {addr: %q}\n", routerAddr)
	for i := 1; i <= 30; i++ {
		w := fmt.Sprintf("web-%02d", i)
		webs = append(webs, w)
		fmt.Fprintf(&b, "  - name: %s\n    http: {url: %q}\n    depends_on: [router]\n", w, s.url(w))
	}
	b.WriteString(opsNotify(in, "group_wait: 1s"))
	srv := newServer(t, filepath.Join(t.TempDir(), "nightowl.db"), b.String())
	srv.start()
	srv.waitAllUp(1 + len(webs))

	closeRouter()
	for _, w := range webs {
		s.set(w, true)
	}
	// The route's group_wait holds the router's page for a second: the
	// page, or an update after it, lists the thirty.
	listed := func() int {
		n := 0
		for _, kind := range []nightowl.MessageKind{nightowl.MessageFiring, nightowl.MessageUpdate} {
			for _, m := range in.find("ops", kind, "router") {
				n = max(n, len(m.alert.Blocked))
			}
		}
		return n
	}
	waitFor(t, 30*time.Second, "thirty web checks blocked by the router, and told", in.String, func() bool {
		cs := srv.checks()
		for _, w := range webs {
			if c := cs[w]; c.Status != nightowl.StatusBlocked || c.BlockedBy != "router" {
				return false
			}
		}
		return listed() == len(webs)
	})
	if firing := in.find("", nightowl.MessageFiring, ""); len(firing) != 1 || firing[0].alert.Check != "router" {
		t.Fatalf("pages with the router down: want one, about the router; %s", in)
	}
	open()
	for _, w := range webs {
		s.set(w, false)
	}
	waitFor(t, 30*time.Second, "the router resolved and every web check up", in.String, func() bool {
		cs := srv.checks()
		for _, w := range webs {
			if cs[w].Status != nightowl.StatusUp {
				return false
			}
		}
		return len(in.find("ops", nightowl.MessageResolved, "router")) == 1
	})
	if n := len(in.find("", nightowl.MessageFiring, "")); n != 1 {
		t.Errorf("%d pages in all, want one; %s", n, in)
	}
	t.Logf("updates sent: %d; the router's page lists %d blocked checks",
		len(in.find("ops", nightowl.MessageUpdate, "router")), len(in.find("ops", nightowl.MessageFiring, "router")[0].alert.Blocked))
}
