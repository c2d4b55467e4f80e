package probe

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/expr-lang/expr/types"

	"github.com/nightowl/nightowl"
)

// HTTP is the http block of a check.
type HTTP struct {
	URL     string            `yaml:"url"`
	Method  string            `yaml:"method"`
	Headers map[string]string `yaml:"headers"`
	Body    string            `yaml:"body"`
	// FollowRedirects defaults to true; nil means unset.
	FollowRedirects *bool `yaml:"follow_redirects"`
	// InsecureSkipVerify turns off certificate verification.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
	// CAFile is a PEM bundle of extra roots to trust, relative to the config.
	CAFile      string     `yaml:"ca_file" path:"true"`
	BasicAuth   *BasicAuth `yaml:"basic_auth"`
	BearerToken string     `yaml:"bearer_token" secret:"true"`
	// KeepHeaders names response headers whose values are kept in the
	// headers fact although their names say they carry credentials.
	KeepHeaders []string `yaml:"keep_headers"`
}

// BasicAuth is HTTP basic authentication.
type BasicAuth struct {
	Username string `yaml:"username"`
	Password string `yaml:"password" secret:"true"`
}

var httpFacts = types.Map{
	"status":         types.Int,
	"body":           types.String,
	"headers":        types.Map{types.Extra: types.String},
	"json":           types.Any,
	"duration":       types.Float,
	"cert_days_left": types.Float,
}

var httpMethods = map[string]bool{"GET": true, "HEAD": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true, "OPTIONS": true}

// Validate checks the block.
func (h *HTTP) Validate() []FieldError {
	var errs []FieldError
	if h.URL == "" {
		errs = append(errs, FieldError{Key: "url", Message: "required"})
	} else if u, err := url.Parse(h.URL); err != nil {
		errs = append(errs, FieldError{Key: "url", Message: "not a valid URL"})
	} else if u.Scheme != "http" && u.Scheme != "https" {
		errs = append(errs, FieldError{Key: "url", Message: `scheme must be "http" or "https"`})
	} else if u.Host == "" {
		errs = append(errs, FieldError{Key: "url", Message: "has no host"})
	}
	h.Method = strings.ToUpper(h.Method)
	if !httpMethods[h.Method] {
		errs = append(errs, FieldError{Key: "method", Message: "must be one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"})
	}
	if h.BasicAuth != nil && h.BearerToken != "" {
		errs = append(errs, FieldError{Key: "bearer_token", Message: "cannot be combined with basic_auth"})
	}
	seen := map[string]bool{}
	for i, name := range h.KeepHeaders {
		key := fmt.Sprintf("keep_headers[%d]", i)
		switch lower := strings.ToLower(name); {
		case !validHeaderName(name):
			errs = append(errs, FieldError{Key: key, Message: fmt.Sprintf("%q is not a header name", name)})
		case seen[lower]:
			errs = append(errs, FieldError{Key: key, Message: fmt.Sprintf("%s is listed twice", name)})
		case !sensitiveHeader(lower) && !urlHeader(lower):
			errs = append(errs, FieldError{Key: key, Message: fmt.Sprintf("%s is kept anyway: only headers that would be redacted need listing", name)})
		default:
			seen[lower] = true
		}
	}
	return errs
}

// Redacted is what the headers fact holds in place of the value of a
// header that carries credentials: the header is there, its value is not.
const Redacted = "[redacted]"

// sensitiveHeader reports whether a response header, by its lower-case
// name, may carry a credential: a cookie, a session, a token, a key. Its
// value is kept out of the facts, which are stored and shown to every
// viewer, unless the check lists it in keep_headers. The challenges
// WWW-Authenticate and Proxy-Authenticate name a scheme and a realm, not a
// secret, and are kept.
func sensitiveHeader(lower string) bool {
	switch lower {
	case "authorization", "proxy-authorization", "authentication-info", "proxy-authentication-info",
		"x-api-key", "api-key", "x-amz-security-token":
		return true
	}
	for _, word := range sensitiveWords {
		if strings.Contains(lower, word) {
			return true
		}
	}
	return false
}

// urlHeader reports whether a response header, by its lower-case name,
// holds a URL whose query, fragment or user information may carry a
// credential: a redirect to "?code=…" after a sign-in, a magic link's
// token. Those parts are Redacted; the scheme, host and path, which
// assertions on redirects read, are kept.
func urlHeader(lower string) bool {
	return lower == "location" || lower == "content-location" || lower == "refresh"
}

// redactURL returns the URL reference s with its user information, query
// and fragment Redacted; Redacted whole when it cannot be read as a URL.
func redactURL(s string) string {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil {
		return Redacted
	}
	if u.Opaque != "" {
		// mailto:, data: and the like: no path to keep.
		return u.Scheme + ":" + Redacted
	}
	var b strings.Builder
	if u.Scheme != "" {
		b.WriteString(u.Scheme + ":")
	}
	if u.Host != "" || u.User != nil {
		b.WriteString("//")
		if u.User != nil {
			b.WriteString(Redacted + "@")
		}
		b.WriteString(u.Host)
	}
	b.WriteString(u.EscapedPath())
	if u.RawQuery != "" || u.ForceQuery {
		b.WriteString("?" + Redacted)
	}
	if u.Fragment != "" {
		b.WriteString("#" + Redacted)
	}
	return b.String()
}

// redactRefresh redacts the URL of a Refresh header ("5; url=/next?t=…"),
// keeping its delay and how it was written.
func redactRefresh(s string) string {
	// As browsers read it: a delay, then maybe ";" or ",", then the URL,
	// maybe after "url=", maybe quoted.
	i := 0
	skip := func(set string) {
		for i < len(s) && strings.IndexByte(set, s[i]) >= 0 {
			i++
		}
	}
	skip(" \t")
	skip("0123456789.")
	skip(" \t")
	if i < len(s) && (s[i] == ';' || s[i] == ',') {
		i++
	}
	skip(" \t")
	head, rest := s[:i], s[i:]
	if len(rest) >= 3 && strings.EqualFold(rest[:3], "url") {
		if eq := strings.TrimLeft(rest[3:], " \t"); strings.HasPrefix(eq, "=") {
			val := strings.TrimLeft(eq[1:], " \t")
			head += rest[:len(rest)-len(val)]
			rest = val
		}
	}
	if rest == "" {
		return s
	}
	if q := rest[0]; q == '"' || q == '\'' {
		inner, tail, _ := strings.Cut(rest[1:], string(q))
		out := head + string(q) + redactURL(inner) + string(q)
		if strings.TrimSpace(tail) != "" {
			out += " " + Redacted // whatever follows is no part of the URL browsers read
		}
		return out
	}
	return head + redactURL(rest)
}

// sensitiveWords in a header's name mark it as carrying a credential.
var sensitiveWords = []string{"cookie", "session", "token", "secret", "password", "passwd", "credential", "apikey", "api-key", "auth-key"}

// validHeaderName reports whether s is a header field name: one or more
// token characters (RFC 9110, section 5.1).
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r >= 0x80 || !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("!#$%&'*+-.^_`|~", r)) {
			return false
		}
	}
	return true
}

// bodyLimit is how much of a body becomes the body fact; drainLimit is how
// much more is read and thrown away so that the connection can be reused.
// Beyond that, closing the connection is cheaper than reading on.
const (
	bodyLimit  = 64 << 10
	drainLimit = 256 << 10
)

// Prober builds the request once; every run sends a shallow copy of it over
// the transport shared by checks with the same TLS settings.
func (h *HTTP) Prober(env Env) (nightowl.Prober, error) {
	clients := env.Clients.orNew()
	var ca []byte
	if h.CAFile != "" {
		pem, _, err := clients.readCAFile(h.CAFile)
		if err != nil {
			return nil, err
		}
		ca = pem
	}
	follow := h.FollowRedirects == nil || *h.FollowRedirects
	client, err := clients.httpClient(h.InsecureSkipVerify, ca, follow)
	if err != nil {
		return nil, err
	}
	method := strings.ToUpper(h.Method)
	if method == "" {
		method = http.MethodGet
	}
	var body io.Reader
	if h.Body != "" {
		body = strings.NewReader(h.Body)
	}
	req, err := http.NewRequest(method, h.URL, body)
	if err != nil {
		// The URL may hold credentials, so the error does not repeat it.
		return nil, errors.New("url: not a valid URL")
	}
	for k, v := range h.Headers {
		if strings.EqualFold(k, "host") {
			// Go sends req.Host and ignores a Host header.
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", userAgent)
	}
	if h.BasicAuth != nil {
		req.SetBasicAuth(h.BasicAuth.Username, h.BasicAuth.Password)
	}
	if h.BearerToken != "" {
		req.Header.Set("Authorization", "Bearer "+h.BearerToken)
	}
	var keep map[string]bool
	for _, name := range h.KeepHeaders {
		if keep == nil {
			keep = map[string]bool{}
		}
		keep[strings.ToLower(name)] = true
	}
	return &httpProber{clients: clients, client: client, tmpl: req, keep: keep}, nil
}

type httpProber struct {
	clients *Clients
	client  *http.Client
	// tmpl is never sent itself, and neither it nor its header map is
	// written after Prober returns, so concurrent runs may share them.
	tmpl *http.Request
	// keep holds the lower-case names of the sensitive headers whose
	// values the check keeps (keep_headers); read-only.
	keep map[string]bool
}

func (p *httpProber) Probe(ctx context.Context) (r nightowl.Result) {
	start := time.Now()
	facts := make(nightowl.Facts, 6)
	facts["status"] = nil
	facts["body"] = nil
	facts["headers"] = nil
	facts["json"] = nil
	facts["cert_days_left"] = nil
	r.Facts = facts

	req := p.tmpl.WithContext(ctx)
	if p.tmpl.GetBody != nil {
		body, err := p.tmpl.GetBody()
		if err != nil {
			return finish(r, start, "http request: "+err.Error())
		}
		req.Body = body
	}
	resp, err := p.client.Do(req)
	if err != nil {
		if resp != nil {
			// A redirect that was not followed (a loop, say): its body is
			// closed already, but status and headers tell where it led.
			facts["status"] = resp.StatusCode
			facts["headers"] = headerFacts(resp.Header, p.keep)
		}
		return finish(r, start, httpError(ctx, err, start))
	}
	facts["status"] = resp.StatusCode
	facts["headers"] = headerFacts(resp.Header, p.keep)
	if resp.TLS != nil && len(resp.TLS.PeerCertificates) > 0 {
		facts["cert_days_left"] = daysLeft(resp.TLS.PeerCertificates[0].NotAfter)
	}

	buf := p.clients.getBuf()
	n, rerr := readFull(resp.Body, *buf)
	b := (*buf)[:n]
	facts["body"] = string(b)
	if rerr == nil && looksJSON(resp.Header.Get("Content-Type"), b) {
		var v any
		if json.Unmarshal(b, &v) == nil {
			facts["json"] = v
		}
	}
	p.clients.putBuf(buf)
	if rerr == nil && n == bodyLimit {
		io.CopyN(io.Discard, resp.Body, drainLimit)
	}
	resp.Body.Close()
	if rerr != nil {
		return finish(r, start, "read body: "+reason(ctx, rerr, start))
	}
	return finish(r, start, "")
}

// readFull reads into buf until it is full or the body ends; a body that
// ends is not an error.
func readFull(body io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := body.Read(buf[n:])
		n += m
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// looksJSON reports whether a body should be parsed: a JSON content type
// (application/json, application/problem+json, …), or a body that starts
// like an object or array from a server that labels JSON as text.
func looksJSON(contentType string, body []byte) bool {
	if mt, _, _ := strings.Cut(contentType, ";"); strings.Contains(strings.ToLower(mt), "json") {
		return true
	}
	body = bytes.TrimLeft(body, " \t\r\n")
	return len(body) > 0 && (body[0] == '{' || body[0] == '[')
}

// headerFacts lower-cases the names and joins repeated values with ", ", so
// that assertions read headers["content-type"] whatever the server sent.
// The values of headers that carry credentials are Redacted, and so are
// the query, fragment and user information of the URLs in Location,
// Content-Location and Refresh, unless keep names them: facts are stored,
// and shown to everyone who may read checks.
func headerFacts(h http.Header, keep map[string]bool) map[string]any {
	m := make(map[string]any, len(h))
	for k, vs := range h {
		lk, ok := lowerHeaders[k]
		if !ok {
			lk = strings.ToLower(k)
		}
		switch {
		case keep[lk]:
			m[lk] = strings.Join(vs, ", ")
		case sensitiveHeader(lk):
			m[lk] = Redacted
		case urlHeader(lk):
			out := make([]string, len(vs))
			for i, v := range vs {
				if lk == "refresh" {
					out[i] = redactRefresh(v)
				} else {
					out[i] = redactURL(v)
				}
			}
			m[lk] = strings.Join(out, ", ")
		case len(vs) == 1:
			m[lk] = vs[0]
		default:
			m[lk] = strings.Join(vs, ", ")
		}
	}
	return m
}

// lowerHeaders spares the common response headers an allocation each on
// every run.
var lowerHeaders = map[string]string{}

func init() {
	for _, k := range []string{"Accept-Ranges", "Age", "Cache-Control", "Connection", "Content-Encoding",
		"Content-Language", "Content-Length", "Content-Security-Policy", "Content-Type", "Date", "Etag",
		"Expires", "Keep-Alive", "Last-Modified", "Location", "Pragma", "Server", "Set-Cookie",
		"Strict-Transport-Security", "Transfer-Encoding", "Vary", "Via", "Www-Authenticate",
		"X-Content-Type-Options", "X-Frame-Options", "X-Powered-By", "X-Request-Id"} {
		lowerHeaders[k] = strings.ToLower(k)
	}
}

// httpError describes a failed request without its URL, which may carry
// credentials in its user info or query.
func httpError(ctx context.Context, err error, start time.Time) string {
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return reason(ctx, err, start)
	}
	if timedOut(ctx, err) {
		return "http request " + timeoutText(ctx, start)
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		return "http request canceled"
	}
	host := ""
	var uerr *url.Error
	if errors.As(err, &uerr) {
		if u, perr := url.Parse(uerr.URL); perr == nil {
			host = hostPort(u)
		}
	}
	var verr *tls.CertificateVerificationError
	switch {
	case uerr != nil && strings.HasPrefix(uerr.Err.Error(), "failed to parse Location header"):
		// net/http's message quotes the Location, query and all.
		return "http request: the server redirected to a Location that is not a valid URL"
	case errors.As(err, &verr):
		name, _, _ := net.SplitHostPort(host)
		return "verify certificate of " + name + ": " + verr.Err.Error()
	case dialPhase(err) && host != "":
		return connectError(ctx, host, err, start)
	}
	return "http request: " + reason(ctx, err, start)
}

// hostPort is the host:port a URL connects to.
func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	if u.Scheme == "https" {
		return net.JoinHostPort(u.Hostname(), "443")
	}
	return net.JoinHostPort(u.Hostname(), "80")
}
