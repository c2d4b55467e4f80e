package probe

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
)

// serveTCP runs handle for every connection to a local listener until the
// test ends.
func serveTCP(t *testing.T, l net.Listener, handle func(c net.Conn)) string {
	t.Helper()
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				handle(c)
			}()
		}
	}()
	return l.Addr().String()
}

func listenTCP(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// pingServer answers a PING line with +PONG and anything else with an error.
func pingServer(c net.Conn) {
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return
	}
	if line == "PING\r\n" {
		c.Write([]byte("+PONG\r\n"))
	} else {
		c.Write([]byte("-ERR unknown command\r\n"))
	}
}

func TestTCP(t *testing.T) {
	ping := serveTCP(t, listenTCP(t), pingServer)
	banner := serveTCP(t, listenTCP(t), func(c net.Conn) {
		// The banner arrives in pieces, split inside the expected text.
		c.Write([]byte("SSH-2."))
		time.Sleep(20 * time.Millisecond)
		c.Write([]byte("0-OpenSSH_9.6\r\n"))
		time.Sleep(time.Second)
	})
	silent := serveTCP(t, listenTCP(t), func(c net.Conn) {
		c.Write([]byte("hello"))
		time.Sleep(2 * time.Second)
	})
	refused := closedAddr(t)

	tests := []struct {
		name    string
		spec    TCP
		timeout time.Duration
		wantOK  bool
		wantErr string
		want    nightowl.Facts
	}{
		{
			name:   "connect only",
			spec:   TCP{Addr: ping},
			wantOK: true,
			want:   nightowl.Facts{"connected": true, "response": nil},
		},
		{
			name:   "send and expect",
			spec:   TCP{Addr: ping, Send: "PING\r\n", Expect: "+PONG"},
			wantOK: true,
			want:   nightowl.Facts{"connected": true, "response": "+PONG\r\n"},
		},
		{
			name:    "expected text not in the answer",
			spec:    TCP{Addr: ping, Send: "HELLO\r\n", Expect: "+PONG"},
			wantErr: `expected "+PONG" from ` + ping + `, connection closed; read "-ERR unknown command\r\n"`,
			want:    nightowl.Facts{"connected": true, "response": "-ERR unknown command\r\n"},
		},
		{
			name:    "expected text never comes",
			spec:    TCP{Addr: silent, Expect: "world"},
			timeout: 300 * time.Millisecond,
			wantErr: `expected "world" from ` + silent + `, timed out after 300ms; read "hello"`,
			want:    nightowl.Facts{"connected": true, "response": "hello"},
		},
		{
			name:   "banner split across reads",
			spec:   TCP{Addr: banner, Expect: "SSH-2.0-"},
			wantOK: true,
			want:   nightowl.Facts{"connected": true, "response": "SSH-2.0-OpenSSH_9.6\r\n"},
		},
		{
			name:   "send without expect keeps the first answer",
			spec:   TCP{Addr: ping, Send: "PING\r\n"},
			wantOK: true,
			want:   nightowl.Facts{"connected": true, "response": "+PONG\r\n"},
		},
		{
			name:    "connection refused",
			spec:    TCP{Addr: refused},
			wantErr: "connect " + refused + ": connection refused",
			want:    nightowl.Facts{"connected": false, "response": nil},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			timeout := tt.timeout
			if timeout == 0 {
				timeout = 5 * time.Second
			}
			r := runProbe(t, nil, &tt.spec, timeout)
			checkError(t, r, tt.wantOK, tt.wantErr)
			if tt.wantErr != "" && r.Error != tt.wantErr {
				t.Errorf("Error = %q, want %q", r.Error, tt.wantErr)
			}
			checkFacts(t, r.Facts, tt.want)
		})
	}
}

func TestTCPWithTLS(t *testing.T) {
	ca := newTestCA(t, "tcp test CA")
	conf := &tls.Config{Certificates: []tls.Certificate{
		ca.issue(t, leafOpts{ips: localhost, expires: 24 * time.Hour}),
	}}
	l := tls.NewListener(listenTCP(t), conf)
	addr := serveTCP(t, l, pingServer)

	// tcp checks verify against the system's roots, which do not hold the
	// test CA: the handshake fails after the connection was made.
	r := runProbe(t, nil, &TCP{Addr: addr, TLS: true, Send: "PING\r\n", Expect: "+PONG"}, 5*time.Second)
	want := "tls handshake with " + addr + ": x509: certificate signed by unknown authority"
	if r.OK || !strings.HasPrefix(r.Error, want) {
		t.Errorf("OK, Error = %v, %q; want false, %q", r.OK, r.Error, want)
	}
	checkFacts(t, r.Facts, nightowl.Facts{"connected": true, "response": nil})

	t.Run("trusted", func(t *testing.T) {
		p, err := (&TCP{Addr: addr, TLS: true, Send: "PING\r\n", Expect: "+PONG"}).Prober(Env{})
		if err != nil {
			t.Fatal(err)
		}
		// No key of the tcp block names a CA; trust the test CA directly.
		p.(*tcpProber).tls.RootCAs = x509.NewCertPool()
		p.(*tcpProber).tls.RootCAs.AddCert(ca.cert)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		r := p.Probe(ctx)
		checkError(t, r, true, "")
		checkFacts(t, r.Facts, nightowl.Facts{"connected": true, "response": "+PONG\r\n"})
	})
}
