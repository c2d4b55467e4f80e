package web

import (
	"net/http"

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
// when m is nil.
func (m *Metrics) instrument(route string, h http.Handler) http.Handler {
	if m == nil {
		return h
	}
	labels := prometheus.Labels{"route": route}
	h = promhttp.InstrumentHandlerDuration(m.duration.MustCurryWith(labels), h)
	return promhttp.InstrumentHandlerCounter(m.requests.MustCurryWith(labels), h)
}

// metricsHandler serves g. A collector that fails (the outbox, when the
// store does not answer in time) leaves out its own metrics, not every
// other: a scrape that fails whole would hide the very numbers that tell
// what is wrong.
func metricsHandler(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}
