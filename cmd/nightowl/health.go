package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// cmdHealth asks a running server whether it is alive (/healthz) or ready
// (/readyz), for supervisors that can run a program but have no HTTP client
// of their own: a container image's HEALTHCHECK has no shell or curl beside
// nightowl.
func cmdHealth(e *env, fs *flag.FlagSet) runner {
	url := fs.String("url", "", "the server's base URL (default $NIGHTOWL_URL, then "+defaultURL+")")
	ready := fs.Bool("ready", false, "ask /readyz (the store answers) instead of /healthz (the server answers)")
	timeout := fs.Duration("timeout", 5*time.Second, "give up after this long")
	return func(ctx context.Context, args []string) int {
		if pos, err := parse(fs, args); err != nil || len(pos) > 0 || *timeout <= 0 {
			fmt.Fprintln(e.stderr, "usage: nightowl health [--url URL] [--ready] [--timeout 5s]")
			return exitBadConfig
		}
		base := *url
		if base == "" {
			base = e.getenv("NIGHTOWL_URL")
		}
		if base == "" {
			base = defaultURL
		}
		target := strings.TrimRight(base, "/") + "/healthz"
		if *ready {
			target = strings.TrimRight(base, "/") + "/readyz"
		}
		ctx, cancel := context.WithTimeout(ctx, *timeout)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
		if err != nil {
			fmt.Fprintln(e.stderr, "nightowl health:", err)
			return exitBadConfig
		}
		client := &http.Client{
			// A redirect is an answer, not health: a proxy sending people to
			// a sign-in page must not make a dead server look alive.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
		resp, err := client.Do(req)
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				err = fmt.Errorf("no answer within %s", *timeout)
			}
			fmt.Fprintf(e.stderr, "nightowl health: %s: %v\n", target, err)
			return exitNotUp
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		msg := strings.TrimSpace(string(body))
		if resp.StatusCode != http.StatusOK {
			fmt.Fprintf(e.stderr, "nightowl health: %s answered %s: %s\n", target, resp.Status, cell(msg))
			return exitNotUp
		}
		fmt.Fprintf(e.stdout, "%s: %s\n", target, cell(msg))
		return exitOK
	}
}
