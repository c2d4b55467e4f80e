package postgres

import "github.com/nightowl/nightowl"

// The audit log is one chain however many nodes append to it: each append
// takes the advisory lock recAuditLock for its transaction before it reads
// the head (dialect.go), so appends from every node follow one another,
// each reading the head the one before committed. The reads and writes are
// the shared SQL's (internal/sqlstore).
var _ nightowl.AuditStore = (*Store)(nil)

// recAuditLock is the key of the advisory lock that serialises appends.
const recAuditLock = 0x6e6f2d6175646974 // "no-audit"
