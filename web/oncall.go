package web

import (
	"net/http"
	"strings"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/web/admin"
	"github.com/nightowl/nightowl/web/internal/kit"
)

// Oncall is the schedules as they are now, with the overrides people
// stored, and the calendar feeds: an oncall.Roster whose changes are
// recorded in the audit log (audited.Oncall).
type Oncall = admin.Oncall

func (a *api) oncallRoutes() []Route {
	if a.oncall == nil {
		return nil
	}
	f := func(pattern string, role nightowl.Role, h http.HandlerFunc) Route {
		return Route{Pattern: pattern, Role: role, Handler: h}
	}
	return []Route{
		f("GET /api/v1/schedules", viewer, a.listSchedules),
		f("GET /api/v1/schedules/{name}/oncall", viewer, a.scheduleOncall),
		f("GET /api/v1/schedules/{name}/overrides", viewer, a.listOverrides),
		f("POST /api/v1/schedules/{name}/overrides", responder, a.addOverride),
		f("DELETE /api/v1/schedules/{name}/overrides/{id}", responder, a.deleteOverride),
		// Who may manage which feed is the handler's to say
		// (kit.MayManageFeed): anyone signed in manages their own.
		f("GET /api/v1/calendar", viewer, a.listFeeds),
		f("POST /api/v1/calendar/{kind}/{name}", viewer, a.createFeed),
		f("DELETE /api/v1/calendar/{kind}/{name}", viewer, a.revokeFeed),
		// The secret in the address is the credential: calendars
		// fetch it without signing in.
		f("GET /calendar/{file}", public, a.calendarFeed),
	}
}

// OverrideRequest is the body of POST /api/v1/schedules/{name}/overrides:
// times in RFC 3339.
type OverrideRequest struct {
	User   string `json:"user"`
	From   string `json:"from"`
	To     string `json:"to"`
	Reason string `json:"reason,omitempty"`
}

func (r *OverrideRequest) freeText() []kit.TextField {
	return []kit.TextField{kit.Field("user", r.User, kit.TextRule{Plain: true}), kit.Field("reason", r.Reason, kit.LinesText)}
}

// parseOverride reads the body of a new override of schedule by by; an error
// names the field that is wrong.
func parseOverride(r *http.Request, schedule, by string) (nightowl.ScheduleOverride, error) {
	var req OverrideRequest
	if err := decodeBody(r, &req); err != nil {
		return nightowl.ScheduleOverride{}, err
	}
	o := nightowl.ScheduleOverride{Schedule: schedule, User: strings.TrimSpace(req.User), Reason: strings.TrimSpace(req.Reason), CreatedBy: by}
	var err error
	if o.From, err = rfc3339("from", req.From); err != nil {
		return o, err
	}
	if o.To, err = rfc3339("to", req.To); err != nil {
		return o, err
	}
	return o, nil
}

func rfc3339(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nightowl.Errorf(nightowl.EInvalid, "%s: required: a time in RFC 3339, such as 2026-03-05T18:00:00+01:00", field)
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, nightowl.Errorf(nightowl.EInvalid, "%s: must be a time in RFC 3339, such as 2026-03-05T18:00:00+01:00", field)
	}
	return t, nil
}

func (a *api) listOverrides(w http.ResponseWriter, r *http.Request) {
	list, err := a.oncall.Overrides(r.Context(), r.PathValue("name"))
	if err != nil {
		kit.WriteError(w, err)
		return
	}
	if list == nil {
		list = []nightowl.ScheduleOverride{}
	}
	kit.WriteJSON(w, http.StatusOK, map[string]any{"overrides": list})
}

func (a *api) addOverride(w http.ResponseWriter, r *http.Request) {
	o, err := parseOverride(r, r.PathValue("name"), kit.Actor(r))
	if err == nil {
		o, err = a.oncall.AddOverride(r.Context(), o)
	}
	if err != nil {
		kit.WriteError(w, err)
		return
	}
	a.log.Info("override added", "schedule", o.Schedule, "override", o.ID, "user", o.User, "by", o.CreatedBy)
	kit.WriteJSON(w, http.StatusCreated, o)
}

func (a *api) deleteOverride(w http.ResponseWriter, r *http.Request) {
	o, err := a.oncall.DeleteOverride(r.Context(), r.PathValue("name"), r.PathValue("id"), kit.Actor(r))
	if err != nil {
		kit.WriteError(w, err)
		return
	}
	a.log.Info("override deleted", "schedule", o.Schedule, "override", o.ID, "by", kit.Actor(r))
	kit.WriteJSON(w, http.StatusOK, o)
}

// listFeeds lists the feeds the caller may manage, without secrets.
func (a *api) listFeeds(w http.ResponseWriter, r *http.Request) {
	all, err := a.oncall.Feeds(r.Context())
	if err != nil {
		kit.WriteError(w, err)
		return
	}
	p, _ := PrincipalFrom(r.Context())
	out := []nightowl.CalendarFeed{}
	for _, f := range all {
		if kit.MayManageFeed(p, f.Kind, f.Name) == nil {
			out = append(out, f)
		}
	}
	kit.WriteJSON(w, http.StatusOK, map[string]any{"feeds": out})
}

// FeedJSON is a calendar feed just made: its address, with the secret,
// is shown only this once.
type FeedJSON struct {
	Kind   nightowl.FeedKind `json:"kind"`
	Name   string            `json:"name"`
	URL    string            `json:"url"`
	Secret string            `json:"secret"`
}

func (a *api) feedTarget(r *http.Request) (nightowl.FeedKind, string, error) {
	kind, err := kit.FeedKind(r.PathValue("kind"))
	if err != nil {
		return "", "", err
	}
	name := r.PathValue("name")
	p, _ := PrincipalFrom(r.Context())
	return kind, name, kit.MayManageFeed(p, kind, name)
}

func (a *api) createFeed(w http.ResponseWriter, r *http.Request) {
	kind, name, err := a.feedTarget(r)
	var secret string
	if err == nil {
		secret, err = a.oncall.CreateFeed(r.Context(), kind, name, kit.Actor(r))
	}
	if err != nil {
		kit.WriteError(w, err)
		return
	}
	a.log.Info("calendar feed made", "kind", kind, "name", name, "by", kit.Actor(r))
	w.Header().Set("Cache-Control", "no-store")
	kit.WriteJSON(w, http.StatusCreated, FeedJSON{Kind: kind, Name: name, URL: kit.FeedURL(r, a.publicURL, secret), Secret: secret})
}

func (a *api) revokeFeed(w http.ResponseWriter, r *http.Request) {
	kind, name, err := a.feedTarget(r)
	if err == nil {
		err = a.oncall.RevokeFeed(r.Context(), kind, name, kit.Actor(r))
	}
	if err != nil {
		kit.WriteError(w, err)
		return
	}
	a.log.Info("calendar feed revoked", "kind", kind, "name", name, "by", kit.Actor(r))
	kit.WriteJSON(w, http.StatusOK, map[string]any{"revoked": true, "kind": kind, "name": name})
}

// Calendar feeds are public: whoever holds an address may fetch it, as
// often as a calendar does (hourly, REFRESH-INTERVAL). Fetches are limited
// per client address before the secret is looked at, so that nobody can
// try secrets fast; a secret has 256 random bits, so trying is hopeless
// anyway.
const (
	feedAddrBurst = 60
	feedAddrEvery = 2 * time.Second // 60 at once, then one every 2s
)

func newFeedLimit() *kit.Buckets { return kit.NewBuckets(feedAddrBurst, feedAddrEvery, kit.MaxKeys) }

// calendarFeed serves GET /calendar/SECRET.ics. A secret that names no
// feed, a revoked or replaced one among them, is 404, found by the hash of
// the secret in the store's index (oncall.FeedHash): no secret is compared
// byte by byte, so the time taken tells nothing of how close a guess was.
// The secret is never logged.
func (a *api) calendarFeed(w http.ResponseWriter, r *http.Request) {
	if wait, ok := a.feedLimit.Take(nightowl.ClientKey(a.clientAddr(r)), a.clock.Now()); !ok {
		kit.WriteError(w, kit.TooMany(wait, "too many calendar fetches from your address"))
		return
	}
	secret, ok := strings.CutSuffix(r.PathValue("file"), ".ics")
	var doc []byte
	var err error = nightowl.Errorf(nightowl.ENotFound, "no such calendar feed")
	if ok {
		doc, err = a.oncall.Calendar(r.Context(), secret)
	}
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if err != nil {
		if kit.StatusOf(err) == http.StatusInternalServerError {
			a.log.Error("serve a calendar feed", "err", err)
		}
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(kit.StatusOf(err))
		w.Write([]byte(nightowl.ErrorMessage(err) + "\n"))
		return
	}
	w.Header().Set("Content-Type", "text/calendar; charset=utf-8")
	w.Header().Set("Content-Disposition", `inline; filename="nightowl.ics"`)
	w.Header().Set("Cache-Control", "private, max-age=300")
	w.Write(doc)
}
