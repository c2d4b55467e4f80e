package crashtest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/nightowl/nightowl"
)

// brokenResolver is a DNS server that fails every query, by the name's
// last labels: *.nx.test do not exist (NXDOMAIN), *.servfail.test fail
// (SERVFAIL), and *.hole.test are never answered, as by a resolver that is
// down.
type brokenResolver struct {
	addr string
	srv  *dns.Server
	mu   sync.Mutex
	got  map[string]int
}

func newBrokenResolver(t *testing.T) *brokenResolver {
	t.Helper()
	r := &brokenResolver{got: map[string]int{}}
	// resolv.conf names a nameserver without a port: it must be on 53,
	// at an address of its own on the loopback network.
	var pc net.PacketConn
	var err error
	for range 20 {
		r.addr = fmt.Sprintf("127.53.%d.%d", 1+rand.IntN(250), 1+rand.IntN(250))
		if pc, err = net.ListenPacket("udp", r.addr+":53"); err == nil || !errors.Is(err, syscall.EADDRINUSE) {
			break
		}
	}
	if err != nil {
		t.Fatalf("listen for DNS: %v", err)
	}
	r.srv = &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		if len(q.Question) == 0 {
			return
		}
		name := q.Question[0].Name
		r.mu.Lock()
		r.got[strings.TrimSuffix(name, ".")]++
		r.mu.Unlock()
		m := new(dns.Msg)
		switch {
		case strings.HasSuffix(name, ".nx.test."):
			m.SetRcode(q, dns.RcodeNameError)
		case strings.HasSuffix(name, ".servfail.test."):
			m.SetRcode(q, dns.RcodeServerFailure)
		default:
			return
		}
		w.WriteMsg(m)
	})}
	started := make(chan struct{})
	r.srv.NotifyStartedFunc = func() { close(started) }
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.srv.ActivateAndServe()
	}()
	<-started
	t.Cleanup(func() {
		r.srv.Shutdown()
		<-done
	})
	return r
}

func (r *brokenResolver) queries(name string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.got[name]
}

// TestDNSDown runs the server with a resolver that fails every lookup: a
// name that does not exist, a resolver that fails, one that never answers,
// and a DNS check whose own resolver is not there at all. The server runs
// in a mount namespace of its own whose /etc/resolv.conf names the broken
// resolver, so the machine's is left alone. Every check that needs a name
// goes down with its error naming the name and what went wrong, each is
// alerted on once, a check by address stays up, and the server stays
// healthy.
func TestDNSDown(t *testing.T) {
	t.Parallel()
	unshare := tool(t, "unshare")
	tool(t, "mount")
	dir := t.TempDir()
	resolv := filepath.Join(dir, "resolv.conf")
	// In a namespace of its own, the server sees resolv in place of the
	// machine's /etc/resolv.conf.
	wrap := []string{unshare, "--mount", "--propagation", "private", "sh", "-c",
		`mount --bind "$0" /etc/resolv.conf && exec "$@"`, resolv}
	if err := os.WriteFile(resolv, []byte("nameserver 192.0.2.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(wrap[0], append(wrap[1:], "cat", "/etc/resolv.conf")...).CombinedOutput(); err != nil ||
		!strings.Contains(string(out), "192.0.2.1") {
		t.Skipf("give the server a resolv.conf of its own in a mount namespace: %v: %s", err, out)
	}
	r := newBrokenResolver(t)
	if err := os.WriteFile(resolv, []byte("nameserver "+r.addr+"\noptions timeout:1 attempts:1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dead := freeAddr(t) // nothing listens there, on UDP either

	s, in := newSite(t), newInbox(t)
	checks := map[string]struct{ spec, names string }{
		"shop":   {fmt.Sprintf("http: {url: %q}", "http://shop.nx.test/"), "shop.nx.test"},
		"api":    {fmt.Sprintf("http: {url: %q}", "https://api.servfail.test:8443/health"), "api.servfail.test"},
		"cdn":    {fmt.Sprintf("http: {url: %q}", "http://cdn.hole.test/"), "cdn.hole.test"},
		"db":     {`tcp: {addr: "db.hole.test:5432"}`, "db.hole.test"},
		"cert":   {`tls: {addr: "www.nx.test:443"}`, "www.nx.test"},
		"lookup": {fmt.Sprintf("dns: {name: www.example.com, resolver: %q}", dead), dead},
	}
	var b []byte
	b = fmt.Appendf(b, "defaults: {interval: 2s, timeout: 2s, fail_after: 1, recover_after: 1}\nchecks:\n")
	b = fmt.Appendf(b, "  - name: local\n    http: {url: %q}\n", s.url("local"))
	for name, c := range checks {
		b = fmt.Appendf(b, "  - name: %s\n    %s\n", name, c.spec)
	}
	b = fmt.Appendf(b, "notify:\n  receivers:\n    ops: [{webhook: {url: %q}}]\n", in.url("ops"))
	b = fmt.Appendf(b, "  routes: [{escalation: ops}]\n  escalations:\n    ops: {steps: [{notify: ops}]}\n")
	srv := newServer(t, filepath.Join(dir, "nightowl.db"), string(b))
	srv.wrap = wrap
	srv.start()

	waitFor(t, 20*time.Second, "every check that needs a name alerted on", in.String, func() bool {
		for name := range checks {
			if len(in.find("ops", nightowl.MessageFiring, name)) == 0 {
				return false
			}
		}
		return true
	})
	// Three more runs of each: still one alert each, nothing resolved.
	from := time.Now()
	waitFor(t, 15*time.Second, "three more runs", srv.tail, func() bool {
		return s.hitsSince("local", from) >= 3
	})
	cs := srv.checks()
	for name, c := range checks {
		got := cs[name]
		if got.Status != nightowl.StatusDown || !strings.Contains(got.Error, c.names) {
			t.Errorf("%s: %s, error %q; want down, with an error that names %s", name, got.Status, got.Error, c.names)
		}
		t.Logf("%s: %s", name, got.Error)
		if n := len(in.find("", nightowl.MessageFiring, name)); n != 1 {
			t.Errorf("%s: %d firing messages, want 1", name, n)
		}
		if n := len(in.find("", nightowl.MessageResolved, name)); n != 0 {
			t.Errorf("%s: %d resolved messages while the names do not resolve", name, n)
		}
		if strings.HasSuffix(c.names, ".test") && r.queries(c.names) == 0 {
			t.Errorf("the resolver was never asked for %s", c.names)
		}
	}
	if c := cs["local"]; c.Status != nightowl.StatusUp {
		t.Errorf("a check by address: %+v", c)
	}
	if len(in.find("", nightowl.MessageFiring, "local")) != 0 {
		t.Errorf("%s", in)
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		if code, body := srv.call("GET", path, nil); code != http.StatusOK {
			t.Errorf("GET %s: %d %s", path, code, body)
		}
	}
	if srv.p.exited() {
		t.Errorf("the server exited: %v", srv.p.err)
	}
}
