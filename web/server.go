package web

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nightowl/nightowl/web/internal/kit"
)

// Timeouts of the server: a client that holds a connection open without
// sending, or without reading what it is sent, loses it.
const (
	// ReadHeaderTimeout bounds the request line and headers.
	ReadHeaderTimeout = 10 * time.Second
	// ReadTimeout bounds a whole request, its body included: no route
	// takes more than a ping's log or a form. Net/http lifts it once the
	// body is read, so a handler may then run as long as it needs.
	ReadTimeout = 30 * time.Second
	// WriteTimeout bounds a request from the end of its headers to the end
	// of the answer. Handlers that wait on a run (a check, an action, a
	// reload) move it with kit.LongWrite.
	WriteTimeout = kit.WriteTimeout
	// IdleTimeout closes a kept-alive connection with no request. Longer
	// than the 60 seconds after which load balancers and reverse proxies
	// commonly drop their idle connections to a backend, so that the
	// proxy, not the server, closes first and no request is sent on a
	// connection the server is closing.
	IdleTimeout = 2 * time.Minute
)

// NewServer returns the HTTP server for Handler(opts), with the timeouts
// above.
func NewServer(opts Options) *http.Server {
	return &http.Server{
		Handler:           Handler(opts),
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    64 << 10,
	}
}

// bounded gives every request a deadline, d: what a handler waits on (the
// store above all, which may hang rather than refuse) ends with the
// request's time, instead of holding the handler after the client is
// gone. A route that waits on a run has a longer d (Route.Long).
func bounded(h http.Handler, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

// pingPattern is the route of the ping URLs.
const pingPattern = "/ping/"

// boundBody applies kit.LimitBody to every request of h.
func boundBody(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := kit.LimitBody(w, r); err != nil {
			kit.WriteError(w, err)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// hstsValue asks browsers to use https for this host for a year. It leaves
// out includeSubDomains: other services on sibling names are not this
// server's to decide for.
const hstsValue = "max-age=31536000"

// frameDeny is the part of a Content-Security-Policy that keeps a page out
// of other sites' frames, against clickjacking of its buttons.
const frameDeny = "frame-ancestors 'none'"

// noFrames reports whether path is a page with buttons that act: the
// dashboard, the sign-in form and the acknowledgement page.
func noFrames(path string) bool {
	return path == "/admin" || strings.HasPrefix(path, "/admin/") || path == "/login" || path == "/logout" ||
		strings.HasPrefix(path, "/ack/")
}

// secureHeaders sets the headers every answer carries: nosniff always;
// on the pages of noFrames a frame-ancestors 'none' (added to the page's
// own policy, if it has one) and X-Frame-Options for older browsers; and
// Strict-Transport-Security when people reach the server over https:
// the request came over TLS, or server.public_url is https and the request
// came through a trusted proxy (which is what terminates TLS there).
func (a *api) secureHeaders(h http.Handler) http.Handler {
	httpsURL := strings.HasPrefix(a.publicURL, "https://")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hdr := w.Header()
		hdr.Set("X-Content-Type-Options", "nosniff")
		if r.TLS != nil || httpsURL && a.fromTrustedProxy(r) {
			hdr.Set("Strict-Transport-Security", hstsValue)
		}
		if !noFrames(r.URL.Path) {
			h.ServeHTTP(w, r)
			return
		}
		hdr.Set("X-Frame-Options", "DENY")
		h.ServeHTTP(&frameGuard{ResponseWriter: w}, r)
	})
}

// frameGuard adds frame-ancestors 'none' to the Content-Security-Policy a
// handler set, or sets it alone, as the header is written.
type frameGuard struct {
	http.ResponseWriter
	done bool
}

func (f *frameGuard) guard() {
	if f.done {
		return
	}
	f.done = true
	hdr := f.Header()
	switch csp := hdr.Get("Content-Security-Policy"); {
	case csp == "":
		hdr.Set("Content-Security-Policy", frameDeny)
	case !strings.Contains(csp, "frame-ancestors"):
		hdr.Set("Content-Security-Policy", csp+"; "+frameDeny)
	}
}

func (f *frameGuard) WriteHeader(code int) {
	f.guard()
	f.ResponseWriter.WriteHeader(code)
}

func (f *frameGuard) Write(b []byte) (int, error) {
	f.guard()
	return f.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (f *frameGuard) Unwrap() http.ResponseWriter { return f.ResponseWriter }

// NewMetricsServer serves /metrics, and /healthz, without credentials, for
// a scraper on an address the operator keeps private (server.metrics_listen):
// it asks the store for no token, so it goes on answering while the store
// does not. Only GET and HEAD are taken, within the server's timeouts.
func NewMetricsServer(g prometheus.Gatherer) *http.Server {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", bounded(metricsHandler(g), WriteTimeout))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	return &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    16 << 10,
	}
}
