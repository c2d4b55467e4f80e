package postgres

import "github.com/nightowl/nightowl"

// Incidents are read and written by the shared SQL (internal/sqlstore);
// a new one takes its number from the counter row (dialect.go).
var _ nightowl.IncidentStore = (*Store)(nil)
