package ntfy

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/notify/kit"
	"github.com/nightowl/nightowl/notify/notifytest"
)

const (
	testToken    = "tk_s3cr3tt0k3nvalue0000000000"
	testTopic    = "nightowl-ops-7f3a9c"
	testPassword = "hunter2-password"
)

// fixture is the message every receiver package tests with, so that the
// payloads can be compared side by side.
func fixture(kind nightowl.MessageKind) *nightowl.Message {
	return notifytest.AnaAt0131.Message(kind)
}

func notifier(t *testing.T, c *Config) nightowl.Notifier {
	t.Helper()
	return notifytest.Notifier(t, c, kit.Deps{Client: &http.Client{}})
}

// receiver publishes to testTopic on the test server, without logging in
// unless a case says so.
func receiver() notifytest.Receiver[*Config] {
	return notifytest.Receiver[*Config]{
		Config:  func(url string) *Config { return &Config{URL: url, Topic: testTopic} },
		Deps:    kit.Deps{Client: &http.Client{}},
		Message: notifytest.Message,
		Answer:  notifytest.Answer{Status: http.StatusOK, Body: `{"id":"x"}`},
		// Publishing JSON goes to the root.
		Path:    "/",
		Header:  map[string]string{"Content-Type": "application/json", "Authorization": ""},
		Golden:  notifytest.GoldenIndent,
		Secrets: []string{testToken, testTopic},
	}
}

type cases = []notifytest.Case[*Config]

func TestPayload(t *testing.T) {
	as := notifytest.AnaAt0131.As
	notifytest.Run(t, receiver(), cases{
		{Name: "firing", Golden: "firing", Config: func(c *Config) { c.Token = testToken },
			Header: map[string]string{"Authorization": "Bearer " + testToken}},
		{Name: "repeat-warning", Golden: "repeat-warning", Msg: func(m *nightowl.Message) {
			as(nightowl.MessageRepeat)(m)
			m.Alert.Severity = nightowl.SeverityWarning
		}},
		{Name: "acknowledged", Golden: "acknowledged", Msg: as(nightowl.MessageAcknowledged)},
		{Name: "resolved", Golden: "resolved", Msg: as(nightowl.MessageResolved),
			Config: func(c *Config) { c.Username, c.Password = "nightowl", testPassword },
			Header: map[string]string{"Authorization": "Basic bmlnaHRvd2w6aHVudGVyMi1wYXNzd29yZA=="}},
		{Name: "no-links", Golden: "no-links", Msg: func(m *nightowl.Message) { m.AckURL, m.DashboardURL = "", "" }},
		{Name: "custom-template", Golden: "custom-template", Config: func(c *Config) {
			c.TitleTemplate = `{{.Alert.Check}} is {{.Alert.Status}} ({{.Alert.Labels.site}})`
			c.TextTemplate = `{{range .Alert.Failed}}{{.Name}}: {{.Message}}; {{end}}`
		}},
	})
}

func TestMessageCut(t *testing.T) {
	srv, seen := notifytest.Serve(t, notifytest.Answer{Status: http.StatusOK, Body: `{"id":"x"}`})
	m := fixture(nightowl.MessageFiring)
	m.Alert.Failed[0].Message = strings.Repeat("é", 3000)
	n := notifier(t, &Config{URL: srv.URL, Topic: testTopic})
	if _, err := n.Notify(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	var p payload
	if err := json.Unmarshal((<-seen).Body, &p); err != nil {
		t.Fatal(err)
	}
	if len(p.Message) > messageLimit || !strings.HasSuffix(p.Message, "…") || !strings.HasPrefix(p.Message, "math-site is down") {
		t.Errorf("message of %d bytes, want at most %d ending in …: %.60q", len(p.Message), messageLimit, p.Message)
	}
}

func TestFailures(t *testing.T) {
	r := receiver()
	r.Config = func(url string) *Config { return &Config{URL: url, Topic: testTopic, Token: testToken} }
	r.Header = map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + testToken}
	notifytest.Run(t, r, append(cases{
		{Name: "server error", Answer: notifytest.Answer{Status: 500, Body: "oops"}, Want: notifytest.Want{Retry: true, Err: "500"}},
		{Name: "rate limited", Answer: notifytest.Answer{Status: 429, Header: map[string]string{"Retry-After": "7"},
			Body: `{"code":42901,"http":429,"error":"limit reached"}`}, Want: notifytest.Want{Retry: true, After: 7 * time.Second, Err: "429"}},
		// ntfy answers a bad request with JSON naming the problem; the
		// topic, a secret, must not come back through the error.
		{Name: "bad request", Answer: notifytest.Answer{Status: 400, Body: `{"code":40009,"error":"invalid topic ` + testTopic + `"}`},
			Want: notifytest.Want{Err: "400"}},
		{Name: "unauthorized", Answer: notifytest.Answer{Status: 401, Body: `{"code":40101,"error":"unauthorized, token ` + testToken + `"}`},
			Want: notifytest.Want{Err: "401"}},
	}, notifytest.Unreachable[*Config]()...))
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
		{"token and user", Config{URL: DefaultURL, Topic: "ops", Token: testToken, Username: "u", Password: "p"},
			[]nightowl.FieldError{{Key: "token", Message: "cannot be combined with username and password"}}},
		{"user without password", Config{URL: DefaultURL, Topic: "ops", Username: "u"},
			[]nightowl.FieldError{{Key: "password", Message: "required with username"}}},
		{"password without user", Config{URL: DefaultURL, Topic: "ops", Password: testPassword},
			[]nightowl.FieldError{{Key: "username", Message: "required with password"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			notifytest.FieldErrors(t, tc.cfg.Validate(), tc.want, testToken, testPassword)
		})
	}
	valid := func() *Config { return &Config{URL: DefaultURL, Topic: "ops"} }
	notifytest.Validate(t, valid, append(
		notifytest.URLChanges("url", "", func(c *Config, url string) { c.URL = url }),
		notifytest.TemplateChanges(func(c *Config, title, text string) { c.TitleTemplate, c.TextTemplate = title, text })...),
		testToken, testPassword)
}

func TestNewDefaults(t *testing.T) {
	c := New().(*Config)
	if c.URL != DefaultURL {
		t.Errorf("URL = %q, want %q", c.URL, DefaultURL)
	}
}
