package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/records"
)

var _ nightowl.MaintenanceStore = (*Store)(nil)

// SaveWindow creates or replaces a maintenance window, durably: a window
// started by hand must outlive a crash.
func (s *Store) SaveWindow(ctx context.Context, w *nightowl.Window) error {
	data, err := records.EncodeWindow(w)
	if err != nil {
		return fmt.Errorf("save maintenance window %s: %w", w.ID, err)
	}
	err = s.do(ctx, func() error {
		return s.inTx(ctx, true, func(w2 *txWriter) error {
			return w2.exec(`INSERT INTO maintenance_windows (id, data) VALUES (?, ?)
				ON CONFLICT (id) DO UPDATE SET data = excluded.data`, w.ID, data)
		})
	})
	if err != nil {
		return fmt.Errorf("save maintenance window %s: %w", w.ID, err)
	}
	return nil
}

// Windows returns every stored window.
func (s *Store) Windows(ctx context.Context) ([]nightowl.Window, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT data FROM maintenance_windows ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("read maintenance windows: %w", err)
	}
	defer rows.Close()
	var out []nightowl.Window
	for rows.Next() {
		var data []byte
		if err := rows.Scan(&data); err != nil {
			return nil, fmt.Errorf("read maintenance windows: %w", err)
		}
		w, err := records.DecodeWindow(data)
		if err != nil {
			return nil, fmt.Errorf("read maintenance windows: %w", err)
		}
		out = append(out, w)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read maintenance windows: %w", err)
	}
	return out, nil
}

// SaveProgress records how far a window's verification has come.
func (s *Store) SaveProgress(ctx context.Context, p nightowl.MaintenanceProgress) error {
	err := s.do(ctx, func() error {
		return s.inTx(ctx, true, func(w *txWriter) error {
			return w.exec(`INSERT INTO maintenance_progress (window, ends_at, stage, due) VALUES (?, ?, ?, ?)
				ON CONFLICT (window) DO UPDATE SET ends_at = excluded.ends_at, stage = excluded.stage, due = excluded.due`,
				p.Window, p.EndsAt.UnixNano(), p.Stage, nanos(p.Due))
		})
	})
	if err != nil {
		return fmt.Errorf("save maintenance progress of %s: %w", p.Window, err)
	}
	return nil
}

// Progress returns the progress of every window that has ended.
func (s *Store) Progress(ctx context.Context) ([]nightowl.MaintenanceProgress, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT window, ends_at, stage, due FROM maintenance_progress ORDER BY window`)
	if err != nil {
		return nil, fmt.Errorf("read maintenance progress: %w", err)
	}
	defer rows.Close()
	var out []nightowl.MaintenanceProgress
	for rows.Next() {
		var p nightowl.MaintenanceProgress
		var ends int64
		var due sql.NullInt64
		if err := rows.Scan(&p.Window, &ends, &p.Stage, &due); err != nil {
			return nil, fmt.Errorf("read maintenance progress: %w", err)
		}
		p.EndsAt, p.Due = time.Unix(0, ends).UTC(), fromNanos(due)
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read maintenance progress: %w", err)
	}
	return out, nil
}
