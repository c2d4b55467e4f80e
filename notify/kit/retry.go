package kit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// minURLPart is the shortest part of a URL secret worth hiding on its own:
// blanking shorter ones (a path of "/") would mangle the message for no
// protection.
const minURLPart = 6

// Redact returns err with every non-empty secret in its text replaced by
// "[redacted]". A secret that is an absolute URL also has its path (raw and
// escaped), its query and its password hidden, as servers echo those
// alone ("Cannot POST /hooks/T0/B0/s3cr3t"). An error that held no secret
// is returned as it is. One that did is rebuilt from the cleaned text, so
// that no wrapped error still carries the secret, keeping the Retry-After
// that RetryAfter reads.
func Redact(err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	var hide []string
	add := func(s string, min int) {
		if len(s) >= min {
			hide = append(hide, s)
		}
	}
	for _, s := range secrets {
		add(s, 1)
		if u, perr := url.Parse(s); perr == nil && u.Scheme != "" && u.Host != "" {
			add(u.EscapedPath(), minURLPart)
			add(u.Path, minURLPart)
			add(u.RawQuery, minURLPart)
			if p, ok := u.User.Password(); ok {
				add(p, minURLPart)
			}
		}
	}
	msg := err.Error()
	clean := msg
	for _, s := range hide {
		clean = strings.ReplaceAll(clean, s, "[redacted]")
	}
	if clean == msg {
		return err
	}
	e := errors.New(clean)
	if d := RetryAfter(err); d > 0 {
		return &RetryAfterError{After: d, Err: e}
	}
	return e
}

// RetryAfterError is a failure the receiver asked to be retried no sooner
// than After (a 429 or 503 with Retry-After).
type RetryAfterError struct {
	After time.Duration
	Err   error
}

func (e *RetryAfterError) Error() string { return e.Err.Error() }
func (e *RetryAfterError) Unwrap() error { return e.Err }

// RetryAfter returns how long err asks to wait, or 0.
func RetryAfter(err error) time.Duration {
	var ra *RetryAfterError
	if errors.As(err, &ra) {
		return ra.After
	}
	return 0
}

// Classify turns an HTTP answer into the retry decision every receiver
// shares: 2xx is done; 429, 5xx and transport errors are retried (honouring
// Retry-After); any other status will fail again the same way, so it is
// not. It reads and closes the body, quoting a little of it in the error.
func Classify(resp *http.Response, err error) (retry bool, _ error) {
	if err != nil {
		// Never quote the URL: webhook URLs carry their secrets.
		var ue interface{ Unwrap() error }
		if errors.As(err, &ue) {
			if inner := ue.Unwrap(); inner != nil {
				err = inner
			}
		}
		return true, fmt.Errorf("send: %w", err)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return false, nil
	}
	err = fmt.Errorf("receiver answered %s: %s", resp.Status, strings.TrimSpace(string(snippet)))
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
		if d := parseRetryAfter(resp.Header.Get("Retry-After")); d > 0 {
			return true, &RetryAfterError{After: d, Err: err}
		}
		return true, err
	}
	return false, err
}

func parseRetryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return time.Until(t)
	}
	return 0
}

// PostJSON sends body as JSON to url with the given headers and classifies
// the answer.
func PostJSON(ctx context.Context, c *http.Client, url string, headers map[string]string, body any) (bool, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return false, fmt.Errorf("encode payload: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return false, errors.New("invalid receiver URL")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "nightowl")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	return Classify(c.Do(req))
}
