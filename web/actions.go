package web

import (
	"context"
	"net/http"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/web/internal/kit"
)

// Actioner is what the action endpoints need from the running server.
type Actioner interface {
	Actions(ctx context.Context) ([]nightowl.ActionView, error)
	RequestAction(ctx context.Context, name string, params map[string]string, reason, confirm, by string) (nightowl.ActionRequest, error)
	ActionRequests(ctx context.Context, q nightowl.ActionQuery) ([]nightowl.ActionRequest, error)
	// ActionRequest returns a request with exactly what it runs.
	ActionRequest(ctx context.Context, id string) (nightowl.ActionRequest, nightowl.ActionPlan, error)
	ApproveAction(ctx context.Context, id, by string) (nightowl.ActionRequest, error)
	DenyAction(ctx context.Context, id, by, reason string) (nightowl.ActionRequest, error)
	RunAction(ctx context.Context, id, by string) (nightowl.ActionRequest, error)
}

func (a *api) actionRoutes() []Route {
	if a.actions == nil {
		return nil
	}
	f := func(pattern string, role nightowl.Role, h http.HandlerFunc) Route {
		return Route{Pattern: pattern, Role: role, Handler: h}
	}
	return []Route{
		f("GET /api/v1/actions", viewer, a.listActions),
		f("POST /api/v1/actions/{name}/requests", responder, a.requestAction),
		f("GET /api/v1/action-requests", viewer, a.listActionRequests),
		f("GET /api/v1/action-requests/{id}", viewer, a.getActionRequest),
		// Dangerous: a session needs a recent second factor.
		kit.WithStepUp(f("POST /api/v1/action-requests/{id}/approve", responder, a.approveAction)),
		f("POST /api/v1/action-requests/{id}/deny", responder, a.denyAction),
		kit.WithStepUp(kit.WithLong(f("POST /api/v1/action-requests/{id}/run", responder, a.runAction), kit.ActionWrite)),
	}
}

func (a *api) listActions(w http.ResponseWriter, r *http.Request) {
	list, err := a.actions.Actions(r.Context())
	if err != nil {
		kit.WriteError(w, err)
		return
	}
	if list == nil {
		list = []nightowl.ActionView{}
	}
	kit.WriteJSON(w, http.StatusOK, map[string]any{"actions": list})
}

// actionRequestBody is the body of POST /api/v1/actions/{name}/requests.
type actionRequestBody struct {
	Params  map[string]string `json:"params"`
	Reason  string            `json:"reason"`
	Confirm string            `json:"confirm"`
}

func (a *api) requestAction(w http.ResponseWriter, r *http.Request) {
	var body actionRequestBody
	if err := decodeBody(r, &body); err != nil {
		kit.WriteError(w, err)
		return
	}
	req, err := a.actions.RequestAction(r.Context(), r.PathValue("name"), body.Params, body.Reason, body.Confirm, kit.Actor(r))
	if err != nil {
		kit.WriteError(w, err)
		return
	}
	kit.WriteJSON(w, http.StatusCreated, map[string]any{"request": req})
}

func (a *api) listActionRequests(w http.ResponseWriter, r *http.Request) {
	q := nightowl.ActionQuery{Action: r.URL.Query().Get("action"), Open: r.URL.Query().Get("state") == "open"}
	var err error
	if q.Limit, err = limitParam(r, 100); err != nil {
		kit.WriteError(w, err)
		return
	}
	list, err := a.actions.ActionRequests(r.Context(), q)
	if err != nil {
		kit.WriteError(w, err)
		return
	}
	if list == nil {
		list = []nightowl.ActionRequest{}
	}
	kit.WriteJSON(w, http.StatusOK, map[string]any{"requests": list})
}

func (a *api) getActionRequest(w http.ResponseWriter, r *http.Request) {
	req, plan, err := a.actions.ActionRequest(r.Context(), r.PathValue("id"))
	if err != nil {
		kit.WriteError(w, err)
		return
	}
	kit.WriteJSON(w, http.StatusOK, map[string]any{"request": req, "plan": plan})
}

func (a *api) approveAction(w http.ResponseWriter, r *http.Request) {
	if err := kit.MayApprove(r); err != nil {
		kit.WriteError(w, err)
		return
	}
	req, err := a.actions.ApproveAction(r.Context(), r.PathValue("id"), kit.Actor(r))
	if err != nil {
		kit.WriteError(w, err)
		return
	}
	kit.WriteJSON(w, http.StatusOK, map[string]any{"request": req})
}

// denyBody is the optional body of POST /api/v1/action-requests/{id}/deny.
type denyBody struct {
	Reason string `json:"reason"`
}

func (a *api) denyAction(w http.ResponseWriter, r *http.Request) {
	var body denyBody
	if err := decodeBody(r, &body); err != nil {
		kit.WriteError(w, err)
		return
	}
	req, err := a.actions.DenyAction(r.Context(), r.PathValue("id"), kit.Actor(r), body.Reason)
	if err != nil {
		kit.WriteError(w, err)
		return
	}
	kit.WriteJSON(w, http.StatusOK, map[string]any{"request": req})
}

func (a *api) runAction(w http.ResponseWriter, r *http.Request) {
	kit.LongWrite(w, kit.ActionWrite)
	req, err := a.actions.RunAction(r.Context(), r.PathValue("id"), kit.Actor(r))
	if err != nil {
		kit.WriteError(w, err)
		return
	}
	kit.WriteJSON(w, http.StatusOK, map[string]any{"request": req})
}
