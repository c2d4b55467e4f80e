package app

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/engine"
	"github.com/nightowl/nightowl/heartbeat"
	"github.com/nightowl/nightowl/sqlite"
	"github.com/nightowl/nightowl/web"
)

// CoreOptions configure a Core.
type CoreOptions struct {
	// SQLite is the path of the store's file.
	SQLite string
	Logger *slog.Logger // slog.Default() when nil
	// Concurrency bounds concurrent checks; the engine's default when 0.
	Concurrency int
	// Store, when set, wraps the store the engine writes results and
	// states to (a benchmark times what is saved).
	Store func(nightowl.Store) nightowl.Store
	// Reported, when set, is told of each heartbeat report before the
	// engine has it.
	Reported func(check string)
}

// Core is the part of a server that runs checks and takes pings, without
// the rest: a SQLite store, the engine and the heartbeat tracker; no
// alerting, no API, no cluster. The benchmarks measure it.
type Core struct {
	Store  *sqlite.Store
	Engine *engine.Engine
	Beats  *heartbeat.Tracker
}

// NewCore opens the store and builds the engine and the tracker over it.
// Nothing runs until Start.
func NewCore(ctx context.Context, opts CoreOptions) (_ *Core, err error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	store, err := sqlite.Open(ctx, sqlite.Options{Path: opts.SQLite, Logger: opts.Logger})
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			store.Close()
		}
	}()
	var results nightowl.Store = store
	if opts.Store != nil {
		results = opts.Store(store)
	}
	c := &Core{Store: store}
	if c.Engine, err = engine.New(engine.Options{Store: results, Concurrency: opts.Concurrency, Logger: opts.Logger}); err != nil {
		return nil, err
	}
	c.Beats, err = heartbeat.New(heartbeat.Options{Store: store, Logger: opts.Logger,
		Report: func(check string, at time.Time, f nightowl.Facts) {
			if opts.Reported != nil {
				opts.Reported(check)
			}
			c.Engine.Submit(check, at, f)
		}})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// SetChecks makes checks, and the heartbeat checks among them, the ones in
// force.
func (c *Core) SetChecks(checks []nightowl.Check, beats []heartbeat.Check) error {
	c.Engine.SetChecks(checks, nil)
	return c.Beats.SetChecks(beats, nil)
}

// Start runs the checks and judges the heartbeats until Stop.
func (c *Core) Start(ctx context.Context) {
	c.Engine.Start(ctx)
	c.Beats.Start(ctx)
}

// Stop stops the tracker and the engine; running checks finish.
func (c *Core) Stop() {
	c.Beats.Stop()
	c.Engine.Stop()
}

// Close closes the store.
func (c *Core) Close() error { return c.Store.Close() }

// PingHandler serves the ping URLs of the heartbeat checks.
func (c *Core) PingHandler() http.Handler { return web.PingHandler(c.Beats, nightowl.SystemClock{}) }
