package sqlite

import (
	"context"

	"github.com/nightowl/nightowl"
)

// The queue itself, its bounds and the rollups aggregated in it live in
// internal/checkstore, shared with the postgres store; what is here hands
// it to the writer.

// SaveResult queues r for the check's ring of recent results and counts it in
// its hourly and daily rollups, which it falls in by r.Start. It never waits
// for the disk. The store keeps r.Facts and r.Assertions until they are
// written, so the caller must not change them afterwards.
func (s *Store) SaveResult(r nightowl.Result) { s.q.SaveResult(r) }

// CountResult counts r in its check's hourly and daily rollups without
// keeping it among the recent results: a heartbeat's raw history is its
// pings, and a result row per ping would double what a flood of pings
// writes.
func (s *Store) CountResult(r nightowl.Result) { s.q.CountResult(r) }

// SaveState queues the current state of a check; only the latest state of
// each check is written.
func (s *Store) SaveState(st nightowl.State) { s.q.SaveState(st) }

// SavePing queues p for the check's ring of recent pings. It never waits for
// the disk: the ping endpoint calls it for every request. A zero p.Time means
// now. The store keeps p.ExitCode and p.Duration until p is written, so the
// caller must not change what they point to afterwards.
func (s *Store) SavePing(p nightowl.Ping) { s.q.SavePing(p) }

// SaveHeartbeat queues the state of a heartbeat check; only the latest of
// each check is written. It never waits for the disk.
func (s *Store) SaveHeartbeat(h nightowl.Heartbeat) { s.q.SaveHeartbeat(h) }

// flush writes what is queued in one transaction. It runs on the writer
// goroutine. What fails to be written goes back in the queue, to be tried
// again with the next flush.
func (s *Store) flush(durable bool) error {
	b := s.q.Take(durable)
	// Pruning after the write, and before Flush returns, lets a caller
	// (a test with a fake clock) see its effect.
	defer s.housekeep()
	ctx := context.Background()
	if b.Empty() {
		if durable {
			return s.syncWAL(ctx)
		}
		return nil
	}
	err := s.inTx(ctx, durable, func(w *txWriter) error {
		w.committed = s.q.Landed
		return b.Write(w)
	})
	if err != nil {
		s.q.Requeue(b)
		s.log.Error("sqlite: write queued results", "err", err,
			"results", len(b.Results), "states", len(b.States), "rollups", len(b.Aggs),
			"pings", len(b.Pings), "heartbeats", len(b.Heartbeats))
		return err
	}
	s.q.Recycle(b)
	return nil
}
