package ntfy

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/notify"
	"github.com/nightowl/nightowl/notify/notifytest"
)

var update = flag.Bool("update", false, "rewrite golden files")

const (
	testToken    = "tk_s3cr3tt0k3nvalue0000000000"
	testTopic    = "nightowl-ops-7f3a9c"
	testPassword = "hunter2-password"
)

// fixture is the message every receiver package tests with, so that the
// payloads can be compared side by side.
func fixture(kind nightowl.MessageKind) *nightowl.Message {
	m := notifytest.Message()
	m.Kind = kind
	switch kind {
	case nightowl.MessageAcknowledged:
		m.Alert.State = nightowl.AlertAcknowledged
		m.Alert.AckedAt = time.Date(2026, 3, 18, 1, 31, 0, 0, time.UTC)
		m.Alert.AckedBy = "ana"
	case nightowl.MessageResolved:
		m.Alert.State = nightowl.AlertResolved
		m.Alert.ResolvedAt = time.Date(2026, 3, 18, 1, 40, 0, 0, time.UTC)
	}
	return m
}

// server is an ntfy stand-in that records the last request and answers
// with status, headers and body.
type server struct {
	*httptest.Server
	status int
	header http.Header
	body   string
	block  bool

	mu      sync.Mutex
	got     *http.Request
	gotBody []byte
}

// last returns the request the server saw last and its body.
func (s *server) last() (*http.Request, []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.got, s.gotBody
}

func newServer(t *testing.T) *server {
	s := &server{status: http.StatusOK, body: `{"id":"x"}`}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.got, s.gotBody = r, body
		s.mu.Unlock()
		if s.block {
			<-r.Context().Done()
			return
		}
		for k, v := range s.header {
			w.Header()[k] = v
		}
		w.WriteHeader(s.status)
		io.WriteString(w, s.body)
	}))
	t.Cleanup(s.Close)
	return s
}

func notifier(t *testing.T, c *Config) nightowl.Notifier {
	t.Helper()
	if errs := c.Validate(); len(errs) > 0 {
		t.Fatalf("Validate: %v", errs)
	}
	n, err := c.Notifier(notify.Deps{Client: &http.Client{}})
	if err != nil {
		t.Fatalf("Notifier: %v", err)
	}
	return n
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	notifytest.Golden(t, filepath.Join("testdata", name+".golden"), got, *update)
}

func indent(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, b)
	}
	out.WriteByte('\n')
	return out.Bytes()
}

func TestPayload(t *testing.T) {
	warning := fixture(nightowl.MessageRepeat)
	warning.Alert.Severity = nightowl.SeverityWarning
	noLinks := fixture(nightowl.MessageFiring)
	noLinks.AckURL, noLinks.DashboardURL = "", ""
	for _, tc := range []struct {
		name     string
		cfg      Config
		msg      *nightowl.Message
		wantAuth string
	}{
		{"firing", Config{Token: testToken}, fixture(nightowl.MessageFiring), "Bearer " + testToken},
		{"repeat-warning", Config{}, warning, ""},
		{"acknowledged", Config{}, fixture(nightowl.MessageAcknowledged), ""},
		{"resolved", Config{Username: "nightowl", Password: testPassword}, fixture(nightowl.MessageResolved),
			"Basic bmlnaHRvd2w6aHVudGVyMi1wYXNzd29yZA=="},
		{"no-links", Config{}, noLinks, ""},
		{"custom-template", Config{
			TitleTemplate: `{{.Alert.Check}} is {{.Alert.Status}} ({{.Alert.Labels.site}})`,
			TextTemplate:  `{{range .Alert.Failed}}{{.Name}}: {{.Message}}; {{end}}`,
		}, fixture(nightowl.MessageFiring), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t)
			tc.cfg.URL, tc.cfg.Topic = s.URL, testTopic
			retry, err := notifier(t, &tc.cfg).Notify(context.Background(), tc.msg)
			if err != nil || retry {
				t.Fatalf("Notify = %v, %v; want false, nil", retry, err)
			}
			got, body := s.last()
			if got.Method != http.MethodPost || got.URL.Path != "/" {
				t.Errorf("request %s %s, want POST / (publishing JSON goes to the root)", got.Method, got.URL.Path)
			}
			if ct := got.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			if auth := got.Header.Get("Authorization"); auth != tc.wantAuth {
				t.Errorf("Authorization = %q, want %q", auth, tc.wantAuth)
			}
			golden(t, tc.name, indent(t, body))
		})
	}
}

func TestMessageCut(t *testing.T) {
	s := newServer(t)
	m := fixture(nightowl.MessageFiring)
	m.Alert.Failed[0].Message = strings.Repeat("é", 3000)
	n := notifier(t, &Config{URL: s.URL, Topic: testTopic})
	if _, err := n.Notify(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	var p payload
	_, body := s.last()
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatal(err)
	}
	if len(p.Message) > messageLimit || !strings.HasSuffix(p.Message, "…") || !strings.HasPrefix(p.Message, "math-site is down") {
		t.Errorf("message of %d bytes, want at most %d ending in …: %.60q", len(p.Message), messageLimit, p.Message)
	}
}

func TestFailures(t *testing.T) {
	for _, tc := range []struct {
		name       string
		status     int
		header     http.Header
		body       string
		block      bool
		wantRetry  bool
		wantAfter  time.Duration
		wantSubstr string
	}{
		{name: "server error", status: 500, body: "oops", wantRetry: true, wantSubstr: "500"},
		{name: "rate limited", status: 429, header: http.Header{"Retry-After": {"7"}},
			body: `{"code":42901,"http":429,"error":"limit reached"}`, wantRetry: true, wantAfter: 7 * time.Second, wantSubstr: "429"},
		// ntfy answers a bad request with JSON naming the problem; the
		// topic, a secret, must not come back through the error.
		{name: "bad request", status: 400, body: `{"code":40009,"error":"invalid topic ` + testTopic + `"}`, wantSubstr: "400"},
		{name: "unauthorized", status: 401, body: `{"code":40101,"error":"unauthorized, token ` + testToken + `"}`, wantSubstr: "401"},
		{name: "timeout", block: true, wantRetry: true, wantSubstr: "deadline"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t)
			s.status, s.header, s.body, s.block = tc.status, tc.header, tc.body, tc.block
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			n := notifier(t, &Config{URL: s.URL, Topic: testTopic, Token: testToken})
			retry, err := n.Notify(ctx, fixture(nightowl.MessageFiring))
			if err == nil {
				t.Fatal("Notify succeeded")
			}
			if retry != tc.wantRetry {
				t.Errorf("retry = %v, want %v (%v)", retry, tc.wantRetry, err)
			}
			if got := notify.RetryAfter(err); got != tc.wantAfter {
				t.Errorf("RetryAfter = %v, want %v", got, tc.wantAfter)
			}
			if !strings.Contains(err.Error(), tc.wantSubstr) {
				t.Errorf("error %q does not mention %q", err, tc.wantSubstr)
			}
			for _, secret := range []string{testToken, testTopic} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q contains a secret", err)
				}
			}
		})
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want []nightowl.FieldError
	}{
		{"defaults and a topic", Config{URL: DefaultURL, Topic: "ops"}, nil},
		{"token", Config{URL: DefaultURL, Topic: "ops", Token: testToken}, nil},
		{"basic auth", Config{URL: "http://ntfy.internal:8080", Topic: "ops", Username: "u", Password: "p"}, nil},
		{"no topic", Config{URL: DefaultURL}, []nightowl.FieldError{{Key: "topic", Message: "required"}}},
		{"bad topic", Config{URL: DefaultURL, Topic: "ops/alerts " + testPassword},
			[]nightowl.FieldError{{Key: "topic", Message: "must be 1 to 64 letters, digits, '-' or '_'"}}},
		{"no url", Config{Topic: "ops"}, []nightowl.FieldError{{Key: "url", Message: "required"}}},
		{"ftp url", Config{URL: "ftp://ntfy.sh", Topic: "ops"}, []nightowl.FieldError{{Key: "url", Message: `scheme must be "http" or "https"`}}},
		{"url without host", Config{URL: "https://", Topic: "ops"}, []nightowl.FieldError{{Key: "url", Message: "has no host"}}},
		{"token and user", Config{URL: DefaultURL, Topic: "ops", Token: testToken, Username: "u", Password: "p"},
			[]nightowl.FieldError{{Key: "token", Message: "cannot be combined with username and password"}}},
		{"user without password", Config{URL: DefaultURL, Topic: "ops", Username: "u"},
			[]nightowl.FieldError{{Key: "password", Message: "required with username"}}},
		{"password without user", Config{URL: DefaultURL, Topic: "ops", Password: testPassword},
			[]nightowl.FieldError{{Key: "username", Message: "required with password"}}},
		{"title does not parse", Config{URL: DefaultURL, Topic: "ops", TitleTemplate: "{{.Alert.Check"},
			[]nightowl.FieldError{{Key: "title_template", Message: `template: title_template:1: unclosed action`}}},
		{"text names no field", Config{URL: DefaultURL, Topic: "ops", TextTemplate: "{{.Alert.Nope}}"},
			[]nightowl.FieldError{{Key: "text_template", Message: `template: text_template:1:8: executing "text_template" at <.Alert.Nope>: can't evaluate field Nope in type nightowl.Alert`}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.cfg.Validate()
			if len(got) != len(tc.want) {
				t.Fatalf("Validate = %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("error %d = %v, want %v", i, got[i], tc.want[i])
				}
				for _, secret := range []string{testToken, testPassword} {
					if strings.Contains(got[i].Message, secret) {
						t.Errorf("message %q contains a secret", got[i].Message)
					}
				}
			}
		})
	}
}

func TestNewDefaults(t *testing.T) {
	c := New().(*Config)
	if c.URL != DefaultURL {
		t.Errorf("URL = %q, want %q", c.URL, DefaultURL)
	}
}
