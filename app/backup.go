package app

import (
	"context"
	"time"

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
	db, err := sqliteFile(ctx, cfgPath)
	if err != nil {
		return err
	}
	return sqlite.Backup(ctx, db, dst)
}

// Restore replaces the SQLite database of the config at cfgPath with the
// backup from, once it verifies, and only while no server runs on it.
func Restore(ctx context.Context, cfgPath, from string) error {
	db, err := sqliteFile(ctx, cfgPath)
	if err != nil {
		return err
	}
	return sqlite.Restore(ctx, from, db)
}

// sqliteFile is the SQLite database of the config at cfgPath; a PostgreSQL
// store is refused (errPostgresBackup).
func sqliteFile(ctx context.Context, cfgPath string) (string, error) {
	cfg, err := config.LoadContext(ctx, cfgPath, config.Options{})
	if err != nil {
		return "", err
	}
	if cfg.Storage.Postgres != "" {
		return "", errPostgresBackup
	}
	return cfg.Storage.SQLite, nil
}

// backupTimeout bounds one scheduled backup: VACUUM INTO of a large store
// on a slow disk takes minutes, never hours.
const backupTimeout = time.Hour

// runBackups writes a backup of the SQLite store every
// storage.sqlite_backup.every until ctx ends, keeping the newest keep
// (changes take effect after a restart). A backup that fails is logged and
// tried again at the next turn.
func (a *App) runBackups(ctx context.Context, st config.Storage) {
	b := st.SQLiteBackup
	if st.Postgres != "" || b.Every <= 0 {
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.opts.Clock.After(b.Every):
		}
		bctx, cancel := context.WithTimeout(ctx, backupTimeout)
		path, err := sqlite.BackupInto(bctx, st.SQLite, b.Dir, b.Keep, a.opts.Clock.Now())
		cancel()
		if err != nil {
			a.log.Error("scheduled backup failed; trying again at the next turn", "dir", b.Dir, "err", err)
			continue
		}
		a.log.Info("backup written", "file", path, "keep", b.Keep)
	}
}
