package postgres

import (
	"context"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/sqlstore"
)

// States, results, rollups and events are read by the shared SQL
// (internal/sqlstore), and see what has been written by any node, not what
// is still queued here: up to FlushInterval behind SaveResult and
// SaveState. Pings and heartbeats are read together with what this node
// has queued: a job's wrapper, or a person testing one with curl, expects
// to see its ping at once. Names sort as bytes (COLLATE "C"), as in the
// sqlite store, whatever the database's collation.

// Results returns up to limit of the check's recent results, newest first;
// limit <= 0 means all that are kept, never more than ResultsPerCheck even
// while two nodes' writes leave a few more.
func (s *Store) Results(ctx context.Context, check string, limit int) ([]nightowl.Result, error) {
	if limit <= 0 || limit > s.opts.ResultsPerCheck {
		limit = s.opts.ResultsPerCheck
	}
	return s.DB.Results(ctx, check, limit)
}

// Pings returns up to limit of the check's recent pings, newest first,
// including those this node has not written yet; limit <= 0, or above PingsPerCheck,
// means all that are kept.
func (s *Store) Pings(ctx context.Context, check string, limit int) ([]nightowl.Ping, error) {
	return sqlstore.Pings(ctx, s.DB, s.q, &s.commitMu, check, limit, s.opts.PingsPerCheck)
}

// Heartbeats returns the state of every heartbeat check, by name: what is
// stored, updated with what this node has queued.
func (s *Store) Heartbeats(ctx context.Context) ([]nightowl.Heartbeat, error) {
	// Memory first, then the database, and memory wins: see WithQueued.
	return sqlstore.Heartbeats(ctx, s.DB, s.q.Heartbeats())
}
