// Package notifytest holds what the receivers' tests share: the message
// they all send, so that their payloads can be compared side by side, and
// the golden-file comparison.
package notifytest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
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
			StartsAt:    time.Date(2026, 3, 18, 1, 28, 0, 0, time.UTC),
		},
		AckURL:         "https://status.example.com/ack/a1b2c3d4e5f6?sig=abc",
		DashboardURL:   "https://status.example.com/admin/checks/math-site",
		IdempotencyKey: "n-42",
	}
}

// Golden compares got with the file at path, or, with update, writes got
// there instead.
func Golden(t testing.TB, path string, got []byte, update bool) {
	t.Helper()
	if update {
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

// GoldenJSON compares a JSON body, pretty-printed, with the golden file at
// path. The HTML escapes encoding/json adds (\u003c, \u003e, \u0026) are
// shown as the characters they stand for: the same JSON, easier to read.
func GoldenJSON(t testing.TB, path string, body []byte, update bool) {
	t.Helper()
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, body, "", "  "); err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, body)
	}
	pretty.WriteByte('\n')
	out := strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&").Replace(pretty.String())
	Golden(t, path, []byte(out), update)
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

// MessageOf returns the fixture message turned into kind: an
// acknowledgement by alice at 01:34, or a recovery at 01:52.
func MessageOf(kind nightowl.MessageKind) *nightowl.Message {
	m := Message()
	m.Kind = kind
	switch kind {
	case nightowl.MessageAcknowledged:
		m.Alert.State = nightowl.AlertAcknowledged
		m.Alert.AckedAt = time.Date(2026, 3, 18, 1, 34, 0, 0, time.UTC)
		m.Alert.AckedBy = "alice"
	case nightowl.MessageResolved:
		m.Alert.State = nightowl.AlertResolved
		m.Alert.ResolvedAt = time.Date(2026, 3, 18, 1, 52, 0, 0, time.UTC)
	}
	return m
}

// Request is what a test server saw.
type Request struct {
	Method, Path, Query string
	Header              http.Header
	Body                []byte
}

// Server answers every request with status, header and a JSON body,
// recording each request.
func Server(t testing.TB, status int, header map[string]string, body string) (*httptest.Server, <-chan Request) {
	t.Helper()
	seen := make(chan Request, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		seen <- Request{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Clone(), b}
		for k, v := range header {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, seen
}
