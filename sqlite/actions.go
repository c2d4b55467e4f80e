package sqlite

import "github.com/nightowl/nightowl"

// Action requests are read and written by the shared SQL
// (internal/sqlstore). Each change is one durable transaction on the
// writer goroutine, which runs one at a time: a start's check of the
// cooldown and its write need no other lock.
var _ nightowl.ActionStore = (*Store)(nil)
