// Package notify holds what every receiver shares: the Spec a receiver's
// config block implements, the default message text and its per-receiver
// templates, and the rule that turns an HTTP answer into "done", "retry" or
// "give up". Each receiver lives in a package of its own under notify/; the
// table that names them is notify/receivers.
package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"text/template"
	"time"

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
	Client *http.Client // with no overall timeout: each send has its own context
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

// Templates override the default title and text of a receiver's messages.
// They are Go text/templates over the nightowl.Message, with the helpers of
// Funcs.
type Templates struct {
	Title string `yaml:"title_template"`
	Text  string `yaml:"text_template"`
}

// Renderer renders messages with a receiver's templates.
type Renderer struct {
	title, text *template.Template
}

// Funcs are the helpers templates may use.
var Funcs = template.FuncMap{
	"upper": strings.ToUpper,
	"since": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 MST") },
}

const (
	defaultTitle = `[{{upper (status .)}}] {{.Alert.Check}}`
	defaultText  = `{{.Alert.Check}} {{verb .}} since {{since .Alert.StartsAt}}.
{{- range .Alert.Failed}}
{{.Name}} failed: {{.Message}}
{{- else}}{{if .Alert.Cause}}
{{.Alert.Cause}}{{end}}{{end}}
{{- if .Alert.Maintenance}}
{{.Alert.Maintenance}}{{end}}
{{- if .Alert.AckedBy}}
Acknowledged by {{.Alert.AckedBy}}.{{end}}
{{- if and .AckURL (ne .Kind "resolved") (ne .Kind "acknowledged")}}
Acknowledge: {{.AckURL}}{{end}}
{{- if .DashboardURL}}
Dashboard: {{.DashboardURL}}{{end}}`
)

// status is the word a title leads with.
func status(m *nightowl.Message) string {
	switch m.Kind {
	case nightowl.MessageResolved:
		return "resolved"
	case nightowl.MessageAcknowledged:
		return "acknowledged"
	}
	return string(m.Alert.Status)
}

func verb(m *nightowl.Message) string {
	switch m.Kind {
	case nightowl.MessageResolved:
		return "recovered; it had been " + string(m.Alert.Status)
	case nightowl.MessageAcknowledged:
		return "is acknowledged; it has been " + string(m.Alert.Status)
	}
	return "is " + string(m.Alert.Status)
}

// NewRenderer parses a receiver's templates; empty ones use the defaults.
func NewRenderer(t Templates) (*Renderer, error) {
	funcs := template.FuncMap{"status": status, "verb": verb}
	for k, v := range Funcs {
		funcs[k] = v
	}
	parse := func(name, src, def string) (*template.Template, error) {
		if src == "" {
			src = def
		}
		tpl, err := template.New(name).Funcs(funcs).Option("missingkey=error").Parse(src)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return tpl, nil
	}
	r := &Renderer{}
	var err error
	if r.title, err = parse("title_template", t.Title, defaultTitle); err != nil {
		return nil, err
	}
	if r.text, err = parse("text_template", t.Text, defaultText); err != nil {
		return nil, err
	}
	return r, nil
}

// Title renders a message's one-line title.
func (r *Renderer) Title(m *nightowl.Message) string { return r.render(r.title, m) }

// Text renders a message's body.
func (r *Renderer) Text(m *nightowl.Message) string { return r.render(r.text, m) }

func (r *Renderer) render(t *template.Template, m *nightowl.Message) string {
	s, err := execute(t, m)
	if err != nil {
		// A template that fails on a message still sends something: the
		// default would be better, but the error must be visible.
		return fmt.Sprintf("%s: template error: %v", m.Alert.Check, err)
	}
	return s
}

func execute(t *template.Template, m *nightowl.Message) (string, error) {
	var b strings.Builder
	if err := t.Execute(&b, m); err != nil {
		return "", err
	}
	return strings.TrimSpace(b.String()), nil
}

// Check runs both templates on m and returns the first error, which Title
// and Text would otherwise only show in the text they return.
func (r *Renderer) Check(m *nightowl.Message) error {
	if _, err := execute(r.title, m); err != nil {
		return err
	}
	_, err := execute(r.text, m)
	return err
}

// sample is the message templates are tried on when a config is validated.
var sample = nightowl.Message{
	Kind: nightowl.MessageFiring,
	Alert: nightowl.Alert{
		ID: "sample", Check: "sample-check", Labels: map[string]string{"tier": "web"},
		State: nightowl.AlertFiring, Severity: nightowl.SeverityCritical, Status: nightowl.StatusDown,
		Cause:    "up failed: status == 200 (status = 503)",
		Failed:   []nightowl.AssertionResult{{Name: "up", Severity: nightowl.SeverityCritical, Message: "status == 200 (status = 503)"}},
		StartsAt: time.Date(2026, 3, 18, 1, 28, 0, 0, time.UTC),
	},
	AckURL:         "https://nightowl.example.com/ack/sample",
	DashboardURL:   "https://nightowl.example.com/admin/checks/sample-check",
	IdempotencyKey: "sample",
}

// ValidateTemplates parses each of a receiver's templates, reporting errors
// under the key of the template that has it (title_template,
// text_template), and runs it on a sample message: a misspelt field only
// shows when the template runs, and at run time it would cost a
// notification its text. A label the sample lacks is no mistake, as other
// checks may have it.
func ValidateTemplates(t Templates) []nightowl.FieldError {
	var errs []nightowl.FieldError
	for _, c := range []struct {
		key string
		tpl Templates
	}{
		{"title_template", Templates{Title: t.Title}},
		{"text_template", Templates{Text: t.Text}},
	} {
		r, err := NewRenderer(c.tpl)
		if err != nil {
			// The key already names the template.
			errs = append(errs, nightowl.FieldError{Key: c.key, Message: strings.TrimPrefix(err.Error(), c.key+": ")})
			continue
		}
		m := sample
		if err := r.Check(&m); err != nil && !strings.Contains(err.Error(), "map has no entry for key") {
			errs = append(errs, nightowl.FieldError{Key: c.key, Message: err.Error()})
		}
	}
	return errs
}

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
