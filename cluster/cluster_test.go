package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/cluster"
	"github.com/nightowl/nightowl/internal/clocktest"
)

// memStore is a ClusterStore in memory, on the fake clock, with the
// semantics the postgres package gives it: a test of its own there runs
// the same rules against the database.
type memStore struct {
	clock  *clocktest.Fake
	mu     sync.Mutex
	nodes  map[string]nightowl.Node
	leases map[string]lease
	down   bool
	// cut are nodes that cannot reach the store while others can.
	cut map[string]bool
	// hang makes Beat wait for its context to end, as a database host that
	// died makes a client wait.
	hang bool
}

type lease struct {
	node    string
	expires time.Time
}

var errDown = errors.New("connection refused")

func newMemStore(c *clocktest.Fake) *memStore {
	return &memStore{clock: c, nodes: map[string]nightowl.Node{}, leases: map[string]lease{}, cut: map[string]bool{}}
}

func (s *memStore) Beat(ctx context.Context, n nightowl.Node, timeout time.Duration) ([]nightowl.Node, error) {
	s.mu.Lock()
	if s.hang {
		s.mu.Unlock()
		<-ctx.Done()
		return nil, ctx.Err()
	}
	defer s.mu.Unlock()
	if s.down || s.cut[n.Name] {
		return nil, errDown
	}
	now := s.clock.Now()
	n.SeenAt, n.Left = now, false
	s.nodes[n.Name] = n
	var out []nightowl.Node
	for _, m := range s.nodes {
		m.Live = !m.Left && now.Sub(m.SeenAt) < timeout
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b nightowl.Node) int { return compare(a.Name, b.Name) })
	return out, nil
}

func compare(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (s *memStore) Leave(_ context.Context, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return errDown
	}
	n := s.nodes[name]
	n.Left = true
	s.nodes[name] = n
	for c, l := range s.leases {
		if l.node == name {
			delete(s.leases, c)
		}
	}
	return nil
}

func (s *memStore) Lease(_ context.Context, node string, checks []string, ttl time.Duration) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down || s.cut[node] {
		return nil, errDown
	}
	now := s.clock.Now()
	var got []string
	for _, c := range checks {
		if l, ok := s.leases[c]; ok && l.node != node && now.Before(l.expires) {
			continue
		}
		s.leases[c] = lease{node: node, expires: now.Add(ttl)}
		got = append(got, c)
	}
	return got, nil
}

func (s *memStore) Release(_ context.Context, node string, checks []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down || s.cut[node] {
		return errDown
	}
	for _, c := range checks {
		if s.leases[c].node == node {
			delete(s.leases, c)
		}
	}
	return nil
}

type world struct {
	t      *testing.T
	clock  *clocktest.Fake
	store  *memStore
	checks []string
	nodes  map[string]*cluster.Membership
	lost   map[string][]string // node to the nodes it reported lost
	busy   map[string]bool     // checks with a run under way, not to be handed over
	// isolated are nodes the others cannot reach over the network, nor
	// they them: their notices go nowhere.
	isolated map[string]bool
	// unwritten are nodes with something kept in memory that the store
	// does not take yet: their write-back fails.
	unwritten map[string]bool
	mu        sync.Mutex
}

func newWorld(t *testing.T, n int) *world {
	w := &world{t: t, clock: clocktest.New(time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)),
		nodes: map[string]*cluster.Membership{}, lost: map[string][]string{}, busy: map[string]bool{},
		isolated: map[string]bool{}, unwritten: map[string]bool{}}
	w.store = newMemStore(w.clock)
	for i := range 300 {
		w.checks = append(w.checks, fmt.Sprintf("check-%03d", i))
	}
	for i := range n {
		w.add(fmt.Sprintf("node-%c", 'a'+i))
	}
	return w
}

func (w *world) add(name string) *cluster.Membership {
	m, err := cluster.New(cluster.Options{Store: w.store, Node: name, Addr: name, Clock: w.clock,
		Tell: func(_ context.Context, peers []nightowl.Node) int {
			w.mu.Lock()
			defer w.mu.Unlock()
			took := 0
			for _, p := range peers {
				if m := w.nodes[p.Name]; m != nil && !w.isolated[name] && !w.isolated[p.Name] {
					m.Heard(name)
					took++
				}
			}
			return took
		},
		WriteBack: func(context.Context) error {
			w.mu.Lock()
			defer w.mu.Unlock()
			if w.unwritten[name] {
				return errors.New("the store refuses the alerts kept in memory")
			}
			return nil
		},
		HandOver: func(checks []string) []string {
			w.mu.Lock()
			defer w.mu.Unlock()
			var ready []string
			for _, c := range checks {
				if !w.busy[c] {
					ready = append(ready, c)
				}
			}
			return ready
		},
		Logger: slog.New(slog.DiscardHandler),
		Checks: func() []string { return w.checks },
		OnLost: func(n nightowl.Node) {
			w.mu.Lock()
			w.lost[name] = append(w.lost[name], n.Name)
			w.mu.Unlock()
		}})
	if err != nil {
		w.t.Fatal(err)
	}
	w.mu.Lock()
	w.nodes[name] = m
	w.mu.Unlock()
	return m
}

// round runs one round on each named node, or on all.
func (w *world) round(names ...string) {
	if len(names) == 0 {
		for n := range w.nodes {
			names = append(names, n)
		}
		slices.Sort(names)
	}
	for _, n := range names {
		w.nodes[n].Round(context.Background())
	}
}

// owners maps each check to the nodes that would run it now; it fails the
// test when any check has two.
func (w *world) owners(among ...string) map[string][]string {
	w.t.Helper()
	if len(among) == 0 {
		for n := range w.nodes {
			among = append(among, n)
		}
	}
	out := map[string][]string{}
	for _, c := range w.checks {
		for _, n := range among {
			if w.nodes[n].Owns(c) {
				out[c] = append(out[c], n)
			}
		}
		if len(out[c]) > 1 {
			w.t.Fatalf("at %s, %s is run by %v", w.clock.Now().Format(time.TimeOnly), c, out[c])
		}
	}
	return out
}

func TestEachCheckHasOneOwner(t *testing.T) {
	w := newWorld(t, 3)
	w.round()
	w.round() // the first to beat saw only itself: the next round settles
	w.clock.Advance(time.Second)
	w.round()
	own := w.owners()
	per := map[string]int{}
	for _, c := range w.checks {
		if len(own[c]) != 1 {
			t.Fatalf("%s is run by %v", c, own[c])
		}
		per[own[c][0]]++
	}
	for n, k := range per {
		if k < 60 {
			t.Errorf("%s runs %d of 300 checks: %v", n, k, per)
		}
	}
}

// TestDeadNodesChecksMove kills a node: nobody runs its checks twice at any
// moment, they all run again within the node timeout, and the others report
// it lost once each.
func TestDeadNodesChecksMove(t *testing.T) {
	w := newWorld(t, 3)
	for range 3 {
		w.round()
		w.clock.Advance(time.Second)
	}
	before := w.owners()
	var hers []string
	for _, c := range w.checks {
		if before[c][0] == "node-c" {
			hers = append(hers, c)
		}
	}
	// node-c is killed right after a round: its last beat and renewal.
	killed := w.clock.Now().Add(-time.Second)
	var resumed time.Duration
	for step := 0; step < 30; step++ {
		w.round("node-a", "node-b")
		own := w.owners("node-a", "node-b")
		done := true
		for _, c := range hers {
			if len(own[c]) == 0 {
				done = false
			}
		}
		if done {
			resumed = w.clock.Now().Sub(killed)
			break
		}
		w.clock.Advance(time.Second)
	}
	if resumed == 0 || resumed > cluster.DefaultNodeTimeout {
		t.Fatalf("node-c's %d checks resumed after %s, want within %s", len(hers), resumed, cluster.DefaultNodeTimeout)
	}
	// Checks that were not node-c's did not move.
	own := w.owners("node-a", "node-b")
	for _, c := range w.checks {
		if before[c][0] != "node-c" && own[c][0] != before[c][0] {
			t.Errorf("%s moved from %s to %s", c, before[c][0], own[c][0])
		}
	}
	w.round("node-a", "node-b")
	for _, n := range []string{"node-a", "node-b"} {
		if !slices.Equal(w.lost[n], []string{"node-c"}) {
			t.Errorf("%s reported lost: %v", n, w.lost[n])
		}
	}
	t.Logf("node-c's %d checks resumed %s after it died", len(hers), resumed)

	// node-c comes back: the load spreads again, one owner at every step.
	for step := 0; step < 20; step++ {
		w.round()
		w.owners()
		w.clock.Advance(time.Second)
	}
	own = w.owners()
	for _, c := range hers {
		if len(own[c]) != 1 || own[c][0] != "node-c" {
			t.Fatalf("%s is run by %v after node-c came back", c, own[c])
		}
	}
}

// TestLeaveHandsOver: a node that stops cleanly hands its checks over at
// the others' next round, and is not reported lost.
func TestLeaveHandsOver(t *testing.T) {
	w := newWorld(t, 2)
	for range 3 {
		w.round()
		w.clock.Advance(time.Second)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.nodes["node-b"].Run(ctx); close(done) }()
	cancel()
	<-done
	w.clock.Advance(time.Second)
	w.round("node-a")
	own := w.owners()
	for _, c := range w.checks {
		if len(own[c]) != 1 || own[c][0] != "node-a" {
			t.Fatalf("%s is run by %v a second after node-b left", c, own[c])
		}
	}
	if len(w.lost["node-a"]) != 0 {
		t.Errorf("a node that left was reported lost: %v", w.lost)
	}
}

// TestStoreDownKeepsRunning: with the store unreachable nobody can take a
// check over, so each node goes on running what it held, past its leases.
func TestStoreDownKeepsRunning(t *testing.T) {
	w := newWorld(t, 2)
	for range 3 {
		w.round()
		w.clock.Advance(time.Second)
	}
	w.store.down = true
	for range 60 {
		w.round()
		w.clock.Advance(time.Second)
	}
	own := w.owners()
	for _, c := range w.checks {
		if len(own[c]) != 1 {
			t.Fatalf("a minute into a store outage, %s is run by %v", c, own[c])
		}
	}
	w.store.down = false
	w.round()
	if own := w.owners(); len(own) != len(w.checks) {
		t.Fatalf("after the outage %d of %d checks have an owner", len(own), len(w.checks))
	}
	// The first node back sees the other's last beat a minute old: that
	// node was cut off too, not lost.
	for range 20 {
		w.clock.Advance(time.Second)
		w.round()
	}
	if len(w.lost) != 0 {
		t.Errorf("nodes reported lost after a store outage: %v", w.lost)
	}
	if !w.nodes["node-a"].Settled() {
		t.Error("not settled 20s after the store came back")
	}
}

func TestOwnerMovesOnlyTheLeaversChecks(t *testing.T) {
	nodes := []string{"a", "b", "c", "d"}
	moved := 0
	for i := range 10000 {
		c := fmt.Sprintf("c%d", i)
		before := cluster.Owner(c, nodes)
		after := cluster.Owner(c, nodes[:3])
		if before != "d" && after != before {
			t.Fatalf("%s moved from %s to %s when d left", c, before, after)
		}
		if before == "d" {
			moved++
		}
	}
	if moved < 2000 || moved > 3000 {
		t.Errorf("d owned %d of 10,000 checks, want about a quarter", moved)
	}
}

// TestHandOverWaitsForRuns: a node giving checks to a newcomer hands over
// at once those with no run under way, and the others once their runs end,
// while it goes on beating: nobody runs them twice, nobody calls it lost.
func TestHandOverWaitsForRuns(t *testing.T) {
	w := newWorld(t, 2)
	for range 3 {
		w.round()
		w.clock.Advance(time.Second)
	}
	before := w.owners()
	w.add("node-c")
	// Every check that will move to node-c has a run under way on its
	// current owner for the next five rounds.
	moving := map[string]bool{}
	for _, c := range w.checks {
		if cluster.Owner(c, []string{"node-a", "node-b", "node-c"}) == "node-c" {
			moving[c] = true
			w.busy[c] = true
		}
	}
	for i := range 12 {
		if i == 5 {
			w.mu.Lock()
			w.busy = map[string]bool{}
			w.mu.Unlock()
		}
		w.round()
		own := w.owners()
		for c := range moving {
			if i < 5 && len(own[c]) > 0 && own[c][0] == "node-c" {
				t.Fatalf("round %d: %s taken by node-c while its run goes on on %s", i, c, before[c][0])
			}
		}
		w.clock.Advance(time.Second)
	}
	own := w.owners()
	for c := range moving {
		if len(own[c]) != 1 || own[c][0] != "node-c" {
			t.Errorf("%s is run by %v after its run ended, want node-c", c, own[c])
		}
	}
	if len(w.lost) != 0 {
		t.Errorf("nodes reported lost during a handover: %v", w.lost)
	}
}

// TestHangingStoreIsAnOutage: a store that does not answer at all counts as
// unreachable once a round's call times out, so the node keeps running
// what it held instead of letting its leases lapse with nobody to take
// them over.
func TestHangingStoreIsAnOutage(t *testing.T) {
	clock := clocktest.New(time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC))
	store := newMemStore(clock)
	m, err := cluster.New(cluster.Options{Store: store, Node: "a", Clock: clock, Timeout: 3 * time.Second,
		Logger: slog.New(slog.DiscardHandler), Checks: func() []string { return []string{"web"} }})
	if err != nil {
		t.Fatal(err)
	}
	m.Round(context.Background())
	if !m.Owns("web") {
		t.Fatal("a does not own its only check")
	}
	store.mu.Lock()
	store.hang = true
	store.mu.Unlock()
	m.Round(context.Background()) // returns after the call's deadline
	clock.Advance(time.Minute)
	if !m.StoreDown() || !m.Owns("web") {
		t.Fatalf("a minute into a hang: store down %v, owns %v", m.StoreDown(), m.Owns("web"))
	}
}

// TestNodesBackAtDifferentTimes: after an outage that cut every node off,
// the first node back does not take the checks of the others, which are
// still running them from memory and come back a few beats later, or never
// while they can tell it they run them: at every moment each check has
// exactly one owner.
func TestNodesBackAtDifferentTimes(t *testing.T) {
	w := newWorld(t, 3)
	for range 3 {
		w.round()
		w.clock.Advance(time.Second)
	}
	before := w.owners()
	w.store.down = true
	for range 60 {
		w.round()
		w.clock.Advance(time.Second)
	}
	// node-c reaches the store first; node-b three beats later; node-a
	// not within the test, though it reaches the other nodes.
	w.store.down = false
	w.store.cut["node-a"], w.store.cut["node-b"] = true, true
	for i := range 60 {
		if i == 3 {
			w.store.cut["node-b"] = false
		}
		w.round()
		own := w.owners()
		for _, c := range w.checks {
			if len(own[c]) != 1 || own[c][0] != before[c][0] {
				t.Fatalf("%ds after node-c came back, %s is run by %v, before the outage by %v", i, c, own[c], before[c])
			}
		}
		w.clock.Advance(time.Second)
	}
	// node-a is cut off from the others too: it stops running its checks
	// before its last leases would end in the store, and the others take
	// them then; never two at once.
	w.mu.Lock()
	w.isolated["node-a"] = true
	w.mu.Unlock()
	isolated := w.clock.Now()
	var taken time.Duration
	for range 30 {
		w.round()
		own := w.owners()
		if taken == 0 && len(own) == len(w.checks) && !slices.ContainsFunc(w.checks, func(c string) bool { return own[c][0] == "node-a" }) {
			taken = w.clock.Now().Sub(isolated)
		}
		w.clock.Advance(time.Second)
	}
	if taken == 0 || taken > cluster.DefaultNodeTimeout {
		t.Fatalf("node-a's checks taken over %s after it was cut off from everything, want within %s", taken, cluster.DefaultNodeTimeout)
	}
	t.Logf("node-a's checks moved %s after it was cut off from everything", taken)
}

// TestWriteBackBeforeLeases: a node back from an outage takes and renews
// no lease before what it kept in memory is written, and runs what it held
// meanwhile; nobody else takes it.
func TestWriteBackBeforeLeases(t *testing.T) {
	w := newWorld(t, 2)
	for range 3 {
		w.round()
		w.clock.Advance(time.Second)
	}
	before := w.owners()
	w.store.down = true
	for range 20 {
		w.round()
		w.clock.Advance(time.Second)
	}
	w.mu.Lock()
	w.unwritten["node-a"] = true
	w.mu.Unlock()
	w.store.down = false
	for i := range 30 {
		w.round()
		own := w.owners()
		for _, c := range w.checks {
			if len(own[c]) != 1 || own[c][0] != before[c][0] {
				t.Fatalf("%ds after the outage, with node-a's alerts unwritten, %s is run by %v", i, c, own[c])
			}
		}
		w.clock.Advance(time.Second)
	}
	w.store.mu.Lock()
	var leased int
	for _, l := range w.store.leases {
		if l.node == "node-a" && w.clock.Now().Before(l.expires) {
			leased++
		}
	}
	w.store.mu.Unlock()
	if leased != 0 {
		t.Fatalf("node-a renewed %d leases before writing back what it kept", leased)
	}
	w.mu.Lock()
	w.unwritten["node-a"] = false
	w.mu.Unlock()
	for range 20 { // past any lease not renewed
		w.round()
		w.owners()
		w.clock.Advance(time.Second)
	}
	own := w.owners()
	for _, c := range w.checks {
		if len(own[c]) != 1 || own[c][0] != before[c][0] {
			t.Fatalf("after the write-back, %s is run by %v, before by %v", c, own[c], before[c])
		}
	}
}

// TestRoundsNotInLockstep runs three nodes whose rounds come at their own
// pace (beats of 1s, 1.07s and 1.13s, on a clock in 10ms steps) through a
// start, an outage of the store, returns at different times and a node
// cut off from everything: after every round of every node, no check has
// two owners, and while nothing is changing hands each has exactly one.
func TestRoundsNotInLockstep(t *testing.T) {
	w := newWorld(t, 3)
	period := map[string]time.Duration{"node-a": time.Second, "node-b": 1070 * time.Millisecond, "node-c": 1130 * time.Millisecond}
	start := w.clock.Now()
	next := map[string]time.Time{"node-a": start, "node-b": start.Add(330 * time.Millisecond), "node-c": start.Add(670 * time.Millisecond)}
	at := func(d time.Duration) time.Time { return start.Add(d) }
	rounds := 0
	for now := start; now.Before(at(150 * time.Second)); now = now.Add(10 * time.Millisecond) {
		w.clock.Set(now)
		switch {
		case now.Equal(at(30 * time.Second)):
			w.store.down = true
		case now.Equal(at(90 * time.Second)):
			w.store.down = false
			w.store.cut["node-a"], w.store.cut["node-b"] = true, true
		case now.Equal(at(93*time.Second + 500*time.Millisecond)):
			w.store.cut["node-b"] = false
		case now.Equal(at(97 * time.Second)):
			w.store.cut["node-a"] = false
		case now.Equal(at(120 * time.Second)):
			w.store.cut["node-c"] = true
			w.mu.Lock()
			w.isolated["node-c"] = true
			w.mu.Unlock()
		}
		for _, n := range []string{"node-a", "node-b", "node-c"} {
			if now.Before(next[n]) {
				continue
			}
			next[n] = now.Add(period[n])
			w.nodes[n].Round(context.Background())
			rounds++
			own := w.owners() // fails on two owners
			steady := now.After(at(15*time.Second)) && now.Before(at(120*time.Second)) ||
				now.After(at(120*time.Second+cluster.DefaultNodeTimeout))
			if !steady {
				continue
			}
			for _, c := range w.checks {
				if len(own[c]) != 1 {
					t.Fatalf("at %s, after %s's round, %s is run by %v", now.Sub(start), n, c, own[c])
				}
			}
		}
	}
	t.Logf("%d rounds, one owner for every check after each", rounds)
}
