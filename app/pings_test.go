package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/cluster"
	"github.com/nightowl/nightowl/internal/testdb"
	"github.com/nightowl/nightowl/web"
)

// job pings a node as a cron job behind a load balancer would: each ping
// with curl --retry's patience, so that a 503 is tried again.
type job struct {
	url    string
	stop   chan struct{}
	done   chan struct{}
	mu     sync.Mutex
	sent   int
	other  []string // answers neither 200 nor 503
	unavai int
}

func startJob(url string) *job {
	j := &job{url: url, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(j.done)
		for {
			select {
			case <-j.stop:
				return
			case <-time.After(250 * time.Millisecond):
			}
			req, _ := http.NewRequest(http.MethodPost, j.url, strings.NewReader("ok"))
			req.Header.Set("User-Agent", "nightly-job/1")
			resp, err := http.DefaultClient.Do(req)
			j.mu.Lock()
			switch {
			case err != nil:
				j.other = append(j.other, err.Error())
			case resp.StatusCode == http.StatusOK:
				j.sent++
			case resp.StatusCode == http.StatusServiceUnavailable:
				j.unavai++
			default:
				j.other = append(j.other, resp.Status)
			}
			j.mu.Unlock()
			if resp != nil {
				resp.Body.Close()
			}
		}
	}()
	return j
}

func (j *job) counts() (sent, unavailable int, other []string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.sent, j.unavai, append([]string(nil), j.other...)
}

func (j *job) halt() { close(j.stop); <-j.done }

// TestHeartbeatsInACluster runs two servers on one PostgreSQL store with a
// heartbeat check: the job pings the node that does not hold the check,
// which forwards its pings to the one that does, and the check stays up;
// both give the same ping URL; when the holder stops, the other takes the
// check over from where it was (a run started before ends after) and it
// stays up while the pings go on. A forwarded ping without the cluster's
// signature is refused.
func TestHeartbeatsInACluster(t *testing.T) {
	t.Parallel()
	dsn := testdb.PostgresSchema(t)
	dir := t.TempDir()
	start := func(node string) *App {
		path := filepath.Join(dir, node+".yaml")
		writeConfig(t, path, fmt.Sprintf(`storage: {postgres: %q}
cluster: {node: %s, node_timeout: 3s}
checks:
  - name: nightly
    heartbeat: {period: 3s, grace: 10s}
`, dsn, node))
		a, err := New(context.Background(), Options{ConfigPath: path, Listen: "127.0.0.1:0",
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), BcryptCost: testCost, PublicTTL: -1})
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		return a
	}
	nodes := map[string]*App{"n1": start("n1"), "n2": start("n2")}
	stopped := map[string]bool{}
	defer func() {
		for name, a := range nodes {
			if !stopped[name] {
				a.Stop(context.Background())
			}
		}
	}()
	holder := cluster.Owner("nightly", []string{"n1", "n2"})
	otherName := map[string]string{"n1": "n2", "n2": "n1"}[holder]
	owner, other := nodes[holder], nodes[otherName]

	u1, ok1 := owner.PingURL("nightly")
	u2, ok2 := other.PingURL("nightly")
	if !ok1 || !ok2 || u1 != u2 || len(strings.TrimPrefix(u1, "/ping/")) != 22 {
		t.Fatalf("ping URLs %q and %q, want one and the same", u1, u2)
	}

	j := startJob("http://" + other.Addr() + u1)
	stoppedJob := false
	defer func() {
		if !stoppedJob {
			j.halt()
		}
	}()
	waitFor(t, "the cluster to settle", func() bool {
		return len(other.ClusterNodes()) == 2 && owner.owns("nightly") && !other.owns("nightly")
	})

	t.Run("pings to the other node reach the holder", func(t *testing.T) {
		waitFor(t, "pings to reach the holder", func() bool {
			f, _ := owner.beats.Facts("nightly")
			v, _ := owner.Check("nightly")
			return f["last_ping_age"] != nil && v.State.Status == nightowl.StatusUp
		})
		ps, err := owner.store.Pings(context.Background(), "nightly", 1)
		if err != nil || len(ps) == 0 || ps[0].UserAgent != "nightly-job/1" || ps[0].Body != "ok" || ps[0].Method != http.MethodPost {
			t.Errorf("the last ping stored: %+v, %v; want the job's, as it sent it", ps, err)
		}
		if _, _, bad := j.counts(); len(bad) > 0 {
			t.Errorf("the job got %v", bad)
		}
	})

	t.Run("a forwarded ping needs the cluster's signature", func(t *testing.T) {
		before, _ := owner.beats.Facts("nightly")
		body := fmt.Sprintf(`{"token":%q,"ping":{"time":"2020-01-01T00:00:00Z","kind":"fail"}}`, strings.TrimPrefix(u1, "/ping/"))
		for _, sig := range []string{"", "sha256=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"} {
			req, _ := http.NewRequest(http.MethodPost, "http://"+owner.Addr()+web.ClusterPingPath, strings.NewReader(body))
			if sig != "" {
				req.Header.Set("X-Nightowl-Signature", sig)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("signature %q: status %d, want 401", sig, resp.StatusCode)
			}
		}
		if f, _ := owner.beats.Facts("nightly"); f["failed"] != false || before["failed"] != false {
			t.Errorf("a forged fail was taken: %v", f)
		}
	})

	t.Run("the other node takes the check over where it was", func(t *testing.T) {
		// A run starts on the holder; it ends after the holder stopped,
		// on the node that took the check over, which pairs the two.
		j.halt()
		stoppedJob = true
		ping := func(suffix string) {
			t.Helper()
			for {
				resp, err := http.Post("http://"+other.Addr()+u1+suffix, "text/plain", nil)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return
				}
				if resp.StatusCode != http.StatusServiceUnavailable {
					t.Fatalf("%s: %s", suffix, resp.Status)
				}
				time.Sleep(250 * time.Millisecond) // as curl --retry would
			}
		}
		ping("/start?rid=r1")
		waitFor(t, "the holder to store the start", func() bool {
			hbs, _ := other.store.Heartbeats(context.Background())
			for _, h := range hbs {
				if _, ok := h.Started["r1"]; ok && h.Check == "nightly" {
					return true
				}
			}
			return false
		})
		if f, _ := owner.beats.Facts("nightly"); f["running"] != true {
			t.Fatalf("the start did not reach the holder: %v", f)
		}
		owner.Stop(context.Background())
		stopped[holder] = true
		waitFor(t, "the takeover", func() bool { return other.owns("nightly") })
		ping("/0?rid=r1")
		if f, _ := other.beats.Facts("nightly"); f["last_duration"] == nil || f["running"] != false {
			t.Errorf("the run started on the last holder was not ended by the new one: %v", f)
		}
		j = startJob("http://" + other.Addr() + u1)
		stoppedJob = false
		waitFor(t, "pings to the new holder", func() bool {
			sent, _, _ := j.counts()
			v, _ := other.Check("nightly")
			return sent > 4 && v.State.Status == nightowl.StatusUp
		})
		if _, _, bad := j.counts(); len(bad) > 0 {
			t.Errorf("the job got %v", bad)
		}
	})

	events, err := other.store.Events(context.Background(), "nightly", 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		if e.To != nightowl.StatusUp {
			t.Errorf("the check went %s at %s: %s", e.To, e.Time, e.Cause)
		}
	}
}
