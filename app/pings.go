package app

import (
	"context"
	"errors"
	"fmt"
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

// Heartbeat checks in a cluster. Each is leased to one node like an active
// check (activeChecks), and that node's tracker judges it; the others'
// trackers keep it too, so that its ping URL works on every node and a node
// taking it over has it at hand. A job's ping reaches whichever node the
// load balancer picks, which forwards it to the node holding the check.

const (
	// forwardTimeout bounds a ping's trip to the node that tracks its
	// check: a job waits that long at most before it is told to try again.
	forwardTimeout = 2 * time.Second
	// Names and sizes of the secrets, kept in the shared store, from which
	// ping tokens are derived and with which forwarded pings are signed.
	tokenKeyName = "heartbeat_token_key"
	pingKeyName  = "cluster_ping_key"
	secretSize   = 32
)

// pingRouter is this node's part in the heartbeats of a cluster: the
// Pinger of the ping URLs, and the checks it took over but has not yet
// reported.
type pingRouter struct {
	a      *App
	key    []byte // signs forwarded pings
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

// clusterHeartbeats prepares the heartbeats of a cluster: tokens derived
// from a shared secret, so that every node, and every restart, gives a
// check the same ping URL without waiting for another node to store one;
// and the router that forwards pings. Outside a cluster it does nothing,
// and tokens stay random and stored, as the URLs already handed out are.
func (a *App) clusterHeartbeats(ctx context.Context, opts *heartbeat.Options) error {
	if a.cluster == nil {
		return nil
	}
	tokenKey, err := a.store.Secret(ctx, tokenKeyName, secretSize)
	if err != nil {
		return fmt.Errorf("read the heartbeat token key: %w", err)
	}
	pingKey, err := a.store.Secret(ctx, pingKeyName, secretSize)
	if err != nil {
		return fmt.Errorf("read the key of forwarded pings: %w", err)
	}
	opts.TokenFor = func(check string) string { return heartbeat.DeriveToken(tokenKey, check) }
	a.cluster.pings = &pingRouter{a: a, key: pingKey,
		client:     &http.Client{Timeout: forwardTimeout, Transport: http.DefaultTransport.(*http.Transport).Clone()},
		unreported: map[string]bool{}}
	return nil
}

// pinger is what answers the ping URLs: the tracker, or in a cluster the
// router in front of it.
func (a *App) pinger() web.Pinger {
	if a.cluster != nil && a.cluster.pings != nil {
		return a.cluster.pings
	}
	return a.beats
}

// Ping implements web.Pinger: a ping of a check this node tracks, or that
// no other live node does, is recorded here; any other is forwarded to the
// node that holds the check. When that node cannot be reached in time the
// job is told to try again (web.ErrPingUnavailable), since by then the node
// is back or another has taken the check over.
func (r *pingRouter) Ping(token string, p nightowl.Ping) (nightowl.Ping, error) {
	a := r.a
	check, ok := a.beats.CheckFor(token)
	if !ok || a.owns(check) {
		return a.beats.Ping(token, p)
	}
	owner, ok := r.owner(check)
	if !ok {
		return a.beats.Ping(token, p)
	}
	ctx, cancel := context.WithTimeout(context.Background(), forwardTimeout)
	defer cancel()
	err := web.ForwardPing(ctx, r.client, owner.Addr, r.key, token, p)
	if errors.Is(err, web.ErrPingUnavailable) {
		a.log.Warn("forward a heartbeat ping: the job is told to try again",
			"check", check, "node", owner.Name, "err", err)
	} else if err != nil && nightowl.ErrorCode(err) == nightowl.EInternal {
		a.log.Error("forward a heartbeat ping", "check", check, "node", owner.Name, "err", err)
	}
	p.Check = check
	return p, err
}

// CheckFor implements web.PingTokens: every node knows every token.
func (r *pingRouter) CheckFor(token string) (string, bool) { return r.a.beats.CheckFor(token) }

// owner is the live node other than this one that holds check, as the
// membership computes it; false when there is none (this node has just
// started, or is taking the check over).
func (r *pingRouter) owner(check string) (nightowl.Node, bool) {
	m := r.a.cluster.member.Load()
	if m == nil {
		return nightowl.Node{}, false
	}
	nodes := m.Nodes()
	name := cluster.Owner(check, liveNames(nodes))
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
func (r *pingRouter) Heard(node string) {
	if m := r.a.cluster.member.Load(); m != nil {
		m.Heard(node)
	}
}

// tell implements cluster.Options.Tell: the notice goes to every peer at
// once, and counts where it was taken.
func (r *pingRouter) tell(ctx context.Context, name string, peers []nightowl.Node) int {
	sent := r.a.opts.Clock.Now()
	var took atomic.Int32
	var wg sync.WaitGroup
	for _, p := range peers {
		wg.Go(func() {
			if err := web.TellAlive(ctx, r.client, p.Addr, r.key, name, sent); err != nil {
				r.a.log.Debug("tell a node this one runs its checks from memory", "node", p.Name, "err", err)
				return
			}
			took.Add(1)
		})
	}
	wg.Wait()
	return int(took.Load())
}

// PingKey implements web.ClusterPinger.
func (r *pingRouter) PingKey() []byte { return r.key }

// PingHere implements web.ClusterPinger: a forwarded ping is recorded here
// whoever holds the check now, rather than sent round again.
func (r *pingRouter) PingHere(token string, p nightowl.Ping) (nightowl.Ping, error) {
	return r.a.beats.Ping(token, p)
}

// adoptHeartbeats brings the tracker up to date with what the nodes
// recorded: the heartbeat checks this node has just taken over (gained)
// carry on from their last owner's record, and those it does not hold are
// refreshed, so that it never takes one over from far behind. Checks
// taken over earlier whose lease is now in force get their facts reported.
func (a *App) adoptHeartbeats(ctx context.Context, gained []string) {
	r := a.cluster.pings
	if r == nil {
		return
	}
	r.report()
	r.adoptMu.Lock()
	defer r.adoptMu.Unlock()
	isGained := make(map[string]bool, len(gained))
	for _, c := range gained {
		isGained[c] = true
	}
	var mine, checks []string
	for _, v := range a.engine.Checks() {
		if !v.Check.Passive {
			continue
		}
		if isGained[v.Check.Name] {
			mine = append(mine, v.Check.Name)
		} else if !a.owns(v.Check.Name) {
			checks = append(checks, v.Check.Name)
		}
	}
	if len(mine)+len(checks) == 0 {
		return
	}
	stored, err := a.store.Heartbeats(ctx)
	if err != nil {
		a.log.Warn("read heartbeat states", "err", err)
	} else {
		a.beats.Adopt(stored, append(mine, checks...))
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
func (r *pingRouter) report() {
	a := r.a
	r.mu.Lock()
	var ready []string
	for c := range r.unreported {
		if _, ok := a.beats.Token(c); !ok {
			delete(r.unreported, c) // no longer configured
		} else if a.owns(c) {
			ready = append(ready, c)
			delete(r.unreported, c)
		}
	}
	r.mu.Unlock()
	now := a.opts.Clock.Now()
	for _, c := range ready {
		if f, ok := a.beats.Facts(c); ok {
			a.engine.Submit(c, now, f)
		}
	}
}
