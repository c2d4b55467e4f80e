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
			r, err := preflight.Judge(act.Preflight, preflight.Env{Params: params, Checks: a.newestCheck(ctx), Now: a.opts.Clock.Now})
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

// newestCheck looks a check up by its newest result: this node's, or the
// one in the store when that is newer, as it is for a check another node
// of a cluster runs (this node's copy is what it last saw, possibly
// minutes old) and for one this node has not run since it started.
func (a *App) newestCheck(ctx context.Context) func(string) (nightowl.CheckView, bool) {
	return func(name string) (nightowl.CheckView, bool) {
		v, ok := a.engine.Check(name)
		if !ok {
			return v, false
		}
		rs, err := a.store.Results(ctx, name, 1)
		if err != nil {
			// The local copy then stands, and its age is judged.
			a.log.Warn("read the newest result of a check for a preflight", "check", name, "err", err)
			return v, true
		}
		if len(rs) == 0 || v.Last != nil && !rs[0].Start.After(v.Last.Start) {
			return v, true
		}
		v.Last = &rs[0]
		states, err := a.store.States(ctx)
		if err != nil {
			a.log.Warn("read check states for a preflight", "check", name, "err", err)
		}
		for _, st := range states {
			if st.Check == name && !st.LastRun.Before(v.State.LastRun) {
				v.State = st
			}
		}
		return v, true
	}
}
