package app

import (
	"context"
	"net/http"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/actions"
	"github.com/nightowl/nightowl/preflight"
)

// newActions builds the actions service over the store.
func (a *App) newActions(auditor nightowl.Auditor) error {
	svc, err := actions.New(actions.Options{
		Store: a.store, Clock: a.opts.Clock, Logger: a.log,
		Actions: func() []nightowl.Action { return a.Config().Actions },
		Buddy:   func() bool { return a.Config().BuddyDuringIncidents },
		IncidentOpen: func(ctx context.Context) (bool, error) {
			open, err := a.incidents.List(ctx, nightowl.IncidentQuery{Open: true, Limit: 1})
			return len(open) > 0, err
		},
		Preflight: func(ctx context.Context, act *nightowl.Action, params map[string]string) (string, []nightowl.CheckSeen, error) {
			r, err := preflight.Judge(act.Preflight, preflight.Env{Params: params, Checks: preflight.Newest(ctx, a.engine.Check, a.store, a.log), Now: a.opts.Clock.Now})
			return r.Failed, r.Seen, err
		},
		MayApprove: func(ctx context.Context, user string, requested time.Time) (string, error) {
			return a.access.HeldRoleBefore(ctx, user, nightowl.RoleResponder, requested)
		},
		InMaintenance: func(c *nightowl.Check) bool {
			return len(a.maint.Active(c, a.opts.Clock.Now())) > 0
		},
		Audit: auditor,
		AddEvent: func(ctx context.Context, e nightowl.Event) error {
			_, err := a.store.AddEvent(ctx, e)
			return err
		},
		Exec: actions.Exec{Client: &http.Client{}},
	})
	a.actions = svc
	return err
}

// onDown runs a check's on_down action when it has just gone down. It runs
// apart from the worker that ran the check (an action may take minutes), as
// a member of the crew, which Stop waits for.
func (a *App) onDown(v nightowl.CheckView) {
	if v.Check.OnDown == "" || v.State.Status != nightowl.StatusDown {
		return
	}
	if !a.crew.Go("on_down of "+v.Check.Name, func(ctx context.Context) { a.actions.OnDown(ctx, v) }) {
		a.log.Warn("on_down not run: the server is stopping", "check", v.Check.Name)
	}
}
