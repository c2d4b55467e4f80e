package sqlite

import "github.com/nightowl/nightowl"

// The audit log is read and appended by the shared SQL
// (internal/sqlstore). Appends run on the writer goroutine, one durable
// transaction per entry: the last entry is read and the next written under
// the one write lock, so that entries chain strictly in order even when the
// CLI appends from another process.
var _ nightowl.AuditStore = (*Store)(nil)
