package web

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestRequestsHaveDeadlines: a handler that waits on the store stops
// waiting when the request's time is up, and every route has a deadline,
// the runs' longer.
func TestRequestsHaveDeadlines(t *testing.T) {
	var left time.Duration
	h := bounded(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		dl, ok := r.Context().Deadline()
		if !ok {
			t.Error("no deadline")
			return
		}
		left = time.Until(dl)
		<-r.Context().Done() // a store that hangs
		w.WriteHeader(http.StatusServiceUnavailable)
	}), 50*time.Millisecond)
	rec := httptest.NewRecorder()
	done := make(chan struct{})
	go func() { h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil)); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the handler still waits 10s after its request's deadline")
	}
	if left <= 0 || left > 50*time.Millisecond {
		t.Errorf("deadline %s away, want within 50ms", left)
	}

	long := map[string]bool{}
	for _, rt := range Routes(Options{Backend: nil}) {
		if rt.Long > 0 {
			long[rt.Pattern] = true
		}
	}
	for _, p := range []string{"POST /api/v1/checks/{name}/run", "POST /api/v1/reload"} {
		if !long[p] {
			t.Errorf("%s waits on a run but has the ordinary deadline", p)
		}
	}
}
