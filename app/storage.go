package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/config"
	"github.com/nightowl/nightowl/internal/checkstore"
	"github.com/nightowl/nightowl/offline"
	"github.com/nightowl/nightowl/postgres"
	"github.com/nightowl/nightowl/sqlite"
)

// store is everything nightowl keeps, in one SQLite file or in a PostgreSQL
// database that the nodes of a cluster share.
type store interface {
	nightowl.Store
	nightowl.AlertStore
	nightowl.MaintenanceStore
	nightowl.AccessStore
	nightowl.ContactStore
	nightowl.IncidentStore
	nightowl.ActionStore
	nightowl.AuditStore
	nightowl.OncallStore
}

var (
	_ store = (*sqlite.Store)(nil)
	_ store = (*postgres.Store)(nil)
)

// openStore opens the store a config names. log and now may be nil.
func openStore(ctx context.Context, cfg *config.Config, log *slog.Logger, now func() time.Time) (store, error) {
	if cfg.Storage.Postgres != "" {
		s, err := postgres.Open(ctx, postgres.Options{DSN: cfg.Storage.Postgres, Logger: log, Now: now})
		if err != nil {
			return nil, fmt.Errorf("open storage: %w", err)
		}
		return s, nil
	}
	s, err := sqlite.Open(ctx, sqlite.Options{Path: cfg.Storage.SQLite, Logger: log, Now: now})
	if err != nil {
		return nil, fmt.Errorf("open storage: %w", err)
	}
	return s, nil
}

// resilient is a store that a server keeps working without: while
// PostgreSQL cannot be reached, the disk of the SQLite file is full or
// read-only, or either store hangs past the time a write is given, status
// changes and alerts are kept in memory, notifications are sent from
// there, and everything is written back, in order, when the store takes
// writes again (package offline).
type resilient struct {
	*offline.Store
	rest
	inner store
	log   *slog.Logger
}

// rest is the whole store one level down, so that the methods offline
// keeps working win over the store's own.
type rest struct{ store }

var _ store = (*resilient)(nil)

// openServerStore opens the store for a server: one that outlives the
// outages of the database, or of the disk the SQLite file is on.
func openServerStore(ctx context.Context, cfg *config.Config, log *slog.Logger, clock nightowl.Clock) (store, error) {
	s, err := openStore(ctx, cfg, log, clock.Now)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	// Any store's write that runs out of time is an outage (offline);
	// each store tells its others apart.
	unavailable := sqlite.Unavailable
	if _, ok := s.(*postgres.Store); ok {
		unavailable = postgres.Unavailable
	}
	return &resilient{log: log,
		Store: offline.New(offline.Options{Store: s, Unavailable: unavailable, Clock: clock, Logger: log}),
		rest:  rest{s}, inner: s,
	}, nil
}

// Close writes back what is kept in memory, if the store lets it within
// a few seconds, then closes the store.
func (r *resilient) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.Store.Drain(ctx); err != nil {
		events, alerts, notes := r.Store.Spooled()
		r.log.Error("the store takes no writes: what was kept in memory is lost",
			"events", events, "alerts", alerts, "notifications", notes, "err", err)
	}
	return r.inner.Close()
}

// clusterStore returns the store nodes agree through, if there is one.
func clusterStore(s store) (nightowl.ClusterStore, bool) {
	if r, ok := s.(*resilient); ok {
		s = r.inner
	}
	cs, ok := s.(nightowl.ClusterStore)
	return cs, ok
}

// runStore keeps the store's write-back going, until ctx ends.
func runStore(ctx context.Context, s store) {
	if r, ok := s.(*resilient); ok {
		r.Store.Run(ctx)
	}
}

// registerStoreMetrics exports how much is kept in memory while the store
// is unreachable, and how the store's writer keeps up.
func registerStoreMetrics(reg prometheus.Registerer, s store, clock nightowl.Clock) {
	r, ok := s.(*resilient)
	if !ok {
		return
	}
	for i, kind := range []string{"events", "alerts", "notifications"} {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "nightowl_store_unwritten",
			Help:        "What is kept in memory because the store cannot be reached, to be written when it can.",
			ConstLabels: prometheus.Labels{"kind": kind},
		}, func() float64 {
			e, a, n := r.Store.Spooled()
			return float64([]int{e, a, n}[i])
		}))
	}
	if w, ok := r.inner.(writeStatser); ok {
		reg.MustRegister(writerCollector{stats: w.WriteStats, clock: clock})
	}
}

// writeStatser is a store whose writer tells how it keeps up: both stores.
type writeStatser interface {
	WriteStats() checkstore.WriteStats
}

// writerCollector exports the store writer's numbers, read at scrape time.
type writerCollector struct {
	stats func() checkstore.WriteStats
	clock nightowl.Clock
}

var (
	descQueued = prometheus.NewDesc("nightowl_store_queued_results",
		"Check results waiting for the store's writer.", nil, nil)
	descOldestUnwritten = prometheus.NewDesc("nightowl_store_oldest_unwritten_seconds",
		"Age of the oldest check result, state or heartbeat ping not yet written to the store; 0 when none waits.", nil, nil)
	descWrites = prometheus.NewDesc("nightowl_store_writes_total",
		"Batches of check results, states and pings written to the store.", nil, nil)
	descWriteFailures = prometheus.NewDesc("nightowl_store_write_failures_total",
		"Batches the store refused or did not take in time, kept to be tried again.", nil, nil)
	descWriteSeconds = prometheus.NewDesc("nightowl_store_write_seconds",
		"How long writing a batch took, whether it was written or failed.", nil, nil)
	descDropped = prometheus.NewDesc("nightowl_store_dropped_results_total",
		"Check results dropped unwritten because the writer fell behind; their rollups still count them.", nil, nil)
	descDroppedPings = prometheus.NewDesc("nightowl_store_dropped_pings_total",
		"Heartbeat pings dropped unwritten because the writer fell behind.", nil, nil)
)

// Describe implements prometheus.Collector.
func (c writerCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descQueued, descOldestUnwritten, descWrites, descWriteFailures,
		descWriteSeconds, descDropped, descDroppedPings} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c writerCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.stats()
	age := 0.0
	if !st.OldestUnwritten.IsZero() {
		age = max(0, c.clock.Now().Sub(st.OldestUnwritten).Seconds())
	}
	buckets := make(map[float64]uint64, len(checkstore.WriteBounds))
	var n uint64
	for i, le := range checkstore.WriteBounds {
		n += uint64(st.Took[i])
		buckets[le] = n
	}
	count := n + uint64(st.Took[len(checkstore.WriteBounds)])
	ch <- prometheus.MustNewConstMetric(descQueued, prometheus.GaugeValue, float64(st.Queued))
	ch <- prometheus.MustNewConstMetric(descOldestUnwritten, prometheus.GaugeValue, age)
	ch <- prometheus.MustNewConstMetric(descWrites, prometheus.CounterValue, float64(st.Writes))
	ch <- prometheus.MustNewConstMetric(descWriteFailures, prometheus.CounterValue, float64(st.Failed))
	ch <- prometheus.MustNewConstHistogram(descWriteSeconds, count, st.TookTotal.Seconds(), buckets)
	ch <- prometheus.MustNewConstMetric(descDropped, prometheus.CounterValue, float64(st.Dropped))
	ch <- prometheus.MustNewConstMetric(descDroppedPings, prometheus.CounterValue, float64(st.DroppedPings))
}
