package nightowl

import (
	"context"
	"time"
)

// Node is one `nightowl serve` process of a cluster that shares a store.
type Node struct {
	Name string `json:"name"`
	// Addr is where the node's API listens, as it advertises itself.
	Addr      string    `json:"addr,omitempty"`
	StartedAt time.Time `json:"started_at"`
	// SeenAt is the node's last heartbeat, by the store's clock.
	SeenAt time.Time `json:"seen_at"`
	// Left is set when the node stopped cleanly; a node that stops
	// heartbeating without leaving was lost.
	Left bool `json:"left,omitempty"`
	// Live: seen within the cluster's node timeout and not left.
	Live bool `json:"live"`
}

// ClusterStore is what the nodes of a cluster agree on through their shared
// store: who is alive, and which node runs each check. Times that decide
// liveness and leases are taken from the store's clock, so that nodes whose
// clocks disagree still agree on them.
type ClusterStore interface {
	// Beat records that node n is alive now and returns every node that
	// beat within the last hour, n included, by name; Live is set on those
	// seen within timeout that have not left.
	Beat(ctx context.Context, n Node, timeout time.Duration) ([]Node, error)
	// Leave marks node name as stopped cleanly and ends its leases.
	Leave(ctx context.Context, name string) error
	// Lease takes for node, or renews, the lease of each of checks that no
	// other node holds unexpired, until ttl from now, and returns the
	// checks among them that node now holds.
	Lease(ctx context.Context, node string, checks []string, ttl time.Duration) ([]string, error)
	// Release ends node's leases of checks, so that their new owners need
	// not wait for them to expire.
	Release(ctx context.Context, node string, checks []string) error
}
