package app

import (
	"context"
	"net/http"
	"sync/atomic"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/actions"
	"github.com/nightowl/nightowl/config"
	"github.com/nightowl/nightowl/preflight"
)

// actionConfig is the actions section in force; a reload swaps it whole.
type actionConfig struct {
	actions []nightowl.Action
	buddy   bool
}

// newActions builds the actions service over the store.
func (a *App) newActions(cfg *config.Config, auditor nightowl.Auditor) error {
	a.actionCfg = &atomic.Pointer[actionConfig]{}
	a.setActionConfig(cfg)
	svc, err := actions.New(actions.Options{
		Store: a.store, Clock: a.opts.Clock, Logger: a.log,
		Actions: func() []nightowl.Action { return a.actionCfg.Load().actions },
		Buddy:   func() bool { return a.actionCfg.Load().buddy },
		IncidentOpen: func(ctx context.Context) (bool, error) {
			open, err := a.incidents.List(ctx, nightowl.IncidentQuery{Open: true, Limit: 1})
			return len(open) > 0, err
		},
		Preflight: func(act *nightowl.Action, params map[string]string) (string, error) {
			return preflight.Run(act.Preflight, preflight.Env{Params: params, Checks: a.engine.Check})
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

func (a *App) setActionConfig(cfg *config.Config) {
	a.actionCfg.Store(&actionConfig{actions: cfg.Actions, buddy: cfg.BuddyDuringIncidents})
}

// onDown runs a check's on_down action when it has just gone down. It runs
// apart from the worker that ran the check: an action may take minutes.
func (a *App) onDown(v nightowl.CheckView) {
	if v.Check.OnDown == "" || v.State.Status != nightowl.StatusDown {
		return
	}
	go a.actions.OnDown(context.Background(), v)
}

// Actions implements web.Actioner.
func (a *App) Actions(ctx context.Context) ([]nightowl.ActionView, error) {
	list, err := a.actions.List(ctx)
	for i := range list {
		list[i].HTTP = hideHeaders(list[i].HTTP)
	}
	return list, err
}

// hideHeaders hides the values of an HTTP action's headers, which carry
// its credentials (expanded from ${VAR} or _file secrets), from everyone
// who may read the actions and their plans.
func hideHeaders(h *nightowl.ActionHTTP) *nightowl.ActionHTTP {
	if h == nil || len(h.Headers) == 0 {
		return h
	}
	c := *h
	c.Headers = make(map[string]string, len(h.Headers))
	for k := range h.Headers {
		c.Headers[k] = "(hidden)"
	}
	return &c
}

// RequestAction implements web.Actioner.
func (a *App) RequestAction(ctx context.Context, name string, params map[string]string, reason, confirm, by string) (nightowl.ActionRequest, error) {
	return a.actions.Request(ctx, name, params, reason, confirm, by)
}

// ActionRequests implements web.Actioner.
func (a *App) ActionRequests(ctx context.Context, q nightowl.ActionQuery) ([]nightowl.ActionRequest, error) {
	return a.actions.Requests(ctx, q)
}

// ActionRequest implements web.Actioner: the request and exactly what it
// runs.
func (a *App) ActionRequest(ctx context.Context, id string) (nightowl.ActionRequest, nightowl.ActionPlan, error) {
	r, err := a.actions.Get(ctx, id)
	if err != nil {
		return r, nightowl.ActionPlan{}, err
	}
	for _, act := range a.actionCfg.Load().actions {
		if act.Name == r.Action {
			plan := actions.PlanOf(&act, r.Params)
			plan.HTTP = hideHeaders(plan.HTTP)
			return r, plan, nil
		}
	}
	return r, nightowl.ActionPlan{}, nil
}

// ApproveAction implements web.Actioner.
func (a *App) ApproveAction(ctx context.Context, id, by string) (nightowl.ActionRequest, error) {
	return a.actions.Approve(ctx, id, by)
}

// DenyAction implements web.Actioner.
func (a *App) DenyAction(ctx context.Context, id, by, reason string) (nightowl.ActionRequest, error) {
	return a.actions.Deny(ctx, id, by, reason)
}

// RunAction implements web.Actioner.
func (a *App) RunAction(ctx context.Context, id, by string) (nightowl.ActionRequest, error) {
	return a.actions.Run(ctx, id, by)
}
