package app

import (
	"context"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/config"
	"github.com/nightowl/nightowl/incident"
)

// autoOpenTimeout bounds the work of adding a fired alert to an incident:
// it runs on the path that records the alert.
const autoOpenTimeout = 10 * time.Second

// newIncidents builds the incident service over the store, reading the
// components and checks in force.
func (a *App) newIncidents() error {
	svc, err := incident.New(incident.Options{
		Store: a.store, Clock: a.opts.Clock, Logger: a.log,
		Components: func() []nightowl.Component { return a.Config().Components },
		Checks: func() []nightowl.CheckView {
			if a.engine == nil {
				return nil
			}
			return a.withIngested(a.engine.Checks())
		},
		AutoOpen: func() bool { return a.Config().Incidents.AutoOpen == config.AutoOpenCritical },
	})
	a.incidents = svc
	return err
}

// alertFired is the alert manager's Fired hook: with incidents.auto_open,
// a critical alert on a component's check opens an incident or joins one.
func (a *App) alertFired(al nightowl.Alert) {
	ctx, cancel := context.WithTimeout(context.Background(), autoOpenTimeout)
	defer cancel()
	if _, _, err := a.incidents.OnAlert(ctx, al); err != nil {
		a.log.Error("open incident for alert", "alert", al.ID, "check", al.Check, "err", err)
	}
}

// Incidents returns the incident service; the web layer and tests use it.
func (a *App) Incidents() *incident.Service { return a.incidents }
