// Package webhook posts every notification, as JSON, to a URL of the
// operator's choosing: the whole nightowl.Message plus its rendered title
// and text, with an Idempotency-Key header so that the receiving end can
// drop the repeats that at-least-once delivery implies, and optionally an
// HMAC signature so that it can trust the sender.
package webhook

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/notify/kit"
)

// Config is the webhook block of a receiver.
type Config struct {
	// URL is a secret: hook URLs often carry their token in the path or
	// the query.
	URL     string            `yaml:"url" secret:"true"`
	Headers map[string]string `yaml:"headers"`
	// HMACSecret, when set, signs each body: X-Nightowl-Signature is
	// "sha256=" and the hex HMAC-SHA256 of the exact bytes sent.
	HMACSecret    string `yaml:"hmac_secret" secret:"true"`
	TitleTemplate string `yaml:"title_template"`
	TextTemplate  string `yaml:"text_template"`
}

// New returns the block with its defaults, for the receivers table.
func New() kit.Spec { return &Config{} }

// reservedHeaders are set by the notifier itself: letting a header override
// them would break idempotency, the signature or the framing of the request.
var reservedHeaders = map[string]bool{
	"Content-Type":         true,
	"Content-Length":       true,
	"Host":                 true,
	"Transfer-Encoding":    true,
	"Idempotency-Key":      true,
	"X-Nightowl-Signature": true,
}

// Validate checks the block. Messages never quote the URL or a header
// value: either may be a credential.
func (c *Config) Validate() []nightowl.FieldError {
	var errs []nightowl.FieldError
	errs = append(errs, kit.ValidateURL("url", c.URL)...)
	for _, name := range slices.Sorted(maps.Keys(c.Headers)) {
		key, value := "headers."+name, c.Headers[name]
		switch {
		case !isToken(name):
			errs = append(errs, nightowl.FieldError{Key: key, Message: "not a valid header name"})
		case reservedHeaders[http.CanonicalHeaderKey(name)]:
			errs = append(errs, nightowl.FieldError{Key: key, Message: "is set by nightowl and cannot be overridden"})
		case strings.ContainsAny(value, "\r\n\x00"):
			errs = append(errs, nightowl.FieldError{Key: key, Message: "value contains a line break or NUL"})
		}
	}
	return append(errs, kit.ValidateTemplates(kit.Templates{Title: c.TitleTemplate, Text: c.TextTemplate})...)
}

// Notifier builds the receiver.
func (c *Config) Notifier(deps kit.Deps) (nightowl.Notifier, error) {
	if msg := kit.CheckURL(c.URL); msg != "" {
		return nil, fmt.Errorf("webhook url: %s", msg)
	}
	r, err := kit.NewRenderer(kit.Templates{Title: c.TitleTemplate, Text: c.TextTemplate})
	if err != nil {
		return nil, fmt.Errorf("webhook: %w", err)
	}
	n := &notifier{client: deps.HTTPClient(), url: c.URL, render: r, headers: map[string]string{}}
	for k, v := range c.Headers {
		n.headers[k] = v
	}
	if c.HMACSecret != "" {
		n.secret = []byte(c.HMACSecret)
	}
	n.secrets = []string{c.URL}
	for _, v := range append([]string{c.HMACSecret}, headerValues(c.Headers)...) {
		if len(v) >= minSecret {
			n.secrets = append(n.secrets, v)
		}
	}
	return n, nil
}

// minSecret is the shortest string worth hiding: blanking shorter ones
// would mangle the message (a header value "1" would eat every digit) for
// no protection, as they are no credentials.
const minSecret = 6

func headerValues(h map[string]string) []string {
	var vs []string
	for _, v := range h {
		vs = append(vs, v)
	}
	return vs
}

// isToken reports whether s is an HTTP header name (RFC 9110 token).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r > 0x7e || r <= ' ' || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r) {
			return false
		}
	}
	return true
}

// AddressKey makes the block a contact kind. Without a url, a person's
// address is the URL to post to; with one (an SMS or voice gateway), the
// address (a phone number) rides in each message's "to" for the gateway.
func (c *Config) AddressKey() string {
	if c.URL == "" {
		return "url"
	}
	return ""
}

// SetAddress fills in a person's address where it is the URL.
func (c *Config) SetAddress(address string) {
	if c.URL == "" {
		c.URL = address
	}
}
