package cluster

import (
	"fmt"
	"time"

	"github.com/nightowl/nightowl"
)

// NodeCheckPrefix begins the name under which a node's loss is alerted on,
// "node:NAME"; no configured check can have it, as check names have no
// colon.
const NodeCheckPrefix = "node:"

// NodeViews returns the nodes whose alert is this node's business, each as
// the check the alert manager observes: down while the node is lost (with
// whether it said it runs its checks from memory), up once it is back or
// has left cleanly. Each node's alert is the business of one live node,
// by rendezvous over the live nodes as for checks; none before the
// membership has settled.
func NodeViews(m *Membership) []nightowl.CheckView {
	if !m.Settled() {
		return nil
	}
	nodes := m.Nodes()
	live := LiveNames(nodes)
	var out []nightowl.CheckView
	for _, n := range nodes {
		name := NodeCheckPrefix + n.Name
		if n.Name == m.Name() || Owner(name, live) != m.Name() {
			continue
		}
		st, cause := nightowl.StatusUp, ""
		if !n.Live && !n.Left {
			st = nightowl.StatusDown
			cause = fmt.Sprintf("monitoring node %s lost: last heartbeat %s", n.Name, n.SeenAt.Format(time.RFC3339))
			if m.FromMemory(n.Name) {
				cause = fmt.Sprintf("monitoring node %s cannot reach the database (last heartbeat %s): it runs its checks from memory", n.Name, n.SeenAt.Format(time.RFC3339))
			}
		}
		out = append(out, nightowl.CheckView{
			Check: nightowl.Check{Name: name, Labels: map[string]string{"nightowl": "node", "node": n.Name}},
			State: nightowl.State{Check: name, Status: st, Since: n.SeenAt, Cause: cause},
			Last: &nightowl.Result{Check: name, Status: st, Assertions: []nightowl.AssertionResult{{Name: "heartbeat",
				OK: st == nightowl.StatusUp, Severity: nightowl.SeverityCritical, Message: cause}}},
		})
	}
	return out
}
