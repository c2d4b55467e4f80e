package sqlite

import "github.com/nightowl/nightowl"

// Incidents are read and written by the shared SQL (internal/sqlstore);
// a new one takes its number as the dialect says (dialect.go).
var _ nightowl.IncidentStore = (*Store)(nil)
