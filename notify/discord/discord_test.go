package discord

import (
	"context"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/notify"
	"github.com/nightowl/nightowl/notify/notifytest"
)

var update = flag.Bool("update", false, "rewrite golden files")

// hookPath is the secret part of the webhook URL, which no error may show.
const hookPath = "/api/webhooks/1234567890/s3cr3t-hook-token-T0SECRET"

var secrets = []string{"T0SECRET", "s3cr3t-hook-token"}

// fixture is the message every receiver's tests send, so that their golden
// payloads can be compared side by side.
func fixture() *nightowl.Message {
	return notifytest.Message()
}

func acknowledged(m *nightowl.Message) {
	m.Kind = nightowl.MessageAcknowledged
	m.Alert.State = nightowl.AlertAcknowledged
	m.Alert.AckedAt = time.Date(2026, 3, 18, 1, 35, 0, 0, time.UTC)
	m.Alert.AckedBy = "alice"
	m.IdempotencyKey = "n-43"
}

func resolved(m *nightowl.Message) {
	m.Kind = nightowl.MessageResolved
	m.Alert.State = nightowl.AlertResolved
	m.Alert.ResolvedAt = time.Date(2026, 3, 18, 1, 52, 0, 0, time.UTC)
	m.IdempotencyKey = "n-44"
}

// answer is what the test server replies.
type answer struct {
	status int
	header map[string]string
	body   string
	hang   bool // wait for the client to give up
}

// received is what the test server saw.
type received struct {
	method, path string
	header       http.Header
	body         []byte
}

func TestNotify(t *testing.T) {
	tests := []struct {
		name      string
		msg       func(*nightowl.Message)
		cfg       func(*Config)
		answer    answer
		timeout   time.Duration
		golden    string // the body must equal testdata/<golden>.golden
		wantRetry bool
		wantErr   string // a substring of the error; "" for none
		wantAfter time.Duration
	}{
		{name: "firing", golden: "firing", answer: answer{status: 204}},
		{name: "repeat", msg: func(m *nightowl.Message) { m.Kind = nightowl.MessageRepeat },
			golden: "repeat", answer: answer{status: 204}},
		{name: "acknowledged", msg: acknowledged, golden: "acknowledged", answer: answer{status: 204}},
		{name: "resolved", msg: resolved, golden: "resolved", answer: answer{status: 204}},
		{name: "mention and username", cfg: func(c *Config) { c.Username, c.Mention = "nightowl", "<@&123456789> @here" },
			golden: "mention", answer: answer{status: 204}},
		{name: "no ping once acknowledged", msg: acknowledged, cfg: func(c *Config) { c.Mention = "@here" },
			golden: "acknowledged-mention", answer: answer{status: 204}},
		{name: "no failed assertions shows the cause", msg: func(m *nightowl.Message) {
			m.Alert.Failed, m.Alert.Maintenance, m.AckURL, m.DashboardURL = nil, "", "", ""
			m.Alert.Cause = "connect: connection refused"
		}, golden: "cause", answer: answer{status: 204}},
		{name: "custom template", cfg: func(c *Config) {
			c.TitleTemplate = `{{.Alert.Check}} {{.Kind}}`
			c.TextTemplate = `**{{.Alert.Check}}** since {{since .Alert.StartsAt}}{{if .AckURL}} — [ack]({{.AckURL}}){{end}}`
		}, golden: "custom", answer: answer{status: 204}},
		{name: "server error retries", answer: answer{status: 500, body: "oops"},
			wantRetry: true, wantErr: "500 Internal Server Error: oops"},
		{name: "rate limited honours Retry-After", answer: answer{status: 429, header: map[string]string{"Retry-After": "7"}, body: `{"message": "You are being rate limited.", "retry_after": 6.5, "global": false}`},
			wantRetry: true, wantErr: "429", wantAfter: 7 * time.Second},
		{name: "bad request gives up", answer: answer{status: 400, body: `{"code": 50035, "message": "Invalid Form Body"}`},
			wantRetry: false, wantErr: "Invalid Form Body"},
		{name: "echoed URL is redacted", answer: answer{status: 404, body: "Cannot POST " + hookPath},
			wantRetry: false, wantErr: "Cannot POST [redacted]"},
		{name: "timeout retries", answer: answer{hang: true}, timeout: 50 * time.Millisecond,
			wantRetry: true, wantErr: "context deadline exceeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := make(chan received, 1)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				got <- received{r.Method, r.URL.Path, r.Header.Clone(), body}
				if tt.answer.hang {
					<-r.Context().Done()
					return
				}
				for k, v := range tt.answer.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.answer.status)
				io.WriteString(w, tt.answer.body)
			}))
			defer srv.Close()

			cfg := New().(*Config)
			cfg.WebhookURL = srv.URL + hookPath
			if tt.cfg != nil {
				tt.cfg(cfg)
			}
			if errs := cfg.Validate(); len(errs) > 0 {
				t.Fatalf("Validate: %v", errs)
			}
			n, err := cfg.Notifier(notify.Deps{Client: srv.Client()})
			if err != nil {
				t.Fatalf("Notifier: %v", err)
			}
			m := fixture()
			if tt.msg != nil {
				tt.msg(m)
			}
			ctx := context.Background()
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			retry, err := n.Notify(ctx, m)

			if retry != tt.wantRetry {
				t.Errorf("retry = %v, want %v", retry, tt.wantRetry)
			}
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("err = %v, want none", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("err = %v, want it to contain %q", err, tt.wantErr)
			}
			if d := notify.RetryAfter(err); d != tt.wantAfter {
				t.Errorf("RetryAfter = %v, want %v", d, tt.wantAfter)
			}
			noSecrets(t, err)

			var req received
			select {
			case req = <-got:
			default:
				t.Fatal("the server got no request")
			}
			if req.method != http.MethodPost || req.path != hookPath {
				t.Errorf("request = %s %s, want POST %s", req.method, req.path, hookPath)
			}
			if ct := req.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
			if tt.golden != "" {
				checkGolden(t, tt.golden, req.body)
			}
		})
	}
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
	n, err := (&Config{WebhookURL: "https://discord.com/x", Mention: "@here"}).Notifier(notify.Deps{})
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

func TestUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + hookPath
	srv.Close()
	n, err := (&Config{WebhookURL: url}).Notifier(notify.Deps{Client: &http.Client{}})
	if err != nil {
		t.Fatal(err)
	}
	retry, err := n.Notify(context.Background(), fixture())
	if !retry || err == nil {
		t.Fatalf("retry=%v err=%v, want a retryable error", retry, err)
	}
	noSecrets(t, err)
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
		{"missing url", Config{}, []nightowl.FieldError{{Key: "webhook_url", Message: "required"}}},
		{"bad scheme", Config{WebhookURL: "ftp://discord.com" + hookPath}, []nightowl.FieldError{{Key: "webhook_url", Message: `scheme must be "http" or "https"`}}},
		{"no host", Config{WebhookURL: "https://" + hookPath}, []nightowl.FieldError{{Key: "webhook_url", Message: "has no host"}}},
		{"unparsable url", Config{WebhookURL: "https://discord com" + hookPath}, []nightowl.FieldError{{Key: "webhook_url", Message: "not a valid URL"}}},
		{"misspelt field", Config{WebhookURL: "https://discord.com/x", TitleTemplate: "{{.Alert.Chek}}", TextTemplate: "{{.Alert.Labels.site}}"}, []nightowl.FieldError{
			{Key: "title_template", Message: `template: title_template:1:8: executing "title_template" at <.Alert.Chek>: can't evaluate field Chek in type nightowl.Alert`},
		}},
		{"bad templates", Config{WebhookURL: "https://discord.com/x", TitleTemplate: "{{.Alert.Check", TextTemplate: "{{nope}}"}, []nightowl.FieldError{
			{Key: "title_template", Message: "template: title_template:1: unclosed action"},
			{Key: "text_template", Message: `template: text_template:1: function "nope" not defined`},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			notifytest.FieldErrors(t, tt.cfg.Validate(), tt.want, secrets...)
		})
	}
}

func TestNotifierRejectsBadConfig(t *testing.T) {
	for _, cfg := range []Config{{}, {WebhookURL: "https://discord.com/x", TextTemplate: "{{"}} {
		if _, err := cfg.Notifier(notify.Deps{}); err == nil {
			t.Errorf("Notifier(%+v) = nil error", cfg)
		}
	}
}

func noSecrets(t *testing.T, err error) {
	t.Helper()
	notifytest.NoSecrets(t, err, secrets...)
}

// checkGolden compares a JSON body, pretty-printed, with its golden file.
func checkGolden(t *testing.T, name string, body []byte) {
	t.Helper()
	notifytest.GoldenJSON(t, filepath.Join("testdata", name+".golden"), body, *update)
}
