package sqlite

import (
	"context"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/sqlstore"
)

// States, results, rollups and events are read by the shared SQL
// (internal/sqlstore), and see what has been written, not what is still
// queued: up to FlushInterval behind SaveResult and SaveState. Pings and
// heartbeats are read together with what is queued: a job's wrapper, or a
// person testing one with curl, expects to see its ping at once.

// Pings returns up to limit of the check's recent pings, newest first,
// including those not written yet; limit <= 0, or above PingsPerCheck,
// means all that are kept.
func (s *Store) Pings(ctx context.Context, check string, limit int) ([]nightowl.Ping, error) {
	return sqlstore.Pings(ctx, s.DB, s.q, &s.commitMu, check, limit, s.opts.PingsPerCheck)
}

// Heartbeats returns the state of every heartbeat check, by name: what is
// stored, updated with what is queued.
func (s *Store) Heartbeats(ctx context.Context) ([]nightowl.Heartbeat, error) {
	// Memory first, then disk, and memory wins (see WithQueued). No lock
	// is needed, which matters: with a million checks this read takes
	// seconds, and the writer must not wait for it.
	return sqlstore.Heartbeats(ctx, s.DB, s.q.Heartbeats())
}
