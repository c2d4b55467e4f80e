package web

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/nightowl/nightowl"
)

// The admin dashboard, /admin, is for signed-in staff: it shows causes,
// errors and facts that the public status page never does, but never
// password or token hashes, sessions, or a check's configuration (where
// DSNs and passwords live). Pages are server-rendered; admin.js only keeps
// the checks list current, and every page works without it.

// People manages who can sign in, for the dashboard's users page.
type People interface {
	// Users returns every user, without password hashes.
	Users(ctx context.Context) ([]nightowl.User, error)
	AddUser(ctx context.Context, name string, role nightowl.Role, password string) (nightowl.User, error)
	RemoveUser(ctx context.Context, name string) error
}

// The admin templates use no functions beyond the built-in ones: the status
// page parses every template in templates/ with its own functions, and the
// handlers here hand the templates text that is ready to show.
//
//go:embed templates/admin*.html templates/login.html static/admin.css static/admin.js
var adminAssets embed.FS

var adminTemplates = template.Must(template.New("admin").ParseFS(adminAssets, "templates/admin*.html", "templates/login.html"))

// adminCSP allows the page's own script and style sheets and nothing
// inline: a value that slips past escaping still cannot run.
const adminCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

func (a *api) adminRoutes() []Route {
	f := func(pattern string, role nightowl.Role, h http.HandlerFunc) Route {
		return Route{Pattern: pattern, Role: role, handler: h}
	}
	static := http.FileServerFS(adminAssets)
	staticFile := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Cache-Control", "public, max-age=300")
		static.ServeHTTP(w, r)
	}
	rs := []Route{
		f("GET /login", public, a.loginPage),
		f("POST /login", public, a.loginSubmit),
		f("POST /logout", public, a.logoutSubmit),
		f("GET /static/admin.css", public, staticFile),
		f("GET /static/admin.js", public, staticFile),
		f("GET /admin", viewer, a.adminChecks),
		f("GET /admin/", viewer, a.adminNotFound),
		f("GET /admin/live", viewer, a.adminLive),
		f("GET /admin/checks/{name}", viewer, a.adminCheck),
	}
	if a.alerts != nil {
		rs = append(rs,
			f("GET /admin/alerts", viewer, a.adminAlerts),
			f("POST /admin/alerts/{id}/ack", responder, a.adminAck),
		)
	}
	if a.maint != nil {
		rs = append(rs,
			f("GET /admin/maintenance", viewer, a.adminMaintenance),
			f("POST /admin/maintenance", responder, a.adminStartMaintenance),
			f("POST /admin/maintenance/{id}/end", responder, a.adminEndMaintenance),
		)
	}
	if a.incidents != nil {
		rs = append(rs,
			f("GET /admin/incidents", viewer, a.adminIncidents),
			f("POST /admin/incidents", responder, a.adminOpenIncident),
			f("GET /admin/incidents/{id}", viewer, a.adminIncident),
			f("POST /admin/incidents/{id}/updates", responder, a.adminUpdateIncident),
			f("POST /admin/incidents/{id}/publish", responder, a.adminPublishIncident),
		)
	}
	if a.people != nil {
		rs = append(rs,
			f("GET /admin/users", admin, a.adminUsers),
			f("POST /admin/users", admin, a.adminAddUser),
			f("POST /admin/users/{name}/remove", admin, a.adminRemoveUser),
		)
	}
	rs = append(rs, a.passwordRoutes()...)
	return rs
}

// adminPage is what every admin template gets: the page's own data in
// Data, and what the frame around it shows.
type adminPage struct {
	Title   string // the document's title, with the count of down checks
	Section string // which navigation entry is current
	Nav     []navItem
	// User is empty for an anonymous viewer; SignOut is true for a
	// browser session, which the sign-out button ends.
	User       string
	Role       nightowl.Role
	SignOut    bool
	CSRF       string
	CanRespond bool
	IsAdmin    bool
	Flash      string
	Error      string
	Down       int
	Refresh    bool // a meta refresh for browsers without scripts
	Data       any
}

type navItem struct {
	Href, Label string
	Current     bool
	Count       int // shown after the label when above zero
	CountLabel  string
	ID          string
}

// stamp is a time as pages show it, in UTC; nil for none. Short is for
// narrow screens.
type stamp struct{ Text, Short, ISO string }

func at(t time.Time) *stamp {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &stamp{Text: t.Format("2006-01-02 15:04:05 UTC"), Short: t.Format("Jan 2 15:04"), ISO: t.Format(time.RFC3339)}
}

// flashes are the messages a page shows after a form did its work; the
// query names one, so that a link cannot make the page say anything else.
// A message names what it did only by an ID or name.
var flashes = map[string]string{
	"acked":         "Acknowledged alert %s.",
	"maint-started": "Started maintenance %s.",
	"maint-ended":   "Ended maintenance %s.",
	"user-added":    "Added %s.",
	"user-removed":  "Removed %s.",
	// Names the user whose password it was.
	"password-changed":   "Changed the password of %s: every other session of yours has ended.",
	"incident-open":      "Opened incident %s.",
	"incident-saved":     "Posted to incident %s.",
	"incident-published": "Published incident %s on the status page.",
	// Guarded actions name the request.
	"action-requested": "Requested %s.",
	"action-approved":  "Approved %s.",
	"action-denied":    "Denied %s.",
	"action-ran":       "Ran %s: its outcome is below.",
}

func flashOf(r *http.Request) string {
	q := r.URL.Query()
	f, ok := flashes[q.Get("done")]
	if !ok {
		return ""
	}
	// What it names is an ID or a name, never prose: a link cannot put
	// words of its own into a message that looks like nightowl's.
	what := q.Get("what")
	if !flashWhat.MatchString(what) {
		return strings.Replace(f, " %s", "", 1)
	}
	return fmt.Sprintf(f, what)
}

// flashWhat is what a flash message may name: alert, window and incident
// IDs, user and window names.
var flashWhat = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

// done redirects after a form did its work (Post/Redirect/Get), to back
// when it is an admin page, else to def, with the flash message key.
func done(w http.ResponseWriter, r *http.Request, def, key, what string) {
	to := localAdminPath(r.PostFormValue("back"))
	if to == "" {
		to = def
	}
	u, _ := url.Parse(to)
	q := u.Query()
	q.Set("done", key)
	q.Set("what", what)
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}

// localAdminPath returns s when it is a path on this server under /admin,
// else "": sign-in and forms redirect only there, never to another site.
func localAdminPath(s string) string {
	if s == "" || strings.ContainsAny(s, "\\\r\n\t") {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return ""
	}
	if u.Path != "/admin" && !strings.HasPrefix(u.Path, "/admin/") {
		return ""
	}
	if strings.Contains(u.Path, "/../") || strings.HasSuffix(u.Path, "/..") {
		return ""
	}
	u.Fragment = ""
	return u.String()
}

// frame fills what every page shows around its content.
func (a *api) frame(r *http.Request, p *adminPage) {
	pr, _ := PrincipalFrom(r.Context())
	p.User, p.Role, p.CSRF = pr.User, pr.Role, pr.CSRF
	p.SignOut = pr.Via == "session"
	p.CanRespond = pr.Role.Allows(responder)
	p.IsAdmin = pr.Role.Allows(admin)
	if p.Flash == "" {
		p.Flash = flashOf(r)
	}
	for _, v := range a.b.Checks() {
		if v.State.Status == nightowl.StatusDown {
			p.Down++
		}
	}
	title := "nightowl"
	if p.Title != "" {
		title = p.Title + " – nightowl"
	}
	if p.Down > 0 {
		title = fmt.Sprintf("(%d down) %s", p.Down, title)
	}
	p.Title = title
	p.Nav = []navItem{{Href: "/admin", Label: "Checks", Current: p.Section == "checks", Count: p.Down, CountLabel: "down", ID: "nav-checks"}}
	if a.alerts != nil {
		n := navItem{Href: "/admin/alerts", Label: "Alerts", Current: p.Section == "alerts", CountLabel: "firing", ID: "nav-alerts"}
		n.Count, _ = a.firing(r.Context())
		p.Nav = append(p.Nav, n)
	}
	if a.maint != nil {
		p.Nav = append(p.Nav, navItem{Href: "/admin/maintenance", Label: "Maintenance", Current: p.Section == "maintenance", ID: "nav-maintenance"})
	}
	if a.incidents != nil {
		n := navItem{Href: "/admin/incidents", Label: "Incidents", Current: p.Section == "incidents", CountLabel: "open", ID: "nav-incidents"}
		if open, err := a.incidents.List(r.Context(), nightowl.IncidentQuery{Open: true, Limit: 200}); err == nil {
			n.Count = len(open)
		}
		p.Nav = append(p.Nav, n)
	}
	if a.actions != nil {
		// Pending requests wait for someone else: every page counts them.
		n := navItem{Href: "/admin/actions", Label: "Actions", Current: p.Section == "actions", CountLabel: "awaiting approval", ID: "nav-actions"}
		if open, err := a.actions.ActionRequests(r.Context(), nightowl.ActionQuery{Open: true, Limit: 200}); err == nil {
			for _, req := range open {
				if req.State == nightowl.RequestPending {
					n.Count++
				}
			}
		}
		p.Nav = append(p.Nav, n)
	}
	if a.people != nil && p.IsAdmin {
		p.Nav = append(p.Nav, navItem{Href: "/admin/users", Label: "Users", Current: p.Section == "users", ID: "nav-users"})
	}
}

// firing counts the alerts that nobody has acknowledged yet, and the open
// ones.
func (a *api) firing(ctx context.Context) (firing, open int) {
	if a.alerts == nil {
		return 0, 0
	}
	als, err := a.alerts.AlertStore().Alerts(ctx, nightowl.AlertQuery{Open: true, Limit: 1000})
	if err != nil {
		a.log.Error("read open alerts", "err", err)
		return 0, 0
	}
	for _, al := range als {
		if al.State == nightowl.AlertFiring {
			firing++
		}
	}
	return firing, len(als)
}

func adminHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Content-Security-Policy", adminCSP)
}

// render shows an admin page; the template is the page's file name.
func (a *api) render(w http.ResponseWriter, r *http.Request, status int, name string, p *adminPage) {
	a.frame(r, p)
	a.renderBare(w, status, name, p)
}

// renderBare shows a page without the signed-in frame: the sign-in page.
func (a *api) renderBare(w http.ResponseWriter, status int, name string, data any) {
	var buf bytes.Buffer
	if err := adminTemplates.ExecuteTemplate(&buf, name, data); err != nil {
		a.log.Error("render admin page", "page", name, "err", err)
		http.Error(w, "this page could not be shown; the log says why", http.StatusInternalServerError)
		return
	}
	adminHeaders(w)
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// fail shows an error in place of a page's content, with the status its
// code maps to.
func (a *api) fail(w http.ResponseWriter, r *http.Request, title string, err error) {
	status, ok := errorStatus[nightowl.ErrorCode(err)]
	if !ok {
		status = http.StatusInternalServerError
	}
	if status == http.StatusInternalServerError {
		a.log.Error("admin page", "path", r.URL.Path, "err", err)
	}
	// The template's heading is Data: render decorates Title for the
	// document's title.
	a.render(w, r, status, "admin_error.html", &adminPage{Title: title, Error: nightowl.ErrorMessage(err), Data: title})
}

func (a *api) adminNotFound(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/admin/" {
		http.Redirect(w, r, "/admin", http.StatusSeeOther)
		return
	}
	a.fail(w, r, "Not found", nightowl.Errorf(nightowl.ENotFound, "there is no page %s", r.URL.Path))
}

// checkRow is a check as the dashboard lists it.
type checkRow struct {
	Name, Href, Type, Icon string
	Status                 nightowl.Status
	Pending                nightowl.Status
	Since, LastRun         *stamp
	Latency                string
	Cause                  string
	Labels                 string
}

// statusIcons say a status with a shape as well as a colour; the word is
// always beside it.
var statusIcons = map[nightowl.Status]string{
	nightowl.StatusDown: "✖", nightowl.StatusDegraded: "▲", nightowl.StatusMaintenance: "◆",
	nightowl.StatusUnknown: "?", nightowl.StatusUp: "✔", nightowl.StatusPaused: "Ⅱ",
}

func checkHref(name string) string { return "/admin/checks/" + url.PathEscape(name) }

func toRow(v nightowl.CheckView) checkRow {
	row := checkRow{Name: v.Check.Name, Href: checkHref(v.Check.Name), Type: v.Check.Type,
		Status: v.State.Status, Pending: v.State.Pending, Since: at(v.State.Since), Cause: v.State.Cause,
		Icon: statusIcons[v.State.Status], Labels: labelsText(v.Check.Labels)}
	if v.Last != nil {
		row.LastRun = at(v.Last.Start)
		row.Latency = millis(time.Duration(v.Last.Duration))
	}
	return row
}

func labelsText(l map[string]string) string {
	s := nightowl.Selector{Labels: l}
	return strings.ReplaceAll(s.String(), ",", ", ")
}

func millis(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	switch {
	case ms >= 10000:
		return fmt.Sprintf("%.1f s", ms/1000)
	case ms >= 100:
		return fmt.Sprintf("%.0f ms", ms)
	}
	return fmt.Sprintf("%.1f ms", ms)
}

// dashboard is the checks list and what its summary says.
type dashboard struct {
	Checks  []checkRow
	Summary string
	// Down names the checks that are down.
	Down            []checkRow
	Firing, Open    int
	Total, Degraded int
}

func (a *api) dashboard(ctx context.Context) dashboard {
	views := a.b.Checks()
	nightowl.SortWorstFirst(views)
	var d dashboard
	counts := map[nightowl.Status]int{}
	for _, v := range views {
		row := toRow(v)
		d.Checks = append(d.Checks, row)
		counts[v.State.Status]++
		if v.State.Status == nightowl.StatusDown {
			d.Down = append(d.Down, row)
		}
	}
	d.Total, d.Degraded = len(views), counts[nightowl.StatusDegraded]
	d.Firing, d.Open = a.firing(ctx)
	var parts []string
	for _, s := range []nightowl.Status{nightowl.StatusDown, nightowl.StatusDegraded, nightowl.StatusMaintenance,
		nightowl.StatusUnknown, nightowl.StatusUp, nightowl.StatusPaused} {
		if counts[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
		}
	}
	if len(parts) == 0 {
		parts = append(parts, "no checks")
	}
	d.Summary = strings.Join(parts, ", ")
	if a.alerts != nil {
		d.Summary += fmt.Sprintf("; %s open (%d unacknowledged)", plural(d.Open, "alert", "alerts"), d.Firing)
	}
	d.Summary += "."
	return d
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

func (a *api) adminChecks(w http.ResponseWriter, r *http.Request) {
	d := a.dashboard(r.Context())
	a.render(w, r, http.StatusOK, "admin.html", &adminPage{Section: "checks", Refresh: true, Data: d})
}

// adminLive is what admin.js polls to keep the dashboard current: the
// title, the summary, and the rows of the checks table, rendered by the
// same template as the page.
func (a *api) adminLive(w http.ResponseWriter, r *http.Request) {
	d := a.dashboard(r.Context())
	p := &adminPage{Section: "checks", Data: d}
	a.frame(r, p)
	var rows, down bytes.Buffer
	err := adminTemplates.ExecuteTemplate(&rows, "admin/check-rows", d)
	if err == nil {
		err = adminTemplates.ExecuteTemplate(&down, "admin/down", d)
	}
	if err != nil {
		a.log.Error("render the checks", "err", err)
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"title": p.Title, "down": len(d.Down), "firing": d.Firing, "open_alerts": d.Open,
		"summary": d.Summary, "rows": rows.String(), "down_html": down.String(), "updated_at": a.clock.Now().UTC(),
	})
}
