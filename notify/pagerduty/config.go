package pagerduty

import (
	"strings"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/notify/kit"
)

// DefaultAPIURL is the Events API v2 endpoint every PagerDuty account
// shares; the routing key in the event picks the service.
const DefaultAPIURL = "https://events.pagerduty.com/v2/enqueue"

// defaultTitle differs from the shared default by carrying the cause: the
// summary is all that a phone's push notification shows of an incident.
const defaultTitle = `[{{upper (status .)}}] {{.Alert.Check}}{{with .Alert.Cause}}: {{.}}{{end}}`

// Config is a pagerduty receiver block.
type Config struct {
	// RoutingKey is the integration key of an Events API v2 integration
	// (or of an event orchestration).
	RoutingKey string `yaml:"routing_key" secret:"true"`
	APIURL     string `yaml:"api_url"`
	// ComponentLabel and GroupLabel name the alert labels that fill the
	// event's component and group, which PagerDuty's event rules and
	// alert grouping can match on; "" leaves the field out.
	ComponentLabel string `yaml:"component_label"`
	GroupLabel     string `yaml:"group_label"`
	TitleTemplate  string `yaml:"title_template"`
	TextTemplate   string `yaml:"text_template"`
}

// New returns a block with the defaults, for the config decoder to fill.
func New() kit.Spec {
	return &Config{APIURL: DefaultAPIURL, ComponentLabel: "tier", GroupLabel: "site"}
}

func (c *Config) templates() kit.Templates {
	return kit.Templates{Title: c.TitleTemplate, Text: c.TextTemplate, DefaultTitle: defaultTitle}
}

// Validate reports what is wrong with the block.
func (c *Config) Validate() []nightowl.FieldError {
	var errs []nightowl.FieldError
	if c.RoutingKey == "" {
		errs = append(errs, nightowl.FieldError{Key: "routing_key", Message: "required"})
	} else if strings.TrimSpace(c.RoutingKey) != c.RoutingKey {
		// A key pasted with a trailing space is refused by PagerDuty
		// with a 400 on every page; say so now rather than at 3 a.m.
		errs = append(errs, nightowl.FieldError{Key: "routing_key", Message: "has leading or trailing spaces"})
	} else if len(c.RoutingKey) != 32 {
		// Integration keys are 32 characters; a REST API token, the
		// usual mix-up, is not, and would be refused on every page.
		errs = append(errs, nightowl.FieldError{Key: "routing_key", Message: "must be the 32-character integration key of an Events API v2 integration"})
	}
	errs = append(errs, kit.ValidateURL("api_url", c.APIURL)...)
	errs = append(errs, kit.ValidateTemplates(c.templates())...)
	return errs
}

// Notifier builds the receiver.
func (c *Config) Notifier(deps kit.Deps) (nightowl.Notifier, error) {
	r, err := kit.NewRenderer(c.templates())
	if err != nil {
		return nil, err
	}
	return &Notifier{
		routingKey:     c.RoutingKey,
		url:            c.APIURL,
		componentLabel: c.ComponentLabel,
		groupLabel:     c.GroupLabel,
		render:         r,
		client:         deps.HTTPClient(),
	}, nil
}
