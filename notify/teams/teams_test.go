package teams

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
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
	method, path, query string
	header              http.Header
	body                []byte
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
		{name: "firing", golden: "firing", answer: answer{status: 202}},
		{name: "repeat", msg: func(m *nightowl.Message) { m.Kind = nightowl.MessageRepeat },
			golden: "repeat", answer: answer{status: 202}},
		{name: "acknowledged", msg: acknowledged, golden: "acknowledged", answer: answer{status: 202}},
		{name: "resolved", msg: resolved, golden: "resolved", answer: answer{status: 202}},
		{name: "no links no maintenance", msg: func(m *nightowl.Message) {
			m.Alert.Failed, m.Alert.Maintenance, m.AckURL, m.DashboardURL = nil, "", "", ""
			m.Alert.Cause = "connect: connection refused"
		}, golden: "cause", answer: answer{status: 202}},
		{name: "legacy incoming webhook answers 200", answer: answer{status: 200, body: "1"}},
		{name: "custom template", cfg: func(c *Config) {
			c.TitleTemplate = `{{.Alert.Check}} {{.Kind}}`
			c.TextTemplate = "**{{.Alert.Check}}** since {{since .Alert.StartsAt}}\n\n{{.Alert.Cause}}"
		}, golden: "custom", answer: answer{status: 202}},
		{name: "server error retries", answer: answer{status: 502},
			wantRetry: true, wantErr: "502 Bad Gateway"},
		{name: "rate limited honours Retry-After", answer: answer{status: 429, header: map[string]string{"Retry-After": "7"}, body: `{"error":{"code":"WorkflowTriggeredTooFrequently"}}`},
			wantRetry: true, wantErr: "429", wantAfter: 7 * time.Second},
		{name: "bad request gives up", answer: answer{status: 400, body: `{"error":{"code":"TriggerInputSchemaMismatch"}}`},
			wantRetry: false, wantErr: "TriggerInputSchemaMismatch"},
		{name: "echoed URL is redacted", answer: answer{status: 404, body: `{"error":{"message":"The signature 's3cr3t-SIG-T0SECRET' for ` + hookPath + `?` + hookQuery + ` is not valid."}}`},
			wantRetry: false, wantErr: "The signature '[redacted]'"},
		{name: "timeout retries", answer: answer{hang: true}, timeout: 50 * time.Millisecond,
			wantRetry: true, wantErr: "context deadline exceeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := make(chan received, 1)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				got <- received{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), body}
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
			cfg.WebhookURL = srv.URL + hookPath + "?" + hookQuery
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
			if req.method != http.MethodPost || req.path != hookPath || req.query != hookQuery {
				t.Errorf("request = %s %s?%s, want POST %s?%s", req.method, req.path, req.query, hookPath, hookQuery)
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
	n, err := (&Config{WebhookURL: "https://example.com/x"}).Notifier(notify.Deps{})
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

func TestUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + hookPath + "?" + hookQuery
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
		{"ok", Config{WebhookURL: "https://prod-01.westus.logic.azure.com" + hookPath + "?" + hookQuery}, nil},
		{"missing url", Config{}, []nightowl.FieldError{{Key: "webhook_url", Message: "required"}}},
		{"bad scheme", Config{WebhookURL: "ftp://example.com" + hookPath}, []nightowl.FieldError{{Key: "webhook_url", Message: `scheme must be "http" or "https"`}}},
		{"no host", Config{WebhookURL: "https://" + hookPath}, []nightowl.FieldError{{Key: "webhook_url", Message: "has no host"}}},
		{"unparsable url", Config{WebhookURL: "https://exa mple.com" + hookPath}, []nightowl.FieldError{{Key: "webhook_url", Message: "not a valid URL"}}},
		{"misspelt field", Config{WebhookURL: "https://example.com/x", TitleTemplate: "{{.Alert.Chek}}", TextTemplate: "{{.Alert.Labels.site}}"}, []nightowl.FieldError{
			{Key: "title_template", Message: `template: title_template:1:8: executing "title_template" at <.Alert.Chek>: can't evaluate field Chek in type nightowl.Alert`},
		}},
		{"bad templates", Config{WebhookURL: "https://example.com/x", TitleTemplate: "{{.Alert.Check", TextTemplate: "{{nope}}"}, []nightowl.FieldError{
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
	for _, cfg := range []Config{{}, {WebhookURL: "https://example.com/x", TextTemplate: "{{"}} {
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
