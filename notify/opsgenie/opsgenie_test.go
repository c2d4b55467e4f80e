package opsgenie

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/notify"
	"github.com/nightowl/nightowl/notify/notifytest"
)

var update = flag.Bool("update", false, "rewrite golden files")

const apiKey = "0psg3n1e-5ecr-e7k3-y000-000000000042"

// message is the fixture every receiver package uses, so that their
// payloads can be compared.
func message(kind nightowl.MessageKind) *nightowl.Message { return notifytest.MessageOf(kind) }

type request = notifytest.Request

func server(t *testing.T, status int, header map[string]string, body string) (*httptest.Server, <-chan request) {
	t.Helper()
	return notifytest.Server(t, status, header, body)
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

func config(url string) *Config {
	c := New().(*Config)
	c.APIKey = apiKey
	c.APIURL = url
	return c
}

// golden compares got, pretty-printed, with testdata/name.golden.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, got, "", "  "); err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, got)
	}
	buf.WriteByte('\n')
	notifytest.Golden(t, filepath.Join("testdata", name+".golden"), buf.Bytes(), *update)
}

func TestNotify(t *testing.T) {
	tests := []struct {
		name      string
		msg       func() *nightowl.Message
		config    func(*Config)
		wantPath  string
		wantQuery string
	}{
		{name: "firing", msg: func() *nightowl.Message { return message(nightowl.MessageFiring) }, wantPath: "/v2/alerts"},
		{name: "repeat", msg: func() *nightowl.Message { return message(nightowl.MessageRepeat) }, wantPath: "/v2/alerts"},
		{
			name: "acknowledged", msg: func() *nightowl.Message { return message(nightowl.MessageAcknowledged) },
			wantPath: "/v2/alerts/a1b2c3d4e5f6/acknowledge", wantQuery: "identifierType=alias",
		},
		{
			name: "resolved", msg: func() *nightowl.Message { return message(nightowl.MessageResolved) },
			wantPath: "/v2/alerts/a1b2c3d4e5f6/close", wantQuery: "identifierType=alias",
		},
		{
			name: "custom_template",
			msg:  func() *nightowl.Message { return message(nightowl.MessageFiring) },
			config: func(c *Config) {
				c.TitleTemplate = `{{.Alert.Check}} is {{.Alert.Status}} ({{.Alert.Labels.site}})`
				c.TextTemplate = `{{range .Alert.Failed}}- {{.Name}}: {{.Message}}{{"\n"}}{{end}}`
			},
			wantPath: "/v2/alerts",
		},
		{
			// Without server.public_url there are no links to give.
			name: "firing_without_links",
			msg: func() *nightowl.Message {
				m := message(nightowl.MessageFiring)
				m.AckURL, m.DashboardURL, m.Alert.Maintenance = "", "", ""
				m.Alert.Severity, m.Alert.Status = nightowl.SeverityWarning, nightowl.StatusDegraded
				m.Alert.Failed = m.Alert.Failed[1:]
				m.Alert.Cause = "fast failed: duration < 2 (duration = 3.4)"
				return m
			},
			wantPath: "/v2/alerts",
		},
		{
			// Limits: message 130 characters, 20 tags of 50.
			name: "long_fields",
			msg: func() *nightowl.Message {
				m := message(nightowl.MessageFiring)
				m.Alert.Cause = strings.Repeat("x", 200)
				m.Alert.Labels = map[string]string{}
				for i := range 25 {
					m.Alert.Labels[fmt.Sprintf("label%02d", i)] = strings.Repeat("v", i*3)
				}
				return m
			},
			wantPath: "/v2/alerts",
		},
		{
			// An alias that is not URL-safe stays one path segment.
			name: "alias_escaped",
			msg: func() *nightowl.Message {
				m := message(nightowl.MessageResolved)
				m.Alert.ID = "a1/b2 c3"
				return m
			},
			wantPath: "/v2/alerts/a1%2Fb2%20c3/close", wantQuery: "identifierType=alias",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, seen := server(t, http.StatusAccepted, nil,
				`{"result":"Request will be processed","took":0.107,"requestId":"43a29c5c-3dbf-4fa4-9c26-f4f71023e120"}`)
			c := config(srv.URL)
			if tt.config != nil {
				tt.config(c)
			}
			retry, err := notifier(t, c).Notify(context.Background(), tt.msg())
			if err != nil || retry {
				t.Fatalf("Notify = %v, %v; want false, nil", retry, err)
			}
			r := <-seen
			if r.Method != http.MethodPost || r.Path != tt.wantPath || r.Query != tt.wantQuery {
				t.Errorf("request = %s %s?%s; want POST %s?%s", r.Method, r.Path, r.Query, tt.wantPath, tt.wantQuery)
			}
			if got := r.Header.Get("Authorization"); got != "GenieKey "+apiKey {
				t.Errorf("Authorization = %q; want GenieKey and the key", got)
			}
			if ct := r.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			golden(t, tt.name, r.Body)
		})
	}
}

func TestLongFields(t *testing.T) {
	srv, seen := server(t, http.StatusAccepted, nil, `{}`)
	m := message(nightowl.MessageFiring)
	m.Alert.Cause = strings.Repeat("é", 300)
	m.Alert.Maintenance = strings.Repeat("m", 20000)
	if _, err := notifier(t, config(srv.URL)).Notify(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	var a createAlert
	if err := json.Unmarshal((<-seen).Body, &a); err != nil {
		t.Fatal(err)
	}
	if n := len([]rune(a.Message)); n != messageLimit {
		t.Errorf("message has %d characters; want %d", n, messageLimit)
	}
	if n := len([]rune(a.Description)); n != descriptionLimit {
		t.Errorf("description has %d characters; want %d", n, descriptionLimit)
	}
	total := 0
	for k, v := range a.Details {
		total += len([]rune(k)) + len([]rune(v))
	}
	if total > 8000 {
		t.Errorf("details have %d characters; Opsgenie takes 8000", total)
	}
}

// The EU region and Jira Service Management's integration API differ from
// the default only in the base URL.
func TestAPIURL(t *testing.T) {
	tests := []struct {
		name, suffix, wantPath string
	}{
		{name: "trailing_slash", suffix: "/", wantPath: "/v2/alerts"},
		{name: "path_prefix", suffix: "/jsm/ops/integration", wantPath: "/jsm/ops/integration/v2/alerts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, seen := server(t, http.StatusAccepted, nil, `{}`)
			if _, err := notifier(t, config(srv.URL+tt.suffix)).Notify(context.Background(), message(nightowl.MessageFiring)); err != nil {
				t.Fatal(err)
			}
			if r := <-seen; r.Path != tt.wantPath {
				t.Errorf("path = %s; want %s", r.Path, tt.wantPath)
			}
		})
	}
}

func TestNotifyFailures(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		header    map[string]string
		body      string
		wantRetry bool
		wantAfter time.Duration
	}{
		{name: "server_error", status: 500, body: `{"message":"Internal Server Error","took":0.001}`, wantRetry: true},
		{name: "unavailable", status: 503, body: ``, wantRetry: true},
		{
			name: "rate_limited", status: 429, header: map[string]string{"Retry-After": "7"},
			body: `{"message":"You are making too many requests! To avoid errors, we recommend you limit requests.","took":0.0,"requestId":"r1"}`, wantRetry: true, wantAfter: 7 * time.Second,
		},
		{name: "bad_request", status: 400, body: `{"message":"Request body is not processable.","took":0.0}`, wantRetry: false},
		{name: "unprocessable", status: 422, body: `{"message":"Request body is not processable. Please check the errors.","errors":{"message":"Message can not be empty."}}`, wantRetry: false},
		{
			// An answer that quotes the request must not carry the key
			// into logs and the API.
			name: "unauthorized_echoing_key", status: 401,
			body:      `{"message":"Key format is not valid: GenieKey ` + apiKey + `"}`,
			wantRetry: false,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := server(t, tt.status, tt.header, tt.body)
			retry, err := notifier(t, config(srv.URL)).Notify(context.Background(), message(nightowl.MessageFiring))
			if err == nil {
				t.Fatal("Notify succeeded; want an error")
			}
			if retry != tt.wantRetry {
				t.Errorf("retry = %v; want %v (err: %v)", retry, tt.wantRetry, err)
			}
			if got := notify.RetryAfter(err); got != tt.wantAfter {
				t.Errorf("RetryAfter = %v; want %v", got, tt.wantAfter)
			}
			if strings.Contains(err.Error(), apiKey) {
				t.Errorf("error shows the API key: %v", err)
			}
		})
	}
}

func TestNotifyUnreachable(t *testing.T) {
	tests := []struct {
		name string
		url  func(t *testing.T) string
		ctx  func(t *testing.T) context.Context
	}{
		{
			// A receiver that never answers is cut off by the send's
			// own deadline, and the send is tried again later.
			name: "timeout",
			url: func(t *testing.T) string {
				release := make(chan struct{})
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					select {
					case <-r.Context().Done():
					case <-release:
					}
				}))
				t.Cleanup(srv.Close)
				t.Cleanup(func() { close(release) })
				return srv.URL
			},
			ctx: func(t *testing.T) context.Context {
				ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
				t.Cleanup(cancel)
				return ctx
			},
		},
		{
			name: "connection_refused",
			url: func(t *testing.T) string {
				srv := httptest.NewServer(http.NotFoundHandler())
				srv.Close()
				return srv.URL
			},
			ctx: func(t *testing.T) context.Context { return context.Background() },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			retry, err := notifier(t, config(tt.url(t))).Notify(tt.ctx(t), message(nightowl.MessageFiring))
			if err == nil || !retry {
				t.Fatalf("Notify = %v, %v; want true and an error", retry, err)
			}
			if strings.Contains(err.Error(), apiKey) {
				t.Errorf("error shows the API key: %v", err)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		config func(*Config)
		want   []string // "key: message start"
	}{
		{name: "ok", config: func(*Config) {}},
		{name: "no_api_key", config: func(c *Config) { c.APIKey = "" }, want: []string{"api_key: required"}},
		{name: "api_key_with_space", config: func(c *Config) { c.APIKey += " " }, want: []string{"api_key: has leading or trailing spaces"}},
		{name: "no_api_url", config: func(c *Config) { c.APIURL = "" }, want: []string{"api_url: required"}},
		{name: "api_url_scheme", config: func(c *Config) { c.APIURL = "ftp://api.opsgenie.com/" }, want: []string{`api_url: scheme must be "http" or "https"`}},
		{name: "api_url_host", config: func(c *Config) { c.APIURL = "https://" }, want: []string{"api_url: has no host"}},
		{name: "title_does_not_parse", config: func(c *Config) { c.TitleTemplate = "{{.Alert.Check" }, want: []string{"title_template: template: title_template:1: unclosed action"}},
		{name: "text_unknown_func", config: func(c *Config) { c.TextTemplate = "{{lower .Alert.Check}}" }, want: []string{`text_template: template: text_template:1: function "lower" not defined`}},
		{name: "text_misspelt_field", config: func(c *Config) { c.TextTemplate = "{{.Alert.Chek}}" }, want: []string{"text_template: template: text_template:1:8: executing"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := config(DefaultAPIURL)
			tt.config(c)
			errs := c.Validate()
			if len(errs) != len(tt.want) {
				t.Fatalf("Validate = %v; want %v", errs, tt.want)
			}
			for i, e := range errs {
				got := e.Key + ": " + e.Message
				if !strings.HasPrefix(got, tt.want[i]) {
					t.Errorf("error %d = %q; want it to start with %q", i, got, tt.want[i])
				}
				if strings.Contains(got, strings.TrimSpace(apiKey)) {
					t.Errorf("error shows the API key: %q", got)
				}
			}
		})
	}
}

func TestNewDefaults(t *testing.T) {
	c := New().(*Config)
	if c.APIURL != "https://api.opsgenie.com" {
		t.Errorf("api_url = %q", c.APIURL)
	}
	if errs := c.Validate(); len(errs) != 1 || errs[0].Key != "api_key" {
		t.Errorf("Validate of the defaults = %v; want only api_key required", errs)
	}
}
