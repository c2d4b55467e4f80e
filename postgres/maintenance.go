package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/records"
)

var _ nightowl.MaintenanceStore = (*Store)(nil)

// SaveWindow creates or replaces a maintenance window.
func (s *Store) SaveWindow(ctx context.Context, w *nightowl.Window) error {
	data, err := records.EncodeWindow(w)
	if err != nil {
		return fmt.Errorf("save maintenance window %s: %w", w.ID, err)
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO maintenance_windows (id, data) VALUES ($1, $2)
		ON CONFLICT (id) DO UPDATE SET data = excluded.data`, w.ID, data)
	if err != nil {
		return fmt.Errorf("save maintenance window %s: %w", w.ID, err)
	}
	return nil
}

// Windows returns every stored window, by ID.
func (s *Store) Windows(ctx context.Context) ([]nightowl.Window, error) {
	rows, err := s.pool.Query(ctx, `SELECT data FROM maintenance_windows ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("read maintenance windows: %w", err)
	}
	out, err := recCollect(rows, func(r pgx.CollectableRow) (nightowl.Window, error) {
		var data []byte
		if err := r.Scan(&data); err != nil {
			return nightowl.Window{}, err
		}
		return records.DecodeWindow(data)
	})
	if err != nil {
		return nil, fmt.Errorf("read maintenance windows: %w", err)
	}
	return out, nil
}

// SaveProgress records how far a window's verification has come. Its times
// are kept to the nanosecond: see migrations/0002.
func (s *Store) SaveProgress(ctx context.Context, p nightowl.MaintenanceProgress) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO maintenance_progress (window_id, ends_at, stage, due) VALUES ($1, $2, $3, $4)
		ON CONFLICT (window_id) DO UPDATE SET ends_at = excluded.ends_at, stage = excluded.stage, due = excluded.due`,
		p.Window, p.EndsAt.UnixNano(), p.Stage, recNanos(p.Due))
	if err != nil {
		return fmt.Errorf("save maintenance progress of %s: %w", p.Window, err)
	}
	return nil
}

// Progress returns the progress of every window that has ended, by window.
func (s *Store) Progress(ctx context.Context) ([]nightowl.MaintenanceProgress, error) {
	rows, err := s.pool.Query(ctx, `SELECT window_id, ends_at, stage, due FROM maintenance_progress ORDER BY window_id`)
	if err != nil {
		return nil, fmt.Errorf("read maintenance progress: %w", err)
	}
	out, err := recCollect(rows, func(r pgx.CollectableRow) (nightowl.MaintenanceProgress, error) {
		var p nightowl.MaintenanceProgress
		var ends int64
		var due *int64
		err := r.Scan(&p.Window, &ends, &p.Stage, &due)
		p.EndsAt, p.Due = time.Unix(0, ends).UTC(), recFromNanos(due)
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("read maintenance progress: %w", err)
	}
	return out, nil
}
