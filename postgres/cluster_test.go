package postgres

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/cluster"
	"github.com/nightowl/nightowl/internal/testdb"
)

// openShared opens n Stores on one new schema, as n nodes do.
func openShared(t *testing.T, n int) []*Store {
	t.Helper()
	dsn := testdb.PostgresSchema(t)
	var out []*Store
	for range n {
		s, err := Open(context.Background(), Options{DSN: dsn})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		out = append(out, s)
	}
	return out
}

func TestClusterBeatsAndLeases(t *testing.T) {
	ss := openShared(t, 2)
	a, b := ss[0], ss[1]
	ctx := context.Background()
	started := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	if _, err := a.Beat(ctx, nightowl.Node{Name: "a", Addr: "10.0.0.1:8080", StartedAt: started}, time.Minute); err != nil {
		t.Fatal(err)
	}
	nodes, err := b.Beat(ctx, nightowl.Node{Name: "b", StartedAt: started}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 2 || nodes[0].Name != "a" || !nodes[0].Live || nodes[0].Addr != "10.0.0.1:8080" || !nodes[0].StartedAt.Equal(started) || !nodes[1].Live {
		t.Fatalf("nodes: %+v", nodes)
	}
	// With a timeout shorter than the time since a's beat, a is not live.
	time.Sleep(20 * time.Millisecond)
	nodes, _ = b.Beat(ctx, nightowl.Node{Name: "b", StartedAt: started}, 10*time.Millisecond)
	if nodes[0].Live || !nodes[1].Live {
		t.Fatalf("a beat 20ms ago, timeout 10ms: %+v", nodes)
	}

	got, err := a.Lease(ctx, "a", []string{"web", "db", "cache"}, time.Minute)
	if err != nil || !slices.Equal(got, []string{"cache", "db", "web"}) {
		t.Fatalf("a leases: %v %v", got, err)
	}
	if got, _ = b.Lease(ctx, "b", []string{"db", "queue"}, time.Minute); !slices.Equal(got, []string{"queue"}) {
		t.Fatalf("b took a's lease: %v", got)
	}
	if got, _ = a.Lease(ctx, "a", []string{"db", "web"}, time.Minute); !slices.Equal(got, []string{"db", "web"}) {
		t.Fatalf("a renews: %v", got)
	}
	if err := a.Release(ctx, "a", []string{"db"}); err != nil {
		t.Fatal(err)
	}
	if got, _ = b.Lease(ctx, "b", []string{"db"}, time.Minute); !slices.Equal(got, []string{"db"}) {
		t.Fatalf("b after a released db: %v", got)
	}
	// An expired lease is free.
	if got, _ = a.Lease(ctx, "a", []string{"mail"}, time.Millisecond); len(got) != 1 {
		t.Fatalf("a leases mail: %v", got)
	}
	time.Sleep(10 * time.Millisecond)
	if got, _ = b.Lease(ctx, "b", []string{"mail"}, time.Minute); !slices.Equal(got, []string{"mail"}) {
		t.Fatalf("b after a's lease expired: %v", got)
	}
	// Leaving ends every lease and marks the node left, not lost.
	if err := a.Leave(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	nodes, _ = b.Beat(ctx, nightowl.Node{Name: "b", StartedAt: started}, time.Minute)
	if !nodes[0].Left || nodes[0].Live {
		t.Fatalf("after a left: %+v", nodes[0])
	}
	if got, _ = b.Lease(ctx, "b", []string{"web", "cache"}, time.Minute); len(got) != 2 {
		t.Fatalf("b after a left: %v", got)
	}
}

// TestLeasesRaced has four nodes claim overlapping sets of checks at the
// same moment, many times: each check ends up leased to exactly one.
func TestLeasesRaced(t *testing.T) {
	ss := openShared(t, 4)
	ctx := context.Background()
	var checks []string
	for i := range 200 {
		checks = append(checks, fmt.Sprintf("c%03d", i))
	}
	for round := range 10 {
		holders := make(map[string][]string)
		var mu sync.Mutex
		var wg sync.WaitGroup
		for i, s := range ss {
			wg.Add(1)
			go func() {
				defer wg.Done()
				node := fmt.Sprintf("r%d-n%d", round, i)
				got, err := s.Lease(ctx, node, checks, time.Minute)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for _, c := range got {
					holders[c] = append(holders[c], node)
				}
				mu.Unlock()
			}()
		}
		wg.Wait()
		for _, c := range checks {
			if len(holders[c]) != 1 {
				t.Fatalf("round %d: %s leased to %v", round, c, holders[c])
			}
		}
		// Free them all for the next round.
		for i, s := range ss {
			s.Release(ctx, fmt.Sprintf("r%d-n%d", round, i), checks)
		}
	}
}

// TestMembershipOnPostgres runs three members on the real database: each
// check gets exactly one owner, and when one member stops beating its
// checks move to the others.
func TestMembershipOnPostgres(t *testing.T) {
	ss := openShared(t, 3)
	ctx := context.Background()
	var checks []string
	for i := range 90 {
		checks = append(checks, fmt.Sprintf("c%02d", i))
	}
	var ms []*cluster.Membership
	for i, s := range ss {
		m, err := cluster.New(cluster.Options{Store: s, Node: fmt.Sprintf("n%d", i), Timeout: 3 * time.Second,
			Checks: func() []string { return checks }})
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
	}
	owners := func(ms []*cluster.Membership) map[string]int {
		out := map[string]int{}
		for _, c := range checks {
			for _, m := range ms {
				if m.Owns(c) {
					out[c]++
				}
			}
			if out[c] > 1 {
				t.Fatalf("%s has %d owners", c, out[c])
			}
		}
		return out
	}
	for range 2 {
		for _, m := range ms {
			m.Round(ctx)
		}
	}
	if own := owners(ms); len(own) != len(checks) {
		t.Fatalf("%d of %d checks owned", len(own), len(checks))
	}
	// n2 stops beating; n0 and n1 go on until they hold everything.
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, m := range ms[:2] {
			m.Round(ctx)
		}
		if len(owners(ms[:2])) == len(checks) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("n2's checks did not move: %d of %d owned", len(owners(ms[:2])), len(checks))
		}
		time.Sleep(200 * time.Millisecond)
	}
}
