package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nightowl/nightowl"
)

// failingCollector is a collector whose source does not answer, as the
// outbox's does while the store hangs.
type failingCollector struct{ desc *prometheus.Desc }

func (c failingCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }
func (c failingCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.NewInvalidMetric(c.desc, errors.New("read outbox: context deadline exceeded"))
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	up := prometheus.NewGauge(prometheus.GaugeOpts{Name: "test_up", Help: "h"})
	up.Set(1)
	reg.MustRegister(up, failingCollector{prometheus.NewDesc("test_outbox", "h", nil, nil)})
	h := Handler(Options{Gatherer: reg, Metrics: NewMetrics(reg), Anonymous: nightowl.RoleViewer})
	get := func(path string) (int, string) {
		t.Helper()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		return w.Code, w.Body.String()
	}

	for range 2 {
		get("/healthz")
	}
	get("/no/such/path")

	code, body := get("/metrics")
	t.Run("a failing collector leaves the rest served", func(t *testing.T) {
		if code != http.StatusOK || !strings.Contains(body, "test_up 1") {
			t.Errorf("/metrics = %d, want 200 with test_up:\n%s", code, body)
		}
		if strings.Contains(body, "test_outbox") {
			t.Error("the failing collector's metric is served")
		}
	})
	t.Run("requests by route", func(t *testing.T) {
		for _, want := range []string{
			`nightowl_http_requests_total{code="200",route="GET /healthz"} 2`,
			`nightowl_http_request_seconds_count{route="GET /healthz"} 2`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("metrics lack %s:\n%s", want, body)
			}
		}
		if strings.Contains(body, "/no/such/path") {
			t.Error("a path with no route has series of its own")
		}
		if strings.Contains(body, `route="GET /readyz"`) {
			t.Error("a route never asked for has series")
		}
	})
	t.Run("status codes", func(t *testing.T) {
		reg := prometheus.NewRegistry()
		m := NewMetrics(reg)
		for _, tc := range []struct {
			route string
			h     http.HandlerFunc
		}{
			{"GET /silent", func(http.ResponseWriter, *http.Request) {}},
			{"GET /body", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok")) }},
			{"GET /busy", func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusServiceUnavailable)
				w.WriteHeader(http.StatusOK) // ignored by net/http, and here
			}},
		} {
			m.instrument(tc.route, tc.h).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
		}
		var b strings.Builder
		mfs, _ := reg.Gather()
		for _, mf := range mfs {
			for _, s := range mf.GetMetric() {
				if mf.GetName() == "nightowl_http_requests_total" && s.GetCounter().GetValue() > 0 {
					fmt.Fprintf(&b, "%s %s;", s.GetLabel()[1].GetValue(), s.GetLabel()[0].GetValue())
				}
			}
		}
		if got, want := b.String(), "GET /body 200;GET /silent 200;GET /busy 503;"; got != want {
			t.Errorf("requests by route and code: %s, want %s", got, want)
		}
	})
}
