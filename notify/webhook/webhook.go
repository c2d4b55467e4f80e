package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/notify/kit"
)

type notifier struct {
	client  *http.Client
	url     string
	headers map[string]string
	secret  []byte
	render  *kit.Renderer
	secrets []string // hidden in errors
}

// Notify posts the message. Every attempt at the same message carries the
// same Idempotency-Key, so a receiver that took an earlier attempt (whose
// answer was lost) can recognise the retry.
func (n *notifier) Notify(ctx context.Context, m *nightowl.Message) (bool, error) {
	// The whole message, so that a program can act on any field, plus the
	// text a person would read; without HTML escaping.
	body, err := n.render.JSON(m)
	if err != nil {
		return false, fmt.Errorf("encode webhook payload: %w", err)
	}
	body = bytes.TrimSuffix(body, []byte("\n"))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.url, bytes.NewReader(body))
	if err != nil {
		return false, errors.New("build webhook request: invalid url")
	}
	// A configured User-Agent wins; the headers Validate reserves cannot
	// be configured, so they are set after.
	req.Header.Set("User-Agent", "nightowl")
	for k, v := range n.headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/json")
	if m.IdempotencyKey != "" {
		req.Header.Set("Idempotency-Key", m.IdempotencyKey)
	}
	if n.secret != nil {
		// Signed over the bytes on the wire, not a re-encoding, so the
		// receiver verifies exactly what it read.
		mac := hmac.New(sha256.New, n.secret)
		mac.Write(body)
		req.Header.Set("X-Nightowl-Signature", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	}
	retry, err := kit.Classify(n.client.Do(req))
	return retry, kit.Redact(err, n.secrets...)
}
