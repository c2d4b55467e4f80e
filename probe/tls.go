package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"net"
	"time"

	"github.com/expr-lang/expr/types"

	"github.com/nightowl/nightowl"
)

// TLS is the tls block of a check: a handshake and a look at the certificate.
type TLS struct {
	Addr       string `yaml:"addr"`
	ServerName string `yaml:"server_name"` // SNI and the name verified; the host of addr by default
	// InsecureSkipVerify reports the certificate's dates even when it does not verify.
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
	CAFile             string `yaml:"ca_file" path:"true"`
}

var tlsFacts = types.Map{
	"cert_days_left": types.Float,
	"issuer":         types.String,
	"subject":        types.String,
	"duration":       types.Float,
}

// Validate checks the block.
func (t *TLS) Validate() []FieldError {
	return validAddr("addr", t.Addr)
}

// Prober reads ca_file once.
func (t *TLS) Prober(env Env) (nightowl.Prober, error) {
	host, _, err := net.SplitHostPort(t.Addr)
	if err != nil {
		return nil, fmt.Errorf("addr: %w", err)
	}
	name := t.ServerName
	if name == "" {
		name = host
	}
	var roots *x509.CertPool
	if t.CAFile != "" {
		if _, roots, err = env.Clients.orNew().readCAFile(t.CAFile); err != nil {
			return nil, err
		}
	}
	return &tlsProber{
		addr:     t.Addr,
		name:     name,
		insecure: t.InsecureSkipVerify,
		roots:    roots,
		// The handshake itself never rejects the certificate: a check of a
		// certificate that fails verification should still say when it
		// expires and who issued it. Probe verifies the chain afterwards.
		conf: &tls.Config{ServerName: name, InsecureSkipVerify: true},
	}, nil
}

type tlsProber struct {
	addr     string
	name     string
	insecure bool
	roots    *x509.CertPool // nil for the system's
	conf     *tls.Config
}

func (p *tlsProber) Probe(ctx context.Context) (r nightowl.Result) {
	start := time.Now()
	r.Facts = nightowl.Facts{"cert_days_left": nil, "issuer": nil, "subject": nil}

	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", p.addr)
	if err != nil {
		return finish(r, start, connectError(ctx, p.addr, err, start))
	}
	defer conn.Close()
	defer closeOnCancel(ctx, conn)()
	setDeadline(ctx, conn)

	tc := tls.Client(conn, p.conf)
	if err := tc.HandshakeContext(ctx); err != nil {
		return finish(r, start, "tls handshake with "+p.addr+": "+reason(ctx, err, start))
	}
	certs := tc.ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return finish(r, start, "tls handshake with "+p.addr+": the server sent no certificate")
	}
	leaf := certs[0]
	r.Facts["cert_days_left"] = daysLeft(leaf.NotAfter)
	r.Facts["issuer"] = dnText(leaf.Issuer)
	r.Facts["subject"] = dnText(leaf.Subject)
	if p.insecure {
		return finish(r, start, "")
	}
	opts := x509.VerifyOptions{DNSName: p.name, Roots: p.roots, Intermediates: x509.NewCertPool()}
	for _, c := range certs[1:] {
		opts.Intermediates.AddCert(c)
	}
	if _, err := leaf.Verify(opts); err != nil {
		return finish(r, start, "verify certificate of "+p.name+": "+err.Error())
	}
	return finish(r, start, "")
}

// dnText is the common name, which is how people tell certificates apart,
// or the whole distinguished name when there is none.
func dnText(n pkix.Name) string {
	if n.CommonName != "" {
		return n.CommonName
	}
	return n.String()
}
