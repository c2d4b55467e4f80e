package pagerduty

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

const routingKey = "R0UT1NGKEYSECRET0123456789abcdef"

// message is the fixture every receiver package uses, so that their
// payloads can be compared.
func message(kind nightowl.MessageKind) *nightowl.Message { return notifytest.MessageOf(kind) }

func notifier(t *testing.T, c *Config) nightowl.Notifier {
	t.Helper()
	return notifytest.Notifier(t, c, kit.Deps{Client: &http.Client{}})
}

func config(url string) *Config {
	c := New().(*Config)
	c.RoutingKey = routingKey
	c.APIURL = url
	return c
}

// receiver enqueues events on the test server, which accepts them.
func receiver() notifytest.Receiver[*Config] {
	return notifytest.Receiver[*Config]{
		Config:  func(url string) *Config { return config(url + "/v2/enqueue") },
		Message: notifytest.Message,
		Answer: notifytest.Answer{Status: http.StatusAccepted,
			Body: `{"status":"success","message":"Event processed","dedup_key":"a1b2c3d4e5f6"}`},
		Path: "/v2/enqueue",
		// The routing key travels in the body and nowhere else: the
		// Events API takes no token.
		Header:  map[string]string{"Content-Type": "application/json", "Authorization": ""},
		Golden:  notifytest.GoldenIndent,
		Secrets: []string{routingKey},
	}
}

type cases = []notifytest.Case[*Config]

func TestNotify(t *testing.T) {
	notifytest.Run(t, receiver(), append(notifytest.Kinds[*Config](notifytest.AliceAt0134), cases{
		{
			// An alert of a group is the group's incident: it
			// resolves the group's dedup_key.
			Name: "grouped", Golden: "grouped",
			Msg: func(m *nightowl.Message) {
				notifytest.AliceAt0134.As(nightowl.MessageResolved)(m)
				m.Alert.Group = "g7h8i9j0k1l2m"
			},
		},
		{
			Name: "custom_template", Golden: "custom_template",
			Config: func(c *Config) {
				c.TitleTemplate, c.TextTemplate = notifytest.CustomTitle, notifytest.CustomText
				c.ComponentLabel = ""
				c.GroupLabel = "tier"
			},
		},
		{
			// Without server.public_url there are no links to give.
			Name: "firing_without_links", Golden: "firing_without_links",
			Msg: notifytest.WithoutLinks,
		},
	}...))
}

func TestNotifyLongSummary(t *testing.T) {
	srv, seen := notifytest.Serve(t, notifytest.Answer{Status: http.StatusAccepted, Body: `{"status":"success"}`})
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
	notifytest.Run(t, receiver(), append(cases{
		{Name: "server_error", Answer: notifytest.Answer{Status: 500, Body: `internal error`},
			Want: notifytest.Want{Retry: true, Err: "500"}},
		{Name: "unavailable", Answer: notifytest.Answer{Status: 503}, Want: notifytest.Want{Retry: true, Err: "503"}},
		{
			Name: "rate_limited", Answer: notifytest.Answer{Status: 429, Header: map[string]string{"Retry-After": "7"},
				Body: `{"status":"throttle event","message":"Requests for this service are arriving too quickly."}`},
			Want: notifytest.Want{Retry: true, Err: "429", After: 7 * time.Second},
		},
		{
			Name: "bad_request", Answer: notifytest.Answer{Status: 400,
				Body: `{"status":"invalid event","message":"Event object is invalid","errors":["'payload.summary' is missing or blank"]}`},
			Want: notifytest.Want{Err: "400"},
		},
		{
			// An answer that quotes the request must not carry the key
			// into logs and the API.
			Name: "bad_request_echoing_key", Answer: notifytest.Answer{Status: 400,
				Body: `{"status":"invalid event","errors":["unknown routing_key ` + routingKey + `"]}`},
			Want: notifytest.Want{Err: "400"},
		},
	}, notifytest.Unreachable[*Config]()...))
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
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := config(DefaultAPIURL)
			tt.config(c)
			notifytest.FieldErrorPrefixes(t, c.Validate(), tt.want, strings.TrimSpace(routingKey))
		})
	}
	valid := func() *Config { return config(DefaultAPIURL) }
	notifytest.Validate(t, valid, append(
		notifytest.URLChanges("api_url", "", func(c *Config, url string) { c.APIURL = url }),
		notifytest.TemplateChanges(func(c *Config, title, text string) { c.TitleTemplate, c.TextTemplate = title, text })...),
		strings.TrimSpace(routingKey))
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
