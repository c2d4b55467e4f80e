package postgres

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/nightowl/nightowl"
)

var _ nightowl.ClusterStore = (*Store)(nil)

// nodeMemory is how long nodes that stopped beating are still listed, so
// that the others can tell a lost node from one they never knew; older rows
// are deleted.
const nodeMemory = time.Hour

// Beat implements nightowl.ClusterStore.
func (s *Store) Beat(ctx context.Context, n nightowl.Node, timeout time.Duration) ([]nightowl.Node, error) {
	var nodes []nightowl.Node
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO cluster_nodes (name, addr, started_at, seen_at) VALUES ($1, $2, $3, now())
			ON CONFLICT (name) DO UPDATE SET addr = excluded.addr, started_at = excluded.started_at, seen_at = now(), left_at = NULL`,
			n.Name, n.Addr, n.StartedAt.UTC()); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM cluster_nodes WHERE seen_at < now() - $1 * interval '1 microsecond'`, nodeMemory.Microseconds()); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT name, addr, started_at, seen_at, left_at IS NOT NULL,
				left_at IS NULL AND seen_at > now() - $1 * interval '1 microsecond'
			FROM cluster_nodes ORDER BY name`, timeout.Microseconds())
		if err != nil {
			return err
		}
		nodes, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (nightowl.Node, error) {
			var n nightowl.Node
			err := r.Scan(&n.Name, &n.Addr, &n.StartedAt, &n.SeenAt, &n.Left, &n.Live)
			n.StartedAt, n.SeenAt = n.StartedAt.UTC(), n.SeenAt.UTC()
			return n, err
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("heartbeat of node %s: %w", n.Name, err)
	}
	return nodes, nil
}

// Leave implements nightowl.ClusterStore.
func (s *Store) Leave(ctx context.Context, name string) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE cluster_nodes SET left_at = now() WHERE name = $1`, name); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM check_leases WHERE node = $1`, name)
		return err
	})
	if err != nil {
		return fmt.Errorf("leave the cluster as %s: %w", name, err)
	}
	return nil
}

// Lease implements nightowl.ClusterStore. The upsert takes a lease that
// is free, expired or already this node's, in one statement that locks
// each row it looks at; the checks go in sorted, so that two nodes
// claiming overlapping sets lock rows in the same order and cannot
// deadlock.
func (s *Store) Lease(ctx context.Context, node string, checks []string, ttl time.Duration) ([]string, error) {
	if len(checks) == 0 {
		return nil, nil
	}
	sorted := slices.Clone(checks)
	slices.Sort(sorted)
	rows, err := s.pool.Query(ctx, `INSERT INTO check_leases (check_name, node, expires_at)
		SELECT c, $1, now() + $3 * interval '1 microsecond' FROM unnest($2::text[]) AS c
		ON CONFLICT (check_name) DO UPDATE SET node = excluded.node, expires_at = excluded.expires_at
			WHERE check_leases.node = excluded.node OR check_leases.expires_at <= now()
		RETURNING check_name`, node, sorted, ttl.Microseconds())
	if err != nil {
		return nil, fmt.Errorf("lease checks for node %s: %w", node, err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("lease checks for node %s: %w", node, err)
	}
	return got, nil
}

// Release implements nightowl.ClusterStore.
func (s *Store) Release(ctx context.Context, node string, checks []string) error {
	if len(checks) == 0 {
		return nil
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM check_leases WHERE node = $1 AND check_name = ANY($2)`, node, checks); err != nil {
		return fmt.Errorf("release checks of node %s: %w", node, err)
	}
	return nil
}
