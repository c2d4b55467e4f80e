// Package receivers names every kind of receiver in one table, which the
// config loader reads to decode notify.receivers. A receiver is a package
// of its own, notify/NAME (config.go, NAME.go, NAME_test.go), built on
// notify/kit and tested through notify/notifytest; adding one touches that
// package, one row here, and its page under docs/receivers.
package receivers

import (
	"github.com/nightowl/nightowl/notify/command"
	"github.com/nightowl/nightowl/notify/discord"
	"github.com/nightowl/nightowl/notify/email"
	"github.com/nightowl/nightowl/notify/kit"
	"github.com/nightowl/nightowl/notify/ntfy"
	"github.com/nightowl/nightowl/notify/opsgenie"
	"github.com/nightowl/nightowl/notify/pagerduty"
	"github.com/nightowl/nightowl/notify/pushover"
	"github.com/nightowl/nightowl/notify/slack"
	"github.com/nightowl/nightowl/notify/teams"
	"github.com/nightowl/nightowl/notify/telegram"
	"github.com/nightowl/nightowl/notify/webhook"
)

// Kinds maps each receiver's config key to a constructor of its zero,
// defaulted config block. It is read-only.
var Kinds = map[string]func() kit.Spec{
	"command":   command.New,
	"discord":   discord.New,
	"email":     email.New,
	"ntfy":      ntfy.New,
	"opsgenie":  opsgenie.New,
	"pagerduty": pagerduty.New,
	"pushover":  pushover.New,
	"slack":     slack.New,
	"teams":     teams.New,
	"telegram":  telegram.New,
	"webhook":   webhook.New,
}
