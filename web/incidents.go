package web

import (
	"context"
	"net/http"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/web/internal/kit"
)

// Incidents is what the incident endpoints need from the running server;
// incident.Service implements it.
type Incidents interface {
	List(ctx context.Context, q nightowl.IncidentQuery) ([]nightowl.Incident, error)
	Get(ctx context.Context, id string) (nightowl.Incident, []nightowl.IncidentUpdate, error)
	Timeline(ctx context.Context, id string) ([]nightowl.TimelineEntry, error)
	Postmortem(ctx context.Context, id string) (string, error)
	// Open opens an incident; its first update carries message, shown
	// on the status page when public.
	Open(ctx context.Context, title string, impact nightowl.Impact, components []string, message string, public bool, by string) (nightowl.Incident, error)
	// Update records u (a public update or a private note) on the
	// incident, changing its state, impact or components when u says.
	Update(ctx context.Context, id string, u nightowl.IncidentUpdate) (nightowl.Incident, nightowl.IncidentUpdate, error)
	// Publish puts the incident on the status page, renamed to title
	// unless it is empty, with message as its public update, or as it
	// stands when message is empty.
	Publish(ctx context.Context, id, title, message, by string) (nightowl.Incident, nightowl.IncidentUpdate, error)
}

// IncidentPublishRequest is the body of POST /api/v1/incidents/{id}/publish;
// it may be left out. Title renames the incident as it is published.
type IncidentPublishRequest struct {
	Title   string `json:"title"`
	Message string `json:"message"`
}

// IncidentRequest is the body of POST /api/v1/incidents. Public is true
// when left out: the first message is meant for the status page unless
// someone says otherwise.
type IncidentRequest struct {
	Title      string          `json:"title"`
	Impact     nightowl.Impact `json:"impact"`
	Components []string        `json:"components"`
	Message    string          `json:"message"`
	Public     *bool           `json:"public"`
}

// IncidentUpdateRequest is the body of POST /api/v1/incidents/{id}/updates:
// a public update, or a private note when public is false (the default).
// State, impact and components are left as they are when left out.
type IncidentUpdateRequest struct {
	State      nightowl.IncidentState `json:"state"`
	Impact     nightowl.Impact        `json:"impact"`
	Components []string               `json:"components"`
	Message    string                 `json:"message"`
	Public     bool                   `json:"public"`
}

func (a *api) listIncidents(w http.ResponseWriter, r *http.Request) {
	var q nightowl.IncidentQuery
	switch s := r.URL.Query().Get("state"); s {
	case "", "all":
	case "open":
		q.Open = true
	default:
		kit.WriteError(w, nightowl.Errorf(nightowl.EInvalid, "state must be open or all, not %q", s))
		return
	}
	var err error
	if q.Limit, err = limitParam(r, 100); err != nil {
		kit.WriteError(w, err)
		return
	}
	list, err := a.incidents.List(r.Context(), q)
	if err != nil {
		a.log.Error("read incidents", "err", err)
		kit.WriteError(w, err)
		return
	}
	if list == nil {
		list = []nightowl.Incident{}
	}
	kit.WriteJSON(w, http.StatusOK, map[string]any{"incidents": list})
}

func (a *api) openIncident(w http.ResponseWriter, r *http.Request) {
	var req IncidentRequest
	if err := decodeBody(r, &req); err != nil {
		kit.WriteError(w, err)
		return
	}
	public := req.Public == nil || *req.Public
	inc, err := a.incidents.Open(r.Context(), req.Title, req.Impact, req.Components, req.Message, public, kit.Actor(r))
	if err != nil {
		kit.WriteError(w, err)
		return
	}
	_, ups, err := a.incidents.Get(r.Context(), inc.ID)
	if err != nil {
		kit.WriteError(w, err)
		return
	}
	kit.WriteJSON(w, http.StatusCreated, map[string]any{"incident": inc, "updates": updatesJSON(ups)})
}

func (a *api) getIncident(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	inc, ups, err := a.incidents.Get(r.Context(), id)
	if err != nil {
		kit.WriteError(w, err)
		return
	}
	tl, err := a.incidents.Timeline(r.Context(), id)
	if err != nil {
		a.log.Error("read incident timeline", "incident", id, "err", err)
		kit.WriteError(w, err)
		return
	}
	if tl == nil {
		tl = []nightowl.TimelineEntry{}
	}
	kit.WriteJSON(w, http.StatusOK, map[string]any{"incident": inc, "updates": updatesJSON(ups), "timeline": tl})
}

func (a *api) updateIncident(w http.ResponseWriter, r *http.Request) {
	var req IncidentUpdateRequest
	if err := decodeBody(r, &req); err != nil {
		kit.WriteError(w, err)
		return
	}
	inc, u, err := a.incidents.Update(r.Context(), r.PathValue("id"), nightowl.IncidentUpdate{
		State: req.State, Impact: req.Impact, Components: req.Components,
		Message: req.Message, Public: req.Public, By: kit.Actor(r),
	})
	if err != nil {
		kit.WriteError(w, err)
		return
	}
	kit.WriteJSON(w, http.StatusCreated, map[string]any{"incident": inc, "update": u})
}

func (a *api) publishIncident(w http.ResponseWriter, r *http.Request) {
	var req IncidentPublishRequest
	if err := decodeBody(r, &req); err != nil {
		kit.WriteError(w, err)
		return
	}
	inc, u, err := a.incidents.Publish(r.Context(), r.PathValue("id"), req.Title, req.Message, kit.Actor(r))
	if err != nil {
		kit.WriteError(w, err)
		return
	}
	kit.WriteJSON(w, http.StatusOK, map[string]any{"incident": inc, "update": u})
}

func (a *api) incidentPostmortem(w http.ResponseWriter, r *http.Request) {
	md, err := a.incidents.Postmortem(r.Context(), r.PathValue("id"))
	if err != nil {
		kit.WriteError(w, err)
		return
	}
	w.Header().Set("Content-Type", "text/markdown; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write([]byte(md))
}

func updatesJSON(ups []nightowl.IncidentUpdate) []nightowl.IncidentUpdate {
	if ups == nil {
		return []nightowl.IncidentUpdate{}
	}
	return ups
}
