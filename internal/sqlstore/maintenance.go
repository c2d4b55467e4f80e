package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/records"
)

// SaveWindow creates or replaces a maintenance window, durably: a window
// started by hand must outlive a crash.
func (db *DB) SaveWindow(ctx context.Context, w *nightowl.Window) error {
	data, err := records.EncodeWindow(w)
	if err != nil {
		return fmt.Errorf("save maintenance window %s: %w", w.ID, err)
	}
	err = db.write(ctx, true, func(tx Conn) error {
		_, err := db.exec(ctx, tx, `INSERT INTO maintenance_windows (id, data) VALUES (?, ?)
			ON CONFLICT (id) DO UPDATE SET data = excluded.data`, w.ID, data)
		return err
	})
	if err != nil {
		return fmt.Errorf("save maintenance window %s: %w", w.ID, err)
	}
	return nil
}

// Windows returns every stored window, by ID.
func (db *DB) Windows(ctx context.Context) ([]nightowl.Window, error) {
	rows, err := db.query(ctx, db.read, `SELECT data FROM maintenance_windows ORDER BY id`)
	out, err := Collect(rows, err, func(sc Scanner) (nightowl.Window, error) {
		var data []byte
		if err := sc.Scan(&data); err != nil {
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
// are kept to the nanosecond in both dialects.
func (db *DB) SaveProgress(ctx context.Context, p nightowl.MaintenanceProgress) error {
	err := db.write(ctx, true, func(tx Conn) error {
		_, err := db.exec(ctx, tx, `INSERT INTO maintenance_progress (`+db.d.ProgressWindow+`, ends_at, stage, due) VALUES (?, ?, ?, ?)
			ON CONFLICT (`+db.d.ProgressWindow+`) DO UPDATE SET ends_at = excluded.ends_at, stage = excluded.stage, due = excluded.due`,
			p.Window, p.EndsAt.UnixNano(), p.Stage, Nanos(p.Due))
		return err
	})
	if err != nil {
		return fmt.Errorf("save maintenance progress of %s: %w", p.Window, err)
	}
	return nil
}

// Progress returns the progress of every window that has ended, by window.
func (db *DB) Progress(ctx context.Context) ([]nightowl.MaintenanceProgress, error) {
	rows, err := db.query(ctx, db.read, `SELECT `+db.d.ProgressWindow+`, ends_at, stage, due
		FROM maintenance_progress ORDER BY `+db.d.ProgressWindow)
	out, err := Collect(rows, err, func(sc Scanner) (nightowl.MaintenanceProgress, error) {
		var p nightowl.MaintenanceProgress
		var ends int64
		var due sql.NullInt64
		err := sc.Scan(&p.Window, &ends, &p.Stage, &due)
		p.EndsAt, p.Due = time.Unix(0, ends).UTC(), fromNanos(due)
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("read maintenance progress: %w", err)
	}
	return out, nil
}

// fromNanos reads a nullable integer of Unix nanoseconds: NULL is the zero
// time.
func fromNanos(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.Unix(0, n.Int64).UTC()
}
