// Package relay carries heartbeat pings between the nodes of a cluster.
// Each heartbeat check is leased to one node like an active check, and that
// node's tracker judges it; the others' trackers keep it too, so that its
// ping URL works on every node and a node taking it over has it at hand. A
// job's ping reaches whichever node the load balancer picks, which forwards
// it to the node holding the check. The same signed channel carries the
// notice of a node cut off from the store that it runs its checks from
// memory.
package relay

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/cluster"
	"github.com/nightowl/nightowl/heartbeat"
	"github.com/nightowl/nightowl/web"
)

// ForwardTimeout bounds a ping's trip to the node that tracks its check: a
// job waits that long at most before it is told to try again.
const ForwardTimeout = 2 * time.Second

// Options configure a Router. Tracker, Key, Owns and Member are required.
type Options struct {
	// Tracker is this node's heartbeat tracker.
	Tracker *heartbeat.Tracker
	// Key signs forwarded pings and notices; the same on every node.
	Key []byte
	// Owns reports whether this node holds a check now.
	Owns func(check string) bool
	// Member is this node's membership; nil until it joined.
	Member func() *cluster.Membership
	// Checks are the checks in force (the engine's), Submit hands the
	// engine a check's facts, and Stored reads the heartbeats every node
	// recorded (the store's).
	Checks func() []nightowl.CheckView
	Submit func(check string, at time.Time, f nightowl.Facts)
	Stored func(ctx context.Context) ([]nightowl.Heartbeat, error)
	Clock  nightowl.Clock // the system clock when nil
	Logger *slog.Logger   // slog.Default() when nil
}

// Router is this node's part in the heartbeats of a cluster: the Pinger of
// the ping URLs (web.ClusterPinger, web.ClusterHearer), and the checks it
// took over but has not yet reported.
type Router struct {
	opts   Options
	client *http.Client

	// adoptMu keeps two adoptions (a takeover and the periodic one) from
	// interleaving their reads of the store and their merges.
	adoptMu sync.Mutex

	mu sync.Mutex
	// unreported are checks taken over whose facts the engine has not had
	// since: until the lease is in force, which is only after the
	// membership's OnOwn returns, the engine drops their reports.
	unreported map[string]bool
}

// New returns a Router over opts.
func New(opts Options) *Router {
	if opts.Clock == nil {
		opts.Clock = nightowl.SystemClock{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Router{opts: opts,
		client:     &http.Client{Timeout: ForwardTimeout, Transport: http.DefaultTransport.(*http.Transport).Clone()},
		unreported: map[string]bool{}}
}

var (
	_ web.ClusterPinger = (*Router)(nil)
	_ web.ClusterHearer = (*Router)(nil)
	_ web.PingTokens    = (*Router)(nil)
)

// Ping implements web.Pinger: a ping of a check this node tracks, or that
// no other live node does, is recorded here; any other is forwarded to the
// node that holds the check. When that node cannot be reached in time the
// job is told to try again (web.ErrPingUnavailable), since by then the node
// is back or another has taken the check over.
func (r *Router) Ping(token string, p nightowl.Ping) (nightowl.Ping, error) {
	beats := r.opts.Tracker
	check, ok := beats.CheckFor(token)
	if !ok || r.opts.Owns(check) {
		return beats.Ping(token, p)
	}
	owner, ok := r.owner(check)
	if !ok {
		return beats.Ping(token, p)
	}
	ctx, cancel := context.WithTimeout(context.Background(), ForwardTimeout)
	defer cancel()
	err := web.ForwardPing(ctx, r.client, owner.Addr, r.opts.Key, token, p)
	if errors.Is(err, web.ErrPingUnavailable) {
		r.opts.Logger.Warn("forward a heartbeat ping: the job is told to try again",
			"check", check, "node", owner.Name, "err", err)
	} else if err != nil && nightowl.ErrorCode(err) == nightowl.EInternal {
		r.opts.Logger.Error("forward a heartbeat ping", "check", check, "node", owner.Name, "err", err)
	}
	p.Check = check
	return p, err
}

// CheckFor implements web.PingTokens: every node knows every token.
func (r *Router) CheckFor(token string) (string, bool) { return r.opts.Tracker.CheckFor(token) }

// owner is the live node other than this one that holds check, as the
// membership computes it; false when there is none (this node has just
// started, or is taking the check over).
func (r *Router) owner(check string) (nightowl.Node, bool) {
	m := r.opts.Member()
	if m == nil {
		return nightowl.Node{}, false
	}
	nodes := m.Nodes()
	name := cluster.Owner(check, cluster.LiveNames(nodes))
	if name == "" || name == m.Name() {
		return nightowl.Node{}, false
	}
	i := slices.IndexFunc(nodes, func(n nightowl.Node) bool { return n.Name == name })
	if i < 0 || nodes[i].Addr == "" {
		return nightowl.Node{}, false
	}
	return nodes[i], true
}

// Heard implements web.ClusterHearer: a node cut off from the store runs
// its checks from memory, and this one leaves them to it meanwhile.
func (r *Router) Heard(node string) {
	if m := r.opts.Member(); m != nil {
		m.Heard(node)
	}
}

// Tell is cluster.Options.Tell for the node name: the notice goes to every
// peer at once, and counts where it was taken.
func (r *Router) Tell(ctx context.Context, name string, peers []nightowl.Node) int {
	sent := r.opts.Clock.Now()
	var took atomic.Int32
	var wg sync.WaitGroup
	for _, p := range peers {
		wg.Go(func() {
			if err := web.TellAlive(ctx, r.client, p.Addr, r.opts.Key, name, sent); err != nil {
				r.opts.Logger.Debug("tell a node this one runs its checks from memory", "node", p.Name, "err", err)
				return
			}
			took.Add(1)
		})
	}
	wg.Wait()
	return int(took.Load())
}

// PingKey implements web.ClusterPinger.
func (r *Router) PingKey() []byte { return r.opts.Key }

// PingHere implements web.ClusterPinger: a forwarded ping is recorded here
// whoever holds the check now, rather than sent round again.
func (r *Router) PingHere(token string, p nightowl.Ping) (nightowl.Ping, error) {
	return r.opts.Tracker.Ping(token, p)
}

// Adopt brings the tracker up to date with what the nodes recorded: the
// heartbeat checks this node has just taken over (gained) carry on from
// their last owner's record, and those it does not hold are refreshed, so
// that it never takes one over from far behind. Checks taken over earlier
// whose lease is now in force get their facts reported.
func (r *Router) Adopt(ctx context.Context, gained []string) {
	r.report()
	r.adoptMu.Lock()
	defer r.adoptMu.Unlock()
	isGained := make(map[string]bool, len(gained))
	for _, c := range gained {
		isGained[c] = true
	}
	var mine, checks []string
	for _, v := range r.opts.Checks() {
		if !v.Check.Passive {
			continue
		}
		if isGained[v.Check.Name] {
			mine = append(mine, v.Check.Name)
		} else if !r.opts.Owns(v.Check.Name) {
			checks = append(checks, v.Check.Name)
		}
	}
	if len(mine)+len(checks) == 0 {
		return
	}
	stored, err := r.opts.Stored(ctx)
	if err != nil {
		r.opts.Logger.Warn("read heartbeat states", "err", err)
	} else {
		r.opts.Tracker.Adopt(stored, append(mine, checks...))
	}
	r.mu.Lock()
	for _, c := range mine {
		r.unreported[c] = true
	}
	r.mu.Unlock()
}

// report hands the engine the facts of checks taken over, once this node's
// lease on them is in force. The tracker reports a check whenever its facts
// change, but one that was overdue when it was taken over changes no more
// until a ping: without this, its first report, made before the lease was
// in force and dropped, would be its last.
func (r *Router) report() {
	beats := r.opts.Tracker
	r.mu.Lock()
	var ready []string
	for c := range r.unreported {
		if _, ok := beats.Token(c); !ok {
			delete(r.unreported, c) // no longer configured
		} else if r.opts.Owns(c) {
			ready = append(ready, c)
			delete(r.unreported, c)
		}
	}
	r.mu.Unlock()
	now := r.opts.Clock.Now()
	for _, c := range ready {
		if f, ok := beats.Facts(c); ok {
			r.opts.Submit(c, now, f)
		}
	}
}
