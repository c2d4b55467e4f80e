package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"time"

	"github.com/nightowl/nightowl/internal/schema"
)

// The migrations, numbered files applied in order: see internal/schema.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrate brings the schema up to the newest embedded migration, and refuses
// a database that a newer nightowl has already migrated further: this binary
// would not know what its tables mean.
func migrate(ctx context.Context, db *sql.DB, now func() time.Time) error {
	ms, err := schema.Load(migrationFiles)
	if err != nil {
		return err
	}
	return applyMigrations(ctx, db, ms, now)
}

// Migrate brings the schema of the database at path up to date, as Open
// does, and changes nothing else in it: Open's store would also prune what
// is past its retention. It is for commands that read the database with
// SQL of their own (nightowl store copy) and must see every row it holds.
func Migrate(ctx context.Context, path string) error {
	db, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		return fmt.Errorf("open sqlite %s: %w", path, err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if err := migrate(ctx, db, time.Now); err != nil {
		return fmt.Errorf("open sqlite %s: %w", path, err)
	}
	return nil
}

func applyMigrations(ctx context.Context, db *sql.DB, ms []schema.Migration, now func() time.Time) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at INTEGER NOT NULL -- Unix nanoseconds
	)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	latest := len(ms)
	cur, err := schemaVersion(ctx, db)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if cur > latest {
		return schema.TooNew(cur, latest)
	}
	for _, m := range ms[cur:] {
		if err := applyMigration(ctx, db, m, now); err != nil {
			return fmt.Errorf("migrate to %s: %w", m.Name, err)
		}
	}
	return nil
}

func schemaVersion(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) (int, error) {
	var v int
	err := q.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
	return v, err
}

func applyMigration(ctx context.Context, db *sql.DB, m schema.Migration, now func() time.Time) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	// Another process may have migrated since the version was read; the
	// write lock is held from BEGIN, so this read is the final word.
	cur, err := schemaVersion(ctx, tx)
	if err != nil {
		return err
	}
	if cur >= m.Version {
		return nil
	}
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
		m.Version, m.Name, now().UnixNano()); err != nil {
		return err
	}
	return tx.Commit()
}
