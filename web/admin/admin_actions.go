package admin

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/ingest"
	"github.com/nightowl/nightowl/web/internal/kit"
)

// The pages that act: alerts to acknowledge, maintenance to start and end,
// and people to add and remove. Each form posts with the session's CSRF
// token, which require checks, and answers with a redirect back to the
// page and a short message; a refused form shows the page again with why.

type alertRow struct {
	ID, Check, CheckHref   string
	State                  nightowl.AlertState
	Severity               nightowl.Severity
	Status                 nightowl.Status
	Icon                   string
	Cause                  string
	Maintenance            string
	Starts, Acked, Resolve *stamp
	AckedBy                string
	Notified               string
	Firing                 bool
	// Blocked are the checks blocked by this alert's check; Grouped, on
	// the alert that leads a group, the others of the group; Member says
	// the alert is one of a group that another leads.
	Blocked, Grouped []checkLink
	Member           bool
	// OnCall names the people its steps paged; Unreached says why steps
	// paged nobody.
	OnCall    string
	Unreached []string
	// Source is the integration an alert another tool sent came from,
	// and SourceKey its key there; such an alert has no check page.
	Source, SourceKey string
}

func checkLinks(names []string) []checkLink {
	var out []checkLink
	for _, n := range names {
		out = append(out, checkLink{n, checkHref(n)})
	}
	return out
}

func alertRows(als []nightowl.Alert) []alertRow {
	var out []alertRow
	for _, al := range als {
		out = append(out, alertRow{ID: al.ID, Check: al.Check, CheckHref: checkHref(al.Check), State: al.State,
			Severity: al.Severity, Status: al.Status, Icon: statusIcons[al.Status], Cause: al.Cause,
			Maintenance: al.Maintenance, Starts: at(al.StartsAt), Acked: at(al.AckedAt), Resolve: at(al.ResolvedAt),
			AckedBy: al.AckedBy, Notified: strings.Join(al.Notified, ", "), Firing: al.State == nightowl.AlertFiring,
			Blocked: checkLinks(al.Blocked), Grouped: checkLinks(al.Grouped), Member: al.Group != "" && !al.Leader,
			OnCall: strings.Join(al.OnCall, ", "), Unreached: unreached(al.Steps)})
		if in, key, ok := ingest.Split(al.Check); ok {
			row := &out[len(out)-1]
			row.Source, row.SourceKey, row.CheckHref = in, key, ""
		}
	}
	return out
}

// alertTable is a table of alerts with, for a responder, a button to
// acknowledge each firing one, which comes back to Back.
type alertTable struct {
	ID, Back string
	Alerts   []alertRow
	CSRF     string
	CanAck   bool
}

func newAlertTable(r *http.Request, id string, rows []alertRow, back string) alertTable {
	p, _ := kit.PrincipalFrom(r.Context())
	return alertTable{ID: id, Back: back, Alerts: rows, CSRF: p.CSRF, CanAck: p.Role.Allows(responder)}
}

type alertsPage struct {
	Open, Recent alertTable
	// Source and Key, for the page of one ingested alert's synthetic
	// check, name its integration and its key there.
	Source, Key string
}

// ingestedAlerts shows the alerts of the synthetic check of an alert that
// integration in sent with key.
func (a *pages) ingestedAlerts(w http.ResponseWriter, r *http.Request, check, in, key string) {
	als, err := a.alerts.AlertStore().Alerts(r.Context(), nightowl.AlertQuery{Check: check, Limit: 50})
	if err != nil {
		a.fail(w, r, check, err)
		return
	}
	open := slices.DeleteFunc(slices.Clone(als), func(al nightowl.Alert) bool { return !al.Open() })
	done := slices.DeleteFunc(als, func(al nightowl.Alert) bool { return al.Open() })
	back := checkHref(check)
	p := alertsPage{Source: in, Key: key,
		Open: newAlertTable(r, "open-alerts", alertRows(open), back), Recent: newAlertTable(r, "recent-alerts", alertRows(done), back)}
	a.render(w, r, http.StatusOK, "admin_alerts.html", &adminPage{Title: "Alert from " + in, Section: "alerts", Data: p})
}

func (a *pages) alertsPage(r *http.Request) (alertsPage, error) {
	var p alertsPage
	store := a.alerts.AlertStore()
	open, err := store.Alerts(r.Context(), nightowl.AlertQuery{Open: true, Limit: 500})
	if err != nil {
		return p, err
	}
	// Firing before acknowledged: what nobody has taken comes first.
	slices.SortStableFunc(open, func(x, y nightowl.Alert) int {
		if (x.State == nightowl.AlertFiring) != (y.State == nightowl.AlertFiring) {
			if x.State == nightowl.AlertFiring {
				return -1
			}
			return 1
		}
		return 0
	})
	recent, err := store.Alerts(r.Context(), nightowl.AlertQuery{Limit: 50})
	if err != nil {
		return p, err
	}
	recent = slices.DeleteFunc(recent, func(al nightowl.Alert) bool { return al.Open() })
	p.Open = newAlertTable(r, "open-alerts", alertRows(open), "/admin/alerts")
	p.Recent = newAlertTable(r, "recent-alerts", alertRows(recent), "/admin/alerts")
	return p, nil
}

func (a *pages) adminAlerts(w http.ResponseWriter, r *http.Request) {
	a.showAlerts(w, r, http.StatusOK, "")
}

func (a *pages) showAlerts(w http.ResponseWriter, r *http.Request, status int, errText string) {
	p, err := a.alertsPage(r)
	if err != nil {
		a.fail(w, r, "Alerts", err)
		return
	}
	a.render(w, r, status, "admin_alerts.html", &adminPage{Title: "Alerts", Section: "alerts", Error: errText, Data: p})
}

func (a *pages) adminAck(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, _, err := a.alerts.Ack(r.Context(), id, kit.Actor(r)); err != nil {
		a.showAlerts(w, r, kit.StatusOf(err), "Could not acknowledge alert "+id+": "+nightowl.ErrorMessage(err))
		return
	}
	done(w, r, "/admin/alerts", "acked", id)
}

type maintenancePage struct {
	Active, Scheduled, Ended []maintRow
	Form                     maintForm
	Checks                   []string // names, for the form's hint
}

type maintRow struct {
	ID, Name, Source, Scope, Selector, Expect, Reason string
	From, Until, Ended                                *stamp
	CreatedBy, EndedBy, Schedule                      string
	Announce                                          bool
}

// maintForm is what the start form was filled with, to show again when it
// is refused.
type maintForm struct {
	Name, Checks, Expect, For, Reason string
	Announce                          bool
}

func (a *pages) maintenancePage(f maintForm) maintenancePage {
	p := maintenancePage{Form: f}
	now := a.clock.Now()
	for _, m := range a.maint.MaintenanceList() {
		row := maintRow{ID: m.ID, Name: m.Name, Source: m.Source, Scope: strings.Join(m.Scope, ", "),
			Selector: m.Checks.String(), Expect: strings.Join(m.Expect, ", "), Reason: m.Reason,
			From: at(m.From), Until: at(m.Until), Ended: at(m.EndedAt), CreatedBy: m.CreatedBy, EndedBy: m.EndedBy,
			Schedule: m.Schedule, Announce: m.Announce}
		switch {
		case m.Active:
			p.Active = append(p.Active, row)
		case m.From.After(now):
			p.Scheduled = append(p.Scheduled, row)
		default:
			p.Ended = append(p.Ended, row)
		}
	}
	for _, v := range a.b.Checks() {
		p.Checks = append(p.Checks, v.Check.Name)
	}
	slices.Sort(p.Checks)
	return p
}

func (a *pages) adminMaintenance(w http.ResponseWriter, r *http.Request) {
	a.render(w, r, http.StatusOK, "admin_maintenance.html",
		&adminPage{Title: "Maintenance", Section: "maintenance", Data: a.maintenancePage(maintForm{For: "1h"})})
}

// splitList reads a comma- or space-separated list.
func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' })
}

func (a *pages) adminStartMaintenance(w http.ResponseWriter, r *http.Request) {
	f := maintForm{Name: strings.TrimSpace(r.PostFormValue("name")), Checks: strings.TrimSpace(r.PostFormValue("checks")),
		Expect: strings.TrimSpace(r.PostFormValue("expect")), For: strings.TrimSpace(r.PostFormValue("for")),
		Reason: strings.TrimSpace(r.PostFormValue("reason")), Announce: r.PostFormValue("announce") != ""}
	refuse := func(err error) {
		a.render(w, r, kit.StatusOf(err), "admin_maintenance.html", &adminPage{Title: "Maintenance", Section: "maintenance",
			Error: "Could not start maintenance: " + nightowl.ErrorMessage(err), Data: a.maintenancePage(f)})
	}
	// Checks and expect are lists, one a line if need be.
	if err := kit.CheckTexts(kit.Field("name", f.Name, kit.LineText), kit.Field("checks", f.Checks, kit.LinesText),
		kit.Field("expect", f.Expect, kit.LinesText), kit.Field("reason", f.Reason, kit.LinesText)); err != nil {
		refuse(err)
		return
	}
	d, err := time.ParseDuration(f.For)
	if err != nil || d <= 0 {
		refuse(nightowl.Errorf(nightowl.EInvalid, "say how long it lasts as a duration, such as 30m or 2h, not %q", f.For))
		return
	}
	start := a.clock.Now().UTC()
	win := nightowl.Window{Name: f.Name, Checks: kit.ParseSelector(f.Checks), Expect: splitList(f.Expect),
		Start: start, End: start.Add(d), Announce: f.Announce, Reason: f.Reason, CreatedBy: kit.Actor(r)}
	started, err := a.maint.StartMaintenance(r.Context(), win)
	if err != nil {
		refuse(err)
		return
	}
	what := started.Name
	if what == "" {
		what = started.ID
	}
	done(w, r, "/admin/maintenance", "maint-started", what)
}

func (a *pages) adminEndMaintenance(w http.ResponseWriter, r *http.Request) {
	ended, err := a.maint.EndMaintenance(r.Context(), r.PathValue("id"), kit.Actor(r))
	if err != nil {
		a.render(w, r, kit.StatusOf(err), "admin_maintenance.html", &adminPage{Title: "Maintenance", Section: "maintenance",
			Error: "Could not end maintenance: " + nightowl.ErrorMessage(err), Data: a.maintenancePage(maintForm{For: "1h"})})
		return
	}
	what := ended.Name
	if what == "" {
		what = ended.ID
	}
	done(w, r, "/admin/maintenance", "maint-ended", what)
}

type usersPage struct {
	Users []userRow
	Roles []nightowl.Role
	Form  struct {
		Name string
		Role nightowl.Role
	}
}

// userRow is a user as the page shows one: no password hash.
type userRow struct {
	Name    string
	Role    nightowl.Role
	Created *stamp
	You     bool
	// SSO is true for an account made by single sign-on, whose role
	// follows the identity provider's groups.
	SSO bool
}

func (a *pages) showUsers(w http.ResponseWriter, r *http.Request, status int, errText, name string, role nightowl.Role) {
	us, err := a.people.Users(r.Context())
	if err != nil {
		a.fail(w, r, "Users", err)
		return
	}
	me := kit.Actor(r)
	p := usersPage{Roles: nightowl.Roles}
	p.Form.Name, p.Form.Role = name, role
	if p.Form.Role == "" {
		p.Form.Role = nightowl.RoleViewer
	}
	for _, u := range us {
		p.Users = append(p.Users, userRow{Name: u.Name, Role: u.Role, Created: at(u.CreatedAt), You: u.Name == me,
			SSO: u.Source == nightowl.SourceOIDC})
	}
	a.render(w, r, status, "admin_users.html", &adminPage{Title: "Users", Section: "users", Error: errText, Data: p})
}

func (a *pages) adminUsers(w http.ResponseWriter, r *http.Request) {
	a.showUsers(w, r, http.StatusOK, "", "", "")
}

func (a *pages) adminAddUser(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimSpace(r.PostFormValue("name"))
	role := nightowl.Role(r.PostFormValue("role"))
	u, err := a.people.AddUser(r.Context(), name, role, r.PostFormValue("password"))
	if err != nil {
		a.showUsers(w, r, kit.StatusOf(err), "Could not add "+name+": "+nightowl.ErrorMessage(err), name, role)
		return
	}
	a.log.Info("user added", "user", u.Name, "role", u.Role, "by", kit.Actor(r))
	done(w, r, "/admin/users", "user-added", u.Name)
}

func (a *pages) adminRemoveUser(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if err := a.people.RemoveUser(r.Context(), name); err != nil {
		a.showUsers(w, r, kit.StatusOf(err), "Could not remove "+name+": "+nightowl.ErrorMessage(err), "", "")
		return
	}
	a.log.Info("user removed", "user", name, "by", kit.Actor(r))
	done(w, r, "/admin/users", "user-removed", name)
}

// unreached says, for each step that paged nobody, why.
func unreached(steps []nightowl.StepRecord) []string {
	var out []string
	for _, st := range steps {
		if st.Note != "" {
			out = append(out, fmt.Sprintf("step %d (%s): %s", st.Step, st.Target, st.Note))
		}
	}
	return out
}
