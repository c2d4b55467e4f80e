package postgres

import "github.com/nightowl/nightowl"

// Maintenance windows and their progress are read and written by the
// shared SQL (internal/sqlstore).
var _ nightowl.MaintenanceStore = (*Store)(nil)
