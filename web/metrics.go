package web

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics count the requests web answers, by route: the route's pattern,
// not the path asked for, so that the series stay as few as the routes.
type Metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewMetrics creates the request metrics and registers them on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nightowl_http_requests_total",
			Help: "HTTP requests answered, by route and status code.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "nightowl_http_request_seconds",
			Help:    "How long answering an HTTP request took, by route.",
			Buckets: []float64{.005, .025, .1, .5, 1, 5, 30},
		}, []string{"route"}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.duration)
	}
	return m
}

// instrument counts and times the requests h answers for route; h itself
// when m is nil. The series of the route, and of its usual answer, are
// looked up once rather than with every request (the ping endpoint takes
// thousands a second), at its first request: a route never asked for adds
// no series.
func (m *Metrics) instrument(route string, h http.Handler) http.Handler {
	if m == nil {
		return h
	}
	var (
		once sync.Once
		took prometheus.Observer
		ok   prometheus.Counter
	)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() {
			took = m.duration.WithLabelValues(route)
			ok = m.requests.WithLabelValues(route, "200")
		})
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		took.Observe(time.Since(start).Seconds())
		if sw.code == 0 || sw.code == http.StatusOK {
			ok.Inc()
		} else {
			m.requests.WithLabelValues(route, strconv.Itoa(sw.code)).Inc()
		}
	})
}

// statusWriter remembers the status code a handler answered with; 0 until
// it writes, which is a 200.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// metricsHandler serves g. A collector that fails (the outbox, when the
// store does not answer in time) leaves out its own metrics, not every
// other: a scrape that fails whole would hide the very numbers that tell
// what is wrong.
func metricsHandler(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}
