// Package watchdog pings a dead man's switch outside nightowl (a
// Healthchecks-style ping URL) while this node is healthy, so that the loss
// of the monitor itself, or of every node of a cluster, wakes someone: the
// switch alerts when the pings stop. An unhealthy node stops pinging rather
// than pretending; the reason is logged.
package watchdog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/nightowl/nightowl"
)

// Options configure a Watchdog.
type Options struct {
	// URL is pinged with GET; it may carry a token, so it is never logged.
	URL   string
	Every time.Duration
	// Healthy tells whether this node is fit to vouch for itself: its
	// checks run on time and its store takes writes.
	Healthy func(ctx context.Context) error
	Client  *http.Client   // a client with a 10s timeout when nil
	Clock   nightowl.Clock // nightowl.SystemClock when nil
	Logger  *slog.Logger   // slog.Default() when nil
}

// Watchdog pings while healthy.
type Watchdog struct {
	opts Options
}

// New checks the options.
func New(opts Options) (*Watchdog, error) {
	if opts.URL == "" || opts.Every <= 0 || opts.Healthy == nil {
		return nil, errors.New("watchdog: a URL, an interval and a health test are required")
	}
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if opts.Clock == nil {
		opts.Clock = nightowl.SystemClock{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Watchdog{opts: opts}, nil
}

// Run pings at once and then every Every until ctx ends.
func (w *Watchdog) Run(ctx context.Context) {
	for {
		w.Once(ctx)
		select {
		case <-ctx.Done():
			return
		case <-w.opts.Clock.After(w.opts.Every):
		}
	}
}

// Once pings if this node is healthy, and says what it did: nil when it
// pinged, the reason when it did not or the ping failed.
func (w *Watchdog) Once(ctx context.Context) error {
	if err := w.opts.Healthy(ctx); err != nil {
		w.opts.Logger.Warn("watchdog: not pinging, this node is unhealthy", "err", err)
		return fmt.Errorf("unhealthy: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, w.opts.URL, nil)
	if err != nil {
		return errors.New("watchdog: the URL is not valid")
	}
	resp, err := w.opts.Client.Do(req)
	if err != nil {
		// The error of a failed request quotes the URL.
		w.opts.Logger.Warn("watchdog: ping failed", "err", redact(err))
		return fmt.Errorf("ping: %w", redact(err))
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		w.opts.Logger.Warn("watchdog: ping refused", "status", resp.StatusCode)
		return fmt.Errorf("ping: HTTP %d", resp.StatusCode)
	}
	return nil
}

// redact drops the URL from a client error and keeps why it failed.
func redact(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err
	}
	return errors.New("request failed")
}
