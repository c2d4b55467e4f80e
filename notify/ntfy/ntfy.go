package ntfy

import (
	"context"
	"net/http"
	"unicode/utf8"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/notify/kit"
)

// messageLimit is ntfy's default message-size-limit in bytes. A longer
// message becomes an attachment where the server allows attachments and is
// refused where it does not, so it is cut instead: the text is for a phone
// screen.
const messageLimit = 4096

// Notifier publishes messages to one ntfy topic.
type Notifier struct {
	client  *http.Client
	url     string
	topic   string
	headers map[string]string
	render  *kit.Renderer
	// secrets are scrubbed from errors: the topic and the credentials.
	secrets []string
}

// payload is the "publish as JSON" message of ntfy's docs.
type payload struct {
	Topic    string   `json:"topic"`
	Title    string   `json:"title,omitempty"`
	Message  string   `json:"message"`
	Priority int      `json:"priority"`
	Tags     []string `json:"tags,omitempty"`
	Click    string   `json:"click,omitempty"`
	Actions  []action `json:"actions,omitempty"`
}

// action is an action button; view opens its URL.
type action struct {
	Action string `json:"action"`
	Label  string `json:"label"`
	URL    string `json:"url"`
	// Clear dismisses the notification once the button was tapped.
	Clear bool `json:"clear,omitempty"`
}

// Notify publishes m.
func (n *Notifier) Notify(ctx context.Context, m *nightowl.Message) (bool, error) {
	retry, err := kit.PostJSON(ctx, n.client, n.url, n.headers, n.payload(m))
	return retry, kit.Redact(err, n.secrets...)
}

func (n *Notifier) payload(m *nightowl.Message) payload {
	p := payload{
		Topic:    n.topic,
		Title:    n.render.Title(m),
		Message:  truncate(n.render.Text(m), messageLimit),
		Priority: priority(m),
		Tags:     []string{emoji(m), m.Alert.Check},
		Click:    m.DashboardURL,
	}
	if m.AckURL != "" && open(m) {
		p.Actions = []action{{Action: "view", Label: "Acknowledge", URL: m.AckURL, Clear: true}}
	}
	return p
}

// open tells whether m asks someone to act: firing and repeat messages do;
// an acknowledgement, a recovery or an update only informs.
func open(m *nightowl.Message) bool {
	return m.Kind == nightowl.MessageFiring || m.Kind == nightowl.MessageRepeat
}

// priority maps to ntfy's 1 (min) to 5 (max): 5 makes a long vibration
// and a pop-over, 4 a long vibration, 3 is the default.
func priority(m *nightowl.Message) int {
	switch {
	case !open(m):
		return 3
	case m.Alert.Severity == nightowl.SeverityCritical:
		return 5
	}
	return 4
}

// emoji is a tag that ntfy shows as an emoji in front of the title.
func emoji(m *nightowl.Message) string {
	switch {
	case m.Kind == nightowl.MessageResolved:
		return "white_check_mark"
	case m.Kind == nightowl.MessageAcknowledged:
		return "eyes"
	case m.Kind == nightowl.MessageUpdate:
		return "information_source"
	case m.Alert.Severity == nightowl.SeverityCritical:
		return "rotating_light"
	}
	return "warning"
}

// truncate cuts s to at most limit bytes on a rune boundary, marking the cut.
func truncate(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	const mark = "…"
	cut := limit - len(mark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}
