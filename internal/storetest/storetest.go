// Package storetest is the one test suite of nightowl's stores: the sqlite
// and postgres packages run it against themselves, so that both keep what
// nightowl must remember in the same way. It tests through the domain's
// store interfaces only; what is particular to one implementation (SQLite's
// rings on disk, PostgreSQL's several nodes) is tested beside it.
package storetest

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
)

// Clock is the fake time a suite's store is opened with: tests move it by
// hand to reach retention limits and expiries.
type Clock struct{ t time.Time }

// NewClock starts at a fixed instant, so that runs are repeatable.
func NewClock() *Clock { return &Clock{t: time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)} }

func (c *Clock) Now() time.Time          { return c.t }
func (c *Clock) Advance(d time.Duration) { c.t = c.t.Add(d) }
func (c *Clock) Set(t time.Time)         { c.t = t }

// Records is everything but the check store: alerts and their outbox,
// maintenance, people, incidents, actions and the audit log.
type Records interface {
	nightowl.AlertStore
	nightowl.MaintenanceStore
	nightowl.AccessStore
	nightowl.ContactStore
	nightowl.IncidentStore
	nightowl.ActionStore
	nightowl.AuditStore
	nightowl.OncallStore
}

// Store is all of it.
type Store interface {
	nightowl.Store
	Records
}

// Opener opens a new, empty store that lives as long as the test, at the
// clock's time; reopen opens the same store again after Close, as a restart
// does.
type Opener[S any] func(t *testing.T, clock *Clock) (s S, reopen func() S)

// Run runs the whole suite.
func Run(t *testing.T, open Opener[Store]) {
	t.Run("checks", func(t *testing.T) {
		Checks(t, func(t *testing.T, c *Clock) (nightowl.Store, func() nightowl.Store) {
			s, reopen := open(t, c)
			return s, func() nightowl.Store { return reopen() }
		})
	})
	t.Run("records", func(t *testing.T) {
		RecordsSuite(t, func(t *testing.T, c *Clock) (Records, func() Records) {
			s, reopen := open(t, c)
			return s, func() Records { return reopen() }
		})
	})
}

// Logs is a log destination that a store's writer goroutine and a test can
// share: the stores' own tests read what was logged from it.
type Logs struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *Logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *Logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
