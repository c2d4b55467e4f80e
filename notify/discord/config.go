// Package discord posts notifications to a Discord channel webhook: the
// title as the message content (what phones show, with an optional
// mention to wake someone), and one embed coloured by kind that carries
// the text, a field per failing assertion and a link to the dashboard.
package discord

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/notify/kit"
)

// Config is the discord block of a receiver.
type Config struct {
	// WebhookURL is the secret: the token in its path lets anyone post.
	WebhookURL string `yaml:"webhook_url" secret:"true"`
	// Username overrides the webhook's name.
	Username string `yaml:"username"`
	// Mention is put before the title of firing and repeated messages:
	// "@here", "@everyone", "<@USER_ID>" or "<@&ROLE_ID>", several
	// separated by spaces. Discord notifies only those mentioned, unless a
	// member chose to hear every message.
	Mention       string `yaml:"mention"`
	TitleTemplate string `yaml:"title_template"`
	// TextTemplate overrides the embed's description. The failing
	// assertions have fields of their own, so the default leaves them out.
	TextTemplate string `yaml:"text_template"`
}

// New returns the block with its defaults, for the receivers table.
func New() kit.Spec { return &Config{} }

// mentionRE is one mention Discord turns into a ping.
var mentionRE = regexp.MustCompile(`^(@here|@everyone|<@!?[0-9]+>|<@&[0-9]+>)$`)

// Validate checks the block. Messages never quote the webhook URL.
func (c *Config) Validate() []nightowl.FieldError {
	var errs []nightowl.FieldError
	errs = append(errs, kit.ValidateURL("webhook_url", c.WebhookURL)...)
	// Discord refuses the whole message over a bad name, so say it now.
	if n := utf8.RuneCountInString(c.Username); n > 80 {
		errs = append(errs, nightowl.FieldError{Key: "username", Message: "must be at most 80 characters"})
	} else if l := strings.ToLower(c.Username); strings.Contains(l, "discord") || strings.Contains(l, "clyde") {
		errs = append(errs, nightowl.FieldError{Key: "username", Message: `must not contain "discord" or "clyde"`})
	}
	for _, m := range strings.Fields(c.Mention) {
		if !mentionRE.MatchString(m) {
			errs = append(errs, nightowl.FieldError{Key: "mention", Message: fmt.Sprintf(`%q is not a mention: use @here, @everyone, <@USER_ID> or <@&ROLE_ID>`, m)})
			break
		}
	}
	return append(errs, kit.ValidateTemplates(c.templates())...)
}

// Notifier builds the receiver.
func (c *Config) Notifier(deps kit.Deps) (nightowl.Notifier, error) {
	if msg := kit.CheckURL(c.WebhookURL); msg != "" {
		return nil, fmt.Errorf("discord webhook_url: %s", msg)
	}
	r, err := kit.NewRenderer(c.templates())
	if err != nil {
		return nil, fmt.Errorf("discord: %w", err)
	}
	return &notifier{
		client:   deps.HTTPClient(),
		url:      c.WebhookURL,
		username: c.Username,
		mention:  strings.Join(strings.Fields(c.Mention), " "),
		render:   r,
	}, nil
}

// defaultText is the embed's description: notify's default text without
// the failing assertions (they are fields) and with the links as Discord
// markdown.
const defaultText = `{{.Alert.Check}} {{verb .}} since {{since .Alert.StartsAt}}.
{{- if not .Alert.Failed}}{{if .Alert.Cause}}
{{.Alert.Cause}}{{end}}{{end}}
{{- if .Alert.Maintenance}}
{{.Alert.Maintenance}}{{end}}
{{- if .Alert.OnCall}}
On call: {{join .Alert.OnCall ", "}}{{end}}
{{- if .Alert.AckedBy}}
Acknowledged by {{.Alert.AckedBy}}.{{end}}
{{- if and (ne .Kind "resolved") (ne .Kind "acknowledged")}}
{{with .AckURL}}[Acknowledge]({{.}}) or {{end}}` + "`nightowl ack {{.Alert.ID}}`" + `{{end}}
{{- if .DashboardURL}}
[Dashboard]({{.DashboardURL}}){{end}}`

func (c *Config) templates() kit.Templates {
	return kit.Templates{Title: c.TitleTemplate, Text: c.TextTemplate, DefaultText: defaultText}
}

// AddressKey makes the block a contact kind: a person's address is
// a webhook URL.
func (c *Config) AddressKey() string { return "webhook_url" }

// SetAddress fills in a person's address.
func (c *Config) SetAddress(address string) { c.WebhookURL = address }
