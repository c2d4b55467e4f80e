package probe

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"time"

	"github.com/expr-lang/expr/types"

	"github.com/nightowl/nightowl"
)

// TCP is the tcp block of a check: connect, optionally send a line and read
// until expect is seen.
type TCP struct {
	Addr   string `yaml:"addr"`
	Send   string `yaml:"send"`
	Expect string `yaml:"expect"`
	TLS    bool   `yaml:"tls"`
}

var tcpFacts = types.Map{
	"connected": types.Bool,
	"duration":  types.Float,
	"response":  types.String,
}

// Validate checks the block.
func (t *TCP) Validate() []FieldError {
	return validAddr("addr", t.Addr)
}

func validAddr(key, addr string) []FieldError {
	if addr == "" {
		return []FieldError{{Key: key, Message: "required"}}
	}
	if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
		return []FieldError{{Key: key, Message: "must be host:port"}}
	}
	return nil
}

// responseLimit bounds how much a tcp check reads while it waits for expect.
const responseLimit = 64 << 10

// Prober prepares the TLS configuration, the only thing a tcp check can set
// up ahead of its runs. Without ca_file or insecure_skip_verify keys, TLS is
// verified against the system's roots for the host of addr.
func (t *TCP) Prober(env Env) (nightowl.Prober, error) {
	p := &tcpProber{addr: t.Addr, send: []byte(t.Send), expect: []byte(t.Expect)}
	if t.TLS {
		host, _, err := net.SplitHostPort(t.Addr)
		if err != nil {
			return nil, fmt.Errorf("addr: %w", err)
		}
		p.tls = &tls.Config{ServerName: host}
	}
	return p, nil
}

type tcpProber struct {
	addr   string
	send   []byte
	expect []byte
	tls    *tls.Config // nil for plain TCP
}

func (p *tcpProber) Probe(ctx context.Context) (r nightowl.Result) {
	start := time.Now()
	r.Facts = nightowl.Facts{"connected": false, "response": nil}

	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", p.addr)
	if err != nil {
		return finish(r, start, connectError(ctx, p.addr, err, start))
	}
	defer conn.Close()
	defer closeOnCancel(ctx, conn)()
	setDeadline(ctx, conn)
	r.Facts["connected"] = true

	if p.tls != nil {
		tc := tls.Client(conn, p.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			return finish(r, start, "tls handshake with "+p.addr+": "+reason(ctx, err, start))
		}
		conn = tc
	}
	if len(p.send) == 0 && len(p.expect) == 0 {
		return finish(r, start, "")
	}
	if len(p.send) > 0 {
		if _, err := conn.Write(p.send); err != nil {
			return finish(r, start, "send to "+p.addr+": "+reason(ctx, err, start))
		}
	}

	buf, found, rerr := p.read(conn)
	r.Facts["response"] = string(buf)
	if len(p.expect) > 0 && !found {
		var why string
		switch {
		case rerr == nil:
			why = "gave up after reading 64 KiB"
		case errors.Is(rerr, io.EOF):
			why = "connection closed"
		default:
			why = reason(ctx, rerr, start)
		}
		return finish(r, start, fmt.Sprintf("expected %q from %s, %s; read %q", p.expect, p.addr, why, truncate(string(buf), 200)))
	}
	// With send but no expect any answer will do, none included: the check
	// asked only that the server took the bytes.
	if rerr != nil && !errors.Is(rerr, io.EOF) && !timedOut(ctx, rerr) {
		return finish(r, start, "read from "+p.addr+": "+reason(ctx, rerr, start))
	}
	return finish(r, start, "")
}

// read reads until expect is seen, or, without expect, until the first bytes
// arrive; at most responseLimit bytes. err is nil when it stopped for either
// reason or at the limit.
func (p *tcpProber) read(conn net.Conn) (buf []byte, found bool, err error) {
	buf = make([]byte, 0, 512)
	for len(buf) < responseLimit {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, len(buf))
		}
		n, rerr := conn.Read(buf[len(buf):min(cap(buf), responseLimit)])
		// Search only the new bytes and the few before them that a match
		// straddling two reads could start in.
		from := max(0, len(buf)-len(p.expect)+1)
		buf = buf[:len(buf)+n]
		if len(p.expect) > 0 && bytes.Contains(buf[from:], p.expect) {
			return buf, true, nil
		}
		if len(p.expect) == 0 && len(buf) > 0 {
			return buf, false, nil
		}
		if rerr != nil {
			return buf, false, rerr
		}
	}
	return buf, false, nil
}
