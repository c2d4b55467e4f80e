package pagerduty

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
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

const routingKey = "R0UT1NGKEYSECRET0123456789abcdef"

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
	c.RoutingKey = routingKey
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
		name   string
		msg    func() *nightowl.Message
		config func(*Config)
	}{
		{name: "firing", msg: func() *nightowl.Message { return message(nightowl.MessageFiring) }},
		{name: "repeat", msg: func() *nightowl.Message { return message(nightowl.MessageRepeat) }},
		{name: "acknowledged", msg: func() *nightowl.Message { return message(nightowl.MessageAcknowledged) }},
		{name: "resolved", msg: func() *nightowl.Message { return message(nightowl.MessageResolved) }},
		{
			name: "custom_template",
			msg:  func() *nightowl.Message { return message(nightowl.MessageFiring) },
			config: func(c *Config) {
				c.TitleTemplate = `{{.Alert.Check}} is {{.Alert.Status}} ({{.Alert.Labels.site}})`
				c.TextTemplate = `{{range .Alert.Failed}}- {{.Name}}: {{.Message}}{{"\n"}}{{end}}`
				c.ComponentLabel = ""
				c.GroupLabel = "tier"
			},
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
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, seen := server(t, http.StatusAccepted, nil,
				`{"status":"success","message":"Event processed","dedup_key":"a1b2c3d4e5f6"}`)
			c := config(srv.URL + "/v2/enqueue")
			if tt.config != nil {
				tt.config(c)
			}
			retry, err := notifier(t, c).Notify(context.Background(), tt.msg())
			if err != nil || retry {
				t.Fatalf("Notify = %v, %v; want false, nil", retry, err)
			}
			r := <-seen
			if r.Method != http.MethodPost || r.Path != "/v2/enqueue" {
				t.Errorf("request = %s %s; want POST /v2/enqueue", r.Method, r.Path)
			}
			if ct := r.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			// The routing key travels in the body and nowhere else.
			if r.Header.Get("Authorization") != "" {
				t.Errorf("Authorization header set: the Events API takes no token")
			}
			golden(t, tt.name, r.Body)
		})
	}
}

func TestNotifyLongSummary(t *testing.T) {
	srv, seen := server(t, http.StatusAccepted, nil, `{"status":"success"}`)
	m := message(nightowl.MessageFiring)
	m.Alert.Cause = strings.Repeat("é", 2000)
	if _, err := notifier(t, config(srv.URL)).Notify(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	var e event
	if err := json.Unmarshal((<-seen).Body, &e); err != nil {
		t.Fatal(err)
	}
	if n := len([]rune(e.Payload.Summary)); n != summaryLimit {
		t.Errorf("summary has %d characters; want %d", n, summaryLimit)
	}
	if !strings.HasSuffix(e.Payload.Summary, "…") {
		t.Errorf("summary does not show it was cut: %q", e.Payload.Summary[len(e.Payload.Summary)-10:])
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
		{name: "server_error", status: 500, body: `internal error`, wantRetry: true},
		{name: "unavailable", status: 503, body: ``, wantRetry: true},
		{
			name: "rate_limited", status: 429, header: map[string]string{"Retry-After": "7"},
			body: `{"status":"throttle event","message":"Requests for this service are arriving too quickly."}`, wantRetry: true, wantAfter: 7 * time.Second,
		},
		{
			name: "bad_request", status: 400,
			body:      `{"status":"invalid event","message":"Event object is invalid","errors":["'payload.summary' is missing or blank"]}`,
			wantRetry: false,
		},
		{
			// An answer that quotes the request must not carry the key
			// into logs and the API.
			name: "bad_request_echoing_key", status: 400,
			body:      `{"status":"invalid event","errors":["unknown routing_key ` + routingKey + `"]}`,
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
			if strings.Contains(err.Error(), routingKey) {
				t.Errorf("error shows the routing key: %v", err)
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
			if strings.Contains(err.Error(), routingKey) {
				t.Errorf("error shows the routing key: %v", err)
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
		{name: "no_routing_key", config: func(c *Config) { c.RoutingKey = "" }, want: []string{"routing_key: required"}},
		{name: "routing_key_with_space", config: func(c *Config) { c.RoutingKey += " " }, want: []string{"routing_key: has leading or trailing spaces"}},
		{name: "routing_key_is_rest_token", config: func(c *Config) { c.RoutingKey = "u+Abc123XyZ456DeF789" }, want: []string{"routing_key: must be the 32-character integration key"}},
		{name: "no_api_url", config: func(c *Config) { c.APIURL = "" }, want: []string{"api_url: required"}},
		{name: "api_url_scheme", config: func(c *Config) { c.APIURL = "ftp://events.example.com/" }, want: []string{`api_url: scheme must be "http" or "https"`}},
		{name: "api_url_host", config: func(c *Config) { c.APIURL = "https:///v2/enqueue" }, want: []string{"api_url: has no host"}},
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
				if strings.Contains(got, strings.TrimSpace(routingKey)) {
					t.Errorf("error shows the routing key: %q", got)
				}
			}
		})
	}
}

func TestNewDefaults(t *testing.T) {
	c := New().(*Config)
	if c.APIURL != "https://events.pagerduty.com/v2/enqueue" {
		t.Errorf("api_url = %q", c.APIURL)
	}
	if errs := c.Validate(); len(errs) != 1 || errs[0].Key != "routing_key" {
		t.Errorf("Validate of the defaults = %v; want only routing_key required", errs)
	}
}
