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
package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
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
}

// DefaultMaxConns is the pool's size when Options.MaxConns is zero: the
// writer, the API's readers and the cluster's bookkeeping.
const DefaultMaxConns = 8

func (o Options) withDefaults() (Options, error) {
	if o.DSN == "" {
		return o, errors.New("open postgres: no connection string")
	}
	if o.MaxConns < 0 {
		return o, errors.New("open postgres: negative max_conns")
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
	return o, nil
}

// Store is nightowl's memory in PostgreSQL. It is safe for concurrent use,
// and any number of Stores, in any number of processes, may share one
// database.
type Store struct {
	opts Options
	log  *slog.Logger
	pool *pgxpool.Pool
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
	s := &Store{opts: opts, log: opts.Logger}
	if s.pool, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		return nil, fmt.Errorf("open postgres %s: %w", redact(cfg), err)
	}
	if err := migrate(ctx, s.pool, opts.Now); err != nil {
		s.pool.Close()
		return nil, fmt.Errorf("open postgres %s: %w", redact(cfg), err)
	}
	return s, nil
}

// redact names a database without its credentials: user@host:port/database.
func redact(cfg *pgxpool.Config) string {
	c := cfg.ConnConfig
	return fmt.Sprintf("%s@%s:%d/%s", c.User, c.Host, c.Port, c.Database)
}

// Close stops the writer, writes what it holds and closes the connections.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}
