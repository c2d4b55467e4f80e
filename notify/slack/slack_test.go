package slack

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
const hookPath = "/services/T0SECRET/B0SECRET/s3cr3t-hook-token"

var secrets = []string{"T0SECRET", "B0SECRET", "s3cr3t-hook-token"}

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
		{name: "firing", golden: "firing", answer: answer{status: 200, body: "ok"}},
		{name: "repeat", msg: func(m *nightowl.Message) { m.Kind = nightowl.MessageRepeat },
			golden: "repeat", answer: answer{status: 200, body: "ok"}},
		{name: "acknowledged", msg: acknowledged, golden: "acknowledged", answer: answer{status: 200, body: "ok"}},
		{name: "resolved", msg: resolved, golden: "resolved", answer: answer{status: 200, body: "ok"}},
		{name: "channel and username", cfg: func(c *Config) { c.Channel, c.Username = "#ops", "nightowl" },
			golden: "overrides", answer: answer{status: 200, body: "ok"}},
		{name: "custom template", cfg: func(c *Config) {
			c.TitleTemplate = `{{.Alert.Check}} {{.Kind}}`
			c.TextTemplate = `{{range .Alert.Failed}}*{{.Name}}*: {{.Message}}{{"\n"}}{{end}}`
		}, golden: "custom", answer: answer{status: 200, body: "ok"}},
		{name: "server error retries", answer: answer{status: 500, body: "rollup_error"},
			wantRetry: true, wantErr: "500 Internal Server Error: rollup_error"},
		{name: "rate limited honours Retry-After", answer: answer{status: 429, header: map[string]string{"Retry-After": "7"}, body: "rate_limited"},
			wantRetry: true, wantErr: "429", wantAfter: 7 * time.Second},
		{name: "bad request gives up", answer: answer{status: 400, body: "invalid_payload"},
			wantRetry: false, wantErr: "400 Bad Request: invalid_payload"},
		{name: "echoed URL is redacted", answer: answer{status: 404, body: "no_service: Cannot POST " + hookPath},
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

// TestLimits sends a message far beyond Slack's limits and checks that
// every text stays within them.
func TestLimits(t *testing.T) {
	m := fixture()
	m.Alert.Failed = nil
	for i := 0; i < 200; i++ {
		m.Alert.Failed = append(m.Alert.Failed, nightowl.AssertionResult{Name: "a", Message: strings.Repeat("<&>", 20)})
	}
	n, err := (&Config{WebhookURL: "https://hooks.slack.com/x"}).Notifier(notify.Deps{})
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
		{"ok", Config{WebhookURL: "https://hooks.slack.com" + hookPath, Channel: "#ops"}, nil},
		{"missing url", Config{}, []nightowl.FieldError{{Key: "webhook_url", Message: "required"}}},
		{"bad scheme", Config{WebhookURL: "ftp://hooks.slack.com" + hookPath}, []nightowl.FieldError{{Key: "webhook_url", Message: `scheme must be "http" or "https"`}}},
		{"no host", Config{WebhookURL: "https://" + hookPath}, []nightowl.FieldError{{Key: "webhook_url", Message: "has no host"}}},
		{"unparsable url", Config{WebhookURL: "https://hooks slack.com" + hookPath}, []nightowl.FieldError{{Key: "webhook_url", Message: "not a valid URL"}}},
		{"misspelt field", Config{WebhookURL: "https://example.com/x", TitleTemplate: "{{.Alert.Chek}}", TextTemplate: "{{.Alert.Labels.site}}"}, []nightowl.FieldError{
			{Key: "title_template", Message: `template: title_template:1:8: executing "title_template" at <.Alert.Chek>: can't evaluate field Chek in type nightowl.Alert`},
		}},
		{"bad templates", Config{WebhookURL: "https://hooks.slack.com/x", TitleTemplate: "{{.Alert.Check", TextTemplate: "{{nope}}"}, []nightowl.FieldError{
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
	for _, cfg := range []Config{{}, {WebhookURL: "https://hooks.slack.com/x", TextTemplate: "{{"}} {
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
