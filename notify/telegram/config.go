package telegram

import (
	"encoding/json"
	"regexp"
	"strings"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/notify/kit"
)

// DefaultAPIURL is the Bot API; a self-hosted Bot API server (or a proxy
// in front of the real one) goes in api_url instead.
const DefaultAPIURL = "https://api.telegram.org"

var (
	// tokenRE is the shape of the tokens @BotFather hands out. Checking
	// it catches a chat id or a stray space in the wrong key before the
	// first page is lost to a 404.
	tokenRE = regexp.MustCompile(`^[0-9]+:[A-Za-z0-9_-]+$`)
	// A chat is a numeric id (negative for groups and channels) or a
	// public channel's @username.
	chatIDRE   = regexp.MustCompile(`^-?[0-9]+$`)
	usernameRE = regexp.MustCompile(`^@[A-Za-z][A-Za-z0-9_]{3,31}$`)
)

// Config is a telegram receiver block.
type Config struct {
	BotToken string `yaml:"bot_token" secret:"true"`
	// ChatID is where messages go: a user, group or channel id such as
	// -1001234567890, or a public channel's @username.
	ChatID string `yaml:"chat_id"`
	// MessageThreadID sends to one topic of a forum supergroup.
	MessageThreadID int64  `yaml:"message_thread_id"`
	APIURL          string `yaml:"api_url"`
	TitleTemplate   string `yaml:"title_template"`
	TextTemplate    string `yaml:"text_template"`
}

// New returns a block with the defaults, for the config decoder to fill.
func New() kit.Spec { return &Config{APIURL: DefaultAPIURL} }

// Validate reports what is wrong with the block.
func (c *Config) Validate() []nightowl.FieldError {
	var errs []nightowl.FieldError
	if c.BotToken == "" {
		errs = append(errs, nightowl.FieldError{Key: "bot_token", Message: "required"})
	} else if !tokenRE.MatchString(c.BotToken) {
		// The message must not quote the token: it is the bot.
		errs = append(errs, nightowl.FieldError{Key: "bot_token", Message: "must look like 123456789:AAE…, as @BotFather gives it"})
	}
	switch {
	case c.ChatID == "":
		errs = append(errs, nightowl.FieldError{Key: "chat_id", Message: "required"})
	case !chatIDRE.MatchString(c.ChatID) && !usernameRE.MatchString(c.ChatID):
		errs = append(errs, nightowl.FieldError{Key: "chat_id", Message: "must be a chat id such as -1001234567890 or a channel's @username"})
	}
	if c.MessageThreadID < 0 {
		errs = append(errs, nightowl.FieldError{Key: "message_thread_id", Message: "must be 0 or more"})
	}
	errs = append(errs, kit.ValidateURL("api_url", c.APIURL)...)
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
		token:    c.BotToken,
		endpoint: strings.TrimRight(c.APIURL, "/") + "/bot" + c.BotToken + "/sendMessage",
		threadID: c.MessageThreadID,
		render:   r,
		client:   deps.HTTPClient(),
		logger:   deps.Log(),
	}
	n.chatID = chatID(c.ChatID)
	return n, nil
}

// chatID is how the Bot API wants a chat: an integer for an id, a string
// for an @username.
func chatID(s string) any {
	if chatIDRE.MatchString(s) {
		return json.Number(s)
	}
	return s
}

// AddressKey makes the block a contact kind: a person's address is
// a chat id.
func (c *Config) AddressKey() string { return "chat_id" }

// SetAddress fills in a person's address.
func (c *Config) SetAddress(address string) { c.ChatID = address }
