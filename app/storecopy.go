package app

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/config"
	"github.com/nightowl/nightowl/internal/storecopy"
	"github.com/nightowl/nightowl/postgres"
	"github.com/nightowl/nightowl/sqlite"
)

// DefaultCopyTimeout bounds CopyStore when its caller gives no time: a
// store of a hundred checks copies in seconds, the largest in minutes.
const DefaultCopyTimeout = time.Hour

// StoreCount is how many rows of a table CopyStore copied.
type StoreCount = storecopy.Count

// CopyStore copies the SQLite store of the config at cfgPath into the
// PostgreSQL database dsn, which must hold no nightowl data, in one
// transaction bounded by timeout (DefaultCopyTimeout when 0), and only
// while no server runs on the SQLite file (sqlite.ServeLock). Both
// schemas are brought up to date first, as a server does when it starts.
// dsn carries credentials: errors never show it.
func CopyStore(ctx context.Context, cfgPath, dsn string, timeout time.Duration) ([]StoreCount, error) {
	cfg, err := config.LoadContext(ctx, cfgPath, config.Options{})
	if err != nil {
		return nil, err
	}
	if cfg.Storage.Postgres != "" {
		return nil, nightowl.Errorf(nightowl.EInvalid,
			"storage.postgres: this config's store is PostgreSQL already; copy from the config that names the SQLite store")
	}
	path := cfg.Storage.SQLite
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("storage.sqlite %s: %w", path, err)
	}
	if timeout <= 0 {
		timeout = DefaultCopyTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// A server would go on writing what the copy leaves behind.
	unlock, err := sqlite.ServeLock(path)
	if err != nil {
		return nil, fmt.Errorf("storage.sqlite %s: %w", path, err)
	}
	defer unlock()
	// Migrate, not Open: an open store would prune what is past its
	// retention, and the copy is to carry every row there is.
	if err := sqlite.Migrate(ctx, path); err != nil {
		return nil, err
	}
	dst, err := postgres.Open(ctx, postgres.Options{DSN: dsn})
	if err != nil {
		return nil, err
	}
	if err := dst.Close(); err != nil {
		return nil, fmt.Errorf("close postgres: %w", err)
	}
	return storecopy.Copy(ctx, storecopy.Options{SQLite: path, Postgres: dsn})
}
