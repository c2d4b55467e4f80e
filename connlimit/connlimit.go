// Package connlimit bounds the connections a server holds open: in all, so
// that the process keeps file descriptors for its own checks, and per
// client address, so that one client cannot take them all. Connections over
// a cap are closed as soon as they are accepted.
package connlimit

import (
	"errors"
	"net"
	"net/netip"
	"sync"
)

// Defaults of Options, derived from the file descriptor limit by Derive.
const (
	// DefaultPerClient is the most connections one client address may
	// hold when the limit leaves room for it: a browser opens six, a
	// busy job runner a few dozen.
	DefaultPerClient = 256
	// reserveFraction of the file descriptor limit is kept for the
	// checks, the store and the outgoing notifications: the listener
	// takes at most the rest.
	reserveFraction = 2
	// perClientShare bounds one client's connections to this fraction of
	// the total, so that one client alone never fills the cap and
	// /healthz, pings and people still get in.
	perClientShare = 4
)

// Options configure a Listener. The zero value of each field means no cap.
type Options struct {
	// Max is the most connections held open at once.
	Max int
	// PerClient is the most connections one client address (an IPv6
	// client's /64) holds at once.
	PerClient int
	// Exempt are peers counted only towards Max: reverse proxies, whose
	// one address carries every client's connections.
	Exempt []netip.Prefix
}

// Derive returns the caps for a process that may hold fdLimit files: half
// of them for connections, and a quarter of that, at most DefaultPerClient,
// for one client. maxConns and perClient, when positive, are the configured
// caps and win.
func Derive(fdLimit uint64, maxConns, perClient int) Options {
	o := Options{Max: maxConns, PerClient: perClient}
	if o.Max <= 0 {
		o.Max = int(min(fdLimit/reserveFraction, 1<<30))
		if o.Max < 1 {
			o.Max = 1
		}
	}
	if o.PerClient <= 0 {
		o.PerClient = min(DefaultPerClient, max(o.Max/perClientShare, 1))
	}
	return o
}

// Listener wraps ln so that Accept hands out only connections within the
// caps; the others are closed at once.
func Listener(ln net.Listener, opts Options) net.Listener {
	return &listener{Listener: ln, opts: opts, perAddr: map[netip.Addr]int{}}
}

type listener struct {
	net.Listener
	opts Options

	mu      sync.Mutex
	total   int
	perAddr map[netip.Addr]int
}

func (l *listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		key, exempt := l.key(c.RemoteAddr())
		if !l.take(key, exempt) {
			// Closing at once frees the descriptor; the client sees a
			// reset or an empty answer and may try again later.
			if tc, ok := c.(*net.TCPConn); ok {
				tc.SetLinger(0)
			}
			c.Close()
			continue
		}
		return &conn{Conn: c, release: func() { l.release(key, exempt) }}, nil
	}
}

// key is what a peer's connections are counted under: its address, or its
// /64 for IPv6; exempt reports a peer counted only in the total.
func (l *listener) key(addr net.Addr) (netip.Addr, bool) {
	var ip netip.Addr
	if ta, ok := addr.(*net.TCPAddr); ok {
		ip, _ = netip.AddrFromSlice(ta.IP)
	} else if ap, err := netip.ParseAddrPort(addr.String()); err == nil {
		ip = ap.Addr()
	}
	ip = ip.Unmap().WithZone("")
	for _, p := range l.opts.Exempt {
		if p.Contains(ip) {
			return ip, true
		}
	}
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		ip = p.Addr()
	}
	return ip, false
}

func (l *listener) take(key netip.Addr, exempt bool) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.opts.Max > 0 && l.total >= l.opts.Max {
		return false
	}
	if !exempt && l.opts.PerClient > 0 && l.perAddr[key] >= l.opts.PerClient {
		return false
	}
	l.total++
	if !exempt {
		l.perAddr[key]++
	}
	return true
}

func (l *listener) release(key netip.Addr, exempt bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if exempt {
		return
	}
	if n := l.perAddr[key] - 1; n > 0 {
		l.perAddr[key] = n
	} else {
		delete(l.perAddr, key)
	}
}

// conn gives its place back once, when it is closed.
type conn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// ErrNoLimit is returned by FileLimit where the platform has none to read.
var ErrNoLimit = errors.New("no file descriptor limit on this platform")
