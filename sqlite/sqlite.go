// Package sqlite keeps nightowl's memory in a single SQLite file: the current
// state of every check, a bounded ring of its recent results, hourly and daily
// rollups (runs, failures, latency percentiles), the events that happened
// to it and, for heartbeat checks, a bounded ring of recent pings and the
// state that carries their due times across restarts. It implements
// nightowl.Store.
//
// The check engine reports results on its hot path, and the ping endpoint
// takes thousands of pings a second, so SaveResult, SaveState, SavePing and
// SaveHeartbeat only queue in memory; one goroutine owns the single writer
// connection and writes everything queued in one transaction every
// FlushInterval. Rollups are aggregated in memory as results arrive and merged
// into their stored rows when written, so they are exact across flushes and
// restarts. Reads go through a separate pool of read-only connections, which
// WAL mode lets run alongside the writer. The schema lives in numbered files
// under migrations/, applied in order when the store opens.
//
// The queries and scanners the postgres store shares are in
// internal/sqlstore, which the Store embeds; what is here is SQLite's own:
// the writer goroutine, the rings, WAL syncing and the dialect (dialect.go).
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/checkstore"
	"github.com/nightowl/nightowl/internal/sqlstore"
	modernc "modernc.org/sqlite"
)

// Options configure a Store. The zero value of every field but Path is
// usable.
type Options struct {
	Path   string           // database file; created when missing
	Now    func() time.Time // clock; time.Now when nil
	Logger *slog.Logger     // slog.Default() when nil
	// ResultsPerCheck is how many recent raw results are kept per check;
	// default 100.
	ResultsPerCheck int
	// PingsPerCheck is how many recent pings are kept per heartbeat check;
	// default 100.
	PingsPerCheck int
	// FlushInterval is how often queued writes reach the file; default 1s.
	FlushInterval time.Duration
	// HourlyRetention and DailyRetention bound how long rollups are kept;
	// defaults 90 and 400 days.
	HourlyRetention time.Duration
	DailyRetention  time.Duration
	// EventRetention bounds how long status-change events, and resolved
	// alerts with their notifications, are kept;
	// default 400 days, as long as daily rollups, so that a check that
	// flaps for months cannot grow the file without end.
	EventRetention time.Duration
	// RollupInterval is how often rollups are written, besides every
	// Flush and Close; default 1 minute.
	RollupInterval time.Duration

	// maxQueued bounds the raw results waiting for the writer, and
	// maxQueuedPings and maxPingBytes the pings; tests shrink them to see
	// the oldest dropped. Zero is checkstore's default.
	maxQueued      int
	maxQueuedPings int
	maxPingBytes   int
}

// Defaults of Options: the postgres store's too.
const (
	DefaultResultsPerCheck = checkstore.DefaultResultsPerCheck
	DefaultPingsPerCheck   = checkstore.DefaultPingsPerCheck
	DefaultFlushInterval   = checkstore.DefaultFlushInterval
	DefaultHourlyRetention = checkstore.DefaultHourlyRetention
	DefaultDailyRetention  = checkstore.DefaultDailyRetention
	DefaultEventRetention  = checkstore.DefaultEventRetention
)

const (
	pruneEvery    = time.Hour
	busyTimeoutMS = 5000
	// readConns is enough for the web UI and API to read while the writer
	// works; every connection costs its own page cache.
	readConns = 4
)

func (o Options) withDefaults() (Options, error) {
	if o.Path == "" {
		return o, errors.New("open sqlite: no database path")
	}
	if o.ResultsPerCheck < 0 || o.PingsPerCheck < 0 || o.FlushInterval < 0 || o.HourlyRetention < 0 || o.DailyRetention < 0 || o.EventRetention < 0 {
		return o, fmt.Errorf("open sqlite %s: negative results or pings per check, flush interval or retention", o.Path)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.ResultsPerCheck == 0 {
		o.ResultsPerCheck = DefaultResultsPerCheck
	}
	if o.PingsPerCheck == 0 {
		o.PingsPerCheck = DefaultPingsPerCheck
	}
	if o.FlushInterval == 0 {
		o.FlushInterval = DefaultFlushInterval
	}
	if o.HourlyRetention == 0 {
		o.HourlyRetention = DefaultHourlyRetention
	}
	if o.DailyRetention == 0 {
		o.DailyRetention = DefaultDailyRetention
	}
	if o.EventRetention == 0 {
		o.EventRetention = DefaultEventRetention
	}
	if o.RollupInterval == 0 {
		o.RollupInterval = checkstore.DefaultRollupInterval
	}
	return o, nil
}

// Store is a nightowl.Store in one SQLite file. It is safe for concurrent
// use.
type Store struct {
	// The accessors the postgres store shares: see internal/sqlstore.
	*sqlstore.DB

	opts Options
	log  *slog.Logger
	wdb  *sql.DB // one connection: SQLite has one writer at a time anyway
	rdb  *sql.DB

	q *checkstore.Queue // waiting for the writer
	// commitMu is held by the writer while it commits and lets the queue
	// forget what is in flight, and by Pings while it reads memory and
	// disk, so that a ping is seen exactly once: before the commit in the
	// queue, after it on disk.
	commitMu sync.RWMutex

	ops       chan checkstore.Op // work for the writer goroutine
	events    chan *checkstore.EventReq
	alertReqs chan *alertReq
	quit      chan struct{}
	done      chan struct{} // the writer goroutine has returned
	closeOnce sync.Once
	closeErr  error

	// The rest belongs to the writer goroutine.
	ids       map[string]int64     // check name to checks.id
	prepared  map[string]*sql.Stmt // statements prepared on the writer connection
	wanted    []string             // statements to prepare once the connection is free
	seqs      map[int64]int64      // check id to the seq of its next result
	pingSeqs  map[int64]int64      // check id to the seq of its next ping
	unsynced  bool                 // a commit since the last fsync of the WAL
	lastPrune time.Time
	// refused is when heartbeat states were last refused for a token
	// another check holds.
	refused checkstore.Refusals
}

var _ nightowl.Store = (*Store)(nil)

var errClosed = errors.New("sqlite: store is closed")

// Open opens (creating when missing) the database at opts.Path, brings its
// schema up to date and starts the writer.
func Open(ctx context.Context, opts Options) (*Store, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Store{
		opts: opts,
		log:  opts.Logger,
		q: checkstore.New(checkstore.Options{Now: opts.Now, RollupInterval: opts.RollupInterval,
			MaxResults: opts.maxQueued, MaxPings: opts.maxQueuedPings, MaxPingBytes: opts.maxPingBytes}),
		ops: make(chan checkstore.Op),
		// Unbuffered, so that an event is either taken by the writer or
		// refused when it has stopped, never left behind in a buffer.
		events:    make(chan *checkstore.EventReq),
		alertReqs: make(chan *alertReq),
		quit:      make(chan struct{}),
		done:      make(chan struct{}),
		ids:       make(map[string]int64),
		seqs:      make(map[int64]int64),
		pingSeqs:  make(map[int64]int64),
		refused:   make(checkstore.Refusals),
		prepared:  make(map[string]*sql.Stmt),
	}
	if err := s.open(ctx); err != nil {
		if s.rdb != nil {
			s.rdb.Close()
		}
		if s.wdb != nil {
			s.wdb.Close()
		}
		return nil, fmt.Errorf("open sqlite %s: %w", opts.Path, err)
	}
	go s.run()
	return s, nil
}

func (s *Store) open(ctx context.Context) error {
	var err error
	if s.wdb, err = s.openWriter(dsn(s.opts.Path, true)); err != nil {
		return err
	}
	s.wdb.SetMaxOpenConns(1)
	// Connecting now, rather than on first use, makes a bad path or a file
	// that is not a database fail Open.
	if err := s.wdb.PingContext(ctx); err != nil {
		return err
	}
	if err := migrate(ctx, s.wdb, s.opts.Now); err != nil {
		return err
	}
	s.rdb = sql.OpenDB(connector{d: &modernc.Driver{}, dsn: dsn(s.opts.Path, false)})
	s.rdb.SetMaxOpenConns(readConns)
	s.DB = s.shared()
	rows, err := s.wdb.QueryContext(ctx, `SELECT id, name FROM checks`)
	if err != nil {
		return fmt.Errorf("load checks: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var name string
		if err := rows.Scan(&id, &name); err != nil {
			return fmt.Errorf("load checks: %w", err)
		}
		s.ids[name] = id
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load checks: %w", err)
	}
	return s.loadHeads(ctx)
}

// loadHeads reads the heads of the rings that the last Close saved, and
// deletes them: from the first write on they are stale, and a crash must not
// leave them to be trusted.
func (s *Store) loadHeads(ctx context.Context) error {
	rows, err := s.wdb.QueryContext(ctx, `SELECT check_id, ring, size, next_seq FROM ring_heads`)
	if err != nil {
		return fmt.Errorf("load ring heads: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, next int64
		var ring string
		var size int
		if err := rows.Scan(&id, &ring, &size, &next); err != nil {
			return fmt.Errorf("load ring heads: %w", err)
		}
		for _, r := range s.rings() {
			if r.table == ring && r.size == size {
				r.heads[id] = next
			}
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load ring heads: %w", err)
	}
	rows.Close()
	if _, err := s.wdb.ExecContext(ctx, `DELETE FROM ring_heads`); err != nil {
		return fmt.Errorf("load ring heads: %w", err)
	}
	return nil
}

// saveHeads saves the heads of the rings for the next Open. It runs on the
// writer goroutine as it stops.
func (s *Store) saveHeads() error {
	if len(s.seqs)+len(s.pingSeqs) == 0 {
		return nil
	}
	err := s.inTx(context.Background(), true, func(w *txWriter) error {
		for _, r := range s.rings() {
			// In key order, each row goes next to the last: with a
			// million checks, that is what keeps Close quick.
			for _, id := range slices.Sorted(maps.Keys(r.heads)) {
				if err := w.exec(`INSERT OR REPLACE INTO ring_heads (check_id, ring, size, next_seq) VALUES (?, ?, ?, ?)`,
					id, r.table, r.size, r.heads[id]); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("save ring heads: %w", err)
	}
	return nil
}

// dsn builds the data source name for the modernc driver. The pragmas are in
// the DSN, rather than run once, so that every connection the pool opens gets
// them.
func dsn(path string, write bool) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeoutMS))
	q.Add("_pragma", "foreign_keys(1)")
	if write {
		q.Add("_pragma", "journal_mode(WAL)")
		// NORMAL skips the fsync on each commit: a crash of the process
		// loses nothing, a power cut loses at most the last background
		// flushes. Flush, Close and AddEvent commit with FULL.
		q.Add("_pragma", "synchronous(NORMAL)")
		// Without a limit the WAL file keeps the size of its largest
		// batch (say, after a long outage of the disk) forever.
		q.Add("_pragma", "journal_size_limit(67108864)")
		// The writer revisits the same pages every flush (each check's
		// current rollup rows, the upper levels of every B-tree); 32 MiB
		// keeps them for a few thousand checks instead of re-reading them
		// through the operating system.
		q.Add("_pragma", "cache_size(-32768)")
		// Taking the write lock at BEGIN, instead of at the first write,
		// lets busy_timeout wait for another process (the CLI) rather than
		// fail with SQLITE_BUSY half-way through a transaction.
		q.Set("_txlock", "immediate")
	} else {
		q.Add("_pragma", "query_only(1)")
	}
	// The "file:" form is a URI, so characters that mean something in a
	// URI must be escaped in the path.
	esc := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	return "file:" + esc + "?" + q.Encode()
}

// run is the writer goroutine.
func (s *Store) run() {
	defer close(s.done)
	tick := time.NewTicker(s.opts.FlushInterval)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			s.flush(false)
		case <-s.q.Kick():
			s.flush(false)
		case o := <-s.ops:
			o.Run()
		case r := <-s.events:
			s.addEvents(r)
		case r := <-s.alertReqs:
			s.saveAlerts(r)
		case <-s.quit:
			s.closeErr = errors.Join(s.flush(true), s.saveHeads())
			return
		}
	}
}

// do runs fn on the writer goroutine, which serialises every write and
// owns the id cache, and waits for it.
func (s *Store) do(ctx context.Context, fn func() error) error {
	return checkstore.Do(ctx, s.ops, s.done, errClosed, fn)
}

// housekeep runs on the writer goroutine after each flush, which comes at
// least every FlushInterval.
func (s *Store) housekeep() {
	now := s.opts.Now()
	if now.Sub(s.lastPrune) >= pruneEvery {
		if err := s.prune(now); err != nil {
			s.log.Error("sqlite: prune rollups", "err", err)
		} else {
			s.lastPrune = now
		}
	}
	s.q.WarnDrops(s.log, "sqlite")
}

// Flush writes everything queued so far and returns once it is durable, on
// disk and not only in the operating system's cache.
func (s *Store) Flush(ctx context.Context) error {
	return s.do(ctx, func() error { return s.flush(true) })
}

// WriteStats tells how the writer keeps up with the results, states and
// pings queued for it, for the server's metrics.
func (s *Store) WriteStats() checkstore.WriteStats { return s.q.WriteStats() }

// Dropped returns how many raw results were dropped since Open because the
// writer could not keep up. Their rollup counts were kept.
func (s *Store) Dropped() int64 { return s.q.Dropped() }

// DroppedPings returns how many pings were dropped since Open because the
// writer could not keep up, and how many lost their body first, to keep the
// queue's memory bounded.
func (s *Store) DroppedPings() (pings, bodies int64) { return s.q.DroppedPings() }

// Close writes what is queued, stops the writer and closes the database.
// Results, states, pings and heartbeats saved after Close are ignored.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.q.Close()
		close(s.quit)
		<-s.done
		for _, st := range s.prepared {
			st.Close()
		}
		s.closeErr = errors.Join(s.closeErr, s.rdb.Close(), s.wdb.Close())
	})
	return s.closeErr
}

// inTx runs fn in a write transaction on the writer connection. durable makes
// the commit wait for the WAL to reach the disk. It must run on the writer
// goroutine; ids fn learns are cached only once the commit succeeded.
//
// The writer's transactions have no deadline of their own (ctx is
// context.Background where the writer writes for itself). Callers bound
// their wait for the writer to take a status change or an alert change,
// and one not taken in time is kept in memory by the server (package
// offline); once taken, it is finished and its caller told, so that it is
// never both written and kept to be written again. A deadline here could
// not cut short a write that the disk holds up, only fail it afterwards,
// and a flush failed that way would be tried again whole, as long as
// before. Waits for another process's lock end with busy_timeout.
func (s *Store) inTx(ctx context.Context, durable bool, fn func(w *txWriter) error) error {
	err := s.inTxOnce(ctx, durable, fn)
	for _, q := range s.wanted {
		if s.prepared[q] != nil {
			continue
		}
		if st, perr := s.wdb.PrepareContext(ctx, q); perr == nil {
			s.prepared[q] = st
		}
	}
	s.wanted = s.wanted[:0]
	return err
}

func (s *Store) inTxOnce(ctx context.Context, durable bool, fn func(w *txWriter) error) error {
	conn, err := s.wdb.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if durable {
		if _, err := conn.ExecContext(ctx, "PRAGMA synchronous = FULL"); err != nil {
			return err
		}
		defer conn.ExecContext(context.Background(), "PRAGMA synchronous = NORMAL")
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	w := &txWriter{
		s:        s,
		ctx:      ctx,
		tx:       tx,
		newIDs:   make(map[string]int64),
		seqs:     make(map[int64]int64),
		pingSeqs: make(map[int64]int64),
		stmts:    make(map[string]*sql.Stmt),
	}
	defer w.close()
	if err := fn(w); err != nil {
		return err
	}
	s.commitMu.Lock()
	err = tx.Commit()
	if err == nil && w.committed != nil {
		w.committed()
	}
	s.commitMu.Unlock()
	if err != nil {
		return err
	}
	for name, id := range w.newIDs {
		s.ids[name] = id
	}
	for id, seq := range w.seqs {
		s.seqs[id] = seq
	}
	for id, seq := range w.pingSeqs {
		s.pingSeqs[id] = seq
	}
	// With synchronous=FULL the commit synced the WAL file, and with it
	// every commit before.
	s.unsynced = !durable
	return nil
}

// syncWAL makes earlier NORMAL commits durable when there is nothing new to
// commit with FULL: a checkpoint syncs the WAL before copying it into the
// database file.
func (s *Store) syncWAL(ctx context.Context) error {
	if !s.unsynced {
		return nil
	}
	if _, err := s.wdb.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)"); err != nil {
		return err
	}
	s.unsynced = false
	return nil
}

// prune deletes rollups older than their retention.
func (s *Store) prune(now time.Time) error {
	return s.inTx(context.Background(), false, func(w *txWriter) error {
		for _, p := range []struct {
			period int64
			keep   time.Duration
		}{{checkstore.HourSecs, s.opts.HourlyRetention}, {checkstore.DaySecs, s.opts.DailyRetention}} {
			// Naming every check lets SQLite seek each one's range in the
			// primary key instead of scanning the whole table.
			_, err := w.tx.ExecContext(w.ctx, `DELETE FROM rollups
				WHERE check_id IN (SELECT id FROM checks) AND period = ? AND start < ?`,
				p.period, now.Add(-p.keep).Unix())
			if err != nil {
				return err
			}
		}
		cutoff := now.Add(-s.opts.EventRetention).UnixNano()
		if _, err := w.tx.ExecContext(w.ctx, `DELETE FROM events WHERE time < ?`, cutoff); err != nil {
			return err
		}
		// Resolved alerts go as their events do, with what was sent
		// about them; an alert still open stays, however old.
		if _, err := w.tx.ExecContext(w.ctx, `DELETE FROM outbox WHERE state <> 'pending' AND created_at < ?
			AND alert_id IN (SELECT id FROM alerts WHERE state = 'resolved' AND starts_at < ?)`, cutoff, cutoff); err != nil {
			return err
		}
		_, err := w.tx.ExecContext(w.ctx, `DELETE FROM alerts WHERE state = 'resolved' AND starts_at < ?
			AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.alert_id = alerts.id)`, cutoff)
		return err
	})
}
