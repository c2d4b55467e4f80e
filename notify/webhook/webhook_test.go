package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/notify/kit"
	"github.com/nightowl/nightowl/notify/notifytest"
)

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

var (
	acknowledged = notifytest.AliceAt0135.As(nightowl.MessageAcknowledged)
	resolved     = notifytest.AliceAt0135.As(nightowl.MessageResolved)
)

// receiver signs with hmacSecret and sends the headers of the config to a
// URL on the test server, which answers 200.
func receiver() notifytest.Receiver[*Config] {
	return notifytest.Receiver[*Config]{
		Config: func(url string) *Config {
			c := New().(*Config)
			c.URL = url + hookPath + "?" + hookQuery
			c.HMACSecret = hmacSecret
			c.Headers = map[string]string{"Authorization": authHeader, "X-Team": "ops"}
			return c
		},
		Message: fixture,
		Answer:  notifytest.Answer{Status: 200},
		Path:    hookPath,
		Query:   hookQuery,
		Header: map[string]string{
			"Content-Type":  "application/json",
			"User-Agent":    "nightowl",
			"Authorization": authHeader,
			"X-Team":        "ops",
		},
		Request: func(t *testing.T, m *nightowl.Message, req notifytest.Request) {
			if k := req.Header.Get("Idempotency-Key"); k != m.IdempotencyKey {
				t.Errorf("header Idempotency-Key = %q, want %q", k, m.IdempotencyKey)
			}
			mac := hmac.New(sha256.New, []byte(hmacSecret))
			mac.Write(req.Body)
			if sig, want := req.Header.Get("X-Nightowl-Signature"), "sha256="+hex.EncodeToString(mac.Sum(nil)); sig != want {
				t.Errorf("X-Nightowl-Signature = %q, want %q", sig, want)
			}
		},
		Golden:  notifytest.GoldenJSON,
		Secrets: secrets,
	}
}

type cases = []notifytest.Case[*Config]

func TestNotify(t *testing.T) {
	notifytest.Run(t, receiver(), cases{
		{Name: "firing", Golden: "firing"},
		{Name: "repeat", Msg: func(m *nightowl.Message) { m.Kind = nightowl.MessageRepeat; m.IdempotencyKey = "n-45" },
			Golden: "repeat", Answer: notifytest.Answer{Status: 202}},
		{Name: "acknowledged", Msg: acknowledged, Golden: "acknowledged", Answer: notifytest.Answer{Status: 204}},
		{Name: "resolved", Msg: resolved, Golden: "resolved"},
		{Name: "no links no maintenance", Msg: func(m *nightowl.Message) {
			m.AckURL, m.DashboardURL, m.Alert.Maintenance, m.Alert.Failed = "", "", "", nil
		}, Golden: "bare"},
		{Name: "custom template", Config: func(c *Config) {
			c.TitleTemplate = `{{.Alert.Check}} {{.Kind}}`
			c.TextTemplate = `{{range .Alert.Failed}}{{.Name}}={{.Message}}; {{end}}`
		}, Golden: "custom"},
	})
}

func TestNotifyFailures(t *testing.T) {
	notifytest.Run(t, receiver(), append(cases{
		{Name: "server error retries", Answer: notifytest.Answer{Status: 500, Body: "oops"},
			Want: notifytest.Want{Retry: true, Err: "500 Internal Server Error: oops"}},
		{Name: "rate limited honours Retry-After", Answer: notifytest.Answer{Status: 429, Header: map[string]string{"Retry-After": "7"}},
			Want: notifytest.Want{Retry: true, Err: "429", After: 7 * time.Second}},
		{Name: "bad request gives up", Answer: notifytest.Answer{Status: 400, Body: "bad payload"},
			Want: notifytest.Want{Err: "400 Bad Request: bad payload"}},
		{Name: "echoed URL is redacted", Answer: notifytest.Answer{Status: 404, Body: "Cannot POST " + hookPath + "?" + hookQuery},
			Want: notifytest.Want{Err: "Cannot POST [redacted]"}},
	}, notifytest.Unreachable[*Config]()...))
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
	n, err := (&Config{URL: srv.URL}).Notifier(kit.Deps{Client: srv.Client()})
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
	n, err := (&Config{URL: srv.URL}).Notifier(kit.Deps{Client: srv.Client()})
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

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want []nightowl.FieldError
	}{
		{"ok", Config{URL: "https://hooks.example.com/x", Headers: map[string]string{"Authorization": authHeader}}, nil},
		{"headers", Config{URL: "https://example.com/", Headers: map[string]string{
			"Bad Name":        "x",
			"idempotency-key": "mine",
			"X-Token":         "a\r\nInjected: " + authHeader,
		}}, []nightowl.FieldError{
			{Key: "headers.Bad Name", Message: "not a valid header name"},
			{Key: "headers.X-Token", Message: "value contains a line break or NUL"},
			{Key: "headers.idempotency-key", Message: "is set by nightowl and cannot be overridden"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			notifytest.FieldErrors(t, tt.cfg.Validate(), tt.want, secrets...)
		})
	}
	valid := func() *Config { return &Config{URL: "https://hooks.example.com" + hookPath} }
	notifytest.Validate(t, valid, append(
		notifytest.URLChanges("url", hookPath, func(c *Config, url string) { c.URL = url }),
		notifytest.TemplateChanges(func(c *Config, title, text string) { c.TitleTemplate, c.TextTemplate = title, text })...),
		secrets...)
}

func TestNotifierRejectsBadConfig(t *testing.T) {
	notifytest.Refused(t, &Config{}, &Config{URL: "https://example.com/", TextTemplate: "{{"})
}
