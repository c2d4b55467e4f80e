package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/config"
	"github.com/nightowl/nightowl/postgres"
	"github.com/nightowl/nightowl/sqlite"
)

// store is everything nightowl keeps, in one SQLite file or in a PostgreSQL
// database that the nodes of a cluster share.
type store interface {
	nightowl.Store
	nightowl.AlertStore
	nightowl.MaintenanceStore
	nightowl.AccessStore
	nightowl.IncidentStore
	nightowl.ActionStore
	nightowl.AuditStore
}

var (
	_ store = (*sqlite.Store)(nil)
	_ store = (*postgres.Store)(nil)
)

// openStore opens the store a config names. log and now may be nil.
func openStore(ctx context.Context, cfg *config.Config, log *slog.Logger, now func() time.Time) (store, error) {
	if cfg.Storage.Postgres != "" {
		s, err := postgres.Open(ctx, postgres.Options{DSN: cfg.Storage.Postgres, Logger: log, Now: now})
		if err != nil {
			return nil, fmt.Errorf("open storage: %w", err)
		}
		return s, nil
	}
	s, err := sqlite.Open(ctx, sqlite.Options{Path: cfg.Storage.SQLite, Logger: log, Now: now})
	if err != nil {
		return nil, fmt.Errorf("open storage: %w", err)
	}
	return s, nil
}
