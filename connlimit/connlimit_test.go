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
		name            string
		limit           uint64
		max, per        int
		wantMax, wantPC int
	}{
		{"a small limit", 256, 0, 0, 128, 32},
		{"a common limit", 1024, 0, 0, 512, 128},
		{"a large limit", 1 << 20, 0, 0, 1 << 19, DefaultPerClient},
		{"no limit", ^uint64(0), 0, 0, 1 << 30, DefaultPerClient},
		{"a tiny limit", 1, 0, 0, 1, 1},
		{"given caps win", 1024, 100, 10, 100, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := Derive(tc.limit, tc.max, tc.per)
			if o.Max != tc.wantMax || o.PerClient != tc.wantPC {
				t.Errorf("Derive = %d, %d; want %d, %d", o.Max, o.PerClient, tc.wantMax, tc.wantPC)
			}
		})
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

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
