// Package email sends alerts as plain-text mail through the SMTP server of
// the notify.smtp block, with STARTTLS or implicit TLS, and authenticates
// only over an encrypted connection unless told the relay is plain. Every
// message about one alert names the same thread, so that mail clients show
// firing, acknowledged and resolved together.
package email

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/notify/kit"
)

// Default SMTP ports: submission with STARTTLS, and submissions (implicit
// TLS) when tls is "tls".
const (
	DefaultPort    = 587
	DefaultTLSPort = 465
)

// The tls modes of notify.smtp.
const (
	modeSTARTTLS = "starttls"
	modeTLS      = "tls"
	modeNone     = "none"
)

// Config is an email receiver block. The server, its credentials and the
// default sender come from notify.smtp, shared by every email receiver.
type Config struct {
	To []string `yaml:"to"`
	// From overrides notify.smtp's from for this receiver.
	From string `yaml:"from"`
	// TitleTemplate renders the subject, TextTemplate the body.
	TitleTemplate string `yaml:"title_template"`
	TextTemplate  string `yaml:"text_template"`
}

// New returns a block with the defaults, for the config decoder to fill.
func New() kit.Spec { return &Config{} }

// Validate reports what is wrong with the block. The SMTP server is
// checked by Notifier, which is given it.
func (c *Config) Validate() []nightowl.FieldError {
	var errs []nightowl.FieldError
	if len(c.To) == 0 {
		errs = append(errs, nightowl.FieldError{Key: "to", Message: "required"})
	}
	for i, to := range c.To {
		if _, err := parseAddress(to); err != nil {
			errs = append(errs, nightowl.FieldError{Key: fmt.Sprintf("to[%d]", i), Message: err.Error()})
		}
	}
	if c.From != "" {
		if _, err := parseAddress(c.From); err != nil {
			errs = append(errs, nightowl.FieldError{Key: "from", Message: err.Error()})
		}
	}
	errs = append(errs, kit.ValidateTemplates(kit.Templates{Title: c.TitleTemplate, Text: c.TextTemplate})...)
	return errs
}

// Notifier builds the receiver on the notify.smtp server in deps.
func (c *Config) Notifier(deps kit.Deps) (nightowl.Notifier, error) {
	s := deps.SMTP
	if s == nil || s.Host == "" {
		return nil, errors.New("notify.smtp.host: required by email receivers")
	}
	mode := s.TLS
	if mode == "" {
		mode = modeSTARTTLS
	}
	if mode != modeSTARTTLS && mode != modeTLS && mode != modeNone {
		return nil, errors.New(`notify.smtp.tls: must be "starttls", "tls" or "none"`)
	}
	port := s.Port
	if port == 0 {
		port = DefaultPort
		if mode == modeTLS {
			port = DefaultTLSPort
		}
	}
	if port < 1 || port > 65535 {
		return nil, errors.New("notify.smtp.port: must be between 1 and 65535")
	}
	from := c.From
	key := "from"
	if from == "" {
		from, key = s.From, "notify.smtp.from"
	}
	if from == "" {
		return nil, errors.New("notify.smtp.from: required when the receiver gives no from")
	}
	fromAddr, err := parseAddress(from)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	var to []*mail.Address
	for i, t := range c.To {
		a, err := parseAddress(t)
		if err != nil {
			return nil, fmt.Errorf("to[%d]: %w", i, err)
		}
		to = append(to, a)
	}
	if len(to) == 0 {
		return nil, errors.New("to: required")
	}
	r, err := kit.NewRenderer(kit.Templates{Title: c.TitleTemplate, Text: c.TextTemplate})
	if err != nil {
		return nil, err
	}
	return &Notifier{
		addr:     net.JoinHostPort(s.Host, strconv.Itoa(port)),
		mode:     mode,
		username: s.Username,
		password: s.Password,
		from:     fromAddr,
		to:       to,
		render:   r,
		tls: &tls.Config{
			ServerName:         s.Host,
			InsecureSkipVerify: s.InsecureSkipVerify,
			MinVersion:         tls.VersionTLS12,
		},
		hello: helloName(),
		now:   time.Now,
	}, nil
}

// parseAddress accepts one address, with or without a display name.
func parseAddress(s string) (*mail.Address, error) {
	a, err := mail.ParseAddress(s)
	if err != nil {
		return nil, errors.New("not a valid address")
	}
	if strings.ContainsAny(a.Address, "\r\n") {
		return nil, errors.New("not a valid address")
	}
	return a, nil
}

// helloName is the name the client gives in EHLO. Some servers refuse
// "localhost" from a remote peer, so the host's own name goes first.
func helloName() string {
	if h, err := os.Hostname(); err == nil && h != "" && !strings.ContainsAny(h, " \r\n") {
		return h
	}
	return "localhost"
}

// AddressKey makes the block a contact kind: a person's address is
// the mailbox.
func (c *Config) AddressKey() string { return "to" }

// SetAddress fills in a person's address.
func (c *Config) SetAddress(address string) { c.To = []string{address} }
