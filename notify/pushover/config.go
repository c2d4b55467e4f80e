// Package pushover sends alerts through Pushover's Message API: one
// form-encoded POST to messages.json per message. Critical alerts are
// high priority, and optionally emergency priority, which Pushover repeats
// until someone taps it; such a message is tagged with the alert, so that
// its acknowledgement or recovery cancels the repeating.
package pushover

import (
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/notify/kit"
)

// DefaultAPIURL is Pushover's Message API.
const DefaultAPIURL = "https://api.pushover.net/1/messages.json"

// Emergency repeat bounds that Pushover documents: it repeats no more often
// than every 30 seconds, and for at most 3 hours.
const (
	minRetry  = 30 * time.Second
	maxExpire = 3 * time.Hour
)

// Config is a pushover receiver block.
type Config struct {
	// UserKey is the user's or a delivery group's key; AppToken is the
	// API token of the application registered for nightowl.
	UserKey  string `yaml:"user_key" secret:"true"`
	AppToken string `yaml:"app_token" secret:"true"`
	APIURL   string `yaml:"api_url"`
	// Device limits delivery to the named devices (comma-separated);
	// Sound overrides the user's choice. Empty leaves both to the user.
	Device string `yaml:"device"`
	Sound  string `yaml:"sound"`
	// Emergency sends critical alerts at priority 2: Pushover repeats
	// them every Retry until tapped or until Expire has passed.
	Emergency     bool          `yaml:"emergency"`
	Retry         time.Duration `yaml:"retry"`
	Expire        time.Duration `yaml:"expire"`
	TitleTemplate string        `yaml:"title_template"`
	TextTemplate  string        `yaml:"text_template"`
}

// New returns a block with the defaults, for the config decoder to fill.
func New() kit.Spec {
	return &Config{APIURL: DefaultAPIURL, Retry: time.Minute, Expire: time.Hour}
}

// Validate reports what is wrong with the block. Messages never repeat a
// key or a token.
func (c *Config) Validate() []nightowl.FieldError {
	var errs []nightowl.FieldError
	for _, k := range []struct{ key, val string }{{"user_key", c.UserKey}, {"app_token", c.AppToken}} {
		switch {
		case k.val == "":
			errs = append(errs, nightowl.FieldError{Key: k.key, Message: "required"})
		case strings.TrimSpace(k.val) != k.val:
			// Pushover refuses a pasted key with a trailing space on
			// every send; say so now rather than at 3 a.m.
			errs = append(errs, nightowl.FieldError{Key: k.key, Message: "has leading or trailing spaces"})
		}
	}
	if msg := checkURL(c.APIURL); msg != "" {
		errs = append(errs, nightowl.FieldError{Key: "api_url", Message: msg})
	}
	if c.Retry < minRetry {
		errs = append(errs, nightowl.FieldError{Key: "retry", Message: "must be at least 30s"})
	}
	if c.Expire <= 0 || c.Expire > maxExpire {
		errs = append(errs, nightowl.FieldError{Key: "expire", Message: "must be more than 0s and at most 3h"})
	} else if c.Expire < c.Retry {
		errs = append(errs, nightowl.FieldError{Key: "expire", Message: "must not be shorter than retry"})
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
	// Cancelling by tag lives beside messages.json, in the same API
	// version: .../1/receipts/cancel_by_tag/TAG.json.
	base, ok := strings.CutSuffix(c.APIURL, "messages.json")
	if !ok {
		return nil, errors.New(`api_url: must end in "messages.json"`)
	}
	return &Notifier{
		client:    deps.HTTPClient(),
		url:       c.APIURL,
		cancelURL: base + "receipts/cancel_by_tag/",
		user:      c.UserKey,
		token:     c.AppToken,
		device:    c.Device,
		sound:     c.Sound,
		emergency: c.Emergency,
		retry:     c.Retry,
		expire:    c.Expire,
		render:    r,
		logger:    deps.Log(),
	}, nil
}

func checkURL(s string) string {
	if msg := kit.CheckURL(s); msg != "" {
		return msg
	}
	u, _ := url.Parse(s)
	if !strings.HasSuffix(u.Path, "/messages.json") || u.RawQuery != "" {
		// The cancel URL is derived from it.
		return `must end in "/messages.json"`
	}
	return ""
}

// AddressKey makes the block a contact kind: a person's address is
// a user key.
func (c *Config) AddressKey() string { return "user_key" }

// SetAddress fills in a person's address.
func (c *Config) SetAddress(address string) { c.UserKey = address }
