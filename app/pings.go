package app

import (
	"context"
	"fmt"
	"time"

	"github.com/nightowl/nightowl"

	"github.com/nightowl/nightowl/cluster/relay"
	"github.com/nightowl/nightowl/heartbeat"
	"github.com/nightowl/nightowl/web"
)

// Heartbeat checks in a cluster are leased to one node like active checks;
// the others forward their pings to it (package relay).

// Names and sizes of the secrets, kept in the shared store, from which ping
// tokens are derived and with which forwarded pings are signed.
const (
	tokenKeyName = "heartbeat_token_key"
	pingKeyName  = "cluster_ping_key"
	secretSize   = 32
)

// clusterHeartbeats prepares the heartbeats of a cluster: tokens derived
// from a shared secret, so that every node, and every restart, gives a
// check the same ping URL without waiting for another node to store one;
// and the key that signs forwarded pings, returned. Outside a cluster it
// does nothing, and tokens stay random and stored, as the URLs already
// handed out are.
func (a *App) clusterHeartbeats(ctx context.Context, opts *heartbeat.Options) ([]byte, error) {
	if a.cluster == nil {
		return nil, nil
	}
	tokenKey, err := a.store.Secret(ctx, tokenKeyName, secretSize)
	if err != nil {
		return nil, fmt.Errorf("read the heartbeat token key: %w", err)
	}
	pingKey, err := a.store.Secret(ctx, pingKeyName, secretSize)
	if err != nil {
		return nil, fmt.Errorf("read the key of forwarded pings: %w", err)
	}
	opts.TokenFor = func(check string) string { return heartbeat.DeriveToken(tokenKey, check) }
	return pingKey, nil
}

// newRelay makes the router that forwards pings to the node tracking their
// check, once the tracker is built.
func (a *App) newRelay(key []byte) {
	a.cluster.pings = relay.New(relay.Options{Tracker: a.beats, Key: key, Owns: a.owns, Member: a.cluster.member.Load,
		Checks: a.engine.Checks, Submit: func(check string, at time.Time, f nightowl.Facts) { a.engine.Submit(check, at, f) },
		Stored: a.store.Heartbeats, Clock: a.opts.Clock, Logger: a.log})
}

// pinger is what answers the ping URLs: the tracker, or in a cluster the
// router in front of it.
func (a *App) pinger() web.Pinger {
	if a.cluster != nil && a.cluster.pings != nil {
		return a.cluster.pings
	}
	return a.beats
}
