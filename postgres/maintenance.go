package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/nightowl/nightowl"
)

var _ nightowl.MaintenanceStore = (*Store)(nil)

// recWindow is a window as stored: with its verification, which the API
// shape leaves out. It is the same document the sqlite package stores.
type recWindow struct {
	nightowl.Window
	Verify recVerify `json:"verify"`
}

type recVerify struct {
	Within     nightowl.Seconds   `json:"within"`
	AgainAfter []nightowl.Seconds `json:"again_after,omitempty"`
}

// SaveWindow creates or replaces a maintenance window.
func (s *Store) SaveWindow(ctx context.Context, w *nightowl.Window) error {
	rec := recWindow{Window: *w, Verify: recVerify{Within: nightowl.Seconds(w.Verify.Within)}}
	rec.Verify.AgainAfter = make([]nightowl.Seconds, len(w.Verify.AgainAfter))
	for i, d := range w.Verify.AgainAfter {
		rec.Verify.AgainAfter[i] = nightowl.Seconds(d)
	}
	data, err := json.Marshal(rec)
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
	recs, err := recReadJSON[recWindow](ctx, s.pool, "maintenance windows", `SELECT data FROM maintenance_windows ORDER BY id`)
	if err != nil {
		return nil, err
	}
	var out []nightowl.Window
	for _, rec := range recs {
		w := rec.Window
		w.Verify.Within = time.Duration(rec.Verify.Within)
		for _, d := range rec.Verify.AgainAfter {
			w.Verify.AgainAfter = append(w.Verify.AgainAfter, time.Duration(d))
		}
		out = append(out, w)
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
