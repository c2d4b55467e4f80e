// Package connlimit bounds the connections a server holds open: in all, so
// that the process keeps file descriptors for its own checks; per client
// address, so that one client cannot take them all; and, more loosely, per
// network, so that the many addresses of one customer (an IPv6 /48 holds
// 65,536 /64s) cannot either. Connections over a cap are closed as soon as
// they are accepted.
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
	// perNetworkShare bounds the clients of one network together to this
	// fraction of the total: it takes two networks to fill it.
	perNetworkShare = 2
	// Networks are IPv4 /24s and IPv6 /48s, the usual allocations to one
	// customer.
	networkBits4 = 24
	networkBits6 = 48
)

// Options configure a Listener. The zero value of each field means no cap.
type Options struct {
	// Max is the most connections held open at once.
	Max int
	// PerClient is the most connections one client address (an IPv6
	// client's /64) holds at once.
	PerClient int
	// PerNetwork is the most connections the clients of one network (an
	// IPv4 /24, an IPv6 /48) hold at once, together.
	PerNetwork int
	// Exempt are peers counted only towards Max: reverse proxies, whose
	// one address carries every client's connections.
	Exempt []netip.Prefix
}

// Derive returns the caps for a process that may hold fdLimit files: half
// of them for connections, a quarter of that, at most DefaultPerClient, for
// one client, and half of it for one network (never less than one
// client's). maxConns and perClient, when positive, are the configured
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
	o.PerNetwork = max(o.Max/perNetworkShare, o.PerClient)
	return o
}

// Listener wraps ln so that Accept hands out only connections within the
// caps; the others are closed at once.
func Listener(ln net.Listener, opts Options) net.Listener {
	return &listener{Listener: ln, opts: opts, perAddr: map[netip.Addr]int{}, perNet: map[netip.Addr]int{}}
}

type listener struct {
	net.Listener
	opts Options

	mu      sync.Mutex
	total   int
	perAddr map[netip.Addr]int
	perNet  map[netip.Addr]int
}

// peer is what a connection is counted under.
type peer struct {
	client  netip.Addr // its address, or its /64 for IPv6
	network netip.Addr // its /24, or its /48 for IPv6
	exempt  bool       // counted only in the total
}

func (l *listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		p := l.peer(c.RemoteAddr())
		if !l.take(p) {
			// Closing at once frees the descriptor; the client sees a
			// reset or an empty answer and may try again later.
			if tc, ok := c.(*net.TCPConn); ok {
				tc.SetLinger(0)
			}
			c.Close()
			continue
		}
		return &conn{Conn: c, release: func() { l.release(p) }}, nil
	}
}

// peer is what the connections of addr are counted under.
func (l *listener) peer(addr net.Addr) peer {
	var ip netip.Addr
	if ta, ok := addr.(*net.TCPAddr); ok {
		ip, _ = netip.AddrFromSlice(ta.IP)
	} else if ap, err := netip.ParseAddrPort(addr.String()); err == nil {
		ip = ap.Addr()
	}
	ip = ip.Unmap().WithZone("")
	for _, p := range l.opts.Exempt {
		if p.Contains(ip) {
			return peer{client: ip, exempt: true}
		}
	}
	if !ip.IsValid() {
		return peer{}
	}
	if ip.Is6() {
		c, _ := ip.Prefix(64)
		n, _ := ip.Prefix(networkBits6)
		return peer{client: c.Addr(), network: n.Addr()}
	}
	n, _ := ip.Prefix(networkBits4)
	return peer{client: ip, network: n.Addr()}
}

func (l *listener) take(p peer) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.opts.Max > 0 && l.total >= l.opts.Max {
		return false
	}
	if !p.exempt {
		if l.opts.PerClient > 0 && l.perAddr[p.client] >= l.opts.PerClient {
			return false
		}
		if l.opts.PerNetwork > 0 && l.perNet[p.network] >= l.opts.PerNetwork {
			return false
		}
	}
	l.total++
	if !p.exempt {
		l.perAddr[p.client]++
		l.perNet[p.network]++
	}
	return true
}

func (l *listener) release(p peer) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if p.exempt {
		return
	}
	decrement(l.perAddr, p.client)
	decrement(l.perNet, p.network)
}

func decrement(m map[netip.Addr]int, k netip.Addr) {
	if n := m[k] - 1; n > 0 {
		m[k] = n
	} else {
		delete(m, k)
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
