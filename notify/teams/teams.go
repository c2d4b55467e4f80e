package teams

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/notify/kit"
)

type notifier struct {
	client  *http.Client
	url     string
	render  *kit.Renderer
	secrets []string // hidden in errors
}

// The message a Teams webhook takes: one attachment holding an Adaptive
// Card (https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using#send-adaptive-cards-using-an-incoming-webhook).
type message struct {
	Type        string       `json:"type"`
	Attachments []attachment `json:"attachments"`
}

type attachment struct {
	ContentType string `json:"contentType"`
	// ContentURL is null, as in Microsoft's examples: the card is inline.
	ContentURL *string `json:"contentUrl"`
	Content    card    `json:"content"`
}

// card is an Adaptive Card (https://adaptivecards.io/explorer/). It says
// version 1.4 but uses only elements from 1.2 and before (TextBlock,
// FactSet, Action.OpenUrl with a style), so that every Teams client,
// mobile ones included, draws it the same.
type card struct {
	Schema  string          `json:"$schema"`
	Type    string          `json:"type"`
	Version string          `json:"version"`
	MSTeams map[string]any  `json:"msteams,omitempty"`
	Body    []element       `json:"body"`
	Actions []openURLAction `json:"actions,omitempty"`
}

// element is a TextBlock or a FactSet.
type element struct {
	Type     string `json:"type"`
	Text     string `json:"text,omitempty"`
	Size     string `json:"size,omitempty"`
	Weight   string `json:"weight,omitempty"`
	Color    string `json:"color,omitempty"`
	IsSubtle bool   `json:"isSubtle,omitempty"`
	Spacing  string `json:"spacing,omitempty"`
	Wrap     bool   `json:"wrap,omitempty"`
	Facts    []fact `json:"facts,omitempty"`
}

type fact struct {
	Title string `json:"title"`
	Value string `json:"value"`
}

type openURLAction struct {
	Type  string `json:"type"`
	Title string `json:"title"`
	URL   string `json:"url"`
	Style string `json:"style,omitempty"`
}

// Teams refuses a message over 28 KB. Each piece has a cap in characters,
// and the whole card is then shrunk until its JSON fits in maxBytes, which
// leaves room for what Teams wraps around it.
const (
	maxBytes = 24 << 10
	maxTitle = 500
	maxText  = 8000
	maxFacts = 20
	maxFact  = 600
	// Shrinking cuts the text to shortText first, then drops facts, and
	// only then cuts the text further, down to minText.
	shortText = 2000
	minText   = 200
)

// Adaptive Card colours, by kind: a repeat is still firing.
var colours = map[nightowl.MessageKind]string{
	nightowl.MessageFiring:       "Attention",
	nightowl.MessageRepeat:       "Attention",
	nightowl.MessageAcknowledged: "Warning",
	nightowl.MessageResolved:     "Good",
}

// Notify posts the card. Teams webhooks have no idempotency key: a retry
// after a lost answer posts the card twice.
func (n *notifier) Notify(ctx context.Context, m *nightowl.Message) (bool, error) {
	retry, err := kit.PostJSON(ctx, n.client, n.url, nil, n.message(m))
	return retry, kit.Redact(err, n.secrets...)
}

func (n *notifier) message(m *nightowl.Message) message {
	title := kit.Truncate(n.render.Title(m), maxTitle)
	text := kit.Truncate(n.render.Text(m), maxText)
	shown := min(len(m.Alert.Failed), maxFacts)
	for {
		msg := build(m, title, text, facts(m.Alert.Failed, shown))
		b, err := json.Marshal(msg)
		size := utf8.RuneCountInString(text)
		switch {
		case err != nil || len(b) <= maxBytes:
			return msg
		case size > shortText:
			text = kit.Truncate(text, shortText)
		case shown > 1:
			shown--
		case size > minText:
			text = kit.Truncate(text, max(minText, size/2))
		default:
			return msg // only the title is left long, and it has its cap
		}
	}
}

func build(m *nightowl.Message, title, text string, facts []fact) message {
	colour := colours[m.Kind]
	if colour == "" {
		colour = "Attention"
	}
	body := []element{{Type: "TextBlock", Text: title, Size: "Large", Weight: "Bolder", Color: colour, Wrap: true}}
	// One TextBlock a line: Teams joins the lines of one block unless they
	// are separated by a blank line, which would space them like paragraphs.
	for _, line := range strings.Split(text, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			body = append(body, element{Type: "TextBlock", Text: line, Spacing: "Small", Wrap: true})
		}
	}
	if len(facts) > 0 {
		body = append(body, element{Type: "FactSet", Facts: facts})
	}
	body = append(body, element{Type: "TextBlock", Text: kit.Truncate(kit.SmallPrint(m), maxFact), Size: "Small", IsSubtle: true, Wrap: true})

	var actions []openURLAction
	if m.AckURL != "" && m.Kind != nightowl.MessageResolved && m.Kind != nightowl.MessageAcknowledged {
		actions = append(actions, openURLAction{Type: "Action.OpenUrl", Title: "Acknowledge", URL: m.AckURL, Style: "positive"})
	}
	if m.DashboardURL != "" {
		actions = append(actions, openURLAction{Type: "Action.OpenUrl", Title: "Dashboard", URL: m.DashboardURL})
	}
	return message{
		Type: "message",
		Attachments: []attachment{{
			ContentType: "application/vnd.microsoft.card.adaptive",
			Content: card{
				Schema:  "http://adaptivecards.io/schemas/adaptive-card.json",
				Type:    "AdaptiveCard",
				Version: "1.4",
				// Full width: the default squeezes facts into a narrow
				// column.
				MSTeams: map[string]any{"width": "Full"},
				Body:    body,
				Actions: actions,
			},
		}},
	}
}

// facts has a fact for each of the first shown failing assertions; when
// that leaves some out, the last of them counts the rest instead.
func facts(failed []nightowl.AssertionResult, shown int) []fact {
	var out []fact
	for i, a := range failed[:shown] {
		if i == shown-1 && shown < len(failed) {
			return append(out, fact{Title: "…", Value: fmt.Sprintf("and %d more failed assertions", len(failed)-i)})
		}
		title := a.Name
		if a.Severity != "" {
			title += " (" + string(a.Severity) + ")"
		}
		out = append(out, fact{Title: kit.Truncate(title, maxFact), Value: kit.Truncate(a.Message, maxFact)})
	}
	return out
}
