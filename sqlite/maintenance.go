package sqlite

import "github.com/nightowl/nightowl"

// Maintenance windows and their progress are read and written by the
// shared SQL (internal/sqlstore), durably, on the writer goroutine.
var _ nightowl.MaintenanceStore = (*Store)(nil)
