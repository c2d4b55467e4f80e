// Package slack posts notifications to a Slack incoming webhook: the title
// as the message text (what phones show), and an attachment whose colour
// says firing, acknowledged or resolved, holding the text as Block Kit.
package slack

import (
	"fmt"
	"net/http"
	"net/url"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/notify"
)

// Config is the slack block of a receiver.
type Config struct {
	// WebhookURL is the secret: whoever has it can post to the channel.
	WebhookURL string `yaml:"webhook_url" secret:"true"`
	// Channel and Username override the webhook's defaults. Only legacy
	// webhooks honour them; those of a Slack app always post to the
	// channel and under the name they were created with.
	Channel       string `yaml:"channel"`
	Username      string `yaml:"username"`
	TitleTemplate string `yaml:"title_template"`
	TextTemplate  string `yaml:"text_template"`
}

// New returns the block with its defaults, for the receivers table.
func New() notify.Spec { return &Config{} }

// Validate checks the block. Messages never quote the webhook URL.
func (c *Config) Validate() []nightowl.FieldError {
	var errs []nightowl.FieldError
	if msg := checkURL(c.WebhookURL); msg != "" {
		errs = append(errs, nightowl.FieldError{Key: "webhook_url", Message: msg})
	}
	return append(errs, notify.ValidateTemplates(notify.Templates{Title: c.TitleTemplate, Text: c.TextTemplate})...)
}

// Notifier builds the receiver.
func (c *Config) Notifier(deps notify.Deps) (nightowl.Notifier, error) {
	if msg := checkURL(c.WebhookURL); msg != "" {
		return nil, fmt.Errorf("slack webhook_url: %s", msg)
	}
	r, err := notify.NewRenderer(notify.Templates{Title: c.TitleTemplate, Text: c.TextTemplate})
	if err != nil {
		return nil, fmt.Errorf("slack: %w", err)
	}
	client := deps.Client
	if client == nil {
		client = &http.Client{}
	}
	return &notifier{
		client:   client,
		url:      c.WebhookURL,
		channel:  c.Channel,
		username: c.Username,
		render:   r,
	}, nil
}

// checkURL says what is wrong with a receiver URL, or "".
func checkURL(raw string) string {
	if raw == "" {
		return "required"
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return "not a valid URL"
	case u.Scheme != "http" && u.Scheme != "https":
		return `scheme must be "http" or "https"`
	case u.Host == "":
		return "has no host"
	}
	return ""
}
