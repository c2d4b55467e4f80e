package app

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/testdb"
)

// TestTwoNodesAckAtOnce: the same alert acknowledged through both nodes of
// a cluster at the same moment is acknowledged once: one answer says it
// acknowledged it, the other who did, and the receiver hears of it once.
func TestTwoNodesAckAtOnce(t *testing.T) {
	t.Parallel()
	dsn := testdb.PostgresSchema(t)
	var down atomic.Bool
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer target.Close()
	h := newHook(t)
	dir := t.TempDir()
	start := func(node string) *App {
		path := filepath.Join(dir, node+".yaml")
		writeConfig(t, path, fmt.Sprintf(`storage: {postgres: %q}
cluster: {node: %s, node_timeout: 3s}
checks:
  # Down and up, round after round, on purpose: not flapping.
  - {name: web, interval: 200ms, timeout: 200ms, fail_after: 1, recover_after: 1, flap: {changes: 0}, http: {url: %q}}
notify:
  receivers: {ops: [{webhook: {url: %q}}]}
  routes: [{escalation: ops}]
  escalations: {ops: {steps: [{notify: ops}]}}
`, dsn, node, target.URL, h.srv.URL))
		return startApp(t, path)
	}
	nodes := []*App{start("n1"), start("n2")}
	token := userToken(t, nodes[0], "ana", "responder")

	// messages counts what the receiver got, by kind, for one alert.
	messages := func(id string) map[nightowl.MessageKind]int {
		h.mu.Lock()
		defer h.mu.Unlock()
		out := map[nightowl.MessageKind]int{}
		for _, m := range h.got {
			if m.Alert.ID == id {
				out[m.Kind]++
			}
		}
		return out
	}
	wait := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); !ok(); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("waited 20s for %s; the receiver got %v", what, h.kinds())
			}
		}
	}
	for round := range 5 {
		seen := len(h.kinds())
		down.Store(true)
		var id string
		wait("the firing message", func() bool {
			h.mu.Lock()
			defer h.mu.Unlock()
			for _, m := range h.got[seen:] {
				if m.Kind == nightowl.MessageFiring {
					id = m.Alert.ID
					return true
				}
			}
			return false
		})
		var wg sync.WaitGroup
		codes := make([]int, len(nodes))
		for i, a := range nodes {
			wg.Go(func() {
				req, _ := http.NewRequest("POST", "http://"+a.Addr()+"/api/v1/alerts/"+id+"/ack", nil)
				req.Header.Set("Authorization", "Bearer "+token)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				codes[i] = resp.StatusCode
			})
		}
		wg.Wait()
		for i, code := range codes {
			if code != http.StatusOK {
				t.Fatalf("round %d: ack on n%d answered %d", round, i+1, code)
			}
		}
		wait("the acknowledgement message", func() bool { return messages(id)[nightowl.MessageAcknowledged] > 0 })
		down.Store(false)
		wait("the recovery", func() bool { return messages(id)[nightowl.MessageResolved] > 0 })
		time.Sleep(300 * time.Millisecond) // room for a second message to arrive
		if got := messages(id); got[nightowl.MessageAcknowledged] != 1 || got[nightowl.MessageFiring] != 1 {
			t.Fatalf("round %d: alert %s brought %v, want one firing and one acknowledged", round, id, got)
		}
	}
}
