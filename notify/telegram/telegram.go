// Package telegram sends alerts as messages from a Telegram bot, through
// the Bot API's sendMessage. The bot token is part of the request URL, so
// no error this package returns ever quotes the URL.
package telegram

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf16"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/notify/kit"
)

const (
	// textLimit is sendMessage's cap on a message's text, counted after
	// the HTML is parsed; the HTML itself is kept within it, which is
	// stricter and needs no parser to check.
	textLimit = 4096
	// titleLimit leaves the body room however long a title template
	// makes the title.
	titleLimit = 256
)

// Notifier sends messages to one Telegram chat.
type Notifier struct {
	token    string
	endpoint string // carries the token: never put it in an error
	threadID int64
	render   *kit.Renderer
	client   *http.Client
	logger   *slog.Logger

	// chatID changes when Telegram says the group became a supergroup,
	// so that later messages go straight to the new chat.
	mu     sync.Mutex
	chatID any
	// noButtons is set once Telegram refuses the link buttons (it does
	// for URLs on localhost or a bare host name); the links stay in the
	// text.
	noButtons atomic.Bool
}

// sendMessage is the body of POST /bot<token>/sendMessage.
type sendMessage struct {
	ChatID              any          `json:"chat_id"`
	MessageThreadID     int64        `json:"message_thread_id,omitempty"`
	Text                string       `json:"text"`
	ParseMode           string       `json:"parse_mode"`
	LinkPreviewOptions  linkPreview  `json:"link_preview_options"`
	DisableNotification bool         `json:"disable_notification,omitempty"`
	ReplyMarkup         *replyMarkup `json:"reply_markup,omitempty"`
}

type linkPreview struct {
	IsDisabled bool `json:"is_disabled"`
}

type replyMarkup struct {
	InlineKeyboard [][]button `json:"inline_keyboard"`
}

type button struct {
	Text string `json:"text"`
	URL  string `json:"url"`
}

// answer is every Bot API response; only failures are read.
type answer struct {
	OK          bool   `json:"ok"`
	ErrorCode   int    `json:"error_code"`
	Description string `json:"description"`
	Parameters  struct {
		RetryAfter      int   `json:"retry_after"`
		MigrateToChatID int64 `json:"migrate_to_chat_id"`
	} `json:"parameters"`
}

// apiError is a failure the Bot API explained.
type apiError struct {
	Status      int
	Description string
	MigrateTo   int64
}

func (e *apiError) Error() string {
	return fmt.Sprintf("telegram answered %d: %s", e.Status, e.Description)
}

// Notify sends m to the chat.
func (n *Notifier) Notify(ctx context.Context, m *nightowl.Message) (bool, error) {
	msg := n.message(m)
	retry, err := n.send(ctx, msg)
	// Two refusals have a known cure: apply it and send again, at most
	// twice, so that a chat that keeps moving cannot loop.
	for range 2 {
		var ae *apiError
		if !errors.As(err, &ae) {
			break
		}
		switch {
		case ae.MigrateTo != 0:
			// The group was upgraded to a supergroup, which has a
			// new id; Telegram says which, and the message can go
			// there at once.
			n.logger.Warn("telegram chat became a supergroup; set chat_id to its new id",
				"chat_id", fmt.Sprint(msg.ChatID), "new_chat_id", ae.MigrateTo)
			msg.ChatID = json.Number(strconv.FormatInt(ae.MigrateTo, 10))
			n.mu.Lock()
			n.chatID = msg.ChatID
			n.mu.Unlock()
		case msg.ReplyMarkup != nil && ae.Status == http.StatusBadRequest && buttonRefused(ae.Description):
			n.logger.Warn("telegram refused the link buttons (is server.public_url a public https URL?); sending the links in the text only")
			msg.ReplyMarkup = nil
			n.noButtons.Store(true)
		default:
			return retry, kit.Redact(err, n.token)
		}
		retry, err = n.send(ctx, msg)
	}
	return retry, kit.Redact(err, n.token)
}

// buttonRefused tells Telegram's refusal of a button's URL (BUTTON_URL_INVALID,
// or "inline keyboard button URL '…' is invalid") from other bad requests.
func buttonRefused(desc string) bool {
	d := strings.ToLower(desc)
	return strings.Contains(d, "button_url_invalid") || strings.Contains(d, "button url")
}

func (n *Notifier) message(m *nightowl.Message) *sendMessage {
	n.mu.Lock()
	chat := n.chatID
	n.mu.Unlock()
	msg := &sendMessage{
		ChatID:             chat,
		MessageThreadID:    n.threadID,
		Text:               compose(n.render.Title(m), n.render.Text(m)),
		ParseMode:          "HTML",
		LinkPreviewOptions: linkPreview{IsDisabled: true},
	}
	closed := m.Kind == nightowl.MessageResolved || m.Kind == nightowl.MessageAcknowledged
	// Nobody needs waking for news that the alert is handled, or for more
	// checks blocked by it.
	msg.DisableNotification = closed || m.Kind == nightowl.MessageUpdate
	var row []button
	if m.AckURL != "" && !closed {
		row = append(row, button{Text: "Acknowledge", URL: m.AckURL})
	}
	if m.DashboardURL != "" {
		row = append(row, button{Text: "Dashboard", URL: m.DashboardURL})
	}
	if len(row) > 0 && !n.noButtons.Load() {
		msg.ReplyMarkup = &replyMarkup{InlineKeyboard: [][]button{row}}
	}
	return msg
}

func (n *Notifier) send(ctx context.Context, msg *sendMessage) (bool, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	// The text is HTML: left as it is, it reads the same in a capture as
	// in the chat.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(msg); err != nil {
		return false, fmt.Errorf("encode message: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.endpoint, &b)
	if err != nil {
		return false, errors.New("invalid telegram API URL")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "nightowl")
	resp, err := n.client.Do(req)
	if err != nil {
		// Classify drops the *url.Error, and with it the URL.
		return kit.Classify(nil, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return false, nil
	}
	// The shared rule decides whether to retry; the Bot API's own answer
	// says why, and how long to wait, in its body rather than in
	// Retry-After.
	retry, cerr := kit.Classify(&http.Response{
		Status: resp.Status, StatusCode: resp.StatusCode, Header: resp.Header,
		Body: io.NopCloser(bytes.NewReader(body)),
	}, nil)
	var a answer
	_ = json.Unmarshal(body, &a)
	e := &apiError{Status: resp.StatusCode, Description: a.Description, MigrateTo: a.Parameters.MigrateToChatID}
	if e.Description == "" {
		// Not the Bot API (a proxy, say): quote the shared error instead.
		e.Description = cerr.Error()
	}
	after := kit.RetryAfter(cerr)
	if s := time.Duration(a.Parameters.RetryAfter) * time.Second; s > after {
		after = s
	}
	if retry && after > 0 {
		return true, &kit.RetryAfterError{After: after, Err: e}
	}
	return retry, e
}

// compose is the message's HTML: the title in bold over the text, every
// character of both escaped (templates produce plain text), cut to fit
// textLimit without splitting an entity.
func compose(title, text string) string {
	head := "<b>" + escape(kit.Truncate(title, titleLimit)) + "</b>"
	if text == "" {
		return head
	}
	return head + "\n" + escapeWithin(text, textLimit-units(head)-1)
}

var escaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// escape makes s safe as text in Telegram's HTML: these three are the
// characters it requires as entities outside tags.
func escape(s string) string { return escaper.Replace(s) }

// escapeWithin escapes s and, when that is longer than limit UTF-16 code
// units (Telegram's measure), cuts it between characters and marks the cut.
func escapeWithin(s string, limit int) string {
	e := escape(s)
	if units(e) <= limit {
		return e
	}
	var b strings.Builder
	used := 1 // the "…"
	for _, r := range s {
		piece := escape(string(r))
		if used+units(piece) > limit {
			break
		}
		used += units(piece)
		b.WriteString(piece)
	}
	return b.String() + "…"
}

func units(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}
