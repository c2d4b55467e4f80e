package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"flag"
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

// The secrets every test plants, to prove that no error ever shows them.
const (
	hookPath   = "/hooks/T0SECRET/B0SECRET/s3cr3t-hook-token"
	hookQuery  = "token=q-s3cr3t-token"
	hmacSecret = "hmac-s3cr3t-value"
	authHeader = "Bearer header-s3cr3t-token"
)

var secrets = []string{"T0SECRET", "B0SECRET", "s3cr3t-hook-token", "q-s3cr3t-token", hmacSecret, "header-s3cr3t-token"}

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
		{name: "firing", golden: "firing", answer: answer{status: 200}},
		{name: "repeat", msg: func(m *nightowl.Message) { m.Kind = nightowl.MessageRepeat; m.IdempotencyKey = "n-45" },
			golden: "repeat", answer: answer{status: 202}},
		{name: "acknowledged", msg: acknowledged, golden: "acknowledged", answer: answer{status: 204}},
		{name: "resolved", msg: resolved, golden: "resolved", answer: answer{status: 200}},
		{name: "no links no maintenance", msg: func(m *nightowl.Message) {
			m.AckURL, m.DashboardURL, m.Alert.Maintenance, m.Alert.Failed = "", "", "", nil
		}, golden: "bare", answer: answer{status: 200}},
		{name: "custom template", cfg: func(c *Config) {
			c.TitleTemplate = `{{.Alert.Check}} {{.Kind}}`
			c.TextTemplate = `{{range .Alert.Failed}}{{.Name}}={{.Message}}; {{end}}`
		}, golden: "custom", answer: answer{status: 200}},
		{name: "server error retries", answer: answer{status: 500, body: "oops"},
			wantRetry: true, wantErr: "500 Internal Server Error: oops"},
		{name: "rate limited honours Retry-After", answer: answer{status: 429, header: map[string]string{"Retry-After": "7"}},
			wantRetry: true, wantErr: "429", wantAfter: 7 * time.Second},
		{name: "bad request gives up", answer: answer{status: 400, body: "bad payload"},
			wantRetry: false, wantErr: "400 Bad Request: bad payload"},
		{name: "echoed URL is redacted", answer: answer{status: 404, body: "Cannot POST " + hookPath + "?" + hookQuery},
			wantRetry: false, wantErr: "Cannot POST [redacted]"},
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
			cfg.URL = srv.URL + hookPath + "?" + hookQuery
			cfg.HMACSecret = hmacSecret
			cfg.Headers = map[string]string{"Authorization": authHeader, "X-Team": "ops"}
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
			for k, want := range map[string]string{
				"Content-Type":    "application/json",
				"User-Agent":      "nightowl",
				"Idempotency-Key": m.IdempotencyKey,
				"Authorization":   authHeader,
				"X-Team":          "ops",
			} {
				if v := req.header.Get(k); v != want {
					t.Errorf("header %s = %q, want %q", k, v, want)
				}
			}
			mac := hmac.New(sha256.New, []byte(hmacSecret))
			mac.Write(req.body)
			if sig, want := req.header.Get("X-Nightowl-Signature"), "sha256="+hex.EncodeToString(mac.Sum(nil)); sig != want {
				t.Errorf("X-Nightowl-Signature = %q, want %q", sig, want)
			}
			if tt.golden != "" {
				checkGolden(t, tt.golden, req.body)
			}
		})
	}
}

// TestRetriesKeepTheKey sends one message twice, as the outbox does after a
// failure, and checks that both attempts carry the same key and body.
func TestRetriesKeepTheKey(t *testing.T) {
	var keys []string
	var bodies [][]byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		keys = append(keys, r.Header.Get("Idempotency-Key"))
		bodies = append(bodies, b)
		if len(keys) == 1 {
			w.WriteHeader(http.StatusBadGateway)
		}
	}))
	defer srv.Close()
	n, err := (&Config{URL: srv.URL}).Notifier(notify.Deps{Client: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	m := fixture()
	if retry, err := n.Notify(context.Background(), m); !retry || err == nil {
		t.Fatalf("first attempt: retry=%v err=%v, want a retryable error", retry, err)
	}
	if retry, err := n.Notify(context.Background(), m); retry || err != nil {
		t.Fatalf("second attempt: retry=%v err=%v", retry, err)
	}
	if len(keys) != 2 || keys[0] != "n-42" || keys[1] != "n-42" {
		t.Errorf("keys = %q, want n-42 twice", keys)
	}
	if len(bodies) == 2 && !bytes.Equal(bodies[0], bodies[1]) {
		t.Error("the retry's body differs from the first attempt's")
	}
}

func TestNoSignatureWithoutSecret(t *testing.T) {
	got := make(chan http.Header, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got <- r.Header.Clone() }))
	defer srv.Close()
	n, err := (&Config{URL: srv.URL}).Notifier(notify.Deps{Client: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Notify(context.Background(), fixture()); err != nil {
		t.Fatal(err)
	}
	if h := <-got; h.Get("X-Nightowl-Signature") != "" {
		t.Errorf("X-Nightowl-Signature = %q, want none", h.Get("X-Nightowl-Signature"))
	}
}

func TestUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + hookPath
	srv.Close()
	n, err := (&Config{URL: url, HMACSecret: hmacSecret}).Notifier(notify.Deps{Client: &http.Client{}})
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
		{"ok", Config{URL: "https://hooks.example.com/x", Headers: map[string]string{"Authorization": authHeader}}, nil},
		{"missing url", Config{}, []nightowl.FieldError{{Key: "url", Message: "required"}}},
		{"bad scheme", Config{URL: "ftp://example.com" + hookPath}, []nightowl.FieldError{{Key: "url", Message: `scheme must be "http" or "https"`}}},
		{"no host", Config{URL: "https://" + hookPath}, []nightowl.FieldError{{Key: "url", Message: "has no host"}}},
		{"unparsable url", Config{URL: "https://exa mple.com" + hookPath}, []nightowl.FieldError{{Key: "url", Message: "not a valid URL"}}},
		{"headers", Config{URL: "https://example.com/", Headers: map[string]string{
			"Bad Name":        "x",
			"idempotency-key": "mine",
			"X-Token":         "a\r\nInjected: " + authHeader,
		}}, []nightowl.FieldError{
			{Key: "headers.Bad Name", Message: "not a valid header name"},
			{Key: "headers.X-Token", Message: "value contains a line break or NUL"},
			{Key: "headers.idempotency-key", Message: "is set by nightowl and cannot be overridden"},
		}},
		{"misspelt field", Config{URL: "https://example.com/", TitleTemplate: "{{.Alert.Chek}}", TextTemplate: "{{.Alert.Labels.site}}"}, []nightowl.FieldError{
			{Key: "title_template", Message: `template: title_template:1:8: executing "title_template" at <.Alert.Chek>: can't evaluate field Chek in type nightowl.Alert`},
		}},
		{"bad templates", Config{URL: "https://example.com/", TitleTemplate: "{{.Alert.Check", TextTemplate: "{{nope}}"}, []nightowl.FieldError{
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
	for _, cfg := range []Config{{}, {URL: "https://example.com/", TextTemplate: "{{"}} {
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
