package admin

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/oncall"
	"github.com/nightowl/nightowl/web/internal/kit"
)

// Oncall is the schedules as they are now, with the overrides people
// stored, and the calendar feeds (oncall.Roster, with every change
// recorded in the audit log).
type Oncall interface {
	Schedules(ctx context.Context) ([]oncall.Schedule, error)
	Schedule(ctx context.Context, name string) (oncall.Schedule, bool, error)
	Overrides(ctx context.Context, schedule string) ([]nightowl.ScheduleOverride, error)
	AddOverride(ctx context.Context, o nightowl.ScheduleOverride) (nightowl.ScheduleOverride, error)
	DeleteOverride(ctx context.Context, schedule, id, by string) (nightowl.ScheduleOverride, error)
	Feeds(ctx context.Context) ([]nightowl.CalendarFeed, error)
	// CreateFeed returns the new secret of a feed; the old one, if any,
	// stops working.
	CreateFeed(ctx context.Context, kind nightowl.FeedKind, name, by string) (string, error)
	RevokeFeed(ctx context.Context, kind nightowl.FeedKind, name, by string) error
	// Calendar is the iCalendar document of the feed with this secret.
	Calendar(ctx context.Context, secret string) ([]byte, error)
}

// oncallDays is how far ahead the on-call page lists shifts.
const oncallDays = 14

// wallForm is how the override form's times read: a datetime-local
// field's value, on the schedule's clock.
const wallForm = "2006-01-02T15:04"

// oncallData is the on-call page: the schedules, the viewer's own calendar
// feed, and a feed's address just made, shown this once.
type oncallData struct {
	Schedules []oncallSchedule
	// User is the signed-in viewer, who may have a calendar feed;
	// UserFeed says whether they have one.
	User     string
	UserFeed bool
	NewFeed  *newFeed
}

// newFeed is a feed's address, shown once after it was made.
type newFeed struct {
	What, URL string
}

// oncallSchedule is one schedule as the on-call page shows it: who is on
// call now, the shifts of the next two weeks on its clock, the stored
// overrides, and the override form.
type oncallSchedule struct {
	Name, Zone   string
	Now, Layer   string
	Until        *stamp
	Shifts       []oncallShift
	Overrides    []overrideRow
	Participants []string
	Form         overrideForm
	Refused      bool // the form was refused: the page's error is about it
	Feed         bool // it has a calendar feed
}

type oncallShift struct {
	User, Layer string
	From, To    string // on the schedule's clock
	Now         bool
}

// overrideRow is a stored override, its times on the schedule's clock.
type overrideRow struct {
	ID, User, From, To, Reason, By string
	Ended                          bool
}

// overrideForm is what the override form holds.
type overrideForm struct {
	User, From, To, Reason string
}

func (a *pages) oncallRoutes() []kit.Route {
	if a.oncall == nil {
		return nil
	}
	f := func(pattern string, role nightowl.Role, h http.HandlerFunc) kit.Route {
		return kit.Route{Pattern: pattern, Role: role, Handler: h}
	}
	return []kit.Route{
		f("GET /admin/oncall", viewer, a.adminOncall),
		f("POST /admin/oncall/{name}/overrides", responder, a.adminAddOverride),
		f("POST /admin/oncall/{name}/overrides/{id}/delete", responder, a.adminDeleteOverride),
		// Who may make which feed is the handler's to say
		// (kit.MayManageFeed): a viewer makes their own.
		f("POST /admin/oncall/feeds/{kind}/{name}", viewer, a.adminCreateFeed),
		f("POST /admin/oncall/feeds/{kind}/{name}/revoke", viewer, a.adminRevokeFeed),
	}
}

func (a *pages) adminOncall(w http.ResponseWriter, r *http.Request) {
	a.showOncall(w, r, http.StatusOK, "", "", nil, nil)
}

// showOncall renders the page; refused names the schedule whose form f was
// refused with errText, and nf is a feed just made.
func (a *pages) showOncall(w http.ResponseWriter, r *http.Request, status int, errText, refused string, f *overrideForm, nf *newFeed) {
	ctx := r.Context()
	schedules, err := a.oncall.Schedules(ctx)
	if err != nil {
		a.fail(w, r, "On call", err)
		return
	}
	feeds, err := a.oncall.Feeds(ctx)
	if err != nil {
		a.fail(w, r, "On call", err)
		return
	}
	pr, _ := kit.PrincipalFrom(ctx)
	has := func(kind nightowl.FeedKind, name string) bool {
		return slices.ContainsFunc(feeds, func(f nightowl.CalendarFeed) bool { return f.Kind == kind && f.Name == name })
	}
	d := oncallData{User: pr.User, UserFeed: pr.User != "" && has(nightowl.FeedUser, pr.User), NewFeed: nf}
	now := a.clock.Now()
	for _, s := range schedules {
		p := oncallPage(&s, now)
		stored, err := a.oncall.Overrides(ctx, s.Name)
		if err != nil {
			a.fail(w, r, "On call", err)
			return
		}
		p.Overrides = overrideRows(&s, stored, now)
		p.Feed = has(nightowl.FeedSchedule, s.Name)
		if refused == s.Name && f != nil {
			p.Form, p.Refused = *f, true
		}
		d.Schedules = append(d.Schedules, p)
	}
	page := &adminPage{Title: "On call", Section: "oncall", Error: errText, Data: d}
	if nf != nil {
		// The page holds a secret: no cache keeps it.
		w.Header().Set("Cache-Control", "no-store")
	}
	a.render(w, r, status, "admin_oncall.html", page)
}

func oncallPage(s *oncall.Schedule, now time.Time) oncallSchedule {
	zone := scheduleZone(s)
	p := oncallSchedule{Name: s.Name, Zone: zone.String()}
	p.Now, p.Layer = s.At(now)
	const layout = "Mon 2 Jan 15:04"
	for i, sh := range s.Shifts(now, now.In(zone).AddDate(0, 0, oncallDays)) {
		if i == 0 {
			p.Until = at(sh.To)
		}
		p.Shifts = append(p.Shifts, oncallShift{User: sh.User, Layer: sh.Layer, Now: i == 0,
			From: sh.From.In(zone).Format(layout), To: sh.To.In(zone).Format(layout)})
	}
	for _, l := range s.Layers {
		for _, u := range l.Participants {
			if !slices.Contains(p.Participants, u) {
				p.Participants = append(p.Participants, u)
			}
		}
	}
	// The form starts at the next hour, for an hour, on the schedule's
	// clock.
	start := now.In(zone).Truncate(time.Hour).Add(time.Hour)
	p.Form = overrideForm{From: start.Format(wallForm), To: start.Add(time.Hour).Format(wallForm)}
	return p
}

func scheduleZone(s *oncall.Schedule) *time.Location {
	if s.Zone == nil {
		return time.UTC
	}
	return s.Zone
}

// overrideRows shows the stored overrides that have not ended, then those
// that ended in the last week.
func overrideRows(s *oncall.Schedule, stored []nightowl.ScheduleOverride, now time.Time) []overrideRow {
	zone := scheduleZone(s)
	const layout = "Mon 2 Jan 15:04"
	var out []overrideRow
	for _, o := range stored {
		if o.To.Before(now.Add(-7 * 24 * time.Hour)) {
			continue
		}
		out = append(out, overrideRow{ID: o.ID, User: o.User, From: o.From.In(zone).Format(layout), To: o.To.In(zone).Format(layout),
			Reason: o.Reason, By: o.CreatedBy, Ended: !o.To.After(now)})
	}
	return out
}

func (a *pages) adminAddOverride(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	f := overrideForm{User: strings.TrimSpace(r.PostFormValue("user")), From: strings.TrimSpace(r.PostFormValue("from")),
		To: strings.TrimSpace(r.PostFormValue("to")), Reason: strings.TrimSpace(r.PostFormValue("reason"))}
	refuse := func(err error) {
		a.showOncall(w, r, kit.StatusOf(err), "Could not add the override to "+name+": "+nightowl.ErrorMessage(err), name, &f, nil)
	}
	if err := kit.CheckTexts(kit.Field("user", f.User, kit.LineText), kit.Field("reason", f.Reason, kit.LinesText)); err != nil {
		refuse(err)
		return
	}
	s, ok, err := a.oncall.Schedule(r.Context(), name)
	if err == nil && !ok {
		err = nightowl.Errorf(nightowl.ENotFound, "schedule %q not found", name)
	}
	if err != nil {
		refuse(err)
		return
	}
	from, err := wallTime("from", f.From, scheduleZone(&s))
	if err != nil {
		refuse(err)
		return
	}
	to, err := wallTime("to", f.To, scheduleZone(&s))
	if err != nil {
		refuse(err)
		return
	}
	o, err := a.oncall.AddOverride(r.Context(), nightowl.ScheduleOverride{Schedule: name, User: f.User, From: from, To: to,
		Reason: f.Reason, CreatedBy: kit.Actor(r)})
	if err != nil {
		refuse(err)
		return
	}
	done(w, r, "/admin/oncall", "override-added", o.ID)
}

// wallTime reads a time the form gives on the schedule's clock.
func wallTime(field, s string, zone *time.Location) (time.Time, error) {
	for _, layout := range []string{wallForm, "2006-01-02 15:04"} {
		if t, err := time.ParseInLocation(layout, s, zone); err == nil {
			return t, nil
		}
	}
	if s == "" {
		return time.Time{}, nightowl.Errorf(nightowl.EInvalid, "%s: required", field)
	}
	return time.Time{}, nightowl.Errorf(nightowl.EInvalid, "%s: must be a time such as 2026-03-05 18:00, on the schedule's clock", field)
}

func (a *pages) adminDeleteOverride(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	o, err := a.oncall.DeleteOverride(r.Context(), name, r.PathValue("id"), kit.Actor(r))
	if err != nil {
		a.showOncall(w, r, kit.StatusOf(err), "Could not remove the override: "+nightowl.ErrorMessage(err), "", nil, nil)
		return
	}
	done(w, r, "/admin/oncall", "override-removed", o.ID)
}

// feedTarget reads the feed a form names and checks that the viewer may
// manage it.
func feedTarget(r *http.Request) (nightowl.FeedKind, string, error) {
	kind, err := kit.FeedKind(r.PathValue("kind"))
	if err != nil {
		return "", "", err
	}
	name := r.PathValue("name")
	pr, _ := kit.PrincipalFrom(r.Context())
	return kind, name, kit.MayManageFeed(pr, kind, name)
}

func (a *pages) adminCreateFeed(w http.ResponseWriter, r *http.Request) {
	kind, name, err := feedTarget(r)
	if err == nil {
		var secret string
		if secret, err = a.oncall.CreateFeed(r.Context(), kind, name, kit.Actor(r)); err == nil {
			what := "Your calendar"
			if kind == nightowl.FeedSchedule {
				what = "The calendar of " + name
			}
			a.showOncall(w, r, http.StatusOK, "", "", nil, &newFeed{What: what, URL: kit.FeedURL(r, a.publicURL, secret)})
			return
		}
	}
	a.showOncall(w, r, kit.StatusOf(err), "Could not make the calendar feed: "+nightowl.ErrorMessage(err), "", nil, nil)
}

func (a *pages) adminRevokeFeed(w http.ResponseWriter, r *http.Request) {
	kind, name, err := feedTarget(r)
	if err == nil {
		if err = a.oncall.RevokeFeed(r.Context(), kind, name, kit.Actor(r)); err == nil {
			done(w, r, "/admin/oncall", "feed-revoked", name)
			return
		}
	}
	a.showOncall(w, r, kit.StatusOf(err), "Could not revoke the calendar feed: "+nightowl.ErrorMessage(err), "", nil, nil)
}
