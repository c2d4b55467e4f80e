package probe

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgPool keeps a few sessions of one check open between runs, so that a
// check every few seconds does not start a server process each time.
//
// A session lives at most pgSessionAge. read_only is meant to be what a new
// session sees, and ALTER DATABASE … SET default_transaction_read_only
// reaches only sessions opened after it: a short life bounds how long a kept
// session can report the old setting. It also means the pool needs no
// goroutine of its own: a timer closes each idle session when its time is up,
// so a pool that a config reload dropped lets go of the server by itself.
type pgPool struct {
	cfg *pgx.ConnConfig
	age time.Duration // pgSessionAge; shorter in tests

	mu     sync.Mutex
	idle   []*pgSession // the most recently used last
	closed bool
}

const (
	pgSessionAge = time.Minute
	// pgMaxIdle is enough for a check and a manual run of it at once.
	pgMaxIdle = 2
)

type pgSession struct {
	conn   *pgx.Conn
	opened time.Time
	// reused is true when the session served an earlier run.
	reused bool
	// expire closes the session while it is idle.
	expire *time.Timer
}

// get returns an idle session, or connects under ctx.
func (p *pgPool) get(ctx context.Context) (*pgSession, error) {
	var stale []*pgSession
	var s *pgSession
	p.mu.Lock()
	for len(p.idle) > 0 && s == nil {
		last := p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		last.expire.Stop()
		if time.Since(last.opened) < p.age && !last.conn.IsClosed() {
			s = last
		} else {
			stale = append(stale, last)
		}
	}
	p.mu.Unlock()
	for _, st := range stale {
		pgClose(st.conn)
	}
	if s != nil {
		s.reused = true
		return s, nil
	}
	conn, err := pgx.ConnectConfig(ctx, p.cfg)
	if err != nil {
		return nil, err
	}
	return &pgSession{conn: conn, opened: time.Now()}, nil
}

// put keeps s for a later run, or closes it when it is broken, old, or
// may yet receive a cancel request meant for a statement of this run.
func (p *pgPool) put(ctx context.Context, s *pgSession) {
	pc := s.conn.PgConn()
	left := p.age - time.Since(s.opened)
	if ctx.Err() != nil || s.conn.IsClosed() || pc.IsBusy() || pc.TxStatus() != 'I' || left <= 0 {
		pgClose(s.conn)
		return
	}
	p.mu.Lock()
	if p.closed || len(p.idle) >= pgMaxIdle {
		p.mu.Unlock()
		pgClose(s.conn)
		return
	}
	// drop waits for p.mu, so it cannot run before s is in the list.
	s.expire = time.AfterFunc(left, func() { p.drop(s) })
	p.idle = append(p.idle, s)
	p.mu.Unlock()
}

// drop closes s if it is still idle; get may have taken it meanwhile.
func (p *pgPool) drop(s *pgSession) {
	p.mu.Lock()
	i := slices.Index(p.idle, s)
	if i >= 0 {
		p.idle = slices.Delete(p.idle, i, i+1)
	}
	p.mu.Unlock()
	if i >= 0 {
		pgClose(s.conn)
	}
}

// close ends every idle session; sessions in use end when they are put back.
func (p *pgPool) close() {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.closed = nil, true
	p.mu.Unlock()
	for _, s := range idle {
		s.expire.Stop()
		pgClose(s.conn)
	}
}

// pgClose says goodbye to the server (so that it does not log an unexpected
// EOF) but does not wait long for it.
func pgClose(c *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	c.Close(ctx)
}
