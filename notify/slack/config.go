// Package slack posts notifications to a Slack incoming webhook: the title
// as the message text (what phones show), and an attachment whose colour
// says firing, acknowledged or resolved, holding the text as Block Kit.
package slack

import (
	"fmt"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/notify/kit"
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
func New() kit.Spec { return &Config{} }

// Validate checks the block. Messages never quote the webhook URL.
func (c *Config) Validate() []nightowl.FieldError {
	var errs []nightowl.FieldError
	errs = append(errs, kit.ValidateURL("webhook_url", c.WebhookURL)...)
	return append(errs, kit.ValidateTemplates(kit.Templates{Title: c.TitleTemplate, Text: c.TextTemplate})...)
}

// Notifier builds the receiver.
func (c *Config) Notifier(deps kit.Deps) (nightowl.Notifier, error) {
	if msg := kit.CheckURL(c.WebhookURL); msg != "" {
		return nil, fmt.Errorf("slack webhook_url: %s", msg)
	}
	r, err := kit.NewRenderer(kit.Templates{Title: c.TitleTemplate, Text: c.TextTemplate})
	if err != nil {
		return nil, fmt.Errorf("slack: %w", err)
	}
	return &notifier{
		client:   deps.HTTPClient(),
		url:      c.WebhookURL,
		channel:  c.Channel,
		username: c.Username,
		render:   r,
	}, nil
}

// AddressKey makes the block a contact kind: a person's address is
// an incoming webhook URL.
func (c *Config) AddressKey() string { return "webhook_url" }

// SetAddress fills in a person's address.
func (c *Config) SetAddress(address string) { c.WebhookURL = address }
