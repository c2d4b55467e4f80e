package app

import (
	"context"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/cluster"
	"github.com/nightowl/nightowl/cluster/relay"
	"github.com/nightowl/nightowl/ingest"
)

// clusterState is this node's part in a cluster, with storage.postgres.
type clusterState struct {
	name   string
	member atomic.Pointer[cluster.Membership]
	lost   prometheus.Counter
	// pings forwards heartbeat pings to the node that tracks their
	// check (pings.go).
	pings *relay.Router
}

// owns reports whether this node runs check now; always, outside a
// cluster.
func (a *App) owns(check string) bool {
	if a.cluster == nil {
		return true
	}
	m := a.cluster.member.Load()
	if m == nil {
		return false
	}
	if strings.HasPrefix(check, cluster.NodeCheckPrefix) {
		return cluster.Owner(check, cluster.LiveNames(m.Nodes())) == m.Name()
	}
	if name, _, ok := ingest.Split(check); ok {
		return a.ownsIntegration(name)
	}
	return m.Owns(check)
}

// watchNodes alerts on nodes lost and resolves the alert when they are back
// or have left cleanly (cluster.NodeViews). The node that alerts on one
// reads its alert from the store first, so that a node taking this over
// from a dead one carries the same alert on.
func (a *App) watchNodes(ctx context.Context, m *cluster.Membership) {
	views := cluster.NodeViews(m)
	if len(views) == 0 {
		return
	}
	names := make([]string, len(views))
	for i, v := range views {
		names[i] = v.Check.Name
	}
	if err := a.alerts.Adopt(ctx, names); err != nil {
		a.log.Warn("read node alerts", "err", err)
		return
	}
	for _, v := range views {
		open := slices.ContainsFunc(a.alerts.Open(), func(al nightowl.Alert) bool { return al.Check == v.Check.Name })
		octx, cancel := context.WithTimeout(ctx, alertTimeout)
		err := a.alerts.Observe(octx, v)
		cancel()
		if err != nil {
			a.log.Error("alert on a lost node", "node", v.Check.Labels["node"], "err", err)
			continue
		}
		if v.State.Status == nightowl.StatusDown && !open {
			// Counted by the one node that alerts, once per loss.
			a.cluster.lost.Inc()
		}
	}
}

// ownsFunc is a.owns for the options that take one, nil outside a cluster.
func (a *App) ownsFunc() func(string) bool {
	if a.cluster == nil {
		return nil
	}
	return a.owns
}

// newCluster prepares the cluster state when the store is shared; the
// membership itself starts with the server, once its address is known.
func (a *App) newCluster() {
	if a.cfg.Storage.Postgres == "" {
		return
	}
	name := a.cfg.Cluster.Node
	if name == "" {
		addr := a.opts.Listen
		if addr == "" {
			addr = a.cfg.Server.Listen
		}
		host, _ := os.Hostname()
		_, port, _ := net.SplitHostPort(addr)
		name = host + ":" + port
	}
	a.cluster = &clusterState{name: name, lost: prometheus.NewCounter(prometheus.CounterOpts{
		Name: "nightowl_cluster_nodes_lost_total",
		Help: "Nodes of the cluster seen to stop heartbeating without leaving.",
	})}
	a.registry.MustRegister(a.cluster.lost)
	for _, state := range []string{"live", "lost"} {
		a.registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "nightowl_cluster_nodes",
			Help:        "Nodes of the cluster as this node saw them in its last round: live, or lost (stopped heartbeating without leaving, in the last hour).",
			ConstLabels: prometheus.Labels{"state": state},
		}, func() float64 {
			n := 0
			for _, node := range a.ClusterNodes() {
				if (state == "live") == node.Live && (node.Live || !node.Left) {
					n++
				}
			}
			return float64(n)
		}))
	}
}

// runCluster takes part in the cluster until ctx ends, then leaves it.
func (a *App) runCluster(ctx context.Context, addr string) {
	if a.cluster == nil {
		return
	}
	cs, ok := clusterStore(a.store)
	if !ok {
		a.log.Error("the store cannot hold a cluster")
		return
	}
	c := a.cfg.Cluster
	name := a.cluster.name
	advertise := c.Advertise
	if advertise == "" {
		advertise = addr
	}
	m, err := cluster.New(cluster.Options{Store: cs, Node: name, Addr: advertise, Timeout: c.NodeTimeout,
		Clock: a.opts.Clock, Logger: a.log, Checks: a.activeChecks,
		OnOwn: func(gained, lost []string) error {
			a.log.Info("checks moved", "node", name, "gained", len(gained), "lost", len(lost))
			if len(gained) == 0 {
				return nil
			}
			if err := a.adopt(ctx, gained); err != nil {
				return err
			}
			a.reconcile(ctx, gained)
			return nil
		},
		OnHeld: a.engine.RunOverdue,
		HandOver: func(checks []string) []string {
			idle := a.engine.Idle(checks)
			if len(idle) == 0 {
				return nil
			}
			// What their last runs here recorded reaches the store
			// before the next owner reads it.
			fctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			if err := a.store.Flush(fctx); err != nil {
				return nil
			}
			return idle
		},
		OnLost: func(n nightowl.Node) {
			a.log.Error("monitoring node lost", "node", n.Name, "last_seen", n.SeenAt)
		},
		WriteBack: a.writeBack,
		Tell: func(ctx context.Context, peers []nightowl.Node) int {
			if a.cluster.pings == nil {
				return 0
			}
			return a.cluster.pings.Tell(ctx, name, peers)
		},
	})
	if err != nil {
		a.log.Error("join the cluster", "err", err)
		return
	}
	a.cluster.member.Store(m)
	a.log.Info("joined the cluster", "node", name, "node_timeout", c.NodeTimeout)
	done := make(chan struct{})
	go func() {
		// What the other nodes record shows here too: the dashboard and
		// API of every node tell the same story.
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case <-a.opts.Clock.After(2 * time.Second):
				if m.StoreDown() {
					continue // said once by the membership; nothing to read
				}
				a.adopt(ctx, nil)
				a.watchNodes(ctx, m)
				a.adoptIngested(ctx)
				if err := a.maint.Refresh(ctx); err != nil {
					a.log.Warn("read maintenance windows", "err", err)
				}
			}
		}
	}()
	m.Run(ctx)
	<-done
}

// writeBack writes what was kept in memory while the store could not be
// reached; an error while anything is left (a notification still being
// sent from memory waits for its send to end).
func (a *App) writeBack(ctx context.Context) error {
	r, ok := a.store.(*resilient)
	if !ok {
		return nil
	}
	if err := r.Store.Drain(ctx); err != nil {
		return err
	}
	if events, alerts, notes := r.Store.Spooled(); events+alerts+notes > 0 {
		return fmt.Errorf("%d events, %d alerts and %d notifications still to write", events, alerts, notes)
	}
	return nil
}

// adopt brings in the states other nodes recorded, and for the checks this
// node has just taken over, their open alerts.
func (a *App) adopt(ctx context.Context, gained []string) error {
	// Heartbeats first: their state is stored apart, and a takeover must
	// not go without it because the other read failed.
	if a.cluster.pings != nil {
		a.cluster.pings.Adopt(ctx, gained)
	}
	states, err := a.store.States(ctx)
	if err != nil {
		a.log.Warn("read check states", "err", err)
		return err
	}
	a.engine.Adopt(states, gained)
	if err := a.alerts.Adopt(ctx, gained); err != nil {
		a.log.Warn("read the alerts of checks taken over", "err", err)
		return err
	}
	return nil
}

// reconcile opens or resolves the alerts of checks from their states, and
// resolves those of checks no longer configured: at start and reload for
// every check this node runs (checks nil), and for the checks it takes
// over.
func (a *App) reconcile(ctx context.Context, checks []string) {
	var views []nightowl.CheckView
	if checks == nil {
		for _, v := range a.engine.Checks() {
			if a.owns(v.Check.Name) {
				views = append(views, v)
			}
		}
	}
	for _, c := range checks {
		if v, ok := a.engine.Check(c); ok {
			views = append(views, v)
		}
	}
	configured := func(c string) bool {
		if a.cluster != nil && strings.HasPrefix(c, cluster.NodeCheckPrefix) {
			return true // the node watch resolves these
		}
		if a.ingest.Configured(c) {
			return true // their senders resolve these, or resolve_after
		}
		_, ok := a.engine.Check(c)
		return ok
	}
	if err := a.alerts.Reconcile(ctx, views, configured); err != nil {
		a.log.Error("reconcile alerts with check states", "err", err)
	}
}

// nodeName is this node's name in the outbox's leases.
func (a *App) nodeName() string {
	if a.cluster == nil {
		return ""
	}
	return a.cluster.name
}

// activeChecks names the checks the membership leases, each to one node:
// those that run on a schedule, and heartbeats, which that node's tracker
// judges while the others forward their pings to it (pings.go). Paused
// checks run nowhere.
func (a *App) activeChecks() []string {
	var out []string
	for _, v := range a.engine.Checks() {
		if !v.Check.Paused {
			out = append(out, v.Check.Name)
		}
	}
	return out
}

// ClusterNodes returns the nodes this one saw in its last heartbeat; nil
// outside a cluster.
func (a *App) ClusterNodes() []nightowl.Node {
	if a.cluster == nil {
		return nil
	}
	if m := a.cluster.member.Load(); m != nil {
		return m.Nodes()
	}
	return nil
}
