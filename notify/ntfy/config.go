// Package ntfy sends alerts to an ntfy server, the public ntfy.sh or one of
// your own, as one JSON document posted to the server's root URL ("publish
// as JSON" in ntfy's docs), so that the title, priority, tags and action
// buttons need no HTTP headers, which cannot carry UTF-8 reliably.
package ntfy

import (
	"encoding/base64"
	"regexp"
	"strings"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/notify/kit"
)

// DefaultURL is the public ntfy server.
const DefaultURL = "https://ntfy.sh"

// topicPattern is what an ntfy server accepts as a topic name; anything
// else is refused with a 400 on every send.
var topicPattern = regexp.MustCompile(`^[-_A-Za-z0-9]{1,64}$`)

// Config is an ntfy receiver block.
type Config struct {
	// URL is the server's root URL.
	URL string `yaml:"url"`
	// Topic is secret because on a server without access control, such
	// as ntfy.sh, whoever knows the topic can read it.
	Topic string `yaml:"topic" secret:"true"`
	// Token is an access token (tk_…), sent as a bearer token; Username
	// and Password are the other way to log in.
	Token         string `yaml:"token" secret:"true"`
	Username      string `yaml:"username"`
	Password      string `yaml:"password" secret:"true"`
	TitleTemplate string `yaml:"title_template"`
	TextTemplate  string `yaml:"text_template"`
}

// New returns a block with the defaults, for the config decoder to fill.
func New() kit.Spec { return &Config{URL: DefaultURL} }

// Validate reports what is wrong with the block. Messages never repeat a
// value, since the topic and the credentials are secrets.
func (c *Config) Validate() []nightowl.FieldError {
	var errs []nightowl.FieldError
	errs = append(errs, kit.ValidateURL("url", c.URL)...)
	switch {
	case c.Topic == "":
		errs = append(errs, nightowl.FieldError{Key: "topic", Message: "required"})
	case !topicPattern.MatchString(c.Topic):
		errs = append(errs, nightowl.FieldError{Key: "topic", Message: "must be 1 to 64 letters, digits, '-' or '_'"})
	}
	if c.Token != "" && (c.Username != "" || c.Password != "") {
		errs = append(errs, nightowl.FieldError{Key: "token", Message: "cannot be combined with username and password"})
	} else if c.Username != "" && c.Password == "" {
		errs = append(errs, nightowl.FieldError{Key: "password", Message: "required with username"})
	} else if c.Password != "" && c.Username == "" {
		errs = append(errs, nightowl.FieldError{Key: "username", Message: "required with password"})
	}
	errs = append(errs, kit.ValidateTemplates(kit.Templates{Title: c.TitleTemplate, Text: c.TextTemplate})...)
	return errs
}

// Notifier builds the receiver.
func (c *Config) Notifier(deps kit.Deps) (nightowl.Notifier, error) {
	r, err := kit.NewRenderer(kit.Templates{Title: c.TitleTemplate, Text: c.TextTemplate})
	if err != nil {
		return nil, err
	}
	n := &Notifier{
		client: deps.HTTPClient(),
		// Publishing JSON goes to the root: a topic URL would take the
		// JSON for the message text.
		url:    strings.TrimRight(c.URL, "/") + "/",
		topic:  c.Topic,
		render: r,
	}
	switch {
	case c.Token != "":
		n.headers = map[string]string{"Authorization": "Bearer " + c.Token}
		n.secrets = []string{c.Token}
	case c.Username != "":
		basic := base64.StdEncoding.EncodeToString([]byte(c.Username + ":" + c.Password))
		n.headers = map[string]string{"Authorization": "Basic " + basic}
		n.secrets = []string{c.Password, basic}
	}
	n.secrets = append(n.secrets, c.Topic)
	return n, nil
}

// AddressKey makes the block a contact kind: a person's address is
// a topic.
func (c *Config) AddressKey() string { return "topic" }

// SetAddress fills in a person's address.
func (c *Config) SetAddress(address string) { c.Topic = address }
