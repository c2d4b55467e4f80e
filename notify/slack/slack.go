package slack

import (
	"context"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/notify/kit"
)

type notifier struct {
	client            *http.Client
	url               string
	channel, username string
	render            *kit.Renderer
}

// The payload of an incoming webhook
// (https://docs.slack.dev/messaging/sending-messages-using-incoming-webhooks):
// colour exists only on attachments, so the Block Kit blocks go inside one.
// With attachments and no top-level blocks, Slack shows the top-level text
// above the attachment and uses it for notifications.
type payload struct {
	Channel     string       `json:"channel,omitempty"`
	Username    string       `json:"username,omitempty"`
	Text        string       `json:"text"`
	Attachments []attachment `json:"attachments"`
}

type attachment struct {
	Color    string  `json:"color"`
	Fallback string  `json:"fallback"`
	Blocks   []block `json:"blocks"`
}

type block struct {
	Type     string  `json:"type"`
	Text     *text   `json:"text,omitempty"`
	Elements []*text `json:"elements,omitempty"`
}

type text struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// Slack's limits: a section's text and a context element's text are at
// most 3000 characters; the message text is cut by Slack at 40000, but a
// title that long says nothing, and the fallback is a plain summary.
const (
	maxSection  = 3000
	maxContext  = 2000
	maxTitle    = 3000
	maxFallback = 4000
)

// colours are Slack's own attachment colours, by kind: a repeat is still
// firing.
var colours = map[nightowl.MessageKind]string{
	nightowl.MessageFiring:       "danger",
	nightowl.MessageRepeat:       "danger",
	nightowl.MessageAcknowledged: "warning",
	nightowl.MessageResolved:     "good",
}

// Notify posts the message. Slack has no idempotency key for webhooks: a
// retry after a lost answer posts the message twice.
func (n *notifier) Notify(ctx context.Context, m *nightowl.Message) (bool, error) {
	retry, err := kit.PostJSON(ctx, n.client, n.url, nil, n.payload(m))
	return retry, kit.Redact(err, n.url)
}

func (n *notifier) payload(m *nightowl.Message) payload {
	title, body := n.render.Title(m), n.render.Text(m)
	colour := colours[m.Kind]
	if colour == "" {
		colour = "danger"
	}
	return payload{
		Channel:  n.channel,
		Username: n.username,
		Text:     escape(title, maxTitle),
		Attachments: []attachment{{
			Color:    colour,
			Fallback: escape(title+"\n"+body, maxFallback),
			Blocks: []block{
				{Type: "section", Text: &text{Type: "mrkdwn", Text: escape(body, maxSection)}},
				{Type: "context", Elements: []*text{{Type: "mrkdwn", Text: escape(kit.SmallPrint(m), maxContext)}}},
			},
		}},
	}
}

// escape makes text safe for Slack's mrkdwn, where &, < and > start
// control sequences (an observed "duration < 2" must not become a link or
// a mention), and cuts it to limit characters after escaping, never inside
// an entity. URLs stay URLs: Slack links them, and undoes &amp; first.
func escape(s string, limit int) string {
	var b strings.Builder
	n := 0
	for i, r := range s {
		e := string(r)
		switch r {
		case '&':
			e = "&amp;"
		case '<':
			e = "&lt;"
		case '>':
			e = "&gt;"
		}
		// Keep room for the ellipsis unless this is the end of s.
		room := limit - 1
		if i+utf8.RuneLen(r) == len(s) {
			room = limit
		}
		if n+utf8.RuneCountInString(e) > room {
			b.WriteString("…")
			return b.String()
		}
		b.WriteString(e)
		n += utf8.RuneCountInString(e)
	}
	return b.String()
}
