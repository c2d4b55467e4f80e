// Package cluster makes the `nightowl serve` processes that share one
// PostgreSQL store into a cluster, with no consensus code of its own: each
// node heartbeats in the store, computes from the live nodes which checks
// are its own (rendezvous hashing, so that a node joining or leaving moves
// only its share), and runs a check only while it holds the check's lease in
// the store. The store grants a lease only when no other node holds it
// unexpired, so two nodes never run the same check at once while they both
// reach the store; a dead node's leases expire with it, and its checks move
// to the others within the node timeout. A node cut off from the store
// runs on from memory what it held only while no other node will take it:
// it tells the others, over the network, that it does so, and they leave
// those checks to it; one that nobody hears stops before its leases end.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/nightowl/nightowl"
)

// DefaultNodeTimeout is how long a node that stopped heartbeating keeps its
// checks: within it they run again elsewhere.
const DefaultNodeTimeout = 15 * time.Second

// Options configure a Membership.
type Options struct {
	Store nightowl.ClusterStore // required
	// Node names this process; unique in the cluster. Addr is what it
	// advertises.
	Node string
	Addr string
	// Timeout is cluster.node_timeout: the longest a dead node's checks go
	// unrun. Default DefaultNodeTimeout.
	Timeout time.Duration
	// Checks returns the names of the configured checks that nodes share
	// out: every check that is not paused, heartbeats included (their
	// pings are forwarded to the node that holds them).
	Checks func() []string
	Clock  nightowl.Clock // nightowl.SystemClock when nil
	Logger *slog.Logger   // slog.Default() when nil
	// OnOwn is called in a round in which this node gained or lost checks,
	// on the membership's goroutine: before it runs the gained ones, and
	// after it stopped running the lost ones. An error (it could not read
	// what the last owner left) gives the gained ones back, to be taken
	// again in a later round.
	OnOwn func(gained, lost []string) error
	// HandOver is given checks this node no longer runs and returns those
	// ready for their next owner: no run of theirs under way here, and
	// what they recorded written. The others are offered again next
	// round (their leases, no longer renewed, end on their own). It must
	// not wait long: it runs between heartbeats. Nil hands everything over
	// at once.
	HandOver func(checks []string) []string
	// OnHeld is called with the checks gained in a round once this node
	// holds them: the cue to run the overdue ones at once.
	OnHeld func(gained []string)
	// OnLost is called when a node that was live stopped heartbeating
	// without leaving: it crashed, hung or lost the store.
	OnLost func(n nightowl.Node)
	// WriteBack writes to the store what this node kept in memory while
	// it could not reach it (alerts, their notifications, status
	// changes), and returns nil once nothing is left. Back from an
	// outage, a node takes and renews leases only after that: a check's
	// next owner must find its open alert. Nil: nothing is kept.
	WriteBack func(ctx context.Context) error
	// Tell tells peers, while this node cannot reach the store, that it
	// is alive and running its checks from memory (their Heard), and
	// returns how many of them took the notice. Nil: nobody is told, and
	// a node cut off from the store stops running a check once its lease
	// has run out, unless it is alone.
	Tell func(ctx context.Context, peers []nightowl.Node) int
}

// Membership is this node's part in the cluster.
type Membership struct {
	opts  Options
	clock nightowl.Clock
	log   *slog.Logger
	// beat is how often the node heartbeats and looks at the others;
	// live is how long since its last beat a node counts as alive, and ttl
	// how long a lease lasts. Both are seven tenths of the timeout, so
	// that the round that sees a node gone, takes its checks over and
	// runs them comes within the timeout, with room for a slow round on a
	// busy machine.
	beat, live, ttl time.Duration
	renewEvery      time.Duration
	// margin is taken off a lease's end by this node's clock: it stops
	// running a check that long before the store would let another node
	// take it, whatever the two clocks' rates.
	margin time.Duration
	// callTimeout bounds each store call of a round.
	callTimeout time.Duration
	started     time.Time

	mu    sync.Mutex
	held  map[string]bool
	valid time.Time // the leases in held are ours until then, with the margin
	// draining are checks this node stopped running and has not handed
	// over yet.
	draining map[string]bool
	// storeDown is set while the store cannot be reached, and writingBack
	// once it can again until what was kept in memory meanwhile is
	// written: in both, the node runs what it held from memory (see
	// Owns).
	storeDown, writingBack bool
	// reached is when a peer last took this node's notice that it runs
	// its checks from memory (by the time it was sent).
	reached time.Time
	// heard are the nodes that told this one they run their checks from
	// memory, and when: while that is recent, they count as live, and
	// their checks are left to them.
	heard map[string]time.Time
	nodes []nightowl.Node
	// settleAt is when this node's view of the others is trustworthy: a
	// node timeout after it started or after the store came back.
	settleAt time.Time
	// cutOff are the nodes that were live when this node lost the store.
	// Until it has settled they count as live for ownership: most likely
	// they lost the store too and still run their checks from memory, and
	// taking those checks now would run them twice and page again for
	// what they have paged for but not yet written back.
	cutOff   []string
	renewed  time.Time
	lastWant []string
}

// New returns a membership; Run takes part in the cluster.
func New(opts Options) (*Membership, error) {
	if opts.Store == nil || opts.Node == "" || opts.Checks == nil {
		return nil, errors.New("cluster: a store, a node name and the checks are required")
	}
	if opts.Timeout == 0 {
		opts.Timeout = DefaultNodeTimeout
	}
	if opts.Timeout < 3*time.Second {
		return nil, fmt.Errorf("cluster: node_timeout %s is shorter than 3s", opts.Timeout)
	}
	if opts.Clock == nil {
		opts.Clock = nightowl.SystemClock{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	beat := min(time.Second, opts.Timeout/10)
	m := &Membership{opts: opts, clock: opts.Clock, log: opts.Logger, beat: beat,
		live: opts.Timeout * 7 / 10, ttl: opts.Timeout * 7 / 10, renewEvery: opts.Timeout / 5,
		margin: beat, held: map[string]bool{}, draining: map[string]bool{}, heard: map[string]time.Time{}}
	m.callTimeout = min(3*beat, m.live/3)
	m.started = m.clock.Now()
	return m, nil
}

// Owns reports whether this node should run the check now: while it holds
// the check's lease, by its own clock less a margin. Past that, a node
// that cannot reach the store (or is still writing back what it kept
// meanwhile) goes on running the check from memory only if no other node
// can take it: it is alone in the cluster, or the others have heard from
// it lately and leave its checks to it. A node cut off from the store and
// from every other node stops, since the others will take its checks over
// once its leases end.
func (m *Membership) Owns(check string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.held[check] {
		return false
	}
	now := m.clock.Now()
	if now.Before(m.valid) {
		return true
	}
	if !m.storeDown && !m.writingBack {
		return false
	}
	return m.writingBack || m.alone() || now.Sub(m.reached) < m.heardFor()
}

// heardFor is how long after a notice was taken its sender goes on running
// its checks from memory: two margins less than the receiver leaves them
// to it (live, from when it took the notice, which is after it was sent).
func (m *Membership) heardFor() time.Duration { return m.live - 2*m.margin }

// alone reports whether no other node was live when this one last
// reached the store. m.mu is held.
func (m *Membership) alone() bool {
	return !slices.ContainsFunc(m.nodes, func(n nightowl.Node) bool { return n.Live && n.Name != m.opts.Node })
}

// Heard records that node, which cannot reach the store, is alive and
// running its checks from memory: for a while its checks are left to it.
func (m *Membership) Heard(node string) {
	if node == m.opts.Node {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.heard[node] = m.clock.Now()
}

// FromMemory reports whether node, which does not heartbeat in the store,
// told this one lately that it is alive and runs its checks from memory.
func (m *Membership) FromMemory(node string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	at, ok := m.heard[node]
	return ok && m.clock.Now().Sub(at) < m.live
}

// Settled reports whether this node has been in touch with the store for
// long enough to tell a lost node from one that, like itself, could not
// reach the store for a while.
func (m *Membership) Settled() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return !m.storeDown && !m.settleAt.IsZero() && !m.clock.Now().Before(m.settleAt)
}

// StoreDown reports whether the last heartbeat failed to reach the store.
func (m *Membership) StoreDown() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.storeDown
}

// Nodes returns the nodes seen in the last round, by name.
func (m *Membership) Nodes() []nightowl.Node {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.nodes)
}

// Name is this node's name.
func (m *Membership) Name() string { return m.opts.Node }

// Run takes part in the cluster until ctx ends, then leaves it, handing
// this node's checks to the others at once.
func (m *Membership) Run(ctx context.Context) {
	for {
		m.Round(ctx)
		select {
		case <-ctx.Done():
			lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := m.opts.Store.Leave(lctx, m.opts.Node); err != nil {
				m.log.Warn("leave the cluster", "node", m.opts.Node, "err", err)
			}
			m.mu.Lock()
			m.held, m.valid = map[string]bool{}, time.Time{}
			m.mu.Unlock()
			return
		case <-m.clock.After(m.beat):
		}
	}
}

// Round is one heartbeat, in five steps: beat (record this node alive and
// see who else is), plan (which checks are this node's now), hand over
// (give up those that are not), lease (hold those that are, in the store)
// and commit (start running what was gained). Run calls it every beat;
// tests call it directly. It never waits long: every store call has its
// own deadline, so that a database that hangs instead of refusing counts
// as unreachable, and a check still running here is handed over in a
// later round rather than waited for.
func (m *Membership) Round(ctx context.Context) {
	start := m.clock.Now()
	m.mu.Lock()
	cut := m.storeDown || m.writingBack
	m.mu.Unlock()
	if cut {
		// First, so that a store that hangs does not hold the notice up.
		m.tell(ctx)
	}
	nodes, err := m.beatStep(ctx, start)
	if err != nil {
		if m.storeLost(ctx, err) {
			m.tell(ctx)
		}
		return
	}
	if !m.writeBack(ctx) {
		return
	}
	p := m.plan(start, nodes)
	m.handOver(ctx, p)
	if !p.renew {
		if len(p.drop) > 0 && m.opts.OnOwn != nil {
			m.opts.OnOwn(nil, p.drop)
		}
		return
	}
	got, err := m.lease(ctx, p)
	if err != nil {
		m.storeLost(ctx, err)
		if len(p.drop) > 0 && m.opts.OnOwn != nil {
			m.opts.OnOwn(nil, p.drop)
		}
		return
	}
	m.commit(ctx, start, p, got)
}

// call bounds one store call of a round.
func (m *Membership) call(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, m.callTimeout)
}

// beatStep records this node alive in the store and returns every node
// the store knows, and notes the end of an outage: from then on the
// others get a timeout's length to beat again before any is called lost.
func (m *Membership) beatStep(ctx context.Context, start time.Time) ([]nightowl.Node, error) {
	cctx, cancel := m.call(ctx)
	nodes, err := m.opts.Store.Beat(cctx, nightowl.Node{Name: m.opts.Node, Addr: m.opts.Addr, StartedAt: m.started.UTC()}, m.live)
	cancel()
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	prev := m.nodes
	m.nodes = nodes
	wasDown := m.storeDown
	m.storeDown = false
	if wasDown {
		m.writingBack = m.opts.WriteBack != nil
	}
	if wasDown || m.settleAt.IsZero() {
		// Every other node was cut off as long as this one, or this one
		// has just started: give them a timeout's length to beat again
		// before calling any of them lost.
		m.settleAt = start.Add(m.live)
	}
	if wasDown {
		for _, n := range prev {
			if n.Live && !slices.Contains(m.cutOff, n.Name) {
				m.cutOff = append(m.cutOff, n.Name)
			}
		}
	}
	settled := !start.Before(m.settleAt)
	if settled {
		m.cutOff = nil
	}
	m.mu.Unlock()
	if wasDown {
		m.log.Info("the store is back", "node", m.opts.Node)
	}
	if settled {
		m.lost(prev, nodes)
	}
	return nodes, nil
}

// writeBack writes what this node kept in memory during an outage, and
// reports whether it is all written: until then the node neither takes
// nor renews leases, and goes on running what it held from memory.
func (m *Membership) writeBack(ctx context.Context) bool {
	m.mu.Lock()
	pending := m.writingBack
	m.mu.Unlock()
	if !pending {
		return true
	}
	wctx, cancel := context.WithTimeout(ctx, m.live/2)
	err := m.opts.WriteBack(wctx)
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			m.log.Warn("leases wait until what was kept in memory is written", "node", m.opts.Node, "err", err)
		}
		return false
	}
	m.mu.Lock()
	m.writingBack = false
	m.mu.Unlock()
	m.log.Info("what was kept in memory is written", "node", m.opts.Node)
	return true
}

// tell lets the others know that this node, cut off from the store, is
// alive and runs its checks from memory, so that they leave those to it.
func (m *Membership) tell(ctx context.Context) {
	if m.opts.Tell == nil || ctx.Err() != nil {
		return
	}
	sent := m.clock.Now()
	m.mu.Lock()
	var peers []nightowl.Node
	for _, n := range m.nodes {
		if n.Live && n.Name != m.opts.Node && n.Addr != "" {
			peers = append(peers, n)
		}
	}
	m.mu.Unlock()
	if len(peers) == 0 {
		return
	}
	cctx, cancel := m.call(ctx)
	n := m.opts.Tell(cctx, peers)
	cancel()
	if n > 0 {
		m.mu.Lock()
		m.reached = sent
		m.mu.Unlock()
	}
}

// plan is what a round decided from the nodes alive: the checks this node
// wants, those it stops running, those it hands over, and whether it asks
// the store for leases this round.
type plan struct {
	want, drop, handing []string
	renew               bool
}

// plan works out which checks are this node's: by rendezvous over the
// nodes alive, which are those beating in the store, those cut off with
// this one that may still run their checks from memory (until it has
// settled), and those that said lately that they do.
func (m *Membership) plan(start time.Time, nodes []nightowl.Node) plan {
	var live []string
	for _, n := range nodes {
		if n.Live {
			live = append(live, n.Name)
		}
	}
	if !slices.Contains(live, m.opts.Node) {
		// The store's answer lags this node's own beat only if something
		// is badly wrong; never own nothing because of it.
		live = append(live, m.opts.Node)
	}
	left := func(name string) bool {
		return slices.ContainsFunc(nodes, func(n nightowl.Node) bool { return n.Name == name && n.Left })
	}
	m.mu.Lock()
	alive := slices.Clone(m.cutOff)
	for name, at := range m.heard {
		if start.Sub(at) < m.live {
			alive = append(alive, name)
		} else {
			delete(m.heard, name)
		}
	}
	m.mu.Unlock()
	for _, name := range alive {
		// A node that left cleanly is not coming back.
		if !left(name) && !slices.Contains(live, name) {
			live = append(live, name)
		}
	}

	var p plan
	for _, c := range m.opts.Checks() {
		if Owner(c, live) == m.opts.Node {
			p.want = append(p.want, c)
		}
	}
	slices.Sort(p.want)
	m.mu.Lock()
	defer m.mu.Unlock()
	for c := range m.held {
		if _, ok := slices.BinarySearch(p.want, c); !ok {
			p.drop = append(p.drop, c)
		}
	}
	p.renew = !slices.Equal(p.want, m.lastWant) || start.Sub(m.renewed) >= m.renewEvery || len(p.want) > len(m.held)
	// Stop running them at once; hand them over once their runs here
	// have ended and been written.
	for _, c := range p.drop {
		delete(m.held, c)
		m.draining[c] = true
	}
	for c := range m.draining {
		if _, ok := slices.BinarySearch(p.want, c); ok {
			delete(m.draining, c) // wanted again: it is leased below
			continue
		}
		p.handing = append(p.handing, c)
	}
	slices.Sort(p.handing)
	return p
}

// handOver releases in the store the checks this node stopped running
// whose runs here have ended, so that their next owner need not wait for
// the leases to end.
func (m *Membership) handOver(ctx context.Context, p plan) {
	if len(p.handing) == 0 {
		return
	}
	ready := p.handing
	if m.opts.HandOver != nil {
		ready = m.opts.HandOver(p.handing)
	}
	if len(ready) == 0 {
		return
	}
	cctx, cancel := m.call(ctx)
	err := m.opts.Store.Release(cctx, m.opts.Node, ready)
	cancel()
	if err != nil {
		// Their leases end on their own.
		m.log.Warn("release checks", "node", m.opts.Node, "checks", len(ready), "err", err)
	}
	m.mu.Lock()
	for _, c := range ready {
		delete(m.draining, c)
	}
	m.mu.Unlock()
}

// lease asks the store for the leases of the checks this node wants, and
// returns those it got: a check still leased to another node is not.
func (m *Membership) lease(ctx context.Context, p plan) ([]string, error) {
	cctx, cancel := m.call(ctx)
	defer cancel()
	return m.opts.Store.Lease(cctx, m.opts.Node, p.want, m.ttl)
}

// commit makes the leases got what this node runs: it learns what the
// last owner of each gained check left (states, alerts) before running
// it, so that its first run carries on from there instead of starting
// afresh. When it cannot, it does not take them: running them blind would
// page again for what is paged.
func (m *Membership) commit(ctx context.Context, start time.Time, p plan, got []string) {
	next := make(map[string]bool, len(got))
	for _, c := range got {
		next[c] = true
	}
	m.mu.Lock()
	var gained, lost []string
	for c := range next {
		if !m.held[c] {
			gained = append(gained, c)
		}
	}
	for c := range m.held {
		if !next[c] {
			lost = append(lost, c)
		}
	}
	m.mu.Unlock()
	slices.Sort(gained)
	slices.Sort(lost)
	lost = append(lost, p.drop...)
	complete := len(got) == len(p.want)
	if (len(gained) > 0 || len(lost) > 0) && m.opts.OnOwn != nil {
		if err := m.opts.OnOwn(gained, lost); err != nil && len(gained) > 0 {
			m.log.Warn("checks not taken over: what their last owner left could not be read", "node", m.opts.Node, "checks", len(gained), "err", err)
			for _, c := range gained {
				delete(next, c)
			}
			cctx, cancel := m.call(ctx)
			m.opts.Store.Release(cctx, m.opts.Node, gained)
			cancel()
			gained, complete = nil, false
		}
	}
	m.mu.Lock()
	m.held, m.valid, m.renewed = next, start.Add(m.ttl-m.margin), start
	// Checks wanted but still leased elsewhere are asked for again next
	// beat, until the other lease ends.
	if complete {
		m.lastWant = p.want
	} else {
		m.lastWant = nil
	}
	m.mu.Unlock()
	if len(gained) > 0 && m.opts.OnHeld != nil {
		m.opts.OnHeld(gained)
	}
}

// storeLost notes that the store cannot be reached, and reports whether
// it could until now.
func (m *Membership) storeLost(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false // stopping, not an outage
	}
	m.mu.Lock()
	was := m.storeDown
	m.storeDown = true
	m.mu.Unlock()
	if !was {
		m.log.Error("the store cannot be reached: running the checks this node held", "node", m.opts.Node, "err", err)
	}
	return !was
}

// lost reports the nodes that were live in the last round and are neither
// live nor left now.
func (m *Membership) lost(prev, now []nightowl.Node) {
	if m.opts.OnLost == nil {
		return
	}
	for _, p := range prev {
		if !p.Live || p.Name == m.opts.Node {
			continue
		}
		i := slices.IndexFunc(now, func(n nightowl.Node) bool { return n.Name == p.Name })
		if i >= 0 && (now[i].Live || now[i].Left) {
			continue
		}
		if i >= 0 {
			p = now[i]
		}
		m.log.Warn("monitoring node lost", "node", p.Name, "last_seen", p.SeenAt)
		m.opts.OnLost(p)
	}
}

// Owner is the node, among live, that runs check: the one with the highest
// score for the pair, so that when a node goes, only its checks move, and
// spread over the others evenly.
func Owner(check string, live []string) string {
	var best string
	var top uint64
	for _, n := range live {
		if s := score(n, check); best == "" || s > top || (s == top && n < best) {
			best, top = n, s
		}
	}
	return best
}

// score hashes a node and a check together: FNV-1a, then a 64-bit
// finaliser, since FNV's high bits alone spread similar names poorly.
func score(node, check string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(node); i++ {
		h = (h ^ uint64(node[i])) * 1099511628211
	}
	h = (h ^ 0xff) * 1099511628211
	for i := 0; i < len(check); i++ {
		h = (h ^ uint64(check[i])) * 1099511628211
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}
