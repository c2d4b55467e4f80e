package cluster_test

import (
	"testing"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/cluster"
)

// TestNodeViews: a lost node is alerted on by exactly one of the live
// nodes, as down; once it is back, that node sees it up.
func TestNodeViews(t *testing.T) {
	w := newWorld(t, 3)
	w.round()
	if vs := cluster.NodeViews(w.nodes["node-a"]); vs != nil {
		t.Fatalf("before the membership settled: %+v", vs)
	}
	for range int(cluster.DefaultNodeTimeout/time.Second) + 2 {
		w.clock.Advance(time.Second)
		w.round()
	}
	// views collects, for node-c, what node-a and node-b would observe.
	views := func() []nightowl.CheckView {
		var out []nightowl.CheckView
		for _, n := range []string{"node-a", "node-b"} {
			for _, v := range cluster.NodeViews(w.nodes[n]) {
				if v.Check.Name == n || v.Check.Labels["node"] == n {
					t.Fatalf("%s alerts on itself: %+v", n, v)
				}
				if v.Check.Labels["node"] == "node-c" {
					out = append(out, v)
				}
			}
		}
		return out
	}
	if vs := views(); len(vs) != 1 || vs[0].State.Status != nightowl.StatusUp || vs[0].Check.Name != cluster.NodeCheckPrefix+"node-c" {
		t.Fatalf("node-c live: %+v", vs)
	}
	for range int(cluster.DefaultNodeTimeout/time.Second) + 2 {
		w.round("node-a", "node-b")
		w.clock.Advance(time.Second)
	}
	vs := views()
	if len(vs) != 1 || vs[0].State.Status != nightowl.StatusDown || vs[0].Last == nil || vs[0].Last.Assertions[0].OK {
		t.Fatalf("node-c lost: %+v", vs)
	}
	for range 5 {
		w.round()
		w.clock.Advance(time.Second)
	}
	if vs := views(); len(vs) != 1 || vs[0].State.Status != nightowl.StatusUp {
		t.Fatalf("node-c back: %+v", vs)
	}
}
