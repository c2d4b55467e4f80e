package kit

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"strings"
	"text/template"
	"time"

	"github.com/nightowl/nightowl"
)

// Templates override the default title and text of a receiver's messages.
// They are Go text/templates over the nightowl.Message, with the helpers of
// Funcs.
type Templates struct {
	Title string `yaml:"title_template"`
	Text  string `yaml:"text_template"`
	// DefaultTitle and DefaultText, when set, are the receiver's own
	// defaults, used in place of the kit's when Title or Text is empty.
	DefaultTitle string `yaml:"-"`
	DefaultText  string `yaml:"-"`
}

// Renderer renders messages with a receiver's templates.
type Renderer struct {
	title, text *template.Template
}

// Funcs are the helpers templates may use.
var Funcs = template.FuncMap{
	"upper": strings.ToUpper,
	"join":  strings.Join,
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
{{- if .Alert.Grouped}}
Also firing in this group ({{len .Alert.Grouped}}): {{join .Alert.Grouped ", "}}{{end}}
{{- if .Alert.LeaderUp}}
{{.Alert.Check}} itself has recovered; the alert stays open for the others.{{end}}
{{- if .Alert.Blocked}}
Blocked by it ({{len .Alert.Blocked}}): {{join .Alert.Blocked ", "}}{{end}}
{{- if .Alert.OnCall}}
On call: {{join .Alert.OnCall ", "}}{{end}}
{{- if .Alert.AckedBy}}
Acknowledged by {{.Alert.AckedBy}}.{{end}}
{{- if and (ne .Kind "resolved") (ne .Kind "acknowledged")}}
Acknowledge: {{with .AckURL}}{{.}} or {{end}}nightowl ack {{.Alert.ID}}{{end}}
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
	case nightowl.MessageUpdate:
		return "update"
	}
	return string(m.Alert.Status)
}

func verb(m *nightowl.Message) string {
	switch m.Kind {
	case nightowl.MessageResolved:
		return "recovered; it had been " + string(m.Alert.Status)
	case nightowl.MessageAcknowledged:
		return "is acknowledged; it has been " + string(m.Alert.Status)
	case nightowl.MessageUpdate:
		return "is still " + string(m.Alert.Status)
	}
	return "is " + string(m.Alert.Status)
}

// NewRenderer parses a receiver's templates; empty ones use the
// receiver's defaults, or the kit's.
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
	if r.title, err = parse("title_template", t.Title, cmp.Or(t.DefaultTitle, defaultTitle)); err != nil {
		return nil, err
	}
	if r.text, err = parse("text_template", t.Text, cmp.Or(t.DefaultText, defaultText)); err != nil {
		return nil, err
	}
	return r, nil
}

// TestTitle is the title of every test message: a contact method's test
// says the same whatever the receiver's templates, which are written for
// alerts. Its text is the alert's Cause, which carries the code.
const TestTitle = "nightowl: verify this contact method"

// Title renders a message's one-line title.
func (r *Renderer) Title(m *nightowl.Message) string {
	if m.Kind == nightowl.MessageTest {
		return TestTitle
	}
	return r.render(r.title, m)
}

// Text renders a message's body.
func (r *Renderer) Text(m *nightowl.Message) string {
	if m.Kind == nightowl.MessageTest {
		return m.Alert.Cause
	}
	return r.render(r.text, m)
}

// JSON is m as a program reads it, one line ending in a newline: every
// field of the message, as the API shows it, so that a program can act on
// any of them, plus the title and text a person would read, so that a
// relay into a chat tool needs no templates of its own. It leaves "<", ">"
// and "&" as they are: the JSON is read by programs and people, not put
// in a page, and "duration < 2" reads better than "\u003c".
func (r *Renderer) JSON(m *nightowl.Message) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	err := enc.Encode(struct {
		*nightowl.Message
		Title string `json:"title"`
		Text  string `json:"text"`
	}{m, r.Title(m), r.Text(m)})
	return b.Bytes(), err
}

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
		{"title_template", Templates{Title: t.Title, DefaultTitle: t.DefaultTitle}},
		{"text_template", Templates{Text: t.Text, DefaultText: t.DefaultText}},
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
