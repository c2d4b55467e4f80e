package app

import (
	"context"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/config"
	"github.com/nightowl/nightowl/sqlite"
)

// errPostgresBackup answers a backup or restore of a PostgreSQL store,
// which PostgreSQL's own tools do better (docs/storage.md).
var errPostgresBackup = nightowl.Errorf(nightowl.EInvalid,
	"storage.postgres: back PostgreSQL up with pg_dump and restore with pg_restore (docs/storage.md, Backups)")

// Backup writes a consistent copy of the SQLite database of the config at
// cfgPath to dst, also while a server runs on it.
func Backup(ctx context.Context, cfgPath, dst string) error {
	cfg, err := config.LoadContext(ctx, cfgPath, config.Options{})
	if err != nil {
		return err
	}
	if cfg.Storage.Postgres != "" {
		return errPostgresBackup
	}
	return sqlite.Backup(ctx, cfg.Storage.SQLite, dst)
}

// Restore replaces the SQLite database of the config at cfgPath with the
// backup from, once it verifies, and only while no server runs on it.
func Restore(ctx context.Context, cfgPath, from string) error {
	cfg, err := config.LoadContext(ctx, cfgPath, config.Options{})
	if err != nil {
		return err
	}
	if cfg.Storage.Postgres != "" {
		return errPostgresBackup
	}
	return sqlite.Restore(ctx, from, cfg.Storage.SQLite)
}
