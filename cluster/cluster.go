// Package cluster makes the `nightowl serve` processes that share one
// PostgreSQL store into a cluster, with no consensus code of its own: each
// node heartbeats in the store, computes from the live nodes which checks
// are its own (rendezvous hashing, so that a node joining or leaving moves
// only its share), and runs a check only while it holds the check's lease in
// the store. The store grants a lease only when no other node holds it
// unexpired, so two nodes never run the same check at once while they both
// reach the store; a dead node's leases expire with it, and its checks move
// to the others within the node timeout.
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
	// callTimeout bounds each store call of a round.
	callTimeout time.Duration
	started     time.Time

	mu    sync.Mutex
	held  map[string]bool
	valid time.Time // the leases in held are ours until then
	// draining are checks this node stopped running and has not handed
	// over yet.
	draining map[string]bool
	// storeDown is set while the store cannot be reached: the node then
	// keeps running what it held, since nobody can take it over through
	// the store either, and a check run twice is better than one not run.
	storeDown bool
	nodes     []nightowl.Node
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
		held: map[string]bool{}, draining: map[string]bool{}}
	m.callTimeout = min(3*beat, m.live/3)
	m.started = m.clock.Now()
	return m, nil
}

// Owns reports whether this node should run the check now.
func (m *Membership) Owns(check string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.held[check] && (m.storeDown || m.clock.Now().Before(m.valid))
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

// Round is one heartbeat: record this node alive, see who else is, and
// take or give up checks accordingly. Run calls it every beat; tests call
// it directly. It never waits long: every store call has its own deadline,
// so that a database that hangs instead of refusing counts as unreachable,
// and a check still running here is handed over in a later round rather
// than waited for.
func (m *Membership) Round(ctx context.Context) {
	start := m.clock.Now()
	call := func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, m.callTimeout) }
	cctx, cancel := call()
	nodes, err := m.opts.Store.Beat(cctx, nightowl.Node{Name: m.opts.Node, Addr: m.opts.Addr, StartedAt: m.started.UTC()}, m.live)
	cancel()
	if err != nil {
		m.storeLost(ctx, err)
		return
	}
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
	m.mu.Lock()
	prev := m.nodes
	m.nodes = nodes
	wasDown := m.storeDown
	m.storeDown = false
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
	cutOff := m.cutOff
	m.mu.Unlock()
	for _, name := range cutOff {
		// Back from an outage: the others may be a few beats behind.
		// A node that left cleanly is not coming back.
		left := slices.ContainsFunc(nodes, func(n nightowl.Node) bool { return n.Name == name && n.Left })
		if !left && !slices.Contains(live, name) {
			live = append(live, name)
		}
	}
	if wasDown {
		m.log.Info("the store is back", "node", m.opts.Node)
	}
	if settled {
		m.lost(prev, nodes)
	}

	var want []string
	for _, c := range m.opts.Checks() {
		if Owner(c, live) == m.opts.Node {
			want = append(want, c)
		}
	}
	slices.Sort(want)
	m.mu.Lock()
	var drop []string
	for c := range m.held {
		if _, ok := slices.BinarySearch(want, c); !ok {
			drop = append(drop, c)
		}
	}
	renew := !slices.Equal(want, m.lastWant) || start.Sub(m.renewed) >= m.renewEvery || len(want) > len(m.held)
	// Stop running them at once; hand them over once their runs here
	// have ended and been written.
	for _, c := range drop {
		delete(m.held, c)
		m.draining[c] = true
	}
	var handing []string
	for c := range m.draining {
		if _, ok := slices.BinarySearch(want, c); ok {
			delete(m.draining, c) // wanted again: it is leased below
			continue
		}
		handing = append(handing, c)
	}
	m.mu.Unlock()
	slices.Sort(handing)
	if len(handing) > 0 {
		ready := handing
		if m.opts.HandOver != nil {
			ready = m.opts.HandOver(handing)
		}
		if len(ready) > 0 {
			cctx, cancel := call()
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
	}
	if !renew {
		if len(drop) > 0 && m.opts.OnOwn != nil {
			m.opts.OnOwn(nil, drop)
		}
		return
	}
	cctx, cancel = call()
	got, err := m.opts.Store.Lease(cctx, m.opts.Node, want, m.ttl)
	cancel()
	if err != nil {
		m.storeLost(ctx, err)
		if len(drop) > 0 && m.opts.OnOwn != nil {
			m.opts.OnOwn(nil, drop)
		}
		return
	}
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
	lost = append(lost, drop...)
	complete := len(got) == len(want)
	// The node learns what the last owner left (states, alerts) before
	// it starts running what it gained, so that its first run carries on
	// from there instead of starting afresh. When it cannot, it does not
	// take them: running them blind would page again for what is paged.
	if (len(gained) > 0 || len(lost) > 0) && m.opts.OnOwn != nil {
		if err := m.opts.OnOwn(gained, lost); err != nil && len(gained) > 0 {
			m.log.Warn("checks not taken over: what their last owner left could not be read", "node", m.opts.Node, "checks", len(gained), "err", err)
			for _, c := range gained {
				delete(next, c)
			}
			cctx, cancel := call()
			m.opts.Store.Release(cctx, m.opts.Node, gained)
			cancel()
			gained, complete = nil, false
		}
	}
	m.mu.Lock()
	m.held, m.valid, m.renewed = next, start.Add(m.ttl), start
	// Checks wanted but still leased elsewhere are asked for again next
	// beat, until the other lease ends.
	if complete {
		m.lastWant = want
	} else {
		m.lastWant = nil
	}
	m.mu.Unlock()
	if len(gained) > 0 && m.opts.OnHeld != nil {
		m.opts.OnHeld(gained)
	}
}

func (m *Membership) storeLost(ctx context.Context, err error) {
	if ctx.Err() != nil {
		return // stopping, not an outage
	}
	m.mu.Lock()
	was := m.storeDown
	m.storeDown = true
	m.mu.Unlock()
	if !was {
		m.log.Error("the store cannot be reached: running the checks this node held", "node", m.opts.Node, "err", err)
	}
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
