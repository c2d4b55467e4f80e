package opsgenie

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/notify/kit"
	"github.com/nightowl/nightowl/notify/notifytest"
)

const apiKey = "0psg3n1e-5ecr-e7k3-y000-000000000042"

// message is the fixture every receiver package uses, so that their
// payloads can be compared.
func message(kind nightowl.MessageKind) *nightowl.Message { return notifytest.MessageOf(kind) }

func notifier(t *testing.T, c *Config) nightowl.Notifier {
	t.Helper()
	return notifytest.Notifier(t, c, kit.Deps{Client: &http.Client{}})
}

func config(url string) *Config {
	c := New().(*Config)
	c.APIKey = apiKey
	c.APIURL = url
	return c
}

// receiver creates alerts on the test server, which accepts them.
func receiver() notifytest.Receiver[*Config] {
	return notifytest.Receiver[*Config]{
		Config:  config,
		Message: notifytest.Message,
		Answer: notifytest.Answer{Status: http.StatusAccepted,
			Body: `{"result":"Request will be processed","took":0.107,"requestId":"43a29c5c-3dbf-4fa4-9c26-f4f71023e120"}`},
		Path:    "/v2/alerts",
		Header:  map[string]string{"Authorization": "GenieKey " + apiKey, "Content-Type": "application/json"},
		Golden:  notifytest.GoldenIndent,
		Secrets: []string{apiKey},
	}
}

type cases = []notifytest.Case[*Config]

func TestNotify(t *testing.T) {
	as := notifytest.AliceAt0134.As
	notifytest.Run(t, receiver(), cases{
		{Name: "firing", Golden: "firing"},
		{Name: "repeat", Msg: as(nightowl.MessageRepeat), Golden: "repeat"},
		{
			Name: "acknowledged", Msg: as(nightowl.MessageAcknowledged), Golden: "acknowledged",
			Path: "/v2/alerts/a1b2c3d4e5f6/acknowledge", Query: "identifierType=alias",
		},
		{
			Name: "resolved", Msg: as(nightowl.MessageResolved), Golden: "resolved",
			Path: "/v2/alerts/a1b2c3d4e5f6/close", Query: "identifierType=alias",
		},
		{
			// More checks blocked by the alert: a note on it.
			Name: "update", Msg: as(nightowl.MessageUpdate), Golden: "update",
			Path: "/v2/alerts/a1b2c3d4e5f6/notes", Query: "identifierType=alias",
		},
		{
			// An alert of a group is the group's Opsgenie alert.
			Name: "grouped", Golden: "grouped",
			Msg: func(m *nightowl.Message) {
				as(nightowl.MessageResolved)(m)
				m.Alert.Group = "g7h8i9j0k1l2m"
			},
			Path: "/v2/alerts/g7h8i9j0k1l2m/close", Query: "identifierType=alias",
		},
		{
			Name: "custom_template", Golden: "custom_template",
			Config: func(c *Config) {
				c.TitleTemplate, c.TextTemplate = notifytest.CustomTitle, notifytest.CustomText
			},
		},
		{
			// Without server.public_url there are no links to give.
			Name: "firing_without_links", Golden: "firing_without_links",
			Msg: notifytest.WithoutLinks,
		},
		{
			// Limits: message 130 characters, 20 tags of 50.
			Name: "long_fields", Golden: "long_fields",
			Msg: func(m *nightowl.Message) {
				m.Alert.Cause = strings.Repeat("x", 200)
				m.Alert.Labels = map[string]string{}
				for i := range 25 {
					m.Alert.Labels[fmt.Sprintf("label%02d", i)] = strings.Repeat("v", i*3)
				}
			},
		},
		{
			// An alias that is not URL-safe stays one path segment.
			Name: "alias_escaped", Golden: "alias_escaped",
			Msg: func(m *nightowl.Message) {
				as(nightowl.MessageResolved)(m)
				m.Alert.ID = "a1/b2 c3"
			},
			Path: "/v2/alerts/a1%2Fb2%20c3/close", Query: "identifierType=alias",
		},
	})
}

func TestLongFields(t *testing.T) {
	srv, seen := notifytest.Serve(t, notifytest.Answer{Status: http.StatusAccepted, Body: `{}`})
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
			srv, seen := notifytest.Serve(t, notifytest.Answer{Status: http.StatusAccepted, Body: `{}`})
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
	notifytest.Run(t, receiver(), append(cases{
		{Name: "server_error", Answer: notifytest.Answer{Status: 500, Body: `{"message":"Internal Server Error","took":0.001}`},
			Want: notifytest.Want{Retry: true, Err: "500"}},
		{Name: "unavailable", Answer: notifytest.Answer{Status: 503}, Want: notifytest.Want{Retry: true, Err: "503"}},
		{
			Name: "rate_limited", Answer: notifytest.Answer{Status: 429, Header: map[string]string{"Retry-After": "7"},
				Body: `{"message":"You are making too many requests! To avoid errors, we recommend you limit requests.","took":0.0,"requestId":"r1"}`},
			Want: notifytest.Want{Retry: true, Err: "429", After: 7 * time.Second},
		},
		{Name: "bad_request", Answer: notifytest.Answer{Status: 400, Body: `{"message":"Request body is not processable.","took":0.0}`},
			Want: notifytest.Want{Err: "400"}},
		{Name: "unprocessable", Answer: notifytest.Answer{Status: 422, Body: `{"message":"Request body is not processable. Please check the errors.","errors":{"message":"Message can not be empty."}}`},
			Want: notifytest.Want{Err: "422"}},
		{
			// An answer that quotes the request must not carry the key
			// into logs and the API.
			Name: "unauthorized_echoing_key", Answer: notifytest.Answer{Status: 401,
				Body: `{"message":"Key format is not valid: GenieKey ` + apiKey + `"}`},
			Want: notifytest.Want{Err: "401"},
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
		{name: "no_api_key", config: func(c *Config) { c.APIKey = "" }, want: []string{"api_key: required"}},
		{name: "api_key_with_space", config: func(c *Config) { c.APIKey += " " }, want: []string{"api_key: has leading or trailing spaces"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := config(DefaultAPIURL)
			tt.config(c)
			notifytest.FieldErrorPrefixes(t, c.Validate(), tt.want, strings.TrimSpace(apiKey))
		})
	}
	valid := func() *Config { return config(DefaultAPIURL) }
	notifytest.Validate(t, valid, append(
		notifytest.URLChanges("api_url", "", func(c *Config, url string) { c.APIURL = url }),
		notifytest.TemplateChanges(func(c *Config, title, text string) { c.TitleTemplate, c.TextTemplate = title, text })...),
		strings.TrimSpace(apiKey))
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
