package postgres

import "github.com/nightowl/nightowl"

// Action requests are read and written by the shared SQL
// (internal/sqlstore); a start takes its action's advisory lock
// (dialect.go).
var _ nightowl.ActionStore = (*Store)(nil)

// recActionLock is the first key of the advisory locks that serialise the
// starts of runs, one lock per action (the second key is a hash of its
// name): each start takes its action's lock for its transaction before it
// reads when the action last started, so starts on every node follow one
// another, each reading what the one before committed. Two names with one
// hash only share a lock.
const recActionLock = 0x6e6f6163 // "noac"
