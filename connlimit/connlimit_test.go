package connlimit

import (
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"
)

func TestDerive(t *testing.T) {
	for _, tc := range []struct {
		name                    string
		limit                   uint64
		max, per                int
		wantMax, wantPC, wantPN int
	}{
		{"a small limit", 256, 0, 0, 128, 32, 64},
		{"a common limit", 1024, 0, 0, 512, 128, 256},
		{"a large limit", 1 << 20, 0, 0, 1 << 19, DefaultPerClient, 1 << 18},
		{"no limit", ^uint64(0), 0, 0, 1 << 30, DefaultPerClient, 1 << 29},
		{"a tiny limit", 1, 0, 0, 1, 1, 1},
		{"given caps win", 1024, 100, 10, 100, 10, 50},
		{"a network holds at least a client's", 1024, 100, 80, 100, 80, 80},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := Derive(tc.limit, tc.max, tc.per)
			if o.Max != tc.wantMax || o.PerClient != tc.wantPC || o.PerNetwork != tc.wantPN {
				t.Errorf("Derive = %d, %d, %d; want %d, %d, %d", o.Max, o.PerClient, o.PerNetwork, tc.wantMax, tc.wantPC, tc.wantPN)
			}
		})
	}
}

// TestPeer: a client is an IPv4 address or an IPv6 /64, its network an
// IPv4 /24 or an IPv6 /48; so the /64s of one /48 are many clients of one
// network, which holds at most PerNetwork connections however many of them
// there are, while another /48 and IPv4 clients still get in.
func TestPeer(t *testing.T) {
	l := Listener(nil, Options{Max: 100, PerClient: 2, PerNetwork: 10, Exempt: []netip.Prefix{netip.MustParsePrefix("2001:db8:ff::1/128")}}).(*listener)
	for _, tc := range []struct {
		addr         string
		client, netw string
		exempt       bool
	}{
		{"192.0.2.7", "192.0.2.7", "192.0.2.0", false},
		{"::ffff:192.0.2.7", "192.0.2.7", "192.0.2.0", false},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::", "2001:db8:1::", false},
		{"2001:db8:1:ff02::1", "2001:db8:1:ff02::", "2001:db8:1::", false},
		{"2001:db8:ff::1", "2001:db8:ff::1", "invalid IP", true},
	} {
		p := l.peer(&net.TCPAddr{IP: net.ParseIP(tc.addr), Port: 1})
		if p.client.String() != tc.client || p.network.String() != tc.netw || p.exempt != tc.exempt {
			t.Errorf("peer(%s) = %s, %s, %v; want %s, %s, %v", tc.addr, p.client, p.network, p.exempt, tc.client, tc.netw, tc.exempt)
		}
	}
	taken := 0
	for i := range 1000 {
		ip := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 1, byte(i >> 8), byte(i)})
		if l.take(l.peer(&net.TCPAddr{IP: ip.AsSlice(), Port: 1})) {
			taken++
		}
	}
	if taken != 10 {
		t.Errorf("a thousand /64s of one /48 hold %d connections, want 10", taken)
	}
	for _, addr := range []string{"2001:db8:2::1", "192.0.2.7"} {
		if !l.take(l.peer(&net.TCPAddr{IP: net.ParseIP(addr), Port: 1})) {
			t.Errorf("%s refused", addr)
		}
	}
}

// TestListenerCaps: connections over the per-client cap are closed at
// once, a closed one gives its place back, an exempt peer counts only in
// the total, and the total holds for everyone.
func TestListenerCaps(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := Listener(raw, Options{Max: 4, PerClient: 2, Exempt: []netip.Prefix{netip.MustParsePrefix("127.0.0.3/32")}})
	defer ln.Close()
	accepted := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	// dial connects from a loopback address; nil when the server
	// closed the connection before the dial returned.
	dial := func(from string) net.Conn {
		t.Helper()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
		c, err := d.Dial("tcp", raw.Addr().String())
		if err != nil {
			return nil
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	// refused reports whether the server closed c without a word.
	refused := func(c net.Conn) bool {
		if c == nil {
			return true
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err := c.Read(make([]byte, 1))
		return err != nil && !isTimeout(err)
	}
	take := func() net.Conn {
		t.Helper()
		select {
		case c := <-accepted:
			return c
		case <-time.After(5 * time.Second):
			t.Fatal("nothing accepted")
			return nil
		}
	}

	a1, a2 := dial("127.0.0.1"), dial("127.0.0.1")
	s1, _ := take(), take()
	if a3 := dial("127.0.0.1"); !refused(a3) {
		t.Fatal("a third connection from one client was kept")
	}
	s1.Close()
	a1.Close()
	dial("127.0.0.1")
	take() // its place was given back
	_ = a2

	// The proxy is not held to the per-client cap, but to the total: two
	// more fill it.
	dial("127.0.0.3")
	dial("127.0.0.3")
	take()
	take()
	if p := dial("127.0.0.3"); !refused(p) {
		t.Fatal("a connection over the total was kept")
	}
	if o := dial("127.0.0.2"); !refused(o) {
		t.Fatal("another client got in over the total")
	}
}

// TestListenerNetworkCap: many clients of one network (IPv4 /24 here, IPv6
// /48 alike) hold at most half the total between them, so that one
// customer's addresses cannot fill it, and a client of another network
// still gets in.
func TestListenerNetworkCap(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// A limit of 8 files: 4 connections, 1 per client, 2 per network.
	ln := Listener(raw, Derive(8, 0, 0))
	defer ln.Close()
	accepted := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		for c := range accepted {
			c.Close()
		}
	})
	// kept dials from a loopback address and reports whether the server
	// kept the connection: a kept one is accepted and stays open.
	kept := func(from string) bool {
		t.Helper()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
		c, err := d.Dial("tcp", raw.Addr().String())
		if err != nil {
			return false
		}
		t.Cleanup(func() { c.Close() })
		// The server never writes: a read ends when it closes the
		// connection, or when the test does.
		closed := make(chan struct{})
		go func() {
			if _, err := c.Read(make([]byte, 1)); err != nil {
				close(closed)
			}
		}()
		select {
		case <-accepted:
			return true
		case <-closed:
			return false
		case <-time.After(5 * time.Second):
			t.Fatalf("a connection from %s was neither accepted nor closed", from)
			return false
		}
	}
	for _, from := range []string{"127.0.0.1", "127.0.0.2"} {
		if !kept(from) {
			t.Fatalf("%s was refused", from)
		}
	}
	if kept("127.0.0.3") {
		t.Fatal("a third client of 127.0.0.0/24 got in: one network filled more than half the total")
	}
	if !kept("127.0.1.1") {
		t.Fatal("a client of another network was refused")
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
