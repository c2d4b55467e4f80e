package pushover

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/notify"
	"github.com/nightowl/nightowl/notify/notifytest"
)

var update = flag.Bool("update", false, "rewrite golden files")

const (
	testUser  = "uQiRzpo4DXghDmr9QzzfQu27cmVRsG"
	testToken = "azGDORePK8gMaC0QOYAMyEEuzJnyUi"
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

type request struct {
	method, path, contentType string
	form                      url.Values
}

type reply struct {
	status int
	header http.Header
	body   string
	block  bool
}

// server is a Pushover stand-in under /1/ that records every request and
// answers each path with its reply (200 with status 1 by default).
type server struct {
	*httptest.Server
	mu      sync.Mutex
	replies map[string]reply
	got     []request
}

func newServer(t *testing.T) *server {
	s := &server{replies: map[string]reply{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, err := url.ParseQuery(string(body))
		if err != nil {
			t.Errorf("body is not form-encoded: %v", err)
		}
		s.mu.Lock()
		s.got = append(s.got, request{r.Method, r.URL.Path, r.Header.Get("Content-Type"), form})
		rep, ok := s.replies[r.URL.Path]
		s.mu.Unlock()
		if !ok {
			rep = reply{status: 200, body: `{"status":1,"request":"647d2300-702c-4b38-8b2f-d56326ae460b"}`}
		}
		if rep.block {
			<-r.Context().Done()
			return
		}
		for k, v := range rep.header {
			w.Header()[k] = v
		}
		w.WriteHeader(rep.status)
		io.WriteString(w, rep.body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *server) requests() []request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]request(nil), s.got...)
}

func config(s *server) *Config {
	c := New().(*Config)
	c.UserKey, c.AppToken, c.APIURL = testUser, testToken, s.URL+"/1/messages.json"
	return c
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

// formJSON shows a form as indented JSON, which reads better in a golden
// file than percent-encoding; every parameter is sent once.
func formJSON(t *testing.T, f url.Values) []byte {
	t.Helper()
	flat := map[string]string{}
	for k, v := range f {
		if len(v) != 1 {
			t.Errorf("parameter %s sent %d times", k, len(v))
		}
		flat[k] = strings.Join(v, ",")
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(flat); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestPayload(t *testing.T) {
	warning := fixture(nightowl.MessageFiring)
	warning.Alert.Severity = nightowl.SeverityWarning
	for _, tc := range []struct {
		name  string
		setup func(*Config)
		msg   *nightowl.Message
		// wantPaths are the API calls, in order.
		wantPaths []string
	}{
		{"firing", nil, fixture(nightowl.MessageFiring), []string{"/1/messages.json"}},
		{"repeat", nil, fixture(nightowl.MessageRepeat), []string{"/1/messages.json"}},
		{"firing-warning", nil, warning, []string{"/1/messages.json"}},
		{"acknowledged", nil, fixture(nightowl.MessageAcknowledged), []string{"/1/messages.json"}},
		{"resolved", nil, fixture(nightowl.MessageResolved), []string{"/1/messages.json"}},
		{"custom-template", func(c *Config) {
			c.TitleTemplate = `{{.Alert.Check}} is {{.Alert.Status}} ({{index .Alert.Labels "site"}})`
			c.TextTemplate = `{{range .Alert.Failed}}{{.Name}}: {{.Message}}; {{end}}`
		}, fixture(nightowl.MessageFiring), []string{"/1/messages.json"}},
		{"emergency-firing", func(c *Config) {
			c.Emergency, c.Retry, c.Expire, c.Device, c.Sound = true, 2*time.Minute, 2*time.Hour, "phone", "siren"
		}, fixture(nightowl.MessageFiring), []string{"/1/messages.json"}},
		{"emergency-resolved", func(c *Config) { c.Emergency = true }, fixture(nightowl.MessageResolved),
			[]string{"/1/receipts/cancel_by_tag/nightowl-a1b2c3d4e5f6.json", "/1/messages.json"}},
		{"emergency-acknowledged", func(c *Config) { c.Emergency = true }, fixture(nightowl.MessageAcknowledged),
			[]string{"/1/receipts/cancel_by_tag/nightowl-a1b2c3d4e5f6.json", "/1/messages.json"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t)
			c := config(s)
			if tc.setup != nil {
				tc.setup(c)
			}
			retry, err := notifier(t, c).Notify(context.Background(), tc.msg)
			if err != nil || retry {
				t.Fatalf("Notify = %v, %v; want false, nil", retry, err)
			}
			got := s.requests()
			if len(got) != len(tc.wantPaths) {
				t.Fatalf("%d requests, want %d", len(got), len(tc.wantPaths))
			}
			for i, r := range got {
				if r.method != http.MethodPost || r.path != tc.wantPaths[i] {
					t.Errorf("request %d: %s %s, want POST %s", i, r.method, r.path, tc.wantPaths[i])
				}
				if r.contentType != "application/x-www-form-urlencoded" {
					t.Errorf("request %d: Content-Type %q", i, r.contentType)
				}
				if r.form.Get("token") != testToken {
					t.Errorf("request %d: token %q", i, r.form.Get("token"))
				}
			}
			if len(got) == 2 && len(got[0].form) != 1 {
				t.Errorf("cancel sent %v, want the token only", got[0].form)
			}
			last := got[len(got)-1].form
			if last.Get("user") != testUser {
				t.Errorf("user %q", last.Get("user"))
			}
			golden(t, tc.name, formJSON(t, last))
		})
	}
}

func TestLimits(t *testing.T) {
	s := newServer(t)
	c := config(s)
	c.TitleTemplate = `{{.Alert.Check}} {{.Alert.Cause}}`
	m := fixture(nightowl.MessageFiring)
	m.Alert.Cause = strings.Repeat("ü", 300)
	m.Alert.Failed[0].Message = strings.Repeat("é", 2000)
	m.AckURL = "https://status.example.com/ack/" + strings.Repeat("x", 600)
	if _, err := notifier(t, c).Notify(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	f := s.requests()[0].form
	if n := utf8.RuneCountInString(f.Get("title")); n != titleLimit {
		t.Errorf("title of %d characters, want %d", n, titleLimit)
	}
	if n := utf8.RuneCountInString(f.Get("message")); n != messageLimit {
		t.Errorf("message of %d characters, want %d", n, messageLimit)
	}
	// A link cut short would lead nowhere: the dashboard stands in.
	if f.Get("url") != m.DashboardURL {
		t.Errorf("url = %.80q, want the dashboard", f.Get("url"))
	}
}

func TestFailures(t *testing.T) {
	// Pushover's answer to a bad request names the parameter; a server
	// that echoed the values must not put them in the error.
	echo := `{"user":"invalid","errors":["user identifier ` + testUser + ` is not valid for token ` + testToken + `"],"status":0}`
	for _, tc := range []struct {
		name       string
		emergency  bool
		msg        nightowl.MessageKind
		replies    map[string]reply
		wantRetry  bool
		wantAfter  time.Duration
		wantSubstr string
		// wantSent is how many requests reached messages.json.
		wantSent int
	}{
		{name: "server error", replies: map[string]reply{"/1/messages.json": {status: 500, body: "oops"}},
			wantRetry: true, wantSubstr: "500", wantSent: 1},
		{name: "rate limited", replies: map[string]reply{"/1/messages.json": {status: 429, header: http.Header{"Retry-After": {"7"}}, body: `{"status":0}`}},
			wantRetry: true, wantAfter: 7 * time.Second, wantSubstr: "429", wantSent: 1},
		{name: "bad request", replies: map[string]reply{"/1/messages.json": {status: 400, body: echo}},
			wantSubstr: "400", wantSent: 1},
		{name: "timeout", replies: map[string]reply{"/1/messages.json": {block: true}},
			wantRetry: true, wantSubstr: "deadline", wantSent: 1},
		// A cancel that may work later is retried before anything is sent.
		{name: "cancel unavailable", emergency: true, msg: nightowl.MessageResolved,
			replies:   map[string]reply{"/1/receipts/cancel_by_tag/nightowl-a1b2c3d4e5f6.json": {status: 503, body: echo}},
			wantRetry: true, wantSubstr: "cancel emergency repeats", wantSent: 0},
		// One that never will is logged, and the message still goes out.
		{name: "cancel refused", emergency: true, msg: nightowl.MessageResolved,
			replies: map[string]reply{
				"/1/receipts/cancel_by_tag/nightowl-a1b2c3d4e5f6.json": {status: 400, body: echo},
				"/1/messages.json": {status: 500, body: echo},
			},
			wantRetry: true, wantSubstr: "500", wantSent: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t)
			s.replies = tc.replies
			c := config(s)
			c.Emergency = tc.emergency
			kind := tc.msg
			if kind == "" {
				kind = nightowl.MessageFiring
			}
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			retry, err := notifier(t, c).Notify(ctx, fixture(kind))
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
			for _, secret := range []string{testToken, testUser} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q contains a secret", err)
				}
			}
			sent := 0
			for _, r := range s.requests() {
				if r.path == "/1/messages.json" {
					sent++
				}
			}
			if sent != tc.wantSent {
				t.Errorf("%d messages sent, want %d", sent, tc.wantSent)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	valid := func(f func(*Config)) Config {
		c := New().(*Config)
		c.UserKey, c.AppToken = testUser, testToken
		if f != nil {
			f(c)
		}
		return *c
	}
	for _, tc := range []struct {
		name string
		cfg  Config
		want []nightowl.FieldError
	}{
		{"defaults and keys", valid(nil), nil},
		{"emergency", valid(func(c *Config) { c.Emergency, c.Retry, c.Expire = true, 30*time.Second, 3*time.Hour }), nil},
		{"no keys", valid(func(c *Config) { c.UserKey, c.AppToken = "", "" }), []nightowl.FieldError{
			{Key: "user_key", Message: "required"}, {Key: "app_token", Message: "required"}}},
		{"pasted with a space", valid(func(c *Config) { c.AppToken += " " }), []nightowl.FieldError{
			{Key: "app_token", Message: "has leading or trailing spaces"}}},
		{"http api", valid(func(c *Config) { c.APIURL = "http://127.0.0.1:8080/1/messages.json" }), nil},
		{"ftp api", valid(func(c *Config) { c.APIURL = "ftp://api.pushover.net/1/messages.json" }), []nightowl.FieldError{
			{Key: "api_url", Message: `scheme must be "http" or "https"`}}},
		{"api elsewhere", valid(func(c *Config) { c.APIURL = "https://api.pushover.net/1/" }), []nightowl.FieldError{
			{Key: "api_url", Message: `must end in "/messages.json"`}}},
		{"retry too often", valid(func(c *Config) { c.Retry = 10 * time.Second }), []nightowl.FieldError{
			{Key: "retry", Message: "must be at least 30s"}}},
		{"expire too long", valid(func(c *Config) { c.Expire = 4 * time.Hour }), []nightowl.FieldError{
			{Key: "expire", Message: "must be more than 0s and at most 3h"}}},
		{"expire before retry", valid(func(c *Config) { c.Retry, c.Expire = 10*time.Minute, 5*time.Minute }), []nightowl.FieldError{
			{Key: "expire", Message: "must not be shorter than retry"}}},
		{"text does not parse", valid(func(c *Config) { c.TextTemplate = "{{if}}" }), []nightowl.FieldError{
			{Key: "text_template", Message: "template: text_template:1: missing value for if"}}},
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
				if strings.Contains(got[i].Message, testToken) || strings.Contains(got[i].Message, testUser) {
					t.Errorf("message %q contains a secret", got[i].Message)
				}
			}
		})
	}
}
