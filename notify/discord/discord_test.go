package discord

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
const hookPath = "/api/webhooks/1234567890/s3cr3t-hook-token-T0SECRET"

var secrets = []string{"T0SECRET", "s3cr3t-hook-token"}

// fixture is the message every receiver's tests send, so that their golden
// payloads can be compared side by side.
func fixture() *nightowl.Message {
	return notifytest.Message()
}

var acknowledged = notifytest.AliceAt0135.As(nightowl.MessageAcknowledged)

// receiver sends to a webhook URL on the test server, which answers 204.
func receiver() notifytest.Receiver[*Config] {
	return notifytest.Receiver[*Config]{
		Config: func(url string) *Config {
			c := New().(*Config)
			c.WebhookURL = url + hookPath
			return c
		},
		Message: fixture,
		Answer:  notifytest.Answer{Status: 204},
		Path:    hookPath,
		Header:  map[string]string{"Content-Type": "application/json"},
		Golden:  notifytest.GoldenJSON,
		Secrets: secrets,
	}
}

type cases = []notifytest.Case[*Config]

func TestNotify(t *testing.T) {
	notifytest.Run(t, receiver(), append(notifytest.Kinds[*Config](notifytest.AliceAt0135), cases{
		{Name: "mention and username", Config: func(c *Config) { c.Username, c.Mention = "nightowl", "<@&123456789> @here" },
			Golden: "mention"},
		{Name: "no ping once acknowledged", Msg: acknowledged, Config: func(c *Config) { c.Mention = "@here" },
			Golden: "acknowledged-mention"},
		{Name: "no failed assertions shows the cause", Msg: func(m *nightowl.Message) {
			m.Alert.Failed, m.Alert.Maintenance, m.AckURL, m.DashboardURL = nil, "", "", ""
			m.Alert.Cause = "connect: connection refused"
		}, Golden: "cause"},
		{Name: "custom template", Config: func(c *Config) {
			c.TitleTemplate = `{{.Alert.Check}} {{.Kind}}`
			c.TextTemplate = `**{{.Alert.Check}}** since {{since .Alert.StartsAt}}{{if .AckURL}} — [ack]({{.AckURL}}){{end}}`
		}, Golden: "custom"},
	}...))
}

func TestNotifyFailures(t *testing.T) {
	notifytest.Run(t, receiver(), append(cases{
		{Name: "server error retries", Answer: notifytest.Answer{Status: 500, Body: "oops"},
			Want: notifytest.Want{Retry: true, Err: "500 Internal Server Error: oops"}},
		{Name: "rate limited honours Retry-After", Answer: notifytest.Answer{Status: 429, Header: map[string]string{"Retry-After": "7"}, Body: `{"message": "You are being rate limited.", "retry_after": 6.5, "global": false}`},
			Want: notifytest.Want{Retry: true, Err: "429", After: 7 * time.Second}},
		{Name: "bad request gives up", Answer: notifytest.Answer{Status: 400, Body: `{"code": 50035, "message": "Invalid Form Body"}`},
			Want: notifytest.Want{Err: "Invalid Form Body"}},
		{Name: "echoed URL is redacted", Answer: notifytest.Answer{Status: 404, Body: "Cannot POST " + hookPath},
			Want: notifytest.Want{Err: "Cannot POST [redacted]"}},
	}, notifytest.Unreachable[*Config]()...))
}

// TestLimits sends a message far beyond Discord's limits and checks that
// the embed stays within every one of them.
func TestLimits(t *testing.T) {
	long := func(n int) string { return strings.Repeat("é", n) }
	tests := []struct {
		name       string
		msg        func(*nightowl.Message)
		wantFields int
		wantMore   string // the value of the last field, when some are left out
	}{
		{"many short assertions", func(m *nightowl.Message) {
			m.Alert.Failed = nil
			for i := 0; i < 40; i++ {
				m.Alert.Failed = append(m.Alert.Failed, nightowl.AssertionResult{Name: "a", Message: "x"})
			}
		}, 25, "and 16 more failed assertions"},
		{"exactly 25", func(m *nightowl.Message) {
			m.Alert.Failed = nil
			for i := 0; i < 25; i++ {
				m.Alert.Failed = append(m.Alert.Failed, nightowl.AssertionResult{Name: "a", Message: "x"})
			}
		}, 25, ""},
		{"long everything", func(m *nightowl.Message) {
			m.Alert.Check = long(300)
			m.Alert.Maintenance = long(5000)
			m.Alert.Failed = nil
			for i := 0; i < 10; i++ {
				m.Alert.Failed = append(m.Alert.Failed, nightowl.AssertionResult{Name: long(300), Message: long(2000)})
			}
		}, 2, "and 9 more failed assertions"},
		{"empty message", func(m *nightowl.Message) {
			m.Alert.Failed = []nightowl.AssertionResult{{Name: "up"}}
		}, 1, ""},
	}
	n, err := (&Config{WebhookURL: "https://discord.com/x", Mention: "@here"}).Notifier(kit.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := fixture()
			tt.msg(m)
			p := n.(*notifier).payload(m)
			e := p.Embeds[0]
			count := utf8.RuneCountInString
			if c := count(p.Content); c > maxContent {
				t.Errorf("content has %d characters", c)
			}
			if c := count(e.Title); c > maxTitle {
				t.Errorf("title has %d characters", c)
			}
			if c := count(e.Description); c > maxDescription {
				t.Errorf("description has %d characters", c)
			}
			total := count(e.Title) + count(e.Description) + count(e.Footer.Text)
			for _, f := range e.Fields {
				if count(f.Name) > maxFieldName || count(f.Value) > maxFieldValue || f.Name == "" || f.Value == "" {
					t.Errorf("a field has a name of %d and a value of %d characters", count(f.Name), count(f.Value))
				}
				total += count(f.Name) + count(f.Value)
			}
			if total > maxEmbed {
				t.Errorf("embed has %d characters, want at most %d", total, maxEmbed)
			}
			if len(e.Fields) != tt.wantFields {
				t.Errorf("%d fields, want %d", len(e.Fields), tt.wantFields)
			}
			if last := e.Fields[len(e.Fields)-1]; tt.wantMore != "" && last.Value != tt.wantMore {
				t.Errorf("last field = %q, want %q", last.Value, tt.wantMore)
			}
		})
	}
}

func TestEscapeMarkdown(t *testing.T) {
	for in, want := range map[string]string{
		`body contains "read-only mode"`:    `body contains "read-only mode"`,
		"[click](https://evil.example)":     `\[click\](https://evil.example)`,
		"**bold** _it_ ~~s~~ `c` ||spoil||": "\\*\\*bold\\*\\* \\_it\\_ \\~\\~s\\~\\~ \\`c\\` \\|\\|spoil\\|\\|",
		`a\b`:                               `a\\b`,
	} {
		if got := escapeMarkdown(in); got != want {
			t.Errorf("escapeMarkdown(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want []nightowl.FieldError
	}{
		{"ok", Config{WebhookURL: "https://discord.com" + hookPath, Username: "nightowl", Mention: "<@&123> <@!45> <@6> @here @everyone"}, nil},
		{"bad username", Config{WebhookURL: "https://discord.com" + hookPath, Username: "Discord alerts"},
			[]nightowl.FieldError{{Key: "username", Message: `must not contain "discord" or "clyde"`}}},
		{"long username", Config{WebhookURL: "https://discord.com" + hookPath, Username: strings.Repeat("n", 81)},
			[]nightowl.FieldError{{Key: "username", Message: "must be at most 80 characters"}}},
		{"bad mention", Config{WebhookURL: "https://discord.com" + hookPath, Mention: "@here @oncall"},
			[]nightowl.FieldError{{Key: "mention", Message: `"@oncall" is not a mention: use @here, @everyone, <@USER_ID> or <@&ROLE_ID>`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			notifytest.FieldErrors(t, tt.cfg.Validate(), tt.want, secrets...)
		})
	}
	valid := func() *Config { return &Config{WebhookURL: "https://discord.com" + hookPath} }
	notifytest.Validate(t, valid, append(
		notifytest.URLChanges("webhook_url", hookPath, func(c *Config, url string) { c.WebhookURL = url }),
		notifytest.TemplateChanges(func(c *Config, title, text string) { c.TitleTemplate, c.TextTemplate = title, text })...),
		secrets...)
}

func TestNotifierRejectsBadConfig(t *testing.T) {
	notifytest.Refused(t, &Config{}, &Config{WebhookURL: "https://discord.com/x", TextTemplate: "{{"})
}
