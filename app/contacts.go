package app

import (
	"context"
	"time"

	"github.com/nightowl/nightowl/config"
	"github.com/nightowl/nightowl/contact"
	"github.com/nightowl/nightowl/notify"
	"github.com/nightowl/nightowl/notify/kit"
)

// startContacts builds the service of people's contact methods over the
// contact kinds of the config in force, whatever reloads change.
func (a *App) startContacts() error {
	client := kit.NewHTTPClient()
	svc, err := contact.New(contact.Options{
		Store: a.store, Clock: a.opts.Clock, Logger: a.log,
		Kinds: func() map[string]*contact.Kind { return contactKinds(a.Config()) },
		Deps: func() kit.Deps {
			return kit.Deps{Client: client, Logger: a.log, SMTP: a.Config().Notify.SMTP}
		},
	})
	a.contacts = svc
	return err
}

// contactKinds are the config's contact kinds as the contact service
// takes them.
func contactKinds(cfg *config.Config) map[string]*contact.Kind {
	out := make(map[string]*contact.Kind, len(cfg.Notify.Contacts))
	for name, k := range cfg.Notify.Contacts {
		out[name] = &contact.Kind{Name: k.Name, Label: k.Label, Receiver: k.Receiver, Spec: k.Spec, Pattern: k.Pattern}
	}
	return out
}

// people are who escalation steps page by name: the person on call in a
// schedule, as the roster says (the config in force with the overrides
// people added), and each person's contact methods.
type people struct{ a *App }

func (p people) OnCall(ctx context.Context, schedule string, t time.Time) (string, error) {
	user, _, err := p.a.roster.OnCall(ctx, schedule, t)
	return user, err
}

func (p people) Reach(ctx context.Context, user string) ([]notify.Reach, error) {
	return p.a.contacts.Reach(ctx, user)
}

// target returns the receiver of an outbox ID: one of the config's
// receivers, or a person's contact method.
func (a *App) target(id string) (notify.Target, bool) {
	if t, ok := (*a.targets.Load())[id]; ok {
		return t, true
	}
	if a.contacts == nil {
		return notify.Target{}, false
	}
	kind, n, ok := a.contacts.Target(id)
	return notify.Target{Kind: kind, Notifier: n}, ok
}
