package postgres

import "github.com/nightowl/nightowl"

// Users, tokens and sessions are read and written by the shared SQL
// (internal/sqlstore). Each statement is one upsert or delete, which
// PostgreSQL applies atomically however many nodes write at once.
var _ nightowl.AccessStore = (*Store)(nil)
