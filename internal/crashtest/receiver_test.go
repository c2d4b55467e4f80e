package crashtest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/notify"
)

// hangingReceiver accepts connections and reads the requests that come on
// them, and never answers: a receiver whose process hangs.
type hangingReceiver struct {
	ln    net.Listener
	mu    sync.Mutex
	got   []hookMsg
	conns []net.Conn
	wg    sync.WaitGroup
	once  sync.Once
}

func newHangingReceiver(t *testing.T) *hangingReceiver {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &hangingReceiver{ln: ln}
	h.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			h.mu.Lock()
			h.conns = append(h.conns, c)
			h.mu.Unlock()
			h.wg.Go(func() { h.read(c) })
		}
	})
	t.Cleanup(h.close)
	return h
}

// close drops every connection and stops listening: the receiver dies.
func (h *hangingReceiver) close() {
	h.once.Do(func() {
		h.ln.Close()
		h.mu.Lock()
		for _, c := range h.conns {
			c.Close()
		}
		h.mu.Unlock()
		h.wg.Wait()
	})
}

func (h *hangingReceiver) url() string { return "http://" + h.ln.Addr().String() + "/hook" }

// read records the requests on c until it is closed.
func (h *hangingReceiver) read(c net.Conn) {
	br := bufio.NewReader(c)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		var m nightowl.Message
		json.NewDecoder(req.Body).Decode(&m)
		h.mu.Lock()
		h.got = append(h.got, hookMsg{key: req.Header.Get("Idempotency-Key"), kind: m.Kind, alert: m.Alert, at: time.Now()})
		h.mu.Unlock()
	}
}

// attempts returns when each Idempotency-Key came, in order.
func (h *hangingReceiver) attempts() map[string][]time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string][]time.Time{}
	for _, m := range h.got {
		out[m.key] = append(out[m.key], m.at)
	}
	return out
}

// TestHangingReceiver: one of the two receivers of every alert takes the
// connection and the request and never answers, while twelve checks go down
// at once, more than the sender sends at a time (8). The other receiver
// gets all twelve firing messages promptly; the checks go on running at
// their interval; each send to the hanging receiver times out after 30 s,
// is set to be tried again, and the sender goes on sending to it.
func TestHangingReceiver(t *testing.T) {
	t.Parallel()
	s, in, hang := newSite(t), newInbox(t), newHangingReceiver(t)
	var down []string
	for i := range 12 {
		down = append(down, fmt.Sprintf("c%02d", i))
	}
	var b []byte
	b = fmt.Appendf(b, "defaults: {interval: 500ms, timeout: 500ms, fail_after: 1, recover_after: 1}\nchecks:\n")
	for _, c := range append([]string{"steady"}, down...) {
		b = fmt.Appendf(b, "  - name: %s\n    http: {url: %q}\n", c, s.url(c))
	}
	b = fmt.Appendf(b, "notify:\n  receivers:\n    ops: [{webhook: {url: %q}}, {webhook: {url: %q}}]\n", hang.url(), in.url("chat"))
	b = fmt.Appendf(b, "  routes: [{escalation: ops}]\n  escalations:\n    ops: {steps: [{notify: ops}]}\n")
	srv := newServer(t, filepath.Join(t.TempDir(), "nightowl.db"), string(b))
	srv.start()
	waitFor(t, 20*time.Second, "every check up", srv.tail, func() bool {
		cs := srv.checks()
		for _, c := range append([]string{"steady"}, down...) {
			if cs[c].Status != nightowl.StatusUp {
				return false
			}
		}
		return true
	})

	for _, c := range down {
		s.set(c, true)
	}
	downAt := time.Now()
	// The other receiver gets every alert, though the hanging one holds
	// every send to it.
	waitFor(t, 10*time.Second, "every firing message to the receiver that answers", in.String, func() bool {
		return len(in.find("chat", nightowl.MessageFiring, "")) == len(down)
	})
	t.Logf("the receiver that answers had all %d alerts %s after the checks went down; the hanging one holds %d requests",
		len(down), time.Since(downAt).Round(100*time.Millisecond), len(hang.attempts()))

	// Each send to the hanging receiver times out after 30s; it is
	// tried again later, and the sender goes on sending to it.
	first := hang.attempts()
	var timedOut []nightowl.Notification
	waitFor(t, 45*time.Second, "the sends to the hanging receiver timed out and set to be tried again", srv.tail, func() bool {
		var pending struct{ Notifications []nightowl.Notification }
		srv.get("/api/v1/notifications?state=pending&limit=100", &pending)
		timedOut = timedOut[:0]
		for _, n := range pending.Notifications {
			if n.Receiver == "ops[0]" && strings.Contains(n.Error, "deadline exceeded") && n.NextAt.After(n.CreatedAt) {
				timedOut = append(timedOut, n)
			}
		}
		return len(timedOut) == len(first)
	})
	t.Logf("%d sends to the hanging receiver timed out, %s after the checks went down", len(timedOut), time.Since(downAt).Round(100*time.Millisecond))
	for _, n := range timedOut {
		if at := first[notify.IdempotencyKey(&n)]; len(at) == 0 {
			t.Errorf("notification %d timed out, but the hanging receiver never got it: %v", n.ID, first)
		} else if took := time.Since(at[0]); took < 29*time.Second {
			// The 30s run from when the send began, a moment before
			// the request arrived: on a busy machine, most of a second.
			t.Errorf("notification %d timed out %s after the receiver got it, before the 30s timeout", n.ID, took)
		}
	}
	waitFor(t, 15*time.Second, "more sends to the hanging receiver after the first timed out", srv.tail, func() bool {
		return len(hang.attempts()) > len(first)
	})
	t.Logf("the hanging receiver got more requests %s after the checks went down", time.Since(downAt).Round(100*time.Millisecond))

	// The checks ran on at their interval all along.
	elapsed := time.Since(downAt)
	for _, c := range []string{"steady", down[0], down[len(down)-1]} {
		if n := s.hitsSince(c, downAt); float64(n) < 0.5*elapsed.Seconds()/0.5 {
			t.Errorf("%s ran %d times in the %s after the alerts, at a 500ms interval", c, n, elapsed.Round(time.Second))
		}
	}
	if len(in.find("", nightowl.MessageFiring, "")) != len(down) {
		t.Errorf("the receiver that answers: %s", in)
	}
	// A stop waits for the sends under way, each up to its timeout.
	hang.close()
}
