package probe

import (
	"context"
	"errors"
	"net"
	"net/url"
	"os"
	"testing"
	"time"
)

// TestNameErrors: a failed lookup is told as one, however it ended; a
// timeout without a lookup in it is told as before.
func TestNameErrors(t *testing.T) {
	start := time.Now().Add(-2 * time.Second)
	expired, cancel := context.WithDeadline(context.Background(), start.Add(2*time.Second))
	defer cancel()
	<-expired.Done()
	// As net/http and net.Dialer wrap them.
	dial := func(err error) error {
		return &url.Error{Op: "Get", URL: "http://cdn.example.test/", Err: &net.OpError{Op: "dial", Net: "tcp", Err: err}}
	}
	hung := &net.DNSError{Err: "i/o timeout", Name: "cdn.example.test", Server: "127.0.0.53:53", IsTimeout: true}
	missing := &net.DNSError{Err: "no such host", Name: "cdn.example.test", IsNotFound: true}
	tests := []struct {
		name string
		ctx  context.Context
		err  error
		http string // httpError
		tcp  string // connectError
	}{
		{"resolver never answers", expired, dial(hung),
			"resolve cdn.example.test: timed out after 2s", "resolve cdn.example.test: timed out after 2s"},
		{"no such name", context.Background(), dial(missing),
			"resolve cdn.example.test: no such host", "resolve cdn.example.test: no such host"},
		{"server never answers", expired, dial(os.ErrDeadlineExceeded),
			"http request timed out after 2s", "connect cdn.example.test:80: timed out after 2s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := httpError(tt.ctx, tt.err, start); got != tt.http {
				t.Errorf("httpError = %q, want %q", got, tt.http)
			}
			if got := connectError(tt.ctx, "cdn.example.test:80", errors.Unwrap(tt.err), start); got != tt.tcp {
				t.Errorf("connectError = %q, want %q", got, tt.tcp)
			}
		})
	}
}
