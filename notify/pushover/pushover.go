package pushover

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/notify/kit"
)

// Pushover's documented limits, in characters. It refuses a message over
// them, and a refusal is not retried, so texts are cut to fit instead.
const (
	messageLimit  = 1024
	titleLimit    = 250
	urlLimit      = 512
	urlTitleLimit = 100
)

// Notifier sends messages to one Pushover user or group.
type Notifier struct {
	client      *http.Client
	url         string
	cancelURL   string
	user, token string
	device      string
	sound       string
	emergency   bool
	retry       time.Duration
	expire      time.Duration
	render      *kit.Renderer
	logger      *slog.Logger
}

// Notify sends m. When an emergency alert is acknowledged or resolves, the
// repeating of its emergency message is cancelled first, so that a phone
// stops ringing for something that is over.
func (n *Notifier) Notify(ctx context.Context, m *nightowl.Message) (bool, error) {
	if n.emergency && !open(m) && m.Alert.Severity == nightowl.SeverityCritical {
		retry, err := n.post(ctx, n.cancelURL+url.PathEscape(tag(m))+".json", url.Values{"token": {n.token}})
		if err != nil {
			if retry {
				// Nothing was sent yet, so a retry duplicates nothing.
				return true, fmt.Errorf("cancel emergency repeats: %w", err)
			}
			// The message itself matters more than the silence.
			n.logger.Warn("pushover: cancel emergency repeats", "alert", m.Alert.ID, "err", err)
		}
	}
	return n.post(ctx, n.url, n.form(m))
}

func (n *Notifier) post(ctx context.Context, u string, form url.Values) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return false, errors.New("invalid api_url")
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", "nightowl")
	retry, err := kit.Classify(n.client.Do(req))
	return retry, kit.Redact(err, n.token, n.user)
}

// form builds the Message API's parameters.
func (n *Notifier) form(m *nightowl.Message) url.Values {
	f := url.Values{
		"token":    {n.token},
		"user":     {n.user},
		"title":    {kit.Truncate(n.render.Title(m), titleLimit)},
		"message":  {kit.Truncate(n.render.Text(m), messageLimit)},
		"priority": {strconv.Itoa(n.priority(m))},
	}
	// The one link Pushover shows as a button: acknowledging while the
	// alert asks for it, the dashboard after.
	switch {
	case open(m) && m.AckURL != "" && len(m.AckURL) <= urlLimit:
		f.Set("url", m.AckURL)
		f.Set("url_title", "Acknowledge")
	case m.DashboardURL != "" && len(m.DashboardURL) <= urlLimit:
		f.Set("url", m.DashboardURL)
		f.Set("url_title", kit.Truncate("Dashboard: "+m.Alert.Check, urlTitleLimit))
	}
	if t := when(m); !t.IsZero() {
		f.Set("timestamp", strconv.FormatInt(t.Unix(), 10))
	}
	if n.device != "" {
		f.Set("device", n.device)
	}
	if n.sound != "" {
		f.Set("sound", n.sound)
	}
	if f.Get("priority") == "2" {
		f.Set("retry", strconv.Itoa(int(n.retry/time.Second)))
		f.Set("expire", strconv.Itoa(int(n.expire/time.Second)))
		f.Set("tags", tag(m))
	}
	return f
}

// priority is 1 (high: bypasses quiet hours) for a critical alert that
// asks for action, 2 (emergency: repeats until tapped) if so configured,
// and 0 (normal) for the rest.
func (n *Notifier) priority(m *nightowl.Message) int {
	if !open(m) || m.Alert.Severity != nightowl.SeverityCritical {
		return 0
	}
	if n.emergency {
		return 2
	}
	return 1
}

// tag names an alert's emergency messages for cancel_by_tag.
func tag(m *nightowl.Message) string { return "nightowl-" + m.Alert.ID }

// open tells whether m asks someone to act: firing and repeat messages do;
// an acknowledgement, a recovery or an update only informs.
func open(m *nightowl.Message) bool {
	return m.Kind == nightowl.MessageFiring || m.Kind == nightowl.MessageRepeat
}

// when is the time the message is about, which Pushover shows instead of
// the time it received the message: that can be minutes later when a send
// was retried. A repeat is about now.
func when(m *nightowl.Message) time.Time {
	switch m.Kind {
	case nightowl.MessageFiring:
		return m.Alert.StartsAt
	case nightowl.MessageAcknowledged:
		return m.Alert.AckedAt
	case nightowl.MessageResolved:
		return m.Alert.ResolvedAt
	}
	return time.Time{}
}
