package teams

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/notify/kit"
	"github.com/nightowl/nightowl/notify/notifytest"
)

// hookPath and hookQuery are a Workflows URL's; its sig is the secret,
// which no error may show.
const (
	hookPath  = "/workflows/0123456789abcdef/triggers/manual/paths/invoke"
	hookQuery = "api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=s3cr3t-SIG-T0SECRET"
)

var secrets = []string{"T0SECRET", "s3cr3t-SIG"}

// fixture is the message every receiver's tests send, so that their golden
// payloads can be compared side by side.
func fixture() *nightowl.Message {
	return notifytest.Message()
}

// receiver sends to a Workflows URL on the test server, which answers 202.
func receiver() notifytest.Receiver[*Config] {
	return notifytest.Receiver[*Config]{
		Config: func(url string) *Config {
			c := New().(*Config)
			c.WebhookURL = url + hookPath + "?" + hookQuery
			return c
		},
		Message: fixture,
		Answer:  notifytest.Answer{Status: 202},
		Path:    hookPath,
		Query:   hookQuery,
		Header:  map[string]string{"Content-Type": "application/json"},
		Golden:  notifytest.GoldenJSON,
		Secrets: secrets,
	}
}

type cases = []notifytest.Case[*Config]

func TestNotify(t *testing.T) {
	notifytest.Run(t, receiver(), append(notifytest.Kinds[*Config](notifytest.AliceAt0135), cases{
		{Name: "no links no maintenance", Msg: func(m *nightowl.Message) {
			m.Alert.Failed, m.Alert.Maintenance, m.AckURL, m.DashboardURL = nil, "", "", ""
			m.Alert.Cause = "connect: connection refused"
		}, Golden: "cause"},
		{Name: "legacy incoming webhook answers 200", Answer: notifytest.Answer{Status: 200, Body: "1"}},
		{Name: "custom template", Config: func(c *Config) {
			c.TitleTemplate = `{{.Alert.Check}} {{.Kind}}`
			c.TextTemplate = "**{{.Alert.Check}}** since {{since .Alert.StartsAt}}\n\n{{.Alert.Cause}}"
		}, Golden: "custom"},
	}...))
}

func TestNotifyFailures(t *testing.T) {
	notifytest.Run(t, receiver(), append(cases{
		{Name: "server error retries", Answer: notifytest.Answer{Status: 502},
			Want: notifytest.Want{Retry: true, Err: "502 Bad Gateway"}},
		{Name: "rate limited honours Retry-After", Answer: notifytest.Answer{Status: 429, Header: map[string]string{"Retry-After": "7"}, Body: `{"error":{"code":"WorkflowTriggeredTooFrequently"}}`},
			Want: notifytest.Want{Retry: true, Err: "429", After: 7 * time.Second}},
		{Name: "bad request gives up", Answer: notifytest.Answer{Status: 400, Body: `{"error":{"code":"TriggerInputSchemaMismatch"}}`},
			Want: notifytest.Want{Err: "TriggerInputSchemaMismatch"}},
		{Name: "echoed URL is redacted", Answer: notifytest.Answer{Status: 404, Body: `{"error":{"message":"The signature 's3cr3t-SIG-T0SECRET' for ` + hookPath + `?` + hookQuery + ` is not valid."}}`},
			Want: notifytest.Want{Err: "The signature '[redacted]'"}},
	}, notifytest.Unreachable[*Config]()...))
}

// TestLimits sends messages far beyond what a card should hold and checks
// that they are cut down to a size Teams takes, the facts that are left
// out counted.
func TestLimits(t *testing.T) {
	failing := func(n int, name, message string) []nightowl.AssertionResult {
		var out []nightowl.AssertionResult
		for i := 0; i < n; i++ {
			out = append(out, nightowl.AssertionResult{Name: name, Message: message})
		}
		return out
	}
	tests := []struct {
		name      string
		msg       func(*nightowl.Message)
		wantFacts int // 0: as many as fit
		wantText  string
	}{
		{"many short assertions", func(m *nightowl.Message) { m.Alert.Failed = failing(100, "a", "x") }, maxFacts, ""},
		{"exactly the most facts", func(m *nightowl.Message) { m.Alert.Failed = failing(maxFacts, "a", "x") }, maxFacts, ""},
		{"long assertions", func(m *nightowl.Message) {
			m.Alert.Failed = failing(100, strings.Repeat("n", 1000), strings.Repeat("<&>", 1000))
		}, 0, ""},
		{"long everything", func(m *nightowl.Message) {
			m.Alert.Check = strings.Repeat("c", 1000)
			m.Alert.Maintenance = strings.Repeat("é", 50000)
			m.Alert.Failed = failing(100, strings.Repeat("n", 1000), strings.Repeat("<&>", 1000))
		}, 0, "…"},
	}
	n, err := (&Config{WebhookURL: "https://example.com/x"}).Notifier(kit.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := fixture()
			tt.msg(m)
			msg := n.(*notifier).message(m)
			b, err := json.Marshal(msg)
			if err != nil {
				t.Fatal(err)
			}
			if len(b) > maxBytes {
				t.Errorf("message has %d bytes, want at most %d", len(b), maxBytes)
			}
			var facts []fact
			var text string
			for _, e := range msg.Attachments[0].Content.Body {
				facts = append(facts, e.Facts...)
				text += e.Text
			}
			if len(facts) == 0 || len(facts) > maxFacts || tt.wantFacts != 0 && len(facts) != tt.wantFacts {
				t.Fatalf("%d facts, want %d (at most %d)", len(facts), tt.wantFacts, maxFacts)
			}
			if left := len(m.Alert.Failed) - len(facts) + 1; left > 1 {
				if last, want := facts[len(facts)-1].Value, fmt.Sprintf("and %d more failed assertions", left); last != want {
					t.Errorf("last fact = %q, want %q", last, want)
				}
			}
			if !strings.Contains(text, tt.wantText) {
				t.Errorf("text %q…, want it to contain %q", text[:50], tt.wantText)
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
		{"ok", Config{WebhookURL: "https://prod-01.westus.logic.azure.com" + hookPath + "?" + hookQuery}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			notifytest.FieldErrors(t, tt.cfg.Validate(), tt.want, secrets...)
		})
	}
	valid := func() *Config {
		return &Config{WebhookURL: "https://prod-01.westus.logic.azure.com" + hookPath + "?" + hookQuery}
	}
	notifytest.Validate(t, valid, append(
		notifytest.URLChanges("webhook_url", hookPath, func(c *Config, url string) { c.WebhookURL = url }),
		notifytest.TemplateChanges(func(c *Config, title, text string) { c.TitleTemplate, c.TextTemplate = title, text })...),
		secrets...)
}

func TestNotifierRejectsBadConfig(t *testing.T) {
	notifytest.Refused(t, &Config{}, &Config{WebhookURL: "https://example.com/x", TextTemplate: "{{"})
}
