package probe

import (
	"crypto/tls"
	"crypto/x509/pkix"
	"math"
	"net"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
)

// serveTLS answers TLS handshakes with cert until the test ends.
func serveTLS(t *testing.T, cert tls.Certificate) string {
	t.Helper()
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	return serveTCP(t, l, func(c net.Conn) { c.(*tls.Conn).Handshake() })
}

func TestTLS(t *testing.T) {
	root := newTestCA(t, "nightowl test root")
	inter := root.intermediate(t, "nightowl test intermediate")
	caFile := root.caFile(t)
	leaf := leafOpts{subject: pkix.Name{CommonName: "leaf.test"}, dnsNames: []string{"leaf.test"}, ips: localhost}
	with := func(o leafOpts, expires time.Duration) leafOpts { o.expires = expires; return o }

	valid := serveTLS(t, inter.issue(t, with(leaf, 90*24*time.Hour)))
	soon := serveTLS(t, inter.issue(t, with(leaf, 5*24*time.Hour)))
	expired := serveTLS(t, inter.issue(t, with(leaf, -2*24*time.Hour)))
	noCN := serveTLS(t, root.issue(t, leafOpts{subject: pkix.Name{Organization: []string{"Example"}}, ips: localhost, expires: 24 * time.Hour}))
	refused := closedAddr(t)

	tests := []struct {
		name     string
		spec     TLS
		wantOK   bool
		wantErr  string
		wantDays float64
		want     nightowl.Facts
	}{
		{
			name:     "valid chain through an intermediate",
			spec:     TLS{Addr: valid, CAFile: caFile},
			wantOK:   true,
			wantDays: 90,
			want:     nightowl.Facts{"subject": "leaf.test", "issuer": "nightowl test intermediate"},
		},
		{
			name:     "server_name is verified",
			spec:     TLS{Addr: valid, ServerName: "leaf.test", CAFile: caFile},
			wantOK:   true,
			wantDays: 90,
		},
		{
			name:     "near expiry is still valid",
			spec:     TLS{Addr: soon, CAFile: caFile},
			wantOK:   true,
			wantDays: 5,
		},
		{
			name:     "expired",
			spec:     TLS{Addr: expired, CAFile: caFile},
			wantErr:  "verify certificate of 127.0.0.1: x509: certificate has expired or is not yet valid",
			wantDays: -2,
			want:     nightowl.Facts{"subject": "leaf.test"},
		},
		{
			name:     "wrong host name keeps the facts",
			spec:     TLS{Addr: valid, ServerName: "other.test", CAFile: caFile},
			wantErr:  "verify certificate of other.test: x509: certificate is valid for leaf.test, not other.test",
			wantDays: 90,
			want:     nightowl.Facts{"subject": "leaf.test", "issuer": "nightowl test intermediate"},
		},
		{
			name:     "unknown authority",
			spec:     TLS{Addr: valid},
			wantErr:  "verify certificate of 127.0.0.1: x509: certificate signed by unknown authority",
			wantDays: 90,
		},
		{
			name:     "insecure_skip_verify reports an expired certificate",
			spec:     TLS{Addr: expired, InsecureSkipVerify: true},
			wantOK:   true,
			wantDays: -2,
		},
		{
			name:     "subject without a common name",
			spec:     TLS{Addr: noCN, CAFile: caFile},
			wantOK:   true,
			wantDays: 1,
			want:     nightowl.Facts{"subject": "O=Example", "issuer": "nightowl test root"},
		},
		{
			name:    "connection refused",
			spec:    TLS{Addr: refused},
			wantErr: "connect " + refused + ": connection refused",
			want:    nightowl.Facts{"cert_days_left": nil, "subject": nil, "issuer": nil},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runProbe(t, nil, &tt.spec, 5*time.Second)
			checkError(t, r, tt.wantOK, tt.wantErr)
			checkFacts(t, r.Facts, tt.want)
			if tt.wantDays != 0 {
				if d, ok := r.Facts["cert_days_left"].(float64); !ok || math.Abs(d-tt.wantDays) > 0.01 {
					t.Errorf("cert_days_left = %#v, want about %v", r.Facts["cert_days_left"], tt.wantDays)
				}
			}
		})
	}
}

func TestTLSProberErrors(t *testing.T) {
	_, err := (&TLS{Addr: "127.0.0.1:443", CAFile: "/nonexistent/ca.pem"}).Prober(Env{})
	if want := "read ca_file: open /nonexistent/ca.pem: no such file or directory"; err == nil || err.Error() != want {
		t.Errorf("Prober() error = %v, want %q", err, want)
	}
}
