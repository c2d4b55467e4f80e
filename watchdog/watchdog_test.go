package watchdog_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/nightowl/nightowl/watchdog"
)

func TestPingsOnlyWhileHealthy(t *testing.T) {
	var pings atomic.Int32
	status := atomic.Int32{}
	status.Store(200)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/ping/secret-token" || r.Method != http.MethodGet {
			t.Errorf("%s %s", r.Method, r.URL.Path)
		}
		pings.Add(1)
		w.WriteHeader(int(status.Load()))
	}))
	defer srv.Close()
	var health error
	var logs bytes.Buffer
	w, err := watchdog.New(watchdog.Options{URL: srv.URL + "/ping/secret-token", Every: 1,
		Healthy: func(context.Context) error { return health },
		Logger:  slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tests := []struct {
		name      string
		health    error
		status    int
		wantPings int32
		wantErr   string
	}{
		{"healthy pings", nil, 200, 1, ""},
		{"unhealthy does not", errors.New("12 checks overdue"), 200, 1, "unhealthy: 12 checks overdue"},
		{"healthy again", nil, 200, 2, ""},
		{"refused ping is reported", nil, 500, 3, "ping: HTTP 500"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			health = tt.health
			status.Store(int32(tt.status))
			err := w.Once(ctx)
			if (err == nil) != (tt.wantErr == "") || (err != nil && err.Error() != tt.wantErr) {
				t.Fatalf("Once: %v, want %q", err, tt.wantErr)
			}
			if got := pings.Load(); got != tt.wantPings {
				t.Fatalf("%d pings, want %d", got, tt.wantPings)
			}
		})
	}
	srv.Close()
	health = nil
	err = w.Once(ctx)
	if err == nil {
		t.Fatal("a ping to a closed server succeeded")
	}
	if strings.Contains(err.Error(), "secret-token") || strings.Contains(logs.String(), "secret-token") {
		t.Errorf("the URL's token leaked: %v\n%s", err, logs.String())
	}
}
