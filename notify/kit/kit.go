// Package kit is what a receiver is built from. A receiver author finds
// here:
//
//   - the Spec its config block implements, the Deps it is given, and the
//     HTTP client it sends with, Deps.HTTPClient (kit.go);
//   - the one check of a receiver URL, CheckURL and ValidateURL (url.go);
//   - the message templates: the default title and text, a receiver's own
//     defaults over them and the operator's over both, checked on a sample
//     message (Templates, NewRenderer, ValidateTemplates), and the message
//     as programs read it, Renderer.JSON (templates.go);
//   - Truncate and SmallPrint, for receivers with length limits and a
//     footer line (text.go);
//   - the rule that turns an HTTP answer into "done", "retry" or "give
//     up", with the wait a receiver asked for (PostJSON, Classify,
//     RetryAfter), and Redact, which keeps secrets out of errors
//     (retry.go).
//
// Each receiver lives in a package of its own, notify/NAME, imports this
// one and never notify itself (the alert manager and the outbox), and is
// tested through notify/notifytest; the table that names the receivers is
// notify/receivers.
package kit

import (
	"log/slog"
	"net/http"

	"github.com/nightowl/nightowl"
)

// Spec is the decoded config block of one receiver.
type Spec interface {
	// Validate reports what is wrong with the block, each problem under
	// the key it concerns, relative to the block.
	Validate() []nightowl.FieldError
	// Notifier builds the receiver.
	Notifier(deps Deps) (nightowl.Notifier, error)
}

// Deps is what receivers share.
type Deps struct {
	// Client sends every HTTP receiver's requests; HTTPClient gives the
	// one to use when it is nil.
	Client *http.Client
	// Logger is for what a receiver notes beside its answer; Log gives
	// one that discards when it is nil.
	Logger *slog.Logger
	// SMTP is the notify.smtp block, for email receivers.
	SMTP *SMTP
}

// SMTP is the mail server email receivers send through.
type SMTP struct {
	Host     string `yaml:"host"`
	Port     int    `yaml:"port"` // 587 by default
	Username string `yaml:"username"`
	Password string `yaml:"password" secret:"true"`
	From     string `yaml:"from"`
	// TLS is "starttls" (default; required unless "none"), "tls" (implicit
	// TLS, usually port 465) or "none" (plain, for a relay on localhost).
	TLS                string `yaml:"tls"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

// NewHTTPClient returns the client the server hands every HTTP receiver:
// a transport of its own with the default transport's dial, TLS handshake
// and idle timeouts, and no overall timeout, since the sender gives each
// attempt its own deadline through the request's context.
func NewHTTPClient() *http.Client {
	return &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
}

// HTTPClient is the client a receiver sends with: d.Client, or, when the
// caller (a test, a one-off send) gave none, one on the default transport,
// which has the same timeouts as NewHTTPClient's.
func (d Deps) HTTPClient() *http.Client {
	if d.Client != nil {
		return d.Client
	}
	return &http.Client{}
}

// Log is d.Logger, or one that discards what it is given.
func (d Deps) Log() *slog.Logger {
	if d.Logger != nil {
		return d.Logger
	}
	return slog.New(slog.DiscardHandler)
}
