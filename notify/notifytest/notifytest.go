// Package notifytest holds what the receivers' tests share: the message
// they all send, so that their payloads can be compared side by side, the
// golden-file comparison, the checks of what a send came to, (in http.go)
// a test server and the table runner every HTTP receiver's tests go
// through, and (in validate.go) the config mistakes every receiver refuses
// alike. A new receiver's test is its own cases run through these.
package notifytest

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/notify/kit"
)

// Message returns a fresh copy of the firing message every receiver's
// tests send. Tests turn it into an acknowledgement or a recovery
// themselves.
func Message() *nightowl.Message {
	return &nightowl.Message{
		Kind: nightowl.MessageFiring,
		Alert: nightowl.Alert{
			ID:       "a1b2c3d4e5f6",
			Check:    "math-site",
			Labels:   map[string]string{"site": "math", "tier": "web"},
			State:    nightowl.AlertFiring,
			Severity: nightowl.SeverityCritical,
			Status:   nightowl.StatusDown,
			Cause:    `writable failed: body contains "read-only mode"`,
			Failed: []nightowl.AssertionResult{
				{Name: "writable", Severity: nightowl.SeverityCritical, Message: `body contains "read-only mode"`},
				{Name: "fast", Severity: nightowl.SeverityWarning, Message: "duration < 2 (duration = 3.4)"},
			},
			Maintenance: "during maintenance march-failover — not expected: writable",
			OnCall:      []string{"ana (primary)"},
			StartsAt:    time.Date(2026, 3, 18, 1, 28, 0, 0, time.UTC),
		},
		AckURL:         "https://status.example.com/ack/a1b2c3d4e5f6?sig=abc",
		DashboardURL:   "https://status.example.com/admin/checks/math-site",
		IdempotencyKey: "n-42",
	}
}

// update is the -update flag of every receiver's tests.
var update = flag.Bool("update", false, "rewrite golden files")

// Golden compares got with testdata/<name>.golden, or, with -update, writes
// got there instead.
func Golden(t testing.TB, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s:\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// NoSecrets fails t if err's text shows any of secrets.
func NoSecrets(t testing.TB, err error, secrets ...string) {
	t.Helper()
	if err == nil {
		return
	}
	for _, s := range secrets {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error %q shows the secret %q", err, s)
		}
	}
}

// Indent returns a JSON body pretty-printed, with a final newline, as the
// golden files hold it.
func Indent(t testing.TB, body []byte) []byte {
	t.Helper()
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, body, "", "  "); err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, body)
	}
	pretty.WriteByte('\n')
	return pretty.Bytes()
}

// GoldenIndent compares a JSON body, pretty-printed, with the golden file
// name.
func GoldenIndent(t testing.TB, name string, body []byte) {
	t.Helper()
	Golden(t, name, Indent(t, body))
}

// GoldenJSON is GoldenIndent with the HTML escapes encoding/json adds
// (\u003c, \u003e, \u0026) shown as the characters they stand for: the
// same JSON, easier to read.
func GoldenJSON(t testing.TB, name string, body []byte) {
	t.Helper()
	out := strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&").Replace(string(Indent(t, body)))
	Golden(t, name, []byte(out))
}

// FieldErrors compares what a Validate returned with what a test wants,
// and checks that no message shows one of the secrets.
func FieldErrors(t testing.TB, got, want []nightowl.FieldError, secrets ...string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("Validate = %v, want %v", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("error %d = %v, want %v", i, got[i], want[i])
		}
		for _, s := range secrets {
			if strings.Contains(got[i].Message, s) {
				t.Errorf("error %v shows a secret", got[i])
			}
		}
	}
}

// FieldErrorPrefixes compares what a Validate returned with what a test
// wants, each error written "key: message" and wanted only to start as
// given, and checks that no error shows one of the secrets.
func FieldErrorPrefixes(t testing.TB, got []nightowl.FieldError, want []string, secrets ...string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("Validate = %v; want %v", got, want)
	}
	for i, e := range got {
		s := e.Key + ": " + e.Message
		if !strings.HasPrefix(s, want[i]) {
			t.Errorf("error %d = %q; want it to start with %q", i, s, want[i])
		}
		for _, secret := range secrets {
			if strings.Contains(s, secret) {
				t.Errorf("error %q shows the secret %q", s, secret)
			}
		}
	}
}

// Timeline is who acknowledges the fixture alert and when, and when it
// resolves. The receivers' golden files were written with three of them,
// the values below.
type Timeline struct {
	AckedBy             string
	AckedAt, ResolvedAt time.Time
	// AckKey and ResolvedKey, when set, are the idempotency keys of the
	// acknowledgement and the recovery; the firing message's otherwise.
	AckKey, ResolvedKey string
}

// The timelines in the golden files; read-only.
var (
	// AliceAt0134 is MessageOf's (opsgenie, pagerduty, telegram).
	AliceAt0134 = Timeline{
		AckedBy:    "alice",
		AckedAt:    time.Date(2026, 3, 18, 1, 34, 0, 0, time.UTC),
		ResolvedAt: time.Date(2026, 3, 18, 1, 52, 0, 0, time.UTC),
	}
	// AliceAt0135 gives each message a key of its own (discord, slack,
	// teams, webhook).
	AliceAt0135 = Timeline{
		AckedBy:     "alice",
		AckedAt:     time.Date(2026, 3, 18, 1, 35, 0, 0, time.UTC),
		ResolvedAt:  time.Date(2026, 3, 18, 1, 52, 0, 0, time.UTC),
		AckKey:      "n-43",
		ResolvedKey: "n-44",
	}
	// AnaAt0131 is the one of command, email, ntfy and pushover.
	AnaAt0131 = Timeline{
		AckedBy:    "ana",
		AckedAt:    time.Date(2026, 3, 18, 1, 31, 0, 0, time.UTC),
		ResolvedAt: time.Date(2026, 3, 18, 1, 40, 0, 0, time.UTC),
	}
)

// As returns what turns the firing fixture into a message of kind, for
// the tables whose cases change the message they send.
func (tl Timeline) As(kind nightowl.MessageKind) func(*nightowl.Message) {
	return func(m *nightowl.Message) {
		m.Kind = kind
		switch kind {
		case nightowl.MessageAcknowledged:
			m.Alert.State = nightowl.AlertAcknowledged
			m.Alert.AckedAt = tl.AckedAt
			m.Alert.AckedBy = tl.AckedBy
			if tl.AckKey != "" {
				m.IdempotencyKey = tl.AckKey
			}
		case nightowl.MessageResolved:
			m.Alert.State = nightowl.AlertResolved
			m.Alert.ResolvedAt = tl.ResolvedAt
			if tl.ResolvedKey != "" {
				m.IdempotencyKey = tl.ResolvedKey
			}
		case nightowl.MessageUpdate:
			m.Alert.Blocked = []string{"math-worker-1", "math-worker-2"}
			m.IdempotencyKey = "n-45"
		}
	}
}

// Message returns the fixture message turned into kind.
func (tl Timeline) Message(kind nightowl.MessageKind) *nightowl.Message {
	m := Message()
	tl.As(kind)(m)
	return m
}

// MessageOf returns the fixture message turned into kind: an
// acknowledgement by alice at 01:34, or a recovery at 01:52.
func MessageOf(kind nightowl.MessageKind) *nightowl.Message {
	return AliceAt0134.Message(kind)
}

// The custom templates of opsgenie's, pagerduty's and telegram's goldens.
const (
	CustomTitle = `{{.Alert.Check}} is {{.Alert.Status}} ({{.Alert.Labels.site}})`
	CustomText  = `{{range .Alert.Failed}}- {{.Name}}: {{.Message}}{{"\n"}}{{end}}`
)

// WithoutLinks turns the fixture into what a server without public_url
// sends when only the warning assertion fails: no links to give, and no
// maintenance.
func WithoutLinks(m *nightowl.Message) {
	m.AckURL, m.DashboardURL, m.Alert.Maintenance = "", "", ""
	m.Alert.Severity, m.Alert.Status = nightowl.SeverityWarning, nightowl.StatusDegraded
	m.Alert.Failed = m.Alert.Failed[1:]
	m.Alert.Cause = "fast failed: duration < 2 (duration = 3.4)"
}

// Want is what a send must come to.
type Want struct {
	Retry bool
	// Err is a part of the error; "" wants none.
	Err string
	// Prefix: the error must start with Err.
	Prefix bool
	// After is the wait kit.RetryAfter finds in the error.
	After time.Duration
}

// Check fails t unless a send's retry and err are what w says, or when
// err shows one of the secrets.
func (w Want) Check(t testing.TB, retry bool, err error, secrets ...string) {
	t.Helper()
	if retry != w.Retry {
		t.Errorf("retry = %v, want %v (err: %v)", retry, w.Retry, err)
	}
	switch {
	case w.Err == "" && err != nil:
		t.Errorf("err = %v, want none", err)
	case w.Err != "" && err == nil:
		t.Errorf("err = nil, want one with %q", w.Err)
	case w.Err != "" && w.Prefix && !strings.HasPrefix(err.Error(), w.Err):
		t.Errorf("err = %q, want it to start with %q", err, w.Err)
	case w.Err != "" && !strings.Contains(err.Error(), w.Err):
		t.Errorf("err = %q, want it to contain %q", err, w.Err)
	}
	if d := kit.RetryAfter(err); d != w.After {
		t.Errorf("RetryAfter = %v, want %v", d, w.After)
	}
	NoSecrets(t, err, secrets...)
}

// Notifier validates spec and builds its notifier, failing t if either
// goes wrong.
func Notifier(t testing.TB, spec kit.Spec, deps kit.Deps) nightowl.Notifier {
	t.Helper()
	if errs := spec.Validate(); len(errs) > 0 {
		t.Fatalf("Validate: %v", errs)
	}
	n, err := spec.Notifier(deps)
	if err != nil {
		t.Fatalf("Notifier: %v", err)
	}
	return n
}
