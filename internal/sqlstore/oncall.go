package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/records"
)

// Overrides and calendar feeds are written at once and durably: people
// make them by hand, rarely, and an override the pager relies on must
// outlive a crash, as must a revoked feed stay revoked.

// SaveOverride adds an override; an ID that is taken is a conflict, so
// that a clash of random IDs cannot overwrite one.
func (db *DB) SaveOverride(ctx context.Context, o *nightowl.ScheduleOverride) error {
	if o.ID == "" || o.Schedule == "" || o.User == "" || o.From.IsZero() || o.To.IsZero() || o.CreatedAt.IsZero() {
		return nightowl.Errorf(nightowl.EInvalid, "an override needs an id, a schedule, a user, from, to and a creation time")
	}
	err := db.write(ctx, true, func(tx Conn) error {
		n, err := db.exec(ctx, tx, `INSERT INTO schedule_overrides (id, schedule, user_name, from_at, to_at, reason, created_by, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
			o.ID, o.Schedule, o.User, db.d.Time(o.From), db.d.Time(o.To), o.Reason, o.CreatedBy, db.d.Time(o.CreatedAt))
		if err == nil && n == 0 {
			err = nightowl.Errorf(nightowl.EConflict, "another override has the id %q", o.ID)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("save override %s of schedule %s: %w", o.ID, o.Schedule, err)
	}
	return nil
}

// Overrides lists a schedule's overrides, or every one when schedule is
// empty, oldest created first: the order in which they win.
func (db *DB) Overrides(ctx context.Context, schedule string) ([]nightowl.ScheduleOverride, error) {
	var w Where
	if schedule != "" {
		w.Add(`schedule = ?`, schedule)
	}
	rows, err := db.query(ctx, db.read, `SELECT id, schedule, user_name, from_at, to_at, reason, created_by, created_at
		FROM schedule_overrides`+w.SQL()+` ORDER BY created_at, id `+db.d.ByName, w.Args...)
	out, err := Collect(rows, err, func(sc Scanner) (nightowl.ScheduleOverride, error) {
		var o nightowl.ScheduleOverride
		err := sc.Scan(&o.ID, &o.Schedule, &o.User, At(&o.From), At(&o.To), &o.Reason, &o.CreatedBy, At(&o.CreatedAt))
		return o, err
	})
	if err != nil {
		return nil, fmt.Errorf("read overrides of schedule %s: %w", schedule, err)
	}
	return out, nil
}

// DeleteOverride removes an override of a schedule.
func (db *DB) DeleteOverride(ctx context.Context, schedule, id string) error {
	err := db.write(ctx, true, func(tx Conn) error {
		n, err := db.exec(ctx, tx, `DELETE FROM schedule_overrides WHERE schedule = ? AND id = ?`, schedule, id)
		if err == nil && n == 0 {
			err = records.NotFound("override", id)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("delete override %s of schedule %s: %w", id, schedule, err)
	}
	return nil
}

// SaveFeed creates or replaces the feed of f.Kind and f.Name; a hash
// that another feed has is a conflict, and a person's feed needs the user
// to exist (ENotFound otherwise): removing them removes it.
func (db *DB) SaveFeed(ctx context.Context, f *nightowl.CalendarFeed) error {
	if f.Kind == "" || f.Name == "" || len(f.Hash) == 0 || f.CreatedAt.IsZero() {
		return nightowl.Errorf(nightowl.EInvalid, "a calendar feed needs a kind, a name, a hash and a creation time")
	}
	// A person's feed goes with them (the foreign key of user_name).
	var user any
	if f.Kind == nightowl.FeedUser {
		user = f.Name
	}
	err := db.write(ctx, true, func(tx Conn) error {
		_, err := db.exec(ctx, tx, `INSERT INTO calendar_feeds (kind, name, user_name, hash, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (kind, name) DO UPDATE SET hash = excluded.hash, created_by = excluded.created_by, created_at = excluded.created_at`,
			string(f.Kind), f.Name, user, f.Hash, f.CreatedBy, db.d.Time(f.CreatedAt))
		switch db.d.Refusal(err) {
		case records.Unique:
			return nightowl.Errorf(nightowl.EConflict, "another calendar feed has the same secret")
		case records.ForeignKey:
			return records.NotFound("user", f.Name)
		}
		return err
	})
	if err != nil {
		// Never the hash: it finds the feed in a stolen copy of the
		// database.
		return fmt.Errorf("save calendar feed of %s %s: %w", f.Kind, f.Name, err)
	}
	return nil
}

const feedColumns = `kind, name, hash, created_by, created_at`

func scanFeed(sc Scanner) (nightowl.CalendarFeed, error) {
	var f nightowl.CalendarFeed
	err := sc.Scan(&f.Kind, &f.Name, &f.Hash, &f.CreatedBy, At(&f.CreatedAt))
	return f, err
}

// FeedByHash finds a feed by the hash of its secret.
func (db *DB) FeedByHash(ctx context.Context, hash []byte) (nightowl.CalendarFeed, error) {
	f, err := scanFeed(db.queryRow(ctx, db.read, `SELECT `+feedColumns+` FROM calendar_feeds WHERE hash = ?`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return nightowl.CalendarFeed{}, records.NoSuch("calendar feed")
	}
	if err != nil {
		return nightowl.CalendarFeed{}, fmt.Errorf("read calendar feed: %w", err)
	}
	return f, nil
}

// Feeds lists every feed, by kind and name.
func (db *DB) Feeds(ctx context.Context) ([]nightowl.CalendarFeed, error) {
	rows, err := db.query(ctx, db.read, `SELECT `+feedColumns+` FROM calendar_feeds ORDER BY kind `+db.d.ByName+`, name `+db.d.ByName)
	out, err := Collect(rows, err, scanFeed)
	if err != nil {
		return nil, fmt.Errorf("read calendar feeds: %w", err)
	}
	return out, nil
}

// DeleteFeed revokes the feed of kind and name.
func (db *DB) DeleteFeed(ctx context.Context, kind nightowl.FeedKind, name string) error {
	err := db.write(ctx, true, func(tx Conn) error {
		n, err := db.exec(ctx, tx, `DELETE FROM calendar_feeds WHERE kind = ? AND name = ?`, string(kind), name)
		if err == nil && n == 0 {
			err = records.NotFound("calendar feed of "+string(kind), name)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("delete calendar feed of %s %s: %w", kind, name, err)
	}
	return nil
}
