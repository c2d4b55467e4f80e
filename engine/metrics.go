package engine

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/nightowl/nightowl"
)

// Metrics are the scheduler's own measurements.
type Metrics struct {
	Lag     prometheus.Histogram
	Runs    *prometheus.CounterVec
	Skipped prometheus.Counter
	Checks  prometheus.Gauge
	// Saved counts the pages not sent, by why: a check that would have
	// gone down was blocked by what it depends on.
	Saved *prometheus.CounterVec
}

// NewMetrics creates the scheduler metrics and registers them, with a
// collector of per-check metrics for e, on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Lag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "nightowl_scheduler_lag_seconds",
			Help:    "How late checks start: actual start minus due time.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
		Runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nightowl_check_runs_total",
			Help: "Check runs by the status of their result.",
		}, []string{"status"}),
		Skipped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "nightowl_scheduler_skipped_runs_total",
			Help: "Scheduled runs skipped because the previous run of the check was still probing or the scheduler fell a whole interval behind.",
		}),
		Checks: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "nightowl_checks",
			Help: "Configured checks.",
		}),
		Saved: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nightowl_pages_saved_total",
			Help: "Alerts not opened, by reason: blocked (the check failed while something it depends on was down), flapping (the check went down again while its one flapping alert was open), grouped (an alert told of in its group's message).",
		}, []string{"reason"}),
	}
	m.Saved.WithLabelValues("blocked")
	m.Saved.WithLabelValues("flapping")
	m.Saved.WithLabelValues("grouped")
	if reg != nil {
		reg.MustRegister(m.Lag, m.Runs, m.Skipped, m.Checks, m.Saved)
	}
	return m
}

// Collector exports per-check metrics computed at scrape time from the
// engine's state. Keeping no per-check series in memory between scrapes is
// what lets 100,000 checks fit in a few KB each.
type Collector struct{ E *Engine }

var (
	descUp = prometheus.NewDesc("nightowl_check_up",
		"1 when the check is up, 0 otherwise.", []string{"check", "type"}, nil)
	descStatus = prometheus.NewDesc("nightowl_check_status",
		"The check's current status, as a label; the value is always 1.", []string{"check", "status"}, nil)
	descDuration = prometheus.NewDesc("nightowl_check_duration_seconds",
		"Duration of the check's last run.", []string{"check"}, nil)
	descCheckRuns = prometheus.NewDesc("nightowl_check_runs",
		"Runs of the check since it was first seen.", []string{"check"}, nil)
	descCheckFails = prometheus.NewDesc("nightowl_check_failures",
		"Runs of the check whose result was down.", []string{"check"}, nil)
	descLate = prometheus.NewDesc("nightowl_checks_late",
		"Checks this node runs that have gone without a run for more than twice their interval plus their timeout: a stalled scheduler or a stuck worker pool.", nil, nil)
)

// Describe implements prometheus.Collector.
func (c Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descUp
	ch <- descStatus
	ch <- descDuration
	ch <- descCheckRuns
	ch <- descCheckFails
	ch <- descLate
}

// Collect implements prometheus.Collector.
func (c Collector) Collect(ch chan<- prometheus.Metric) {
	late, _ := c.E.Late()
	ch <- prometheus.MustNewConstMetric(descLate, prometheus.GaugeValue, float64(late))
	for _, v := range c.E.Checks() {
		name := v.Check.Name
		up := 0.0
		if v.State.Status == nightowl.StatusUp {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, up, name, v.Check.Type)
		ch <- prometheus.MustNewConstMetric(descStatus, prometheus.GaugeValue, 1, name, string(v.State.Status))
		if v.Last != nil {
			ch <- prometheus.MustNewConstMetric(descDuration, prometheus.GaugeValue, float64(v.Last.Duration)/1e9, name)
		}
		ch <- prometheus.MustNewConstMetric(descCheckRuns, prometheus.CounterValue, float64(v.State.Runs), name)
		ch <- prometheus.MustNewConstMetric(descCheckFails, prometheus.CounterValue, float64(v.State.Fails), name)
	}
}
