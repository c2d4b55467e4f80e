package slack

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/notify/kit"
	"github.com/nightowl/nightowl/notify/notifytest"
)

// hookPath is the secret part of the webhook URL, which no error may show.
const hookPath = "/services/T0SECRET/B0SECRET/s3cr3t-hook-token"

var secrets = []string{"T0SECRET", "B0SECRET", "s3cr3t-hook-token"}

// fixture is the message every receiver's tests send, so that their golden
// payloads can be compared side by side.
func fixture() *nightowl.Message {
	return notifytest.Message()
}

// receiver sends to a webhook URL on the test server, which answers "ok".
func receiver() notifytest.Receiver[*Config] {
	return notifytest.Receiver[*Config]{
		Config: func(url string) *Config {
			c := New().(*Config)
			c.WebhookURL = url + hookPath
			return c
		},
		Message: fixture,
		Answer:  notifytest.Answer{Status: 200, Body: "ok"},
		Path:    hookPath,
		Header:  map[string]string{"Content-Type": "application/json"},
		Golden:  notifytest.GoldenJSON,
		Secrets: secrets,
	}
}

type cases = []notifytest.Case[*Config]

func TestNotify(t *testing.T) {
	notifytest.Run(t, receiver(), append(notifytest.Kinds[*Config](notifytest.AliceAt0135), cases{
		{Name: "channel and username", Config: func(c *Config) { c.Channel, c.Username = "#ops", "nightowl" },
			Golden: "overrides"},
		{Name: "custom template", Config: func(c *Config) {
			c.TitleTemplate = `{{.Alert.Check}} {{.Kind}}`
			c.TextTemplate = `{{range .Alert.Failed}}*{{.Name}}*: {{.Message}}{{"\n"}}{{end}}`
		}, Golden: "custom"},
	}...))
}

func TestNotifyFailures(t *testing.T) {
	notifytest.Run(t, receiver(), append(cases{
		{Name: "server error retries", Answer: notifytest.Answer{Status: 500, Body: "rollup_error"},
			Want: notifytest.Want{Retry: true, Err: "500 Internal Server Error: rollup_error"}},
		{Name: "rate limited honours Retry-After", Answer: notifytest.Answer{Status: 429, Header: map[string]string{"Retry-After": "7"}, Body: "rate_limited"},
			Want: notifytest.Want{Retry: true, Err: "429", After: 7 * time.Second}},
		{Name: "bad request gives up", Answer: notifytest.Answer{Status: 400, Body: "invalid_payload"},
			Want: notifytest.Want{Err: "400 Bad Request: invalid_payload"}},
		{Name: "echoed URL is redacted", Answer: notifytest.Answer{Status: 404, Body: "no_service: Cannot POST " + hookPath},
			Want: notifytest.Want{Err: "Cannot POST [redacted]"}},
	}, notifytest.Unreachable[*Config]()...))
}

// TestLimits sends a message far beyond Slack's limits and checks that
// every text stays within them.
func TestLimits(t *testing.T) {
	m := fixture()
	m.Alert.Failed = nil
	for i := 0; i < 200; i++ {
		m.Alert.Failed = append(m.Alert.Failed, nightowl.AssertionResult{Name: "a", Message: strings.Repeat("<&>", 20)})
	}
	n, err := (&Config{WebhookURL: "https://hooks.slack.com/x"}).Notifier(kit.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	p := n.(*notifier).payload(m)
	section := p.Attachments[0].Blocks[0].Text.Text
	if c := utf8.RuneCountInString(section); c > maxSection {
		t.Errorf("section has %d characters, want at most %d", c, maxSection)
	}
	if !strings.HasSuffix(section, ";…") {
		t.Errorf("section ends %q, want a whole entity and an ellipsis", section[len(section)-20:])
	}
}

func TestEscape(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		limit int
		want  string
	}{
		{"plain", "math-site is down", 100, "math-site is down"},
		{"control characters", "a < b & c > d", 100, "a &lt; b &amp; c &gt; d"},
		{"mention stays text", "<!channel> <@U123>", 100, "&lt;!channel&gt; &lt;@U123&gt;"},
		{"exactly at the limit", "abcde", 5, "abcde"},
		{"cut", "abcdef", 5, "abcd…"},
		{"never inside an entity", "ab<cd", 6, "ab…"},
		{"runes, not bytes", "ééééé", 5, "ééééé"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := escape(tt.in, tt.limit); got != tt.want {
				t.Errorf("escape(%q, %d) = %q, want %q", tt.in, tt.limit, got, tt.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want []nightowl.FieldError
	}{
		{"ok", Config{WebhookURL: "https://hooks.slack.com" + hookPath, Channel: "#ops"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			notifytest.FieldErrors(t, tt.cfg.Validate(), tt.want, secrets...)
		})
	}
	valid := func() *Config { return &Config{WebhookURL: "https://hooks.slack.com" + hookPath} }
	notifytest.Validate(t, valid, append(
		notifytest.URLChanges("webhook_url", hookPath, func(c *Config, url string) { c.WebhookURL = url }),
		notifytest.TemplateChanges(func(c *Config, title, text string) { c.TitleTemplate, c.TextTemplate = title, text })...),
		secrets...)
}

func TestNotifierRejectsBadConfig(t *testing.T) {
	notifytest.Refused(t, &Config{}, &Config{WebhookURL: "https://hooks.slack.com/x", TextTemplate: "{{"})
}
