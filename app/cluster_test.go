package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/testdb"
)

// runs records which node ran each check, from the X-Node header the
// checks send.
type runs struct {
	mu  sync.Mutex
	got map[string]map[string]int // check to node to runs
}

func (r *runs) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := strings.TrimPrefix(req.URL.Path, "/")
	if r.got[c] == nil {
		r.got[c] = map[string]int{}
	}
	r.got[c][req.Header.Get("X-Node")]++
}

func (r *runs) reset() map[string]map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.got
	r.got = map[string]map[string]int{}
	return out
}

func clusterConfig(t *testing.T, dir, dsn, node, target string, checks int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "storage: {postgres: %q}\ncluster: {node: %s, node_timeout: 3s}\nchecks:\n", dsn, node)
	for i := range checks {
		fmt.Fprintf(&b, "  - name: c%02d\n    interval: 1s\n    timeout: 1s\n    http: {url: \"%s/c%02d\", headers: {X-Node: %s}}\n", i, target, i, node)
	}
	path := filepath.Join(dir, node+".yaml")
	writeConfig(t, path, b.String())
	return path
}

// TestTwoNodesShareChecks runs two servers on one PostgreSQL store: each
// check runs on exactly one of them, and when one stops, the other runs
// them all.
func TestTwoNodesShareChecks(t *testing.T) {
	t.Parallel()
	dsn := testdb.PostgresSchema(t)
	r := &runs{got: map[string]map[string]int{}}
	target := httptest.NewServer(r)
	defer target.Close()
	dir := t.TempDir()
	const n = 12
	start := func(node string) *App {
		a, err := New(context.Background(), Options{ConfigPath: clusterConfig(t, dir, dsn, node, target.URL, n), Listen: "127.0.0.1:0",
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), BcryptCost: testCost, PublicTTL: -1})
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		return a
	}
	a, b := start("n1"), start("n2")
	defer a.Stop(context.Background())
	stopped := false
	defer func() {
		if !stopped {
			b.Stop(context.Background())
		}
	}()

	// Settle, then look at five seconds of runs.
	time.Sleep(3 * time.Second)
	r.reset()
	time.Sleep(5 * time.Second)
	got := r.reset()
	per := map[string]int{}
	for i := range n {
		c := fmt.Sprintf("c%02d", i)
		if len(got[c]) != 1 {
			t.Fatalf("%s ran on %v, want exactly one node", c, got[c])
		}
		for node, k := range got[c] {
			per[node]++
			if k > 6 {
				t.Errorf("%s ran %d times in 5s at a 1s interval: double runs", c, k)
			}
		}
	}
	if per["n1"] == 0 || per["n2"] == 0 {
		t.Errorf("checks per node: %v, want both to run some", per)
	}
	if nodes := a.ClusterNodes(); len(nodes) != 2 || !nodes[0].Live || !nodes[1].Live {
		t.Errorf("n1 sees %+v", nodes)
	}
	if live, lost := metricValue(t, a, `nightowl_cluster_nodes{state="live"}`), metricValue(t, a, `nightowl_cluster_nodes{state="lost"}`); live != 2 || lost != 0 {
		t.Errorf("nightowl_cluster_nodes: %v live, %v lost; want 2 and 0", live, lost)
	}
	admin := adminToken(t, a)
	var list struct{ Nodes []nightowl.Node }
	if code := getJSON(t, admin, "GET", "http://"+b.Addr()+"/api/v1/cluster", &list); code != 200 || len(list.Nodes) != 2 ||
		list.Nodes[0].Name != "n1" || list.Nodes[1].Name != "n2" || !list.Nodes[0].Live {
		t.Errorf("GET /api/v1/cluster on n2: %d %+v", code, list)
	}

	// n2 stops cleanly: it leaves, and n1 takes its checks at once.
	b.Stop(context.Background())
	stopped = true
	time.Sleep(2 * time.Second)
	r.reset()
	time.Sleep(3 * time.Second)
	got = r.reset()
	for i := range n {
		c := fmt.Sprintf("c%02d", i)
		if len(got[c]) != 1 || got[c]["n1"] == 0 {
			t.Fatalf("after n2 left, %s ran on %v, want n1 only", c, got[c])
		}
	}
	// A node that left is not lost.
	if live, lost := metricValue(t, a, `nightowl_cluster_nodes{state="live"}`), metricValue(t, a, `nightowl_cluster_nodes{state="lost"}`); live != 1 || lost != 0 {
		t.Errorf("after n2 left, nightowl_cluster_nodes: %v live, %v lost; want 1 and 0", live, lost)
	}
}
