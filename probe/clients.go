package probe

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// Clients holds what probers share so that a large number of checks costs
// little: one HTTP transport (and its pool of keep-alive connections) per
// distinct TLS setting, parsed CA bundles, read buffers and the system's DNS
// resolver. The zero value is not ready; use NewClients. It is safe for
// concurrent use.
type Clients struct {
	mu      sync.Mutex
	clients map[clientKey]*clientPair
	pools   map[[sha256.Size]byte]*x509.CertPool

	resolver    string
	resolvStamp resolvStamp

	// bufs holds *[]byte of bodyLimit bytes: reading a body into a reused
	// buffer leaves one allocation per result, the string kept as the fact.
	bufs sync.Pool
}

// NewClients returns an empty set of shared clients.
func NewClients() *Clients {
	c := &Clients{
		clients: map[clientKey]*clientPair{},
		pools:   map[[sha256.Size]byte]*x509.CertPool{},
	}
	c.bufs.New = func() any { b := make([]byte, bodyLimit); return &b }
	return c
}

// orNew lets a nil *Clients in Env work: such a prober gets a private set.
func (c *Clients) orNew() *Clients {
	if c == nil {
		return NewClients()
	}
	return c
}

// CloseIdle closes the idle keep-alive connections of every transport, for
// instance after a reload removed the checks that used them.
func (c *Clients) CloseIdle() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.clients {
		p.transport.CloseIdleConnections()
	}
}

// clientKey identifies a TLS setting. The CA bundle is keyed by content, not
// path, so that a reload after the file changed gets a transport that trusts
// the new bundle.
type clientKey struct {
	insecure bool
	ca       [sha256.Size]byte
}

// clientPair shares one transport between the two redirect policies.
type clientPair struct {
	transport *http.Transport
	follow    *http.Client
	noFollow  *http.Client
}

// httpClient returns the shared client for a TLS setting. ca is the PEM
// content of a ca_file, nil for none.
func (c *Clients) httpClient(insecure bool, ca []byte, followRedirects bool) (*http.Client, error) {
	var key clientKey
	key.insecure = insecure
	if ca != nil && !insecure {
		key.ca = sha256.Sum256(ca)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.clients[key]
	if !ok {
		conf := &tls.Config{InsecureSkipVerify: insecure}
		if ca != nil && !insecure {
			pool, err := c.certPoolLocked(ca)
			if err != nil {
				return nil, err
			}
			conf.RootCAs = pool
		}
		p = newClientPair(conf)
		c.clients[key] = p
	}
	if followRedirects {
		return p.follow, nil
	}
	return p.noFollow, nil
}

func newClientPair(conf *tls.Config) *clientPair {
	dialer := &net.Dialer{KeepAlive: 30 * time.Second}
	t := &http.Transport{
		Proxy:           http.ProxyFromEnvironment,
		DialContext:     dialer.DialContext,
		TLSClientConfig: conf,
		// A custom TLS config turns HTTP/2 off unless asked for; many checks
		// against one host then share one multiplexed connection.
		ForceAttemptHTTP2: true,
		// Many checks against one host run at about the same time, up to
		// the engine's concurrency (256 by default). Keeping that many idle
		// connections, instead of Go's default of 2, lets every run find a
		// warm connection instead of paying for a new one and its handshake.
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   30 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	return &clientPair{
		transport: t,
		follow:    &http.Client{Transport: t},
		noFollow: &http.Client{Transport: t, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}},
	}
}

// certPool returns the system roots plus the certificates of a PEM bundle,
// parsed once per distinct bundle.
func (c *Clients) certPool(ca []byte) (*x509.CertPool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.certPoolLocked(ca)
}

func (c *Clients) certPoolLocked(ca []byte) (*x509.CertPool, error) {
	sum := sha256.Sum256(ca)
	if p, ok := c.pools[sum]; ok {
		return p, nil
	}
	// ca_file adds roots to the system's rather than replacing them, so that
	// a check that follows a redirect to a public site still verifies it.
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(ca) {
		return nil, errors.New("no PEM certificates found")
	}
	c.pools[sum] = pool
	return pool, nil
}

// readCAFile reads a ca_file and returns its pool of roots; nil for no file.
func (c *Clients) readCAFile(path string) ([]byte, *x509.CertPool, error) {
	if path == "" {
		return nil, nil, nil
	}
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read ca_file: %w", err)
	}
	pool, err := c.certPool(pem)
	if err != nil {
		return nil, nil, fmt.Errorf("ca_file %s: %w", path, err)
	}
	return pem, pool, nil
}

func (c *Clients) getBuf() *[]byte  { return c.bufs.Get().(*[]byte) }
func (c *Clients) putBuf(b *[]byte) { c.bufs.Put(b) }

const resolvConf = "/etc/resolv.conf"

// resolvStamp tells whether resolv.conf changed since it was last read.
type resolvStamp struct {
	mod  time.Time
	size int64
	read bool
}

// systemResolver returns the first nameserver of /etc/resolv.conf as
// host:port, or 127.0.0.1:53 when there is none. The file is read again only
// when it changed, so that many DNS checks without a resolver do not read it
// once each.
func (c *Clients) systemResolver() string {
	var stamp resolvStamp
	if fi, err := os.Stat(resolvConf); err == nil {
		stamp = resolvStamp{mod: fi.ModTime(), size: fi.Size(), read: true}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.resolver != "" && c.resolvStamp == stamp {
		return c.resolver
	}
	c.resolver = "127.0.0.1:53"
	c.resolvStamp = stamp
	if conf, err := dns.ClientConfigFromFile(resolvConf); err == nil && len(conf.Servers) > 0 {
		c.resolver = net.JoinHostPort(conf.Servers[0], conf.Port)
	}
	return c.resolver
}
