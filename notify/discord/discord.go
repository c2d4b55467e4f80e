package discord

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/notify/kit"
)

type notifier struct {
	client            *http.Client
	url               string
	username, mention string
	render            *kit.Renderer
}

// The body of Execute Webhook
// (https://discord.com/developers/docs/resources/webhook#execute-webhook)
// with one embed
// (https://discord.com/developers/docs/resources/message#embed-object).
type payload struct {
	Content         string          `json:"content,omitempty"`
	Username        string          `json:"username,omitempty"`
	Embeds          []embed         `json:"embeds"`
	AllowedMentions allowedMentions `json:"allowed_mentions"`
}

type embed struct {
	Title       string  `json:"title,omitempty"`
	Description string  `json:"description,omitempty"`
	URL         string  `json:"url,omitempty"`
	Color       int     `json:"color"`
	Fields      []field `json:"fields,omitempty"`
	Footer      *footer `json:"footer,omitempty"`
	Timestamp   string  `json:"timestamp,omitempty"`
}

type field struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type footer struct {
	Text string `json:"text"`
}

type allowedMentions struct {
	Parse []string `json:"parse"`
}

// Discord's limits, in characters; a message over any of them is refused
// whole with a 400, so they are kept here rather than hoped for.
const (
	maxContent     = 2000
	maxTitle       = 256
	maxDescription = 4096
	maxFieldName   = 256
	maxFieldValue  = 1024
	maxFields      = 25
	maxFooter      = 2048
	// maxEmbed bounds the title, description, field names and values and
	// footer together.
	maxEmbed = 6000
	// moreRoom is kept free for the field that counts the assertions left
	// out.
	moreRoom = 64
)

// Discord's own palette: Red, Yellow and Green.
const (
	red    = 0xED4245
	yellow = 0xFEE75C
	green  = 0x57F287
)

var colours = map[nightowl.MessageKind]int{
	nightowl.MessageFiring:       red,
	nightowl.MessageRepeat:       red,
	nightowl.MessageAcknowledged: yellow,
	nightowl.MessageResolved:     green,
}

// Notify posts the message. Discord webhooks have no idempotency key: a
// retry after a lost answer posts the message twice.
func (n *notifier) Notify(ctx context.Context, m *nightowl.Message) (bool, error) {
	retry, err := kit.PostJSON(ctx, n.client, n.url, nil, n.payload(m))
	return retry, kit.Redact(err, n.url)
}

func (n *notifier) payload(m *nightowl.Message) payload {
	title := n.render.Title(m)
	content := title
	// Only a page wakes someone: an acknowledgement or a recovery needs no
	// ping.
	mentions := []string{}
	if n.mention != "" && (m.Kind == nightowl.MessageFiring || m.Kind == nightowl.MessageRepeat) {
		content = n.mention + " " + title
		mentions = []string{"everyone", "roles", "users"}
	}
	colour, ok := colours[m.Kind]
	if !ok {
		colour = red
	}
	e := embed{
		Title:     kit.Truncate(title, maxTitle),
		URL:       m.DashboardURL,
		Color:     colour,
		Footer:    &footer{Text: kit.Truncate(kit.SmallPrint(m), maxFooter)},
		Timestamp: when(m).UTC().Format(time.RFC3339),
	}
	budget := maxEmbed - utf8.RuneCountInString(e.Title) - utf8.RuneCountInString(e.Footer.Text)
	// The description holds the state, the maintenance context and the ack
	// link, so it is served first; the fields share what it leaves.
	e.Description = kit.Truncate(n.render.Text(m), min(maxDescription, budget-moreRoom))
	budget -= utf8.RuneCountInString(e.Description)
	e.Fields = fields(m.Alert.Failed, budget)
	return payload{
		Content:         kit.Truncate(content, maxContent),
		Username:        n.username,
		Embeds:          []embed{e},
		AllowedMentions: allowedMentions{Parse: mentions},
	}
}

// fields has one field per failing assertion, as many as the limits allow,
// then one that counts the rest.
func fields(failed []nightowl.AssertionResult, budget int) []field {
	var out []field
	for i, a := range failed {
		name := a.Name
		if a.Severity != "" {
			name += " (" + string(a.Severity) + ")"
		}
		value := escapeMarkdown(a.Message)
		if value == "" {
			value = "failed" // Discord refuses an empty value
		}
		f := field{Name: kit.Truncate(name, maxFieldName), Value: kit.Truncate(value, maxFieldValue)}
		size := utf8.RuneCountInString(f.Name) + utf8.RuneCountInString(f.Value)
		last := i == len(failed)-1
		fits := len(out) < maxFields && size <= budget
		if !last {
			fits = len(out) < maxFields-1 && size+moreRoom <= budget
		}
		if !fits {
			return append(out, field{Name: "…", Value: fmt.Sprintf("and %d more failed assertions", len(failed)-i)})
		}
		out = append(out, f)
		budget -= size
	}
	return out
}

// when is the moment the message reports, which Discord shows beside the
// footer.
func when(m *nightowl.Message) time.Time {
	switch {
	case m.Kind == nightowl.MessageResolved && !m.Alert.ResolvedAt.IsZero():
		return m.Alert.ResolvedAt
	case m.Kind == nightowl.MessageAcknowledged && !m.Alert.AckedAt.IsZero():
		return m.Alert.AckedAt
	}
	return m.Alert.StartsAt
}

// markdown are the characters Discord formats with. Assertion messages
// quote what a probe observed, which the monitored side controls: escaped,
// a body cannot become a masked link or hide the rest of the text.
var markdown = strings.NewReplacer(
	`\`, `\\`, "*", `\*`, "_", `\_`, "~", `\~`, "`", "\\`", "|", `\|`, "[", `\[`, "]", `\]`,
)

func escapeMarkdown(s string) string { return markdown.Replace(s) }
