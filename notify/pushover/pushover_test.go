package pushover

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/notify/kit"
	"github.com/nightowl/nightowl/notify/notifytest"
)

const (
	testUser  = "uQiRzpo4DXghDmr9QzzfQu27cmVRsG"
	testToken = "azGDORePK8gMaC0QOYAMyEEuzJnyUi"
)

// fixture is the message every receiver package tests with, so that the
// payloads can be compared side by side.
func fixture(kind nightowl.MessageKind) *nightowl.Message {
	return notifytest.AnaAt0131.Message(kind)
}

type request struct {
	method, path, contentType string
	form                      url.Values
}

type reply struct {
	status int
	body   string
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
	return notifytest.Notifier(t, c, kit.Deps{Client: &http.Client{}})
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
			notifytest.Golden(t, tc.name, formJSON(t, last))
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
	notifytest.Run(t, notifytest.Receiver[*Config]{
		Config: func(url string) *Config {
			c := New().(*Config)
			c.UserKey, c.AppToken, c.APIURL = testUser, testToken, url+"/1/messages.json"
			return c
		},
		Deps:    kit.Deps{Client: &http.Client{}},
		Message: notifytest.Message,
		Path:    "/1/messages.json",
		Header:  map[string]string{"Content-Type": "application/x-www-form-urlencoded"},
		Request: func(t *testing.T, _ *nightowl.Message, r notifytest.Request) {
			if _, err := url.ParseQuery(string(r.Body)); err != nil {
				t.Errorf("body is not form-encoded: %v", err)
			}
		},
		Secrets: []string{testToken, testUser},
	}, append([]notifytest.Case[*Config]{
		{Name: "server error", Answer: notifytest.Answer{Status: 500, Body: "oops"},
			Want: notifytest.Want{Retry: true, Err: "500"}},
		{Name: "rate limited", Answer: notifytest.Answer{Status: 429, Header: map[string]string{"Retry-After": "7"}, Body: `{"status":0}`},
			Want: notifytest.Want{Retry: true, After: 7 * time.Second, Err: "429"}},
		{Name: "bad request", Answer: notifytest.Answer{Status: 400, Body: echo}, Want: notifytest.Want{Err: "400"}},
	}, notifytest.Unreachable[*Config]()...))
}

// TestCancelFailures: a resolved emergency first cancels the repeats of
// the alert, and only then sends the recovery.
func TestCancelFailures(t *testing.T) {
	echo := `{"user":"invalid","errors":["user identifier ` + testUser + ` is not valid for token ` + testToken + `"],"status":0}`
	for _, tc := range []struct {
		name    string
		replies map[string]reply
		want    notifytest.Want
		// wantSent is how many requests reached messages.json.
		wantSent int
	}{
		// A cancel that may work later is retried before anything is sent.
		{name: "cancel unavailable",
			replies:  map[string]reply{"/1/receipts/cancel_by_tag/nightowl-a1b2c3d4e5f6.json": {status: 503, body: echo}},
			want:     notifytest.Want{Retry: true, Err: "cancel emergency repeats"},
			wantSent: 0},
		// One that never will is logged, and the message still goes out.
		{name: "cancel refused",
			replies: map[string]reply{
				"/1/receipts/cancel_by_tag/nightowl-a1b2c3d4e5f6.json": {status: 400, body: echo},
				"/1/messages.json": {status: 500, body: echo},
			},
			want:     notifytest.Want{Retry: true, Err: "500"},
			wantSent: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t)
			s.replies = tc.replies
			c := config(s)
			c.Emergency = true
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			retry, err := notifier(t, c).Notify(ctx, fixture(nightowl.MessageResolved))
			tc.want.Check(t, retry, err, testToken, testUser)
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
			notifytest.FieldErrors(t, tc.cfg.Validate(), tc.want, testToken, testUser)
		})
	}
	notifytest.Validate(t, func() *Config { c := valid(nil); return &c }, append(
		notifytest.URLChanges("api_url", "/1/messages.json", func(c *Config, url string) { c.APIURL = url }),
		notifytest.TemplateChanges(func(c *Config, title, text string) { c.TitleTemplate, c.TextTemplate = title, text })...),
		testToken, testUser)
}
