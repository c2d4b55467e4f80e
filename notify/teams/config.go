// Package teams posts notifications to Microsoft Teams through a Workflows
// webhook ("Post to a channel when a webhook request is received"), or a
// legacy Incoming Webhook, as an Adaptive Card: the title coloured by kind,
// the text, the failing assertions as facts, and buttons that acknowledge
// the alert and open the dashboard.
package teams

import (
	"fmt"
	"net/url"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/notify/kit"
)

// Config is the teams block of a receiver.
type Config struct {
	// WebhookURL is the secret: its sig query parameter (Workflows) or
	// path (Incoming Webhook) lets anyone post.
	WebhookURL    string `yaml:"webhook_url" secret:"true"`
	TitleTemplate string `yaml:"title_template"`
	// TextTemplate overrides the card's text. The failing assertions and
	// the links have elements of their own, so the default leaves them out.
	TextTemplate string `yaml:"text_template"`
}

// New returns the block with its defaults, for the receivers table.
func New() kit.Spec { return &Config{} }

// Validate checks the block. Messages never quote the webhook URL.
func (c *Config) Validate() []nightowl.FieldError {
	var errs []nightowl.FieldError
	errs = append(errs, kit.ValidateURL("webhook_url", c.WebhookURL)...)
	return append(errs, kit.ValidateTemplates(c.templates())...)
}

// minSecret is the shortest string worth hiding: blanking shorter ones
// would mangle the message for no protection, as they are no credentials.
const minSecret = 6

// Notifier builds the receiver.
func (c *Config) Notifier(deps kit.Deps) (nightowl.Notifier, error) {
	if msg := kit.CheckURL(c.WebhookURL); msg != "" {
		return nil, fmt.Errorf("teams webhook_url: %s", msg)
	}
	r, err := kit.NewRenderer(c.templates())
	if err != nil {
		return nil, fmt.Errorf("teams: %w", err)
	}
	secrets := []string{c.WebhookURL}
	// A Workflows URL's signature alone is the credential, and an error may
	// quote it on its own, decoded.
	if u, err := url.Parse(c.WebhookURL); err == nil {
		if sig := u.Query().Get("sig"); len(sig) >= minSecret {
			secrets = append(secrets, sig)
		}
	}
	return &notifier{client: deps.HTTPClient(), url: c.WebhookURL, render: r, secrets: secrets}, nil
}

// defaultText is the card's text: notify's default text without the
// failing assertions (a FactSet) and the links (buttons).
const defaultText = `{{.Alert.Check}} {{verb .}} since {{since .Alert.StartsAt}}.
{{- if not .Alert.Failed}}{{if .Alert.Cause}}
{{.Alert.Cause}}{{end}}{{end}}
{{- if .Alert.Maintenance}}
{{.Alert.Maintenance}}{{end}}
{{- if .Alert.OnCall}}
On call: {{join .Alert.OnCall ", "}}{{end}}
{{- if .Alert.AckedBy}}
Acknowledged by {{.Alert.AckedBy}}.{{end}}`

func (c *Config) templates() kit.Templates {
	return kit.Templates{Title: c.TitleTemplate, Text: c.TextTemplate, DefaultText: defaultText}
}

// AddressKey makes the block a contact kind: a person's address is
// a workflow webhook URL.
func (c *Config) AddressKey() string { return "webhook_url" }

// SetAddress fills in a person's address.
func (c *Config) SetAddress(address string) { c.WebhookURL = address }
