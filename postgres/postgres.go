// Package postgres keeps nightowl's memory in a PostgreSQL database that any
// number of nightowl nodes share: the same things, with the same behaviour,
// as the sqlite package keeps in one file (check states, recent results,
// rollups, events, heartbeat pings and state, alerts and their outbox,
// maintenance, people, incidents, actions and the audit log), plus what a
// cluster needs to agree on: which nodes are alive and which node runs each
// check. It implements nightowl.Store and the other store interfaces of the
// domain.
//
// As in the sqlite package, results, states, pings and heartbeat states are
// queued in memory and written in batches, one transaction every
// FlushInterval; everything else is written durably before its call returns.
// Every statement is safe against other nodes writing the same database at
// the same time: rows that several nodes may update are locked or upserted,
// and counters come from the database, never from one node's memory. The
// schema lives in numbered files under migrations/, applied in order when
// the store opens, under an advisory lock so that nodes starting together
// migrate once.
//
// The queries and scanners the sqlite store shares are in
// internal/sqlstore, which the Store embeds; what is here is PostgreSQL's
// own: COPY, leases, advisory locks, SKIP LOCKED, the incident counter and
// the dialect (dialect.go).
package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nightowl/nightowl/internal/checkstore"
	"github.com/nightowl/nightowl/internal/sqlstore"
)

// Options configure a Store. The zero value of every field but DSN is
// usable.
type Options struct {
	// DSN is a PostgreSQL connection string (postgres://user@host/db or
	// key=value form). It carries credentials: it never appears in errors
	// or logs.
	DSN    string
	Now    func() time.Time // clock; time.Now when nil
	Logger *slog.Logger     // slog.Default() when nil
	// MaxConns bounds the connection pool; default 8.
	MaxConns int32
	// ResultsPerCheck is how many recent raw results are kept per check;
	// default 100.
	ResultsPerCheck int
	// PingsPerCheck is how many recent pings are kept per heartbeat check;
	// default 100.
	PingsPerCheck int
	// FlushInterval is how often queued writes reach the database; default
	// 1s.
	FlushInterval time.Duration
	// HourlyRetention and DailyRetention bound how long rollups are kept;
	// defaults 90 and 400 days.
	HourlyRetention time.Duration
	DailyRetention  time.Duration
	// EventRetention bounds how long status-change events are kept;
	// default 400 days, as long as daily rollups.
	EventRetention time.Duration
	// RollupInterval is how often rollups are written, besides every
	// Flush and Close; default 1 minute.
	RollupInterval time.Duration
}

// Defaults of Options: but for MaxConns, the sqlite store's too.
const (
	// DefaultMaxConns is the pool's size when Options.MaxConns is zero:
	// the writer, the API's readers and the cluster's bookkeeping.
	DefaultMaxConns        = 8
	DefaultResultsPerCheck = checkstore.DefaultResultsPerCheck
	DefaultPingsPerCheck   = checkstore.DefaultPingsPerCheck
	DefaultFlushInterval   = checkstore.DefaultFlushInterval
	DefaultHourlyRetention = checkstore.DefaultHourlyRetention
	DefaultDailyRetention  = checkstore.DefaultDailyRetention
	DefaultEventRetention  = checkstore.DefaultEventRetention
)

func (o Options) withDefaults() (Options, error) {
	if o.DSN == "" {
		return o, errors.New("open postgres: no connection string")
	}
	if o.MaxConns < 0 {
		return o, errors.New("open postgres: negative max_conns")
	}
	if o.ResultsPerCheck < 0 || o.PingsPerCheck < 0 || o.FlushInterval < 0 || o.HourlyRetention < 0 ||
		o.DailyRetention < 0 || o.EventRetention < 0 || o.RollupInterval < 0 {
		return o, errors.New("open postgres: negative results or pings per check, interval or retention")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MaxConns == 0 {
		o.MaxConns = DefaultMaxConns
	}
	o.ResultsPerCheck = cmp.Or(o.ResultsPerCheck, DefaultResultsPerCheck)
	o.PingsPerCheck = cmp.Or(o.PingsPerCheck, DefaultPingsPerCheck)
	o.FlushInterval = cmp.Or(o.FlushInterval, DefaultFlushInterval)
	o.HourlyRetention = cmp.Or(o.HourlyRetention, DefaultHourlyRetention)
	o.DailyRetention = cmp.Or(o.DailyRetention, DefaultDailyRetention)
	o.EventRetention = cmp.Or(o.EventRetention, DefaultEventRetention)
	o.RollupInterval = cmp.Or(o.RollupInterval, checkstore.DefaultRollupInterval)
	return o, nil
}

// Store is nightowl's memory in PostgreSQL. It is safe for concurrent use,
// and any number of Stores, in any number of processes, may share one
// database.
type Store struct {
	// The accessors the sqlite store shares: see internal/sqlstore.
	*sqlstore.DB

	opts Options
	log  *slog.Logger
	pool *pgxpool.Pool

	// The check store's writer: see checks.go.
	q *checkstore.Queue
	// commitMu is held by the writer while it commits and lets the queue
	// forget what is in flight, and by Pings while it reads memory and
	// the database, so that a ping is seen exactly once.
	commitMu  sync.RWMutex
	ops       chan checkstore.Op
	events    chan *checkstore.EventReq
	quit      chan struct{}
	done      chan struct{} // the writer goroutine has returned
	closeOnce sync.Once
	closeErr  error
	// The rest belongs to the writer goroutine.
	lastPrune time.Time
	// refused is when heartbeat states were last refused for a token
	// another check holds.
	refused checkstore.Refusals
	// failing is when writes began to fail, and failedAt when that was
	// last logged: an outage is logged once a minute, not every flush.
	failing, failedAt time.Time
}

// Open connects to the database, brings its schema up to date and starts the
// writer.
func Open(ctx context.Context, opts Options) (*Store, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	cfg, err := pgxpool.ParseConfig(opts.DSN)
	if err != nil {
		// pgx's parse errors quote the connection string, password and all.
		return nil, errors.New("open postgres: the connection string is not valid")
	}
	cfg.MaxConns = opts.MaxConns
	setSessionTimeouts(cfg.ConnConfig.RuntimeParams)
	s := &Store{
		opts: opts,
		log:  opts.Logger,
		// The queue's bounds are checkstore's, as the sqlite store's are.
		q:   checkstore.New(checkstore.Options{Now: opts.Now, RollupInterval: opts.RollupInterval}),
		ops: make(chan checkstore.Op),
		// Unbuffered, so that an event is either taken by the writer or
		// refused when it has stopped, never left behind in a buffer.
		events:  make(chan *checkstore.EventReq),
		quit:    make(chan struct{}),
		done:    make(chan struct{}),
		refused: make(checkstore.Refusals),
	}
	if s.pool, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		return nil, fmt.Errorf("open postgres %s: %w", redact(cfg), err)
	}
	if err := migrate(ctx, s.pool, opts.Now); err != nil {
		s.pool.Close()
		return nil, fmt.Errorf("open postgres %s: %w", redact(cfg), err)
	}
	s.DB = s.shared()
	go s.runChecks()
	return s, nil
}

// The server's own bounds on every session of the pool, unless the
// connection string sets them (as a parameter, or with -c in options). The
// client gives up on a write sooner or as soon (the callers' deadlines,
// writerTimeout); these end what the server would otherwise go on doing
// for a client that is gone, and what no client deadline reaches: a lock
// held by a node whose connection hangs in the middle of a transaction.
// The longest statement nightowl sends, the COPY of 200,000 results queued
// during an outage, took 5.5 s on a small shared server, and the longest
// transaction, the flush it is part of, 10-15 s.
var sessionTimeouts = map[string]string{
	"statement_timeout": "1min",
	// Row locks are held for one transaction; a wait longer than the
	// longest is for one stuck elsewhere, and failing (to try again
	// later) beats queueing behind it.
	"lock_timeout": "30s",
	// nightowl never pauses inside a transaction: one left idle is a
	// node cut off in its middle, whose locks would otherwise stand until
	// the server hears of it, hours later with the system's keepalive.
	"idle_in_transaction_session_timeout": "1min",
}

// setSessionTimeouts adds sessionTimeouts to a pool's startup parameters,
// but for those the connection string already sets.
func setSessionTimeouts(params map[string]string) {
	for name, v := range sessionTimeouts {
		if _, ok := params[name]; ok || strings.Contains(params["options"], name) {
			continue
		}
		params[name] = v
	}
}

// redact names a database without its credentials: user@host:port/database.
func redact(cfg *pgxpool.Config) string {
	c := cfg.ConnConfig
	return fmt.Sprintf("%s@%s:%d/%s", c.User, c.Host, c.Port, c.Database)
}

// Close stops the writer, writes what it holds and closes the connections.
// Results, states, pings and heartbeats saved after Close are ignored.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.q.Close()
		close(s.quit)
		<-s.done
		s.pool.Close()
	})
	return s.closeErr
}
