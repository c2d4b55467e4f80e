package telegram

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/notify/kit"
	"github.com/nightowl/nightowl/notify/notifytest"
)

const (
	token = "123456789:AAE-s3cr3t_T0KEN-abcdefghijklmnopqrs"
	chat  = "-1001234567890"
)

// message is the fixture every receiver package uses, so that their
// payloads can be compared.
func message(kind nightowl.MessageKind) *nightowl.Message { return notifytest.MessageOf(kind) }

type request = notifytest.Request

// deps discard the log of what the notifier cured by itself.
func deps() kit.Deps {
	return kit.Deps{Client: &http.Client{}, Logger: slog.New(slog.DiscardHandler)}
}

func notifier(t *testing.T, c *Config) nightowl.Notifier {
	t.Helper()
	return notifytest.Notifier(t, c, deps())
}

func config(url string) *Config {
	c := New().(*Config)
	c.BotToken = token
	c.ChatID = chat
	c.APIURL = url
	return c
}

// receiver sends through the test server, which takes every message.
func receiver() notifytest.Receiver[*Config] {
	return notifytest.Receiver[*Config]{
		Config:  config,
		Deps:    deps(),
		Message: notifytest.Message,
		Answer:  notifytest.Answer{Status: http.StatusOK, Body: `{"ok":true,"result":{"message_id":7}}`},
		Path:    "/bot" + token + "/sendMessage",
		Header:  map[string]string{"Content-Type": "application/json"},
		Golden:  notifytest.GoldenIndent,
		Secrets: []string{token, "s3cr3t"},
	}
}

type cases = []notifytest.Case[*Config]

func TestNotify(t *testing.T) {
	notifytest.Run(t, receiver(), append(notifytest.Kinds[*Config](notifytest.AliceAt0134), cases{
		{
			Name: "custom_template", Golden: "custom_template",
			Config: func(c *Config) {
				c.TitleTemplate, c.TextTemplate = notifytest.CustomTitle, notifytest.CustomText
			},
		},
		{
			// Without server.public_url there are no links to give,
			// and so no buttons.
			Name: "firing_without_links", Golden: "firing_without_links",
			Msg: notifytest.WithoutLinks,
		},
		{
			// Every value that reaches the HTML is escaped: a check
			// name or an observed body could hold anything.
			Name: "html_escaping", Golden: "html_escaping",
			Msg: func(m *nightowl.Message) {
				m.Alert.Check = "<b>math</b> & co"
				m.Alert.Failed[0].Message = `body contains "<script>alert(1)</script>" & "&amp;"`
				m.Alert.Maintenance = "during maintenance a<b — not expected: writable"
			},
		},
		{
			Name: "channel_topic", Golden: "channel_topic",
			Config: func(c *Config) {
				c.ChatID = "@nightowl_alerts"
				c.MessageThreadID = 42
			},
		},
	}...))
}

func TestLongMessage(t *testing.T) {
	tests := []struct {
		name string
		fill string
	}{
		{name: "ascii", fill: "m"},
		{name: "entities", fill: "<&>"},
		{name: "astral", fill: "🦉"}, // two UTF-16 units each
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, seen := notifytest.Serve(t, notifytest.Answer{Status: http.StatusOK, Body: `{"ok":true}`})
			m := message(nightowl.MessageFiring)
			m.Alert.Maintenance = strings.Repeat(tt.fill, 5000)
			if _, err := notifier(t, config(srv.URL)).Notify(context.Background(), m); err != nil {
				t.Fatal(err)
			}
			var msg struct{ Text string }
			if err := json.Unmarshal((<-seen).Body, &msg); err != nil {
				t.Fatal(err)
			}
			if n := units(msg.Text); n > textLimit || n < textLimit-5 {
				t.Errorf("text has %d UTF-16 units; want just under %d", n, textLimit)
			}
			if !strings.HasSuffix(msg.Text, "…") {
				t.Errorf("text does not show it was cut: …%q", msg.Text[len(msg.Text)-20:])
			}
			// No entity cut in half: every & starts one of ours.
			rest := strings.NewReplacer("&amp;", "", "&lt;", "", "&gt;", "").Replace(msg.Text)
			if strings.Contains(rest, "&") {
				t.Errorf("text has a broken entity")
			}
		})
	}
}

func TestNotifyFailures(t *testing.T) {
	type want = notifytest.Want
	notifytest.Run(t, receiver(), append(cases{
		{
			Name: "server_error", Answer: notifytest.Answer{Status: 500,
				Body: `{"ok":false,"error_code":500,"description":"Internal Server Error"}`},
			Want: want{Retry: true, Prefix: true, Err: "telegram answered 500: Internal Server Error"},
		},
		{
			// A proxy in front of the Bot API, not the API itself.
			Name: "bad_gateway", Answer: notifytest.Answer{Status: 502, Body: `<html><body>502 Bad Gateway</body></html>`},
			Want: want{Retry: true, Prefix: true, Err: "telegram answered 502: receiver answered 502 Bad Gateway"},
		},
		{
			Name: "rate_limited_header", Answer: notifytest.Answer{Status: 429, Header: map[string]string{"Retry-After": "7"},
				Body: `{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 7","parameters":{"retry_after":7}}`},
			Want: want{Retry: true, Prefix: true, Err: "telegram answered 429", After: 7 * time.Second},
		},
		{
			// The Bot API says how long to wait in its body.
			Name: "rate_limited_body", Answer: notifytest.Answer{Status: 429,
				Body: `{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 7","parameters":{"retry_after":7}}`},
			Want: want{Retry: true, Prefix: true, Err: "telegram answered 429: Too Many Requests: retry after 7", After: 7 * time.Second},
		},
		{
			Name: "chat_not_found", Answer: notifytest.Answer{Status: 400,
				Body: `{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}`},
			Want: want{Prefix: true, Err: "telegram answered 400: Bad Request: chat not found"},
		},
		{
			Name: "blocked", Answer: notifytest.Answer{Status: 403,
				Body: `{"ok":false,"error_code":403,"description":"Forbidden: bot was blocked by the user"}`},
			Want: want{Prefix: true, Err: "telegram answered 403"},
		},
		{
			// A revoked token answers 401, quoting nothing of it; a
			// proxy that echoed the URL must not leak it either.
			Name: "unauthorized_echoing_url", Answer: notifytest.Answer{Status: 401,
				Body: `{"ok":false,"error_code":401,"description":"Unauthorized: POST /bot` + token + `/sendMessage"}`},
			Want: want{Prefix: true, Err: "telegram answered 401"},
		},
	}, notifytest.Unreachable[*Config]()...))
}

// sequence answers the i-th request with answers[i] (status, body).
func sequence(t *testing.T, answers ...string) (*httptest.Server, <-chan request) {
	t.Helper()
	seen := make(chan request, len(answers)+4)
	var i int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		seen <- request{Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: b}
		status, body, _ := strings.Cut(answers[min(i, len(answers)-1)], " ")
		i++
		code, _ := strconv.Atoi(status)
		w.WriteHeader(code)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, seen
}

func TestRecovery(t *testing.T) {
	tests := []struct {
		name    string
		answers []string
		// check looks at the retried request, and at the first request
		// of the next message, which needs no retry.
		check func(t *testing.T, retried, next map[string]any)
	}{
		{
			// Telegram refuses buttons whose URL is not public (a
			// public_url on localhost, say); the links are in the
			// text anyway.
			name: "buttons_refused",
			answers: []string{
				`400 {"ok":false,"error_code":400,"description":"Bad Request: BUTTON_URL_INVALID"}`,
				`200 {"ok":true}`,
			},
			check: func(t *testing.T, retried, next map[string]any) {
				for _, m := range []map[string]any{retried, next} {
					if _, ok := m["reply_markup"]; ok {
						t.Errorf("buttons sent again: %v", m["reply_markup"])
					}
				}
			},
		},
		{
			name: "button_url_invalid_long_form",
			answers: []string{
				`400 {"ok":false,"error_code":400,"description":"Bad Request: inline keyboard button URL 'http://localhost:8080/ack/x' is invalid: Wrong HTTP URL"}`,
				`200 {"ok":true}`,
			},
			check: func(t *testing.T, retried, next map[string]any) {
				if _, ok := retried["reply_markup"]; ok {
					t.Errorf("buttons sent again")
				}
			},
		},
		{
			// A group upgraded to a supergroup gets a new id, which
			// Telegram gives in its refusal.
			name: "group_migrated",
			answers: []string{
				`400 {"ok":false,"error_code":400,"description":"Bad Request: group chat was upgraded to a supergroup chat","parameters":{"migrate_to_chat_id":-1009876543210}}`,
				`200 {"ok":true}`,
			},
			check: func(t *testing.T, retried, next map[string]any) {
				for _, m := range []map[string]any{retried, next} {
					if got := fmt.Sprint(m["chat_id"]); got != "-1009876543210" {
						t.Errorf("chat_id = %s; want the supergroup's", got)
					}
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, seen := sequence(t, tt.answers...)
			n := notifier(t, config(srv.URL))
			for i := range 2 {
				if retry, err := n.Notify(context.Background(), message(nightowl.MessageFiring)); err != nil {
					t.Fatalf("Notify %d = %v, %v; want it delivered", i, retry, err)
				}
			}
			if len(seen) != 3 {
				t.Fatalf("%d requests; want 3 (refused, retried, next)", len(seen))
			}
			bodies := make([]map[string]any, 3)
			for i := range bodies {
				d := json.NewDecoder(bytes.NewReader((<-seen).Body))
				d.UseNumber()
				if err := d.Decode(&bodies[i]); err != nil {
					t.Fatal(err)
				}
			}
			tt.check(t, bodies[1], bodies[2])
		})
	}
}

func TestNoEndlessRecovery(t *testing.T) {
	// A chat that keeps moving is given up on after the known cures.
	srv, seen := sequence(t,
		`400 {"ok":false,"error_code":400,"description":"Bad Request: group chat was upgraded to a supergroup chat","parameters":{"migrate_to_chat_id":-100111}}`)
	retry, err := notifier(t, config(srv.URL)).Notify(context.Background(), message(nightowl.MessageFiring))
	if err == nil || retry {
		t.Fatalf("Notify = %v, %v; want false and an error", retry, err)
	}
	if len(seen) != 3 {
		t.Errorf("%d requests; want 3", len(seen))
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		config func(*Config)
		want   []string // "key: message start"
	}{
		{name: "ok", config: func(*Config) {}},
		{name: "channel_username", config: func(c *Config) { c.ChatID = "@nightowl_alerts" }},
		{name: "user_chat", config: func(c *Config) { c.ChatID = "123456789" }},
		{name: "no_bot_token", config: func(c *Config) { c.BotToken = "" }, want: []string{"bot_token: required"}},
		{name: "bot_token_with_space", config: func(c *Config) { c.BotToken += " " }, want: []string{"bot_token: must look like 123456789:AAE…"}},
		{name: "bot_token_is_a_chat_id", config: func(c *Config) { c.BotToken = "-1001234567890" }, want: []string{"bot_token: must look like"}},
		{name: "no_chat_id", config: func(c *Config) { c.ChatID = "" }, want: []string{"chat_id: required"}},
		{name: "chat_id_name", config: func(c *Config) { c.ChatID = "oncall" }, want: []string{"chat_id: must be a chat id such as -1001234567890 or a channel's @username"}},
		{name: "negative_thread", config: func(c *Config) { c.MessageThreadID = -1 }, want: []string{"message_thread_id: must be 0 or more"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := config(DefaultAPIURL)
			tt.config(c)
			notifytest.FieldErrorPrefixes(t, c.Validate(), tt.want, "s3cr3t")
		})
	}
	valid := func() *Config { return config(DefaultAPIURL) }
	notifytest.Validate(t, valid, append(
		notifytest.URLChanges("api_url", "", func(c *Config, url string) { c.APIURL = url }),
		notifytest.TemplateChanges(func(c *Config, title, text string) { c.TitleTemplate, c.TextTemplate = title, text })...),
		"s3cr3t")
}

func TestNewDefaults(t *testing.T) {
	c := New().(*Config)
	if c.APIURL != "https://api.telegram.org" {
		t.Errorf("api_url = %q", c.APIURL)
	}
	if errs := c.Validate(); len(errs) != 2 || errs[0].Key != "bot_token" || errs[1].Key != "chat_id" {
		t.Errorf("Validate of the defaults = %v; want bot_token and chat_id required", errs)
	}
}
