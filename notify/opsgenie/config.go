package opsgenie

import (
	"strings"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/notify/kit"
)

// DefaultAPIURL is Opsgenie's API in the US region; accounts in the EU
// region use https://api.eu.opsgenie.com.
const DefaultAPIURL = "https://api.opsgenie.com"

// defaultTitle differs from the shared default by carrying the cause: the
// alert message is all that a phone's push notification shows.
const defaultTitle = `[{{upper (status .)}}] {{.Alert.Check}}{{with .Alert.Cause}}: {{.}}{{end}}`

// Config is an opsgenie receiver block.
type Config struct {
	// APIKey is the key of an API integration; the integration's team
	// and routing rules decide who is notified.
	APIKey        string `yaml:"api_key" secret:"true"`
	APIURL        string `yaml:"api_url"`
	TitleTemplate string `yaml:"title_template"`
	TextTemplate  string `yaml:"text_template"`
}

// New returns a block with the defaults, for the config decoder to fill.
func New() kit.Spec { return &Config{APIURL: DefaultAPIURL} }

func (c *Config) templates() kit.Templates {
	return kit.Templates{Title: c.TitleTemplate, Text: c.TextTemplate, DefaultTitle: defaultTitle}
}

// Validate reports what is wrong with the block.
func (c *Config) Validate() []nightowl.FieldError {
	var errs []nightowl.FieldError
	if c.APIKey == "" {
		errs = append(errs, nightowl.FieldError{Key: "api_key", Message: "required"})
	} else if strings.TrimSpace(c.APIKey) != c.APIKey {
		// Opsgenie refuses such a key on every alert; say so now
		// rather than at 3 a.m.
		errs = append(errs, nightowl.FieldError{Key: "api_key", Message: "has leading or trailing spaces"})
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
		apiKey: c.APIKey,
		base:   strings.TrimRight(c.APIURL, "/"),
		render: r,
		client: deps.HTTPClient(),
	}, nil
}
