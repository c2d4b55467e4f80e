// Package admin serves the dashboard for signed-in staff under /admin, and
// the sign-in and password pages: server-rendered HTML with its own
// templates, style sheet and script. It shows causes, errors and facts that
// the public status page never does, but never password or token hashes,
// sessions, or a check's configuration (where DSNs and passwords live).
// Pages are server-rendered; admin.js only keeps the checks list current,
// and every page works without it.
//
// Routes returns the pages with the role each needs; package web mounts
// them beside the API and wraps every route alike (roles, CSRF, body
// limits, deadlines, headers), so that web.Routes stays the one table of
// who may do what.
package admin

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/web/internal/kit"
)

// Backend is what the pages need of the running server's checks.
type Backend interface {
	Checks() []nightowl.CheckView
	Check(name string) (nightowl.CheckView, bool)
	Store() kit.History
}

// Alerter shows alerts and acknowledges them.
type Alerter interface {
	AlertStore() kit.AlertReader
	// Ack acknowledges an alert on behalf of by; acked is false when it
	// was acknowledged already.
	Ack(ctx context.Context, id, by string) (al nightowl.Alert, acked bool, err error)
}

// Maintainer lists, starts and ends maintenance windows.
type Maintainer interface {
	MaintenanceList() []nightowl.MaintenanceView
	StartMaintenance(ctx context.Context, w nightowl.Window) (nightowl.Window, error)
	EndMaintenance(ctx context.Context, id, by string) (nightowl.Window, error)
}

// Incidents opens incidents, posts to them and publishes them.
type Incidents interface {
	List(ctx context.Context, q nightowl.IncidentQuery) ([]nightowl.Incident, error)
	Get(ctx context.Context, id string) (nightowl.Incident, []nightowl.IncidentUpdate, error)
	Timeline(ctx context.Context, id string) ([]nightowl.TimelineEntry, error)
	Open(ctx context.Context, title string, impact nightowl.Impact, components []string, message string, public bool, by string) (nightowl.Incident, error)
	Update(ctx context.Context, id string, u nightowl.IncidentUpdate) (nightowl.Incident, nightowl.IncidentUpdate, error)
	Publish(ctx context.Context, id, title, message, by string) (nightowl.Incident, nightowl.IncidentUpdate, error)
}

// Actioner requests, approves, denies and runs the guarded actions; it
// decides who may do what.
type Actioner interface {
	Actions(ctx context.Context) ([]nightowl.ActionView, error)
	RequestAction(ctx context.Context, name string, params map[string]string, reason, confirm, by string) (nightowl.ActionRequest, error)
	ActionRequests(ctx context.Context, q nightowl.ActionQuery) ([]nightowl.ActionRequest, error)
	ActionRequest(ctx context.Context, id string) (nightowl.ActionRequest, nightowl.ActionPlan, error)
	ApproveAction(ctx context.Context, id, by string) (nightowl.ActionRequest, error)
	DenyAction(ctx context.Context, id, by, reason string) (nightowl.ActionRequest, error)
	RunAction(ctx context.Context, id, by string) (nightowl.ActionRequest, error)
}

// Authenticator signs people in and out with the sign-in form.
type Authenticator interface {
	Session(ctx context.Context, cookie string) (nightowl.Session, nightowl.User, error)
	LoginWith(ctx context.Context, name, password string, info nightowl.SessionInfo) (nightowl.Session, string, error)
	Logout(ctx context.Context, cookie string) error
}

// People manages who can sign in, for the dashboard's users page.
type People interface {
	// Users returns every user, without password hashes.
	Users(ctx context.Context) ([]nightowl.User, error)
	AddUser(ctx context.Context, name string, role nightowl.Role, password string) (nightowl.User, error)
	RemoveUser(ctx context.Context, name string) error
}

// The admin templates use no functions beyond the built-in ones: the
// handlers here hand them text that is ready to show.
//
//go:embed templates/*.html static/admin.css static/admin.js
var adminAssets embed.FS

var adminTemplates = template.Must(template.New("admin").ParseFS(adminAssets, "templates/*.html"))

// adminCSP allows the page's own script and style sheets and nothing
// inline: a value that slips past escaping still cannot run.
const adminCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// Options configure the pages. A nil service leaves out its pages.
type Options struct {
	Backend    Backend
	Alerter    Alerter
	Maintainer Maintainer
	Incidents  Incidents
	Actions    Actioner
	// People manages users; no users page when nil.
	People People
	// Auth signs people in; the password page is there when it is also
	// a PasswordChanger.
	Auth Authenticator
	// Components lists the status page's components, for the incident
	// form's checkboxes; a text field instead when nil.
	Components func(ctx context.Context) ([]string, error)
	// PingURL returns a heartbeat check's ping URL when the request's
	// principal may see it, else "".
	PingURL func(r *http.Request, check string) string
	// ClientAddr is the request's client address, as the trusted proxies
	// tell it, for the sign-in limits and the audit log.
	ClientAddr func(r *http.Request) string
	// PublicURL is server.public_url: an https one makes cookies Secure.
	PublicURL string
	// LoginKey signs the sign-in form's tokens.
	LoginKey []byte
	// SSO signs people in at an identity provider when Auth is also an
	// OIDCAccounts; no such button without it.
	SSO SingleSignOn
	// PasswordsOff says that only the break-glass account signs in with
	// a password (access.local: false); the form says so.
	PasswordsOff bool
	// Oncall is the schedules with the overrides people stored, and the
	// calendar feeds; no on-call page when nil.
	Oncall Oncall
	// Contacts serves each person's own contact methods; no such page
	// when nil.
	Contacts Contacts
	// Factors serves each person's second factors and sessions; no
	// security page when nil.
	Factors Factors
	Logger  *slog.Logger
	Clock   nightowl.Clock
}

// pages serves the admin pages with the services of Options.
type pages struct {
	b          Backend
	alerts     Alerter
	maint      Maintainer
	incidents  Incidents
	actions    Actioner
	people     People
	auth       Authenticator
	components func(ctx context.Context) ([]string, error)
	pingURL    func(r *http.Request, check string) string
	clientAddr func(r *http.Request) string
	publicURL  string
	loginKey   []byte
	sso        SingleSignOn
	oidc       OIDCAccounts
	oidcLimit  *kit.Buckets
	pwOff      bool
	oncall     Oncall
	contacts   Contacts
	factors    Factors
	log        *slog.Logger
	clock      nightowl.Clock
}

// Roles the routes need.
const (
	viewer    = nightowl.RoleViewer
	responder = nightowl.RoleResponder
	admin     = nightowl.RoleAdmin
	public    = nightowl.Role("")
)

// Routes lists the admin pages with the role each needs, unwrapped: the
// caller checks the role, the CSRF token and the body's bounds, and gives
// each route its deadline (kit.Route.Long).
func Routes(opts Options) []kit.Route {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Clock == nil {
		opts.Clock = nightowl.SystemClock{}
	}
	if opts.PingURL == nil {
		opts.PingURL = func(*http.Request, string) string { return "" }
	}
	if opts.ClientAddr == nil {
		opts.ClientAddr = func(r *http.Request) string { return r.RemoteAddr }
	}
	a := &pages{b: opts.Backend, alerts: opts.Alerter, maint: opts.Maintainer, incidents: opts.Incidents,
		actions: opts.Actions, people: opts.People, auth: opts.Auth, components: opts.Components,
		pingURL: opts.PingURL, clientAddr: opts.ClientAddr, publicURL: opts.PublicURL, loginKey: opts.LoginKey,
		oncall: opts.Oncall, contacts: opts.Contacts, factors: opts.Factors, log: opts.Logger, clock: opts.Clock, pwOff: opts.PasswordsOff}
	if oa, ok := opts.Auth.(OIDCAccounts); ok && opts.SSO != nil {
		a.sso, a.oidc = opts.SSO, oa
		a.oidcLimit = kit.NewBuckets(oidcBurst, oidcEvery, oidcMaxKeys)
	}
	return slices.Concat(a.adminRoutes(), a.oidcRoutes(), a.runbookRoutes(), a.contactRoutes(), a.oncallRoutes(), a.securityRoutes())
}

func (a *pages) adminRoutes() []kit.Route {
	f := func(pattern string, role nightowl.Role, h http.HandlerFunc) kit.Route {
		return kit.Route{Pattern: pattern, Role: role, Handler: h}
	}
	static := http.FileServerFS(adminAssets)
	staticFile := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Cache-Control", "public, max-age=300")
		static.ServeHTTP(w, r)
	}
	rs := []kit.Route{
		f("GET /login", public, a.loginPage),
		f("POST /login", public, a.loginSubmit),
		kit.WhilePending(f("POST /logout", public, a.logoutSubmit)),
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
			// Giving someone a role, or taking it away with them, is a
			// dangerous button: a recent second factor.
			kit.WithStepUp(f("POST /admin/users", admin, a.adminAddUser)),
			kit.WithStepUp(f("POST /admin/users/{name}/remove", admin, a.adminRemoveUser)),
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
	"factor-removed":     "Removed the second factor %s: every other session of yours has ended.",
	"session-ended":      "Ended session %s.",
	"recovery-used":      "Signed in with a recovery code: %s left. Make new ones below when you run low.",
	"incident-open":      "Opened incident %s.",
	"incident-saved":     "Posted to incident %s.",
	"incident-published": "Published incident %s on the status page.",
	// Guarded actions name the request.
	"action-requested": "Requested %s.",
	"action-approved":  "Approved %s.",
	"action-denied":    "Denied %s.",
	"action-ran":       "Ran %s: its outcome is below.",
	// Contact methods name the method's ID.
	"contact-added":    "Added contact method %s and sent it a test message: enter the code it carries below.",
	"contact-tested":   "Sent contact method %s a new test message.",
	"contact-verified": "Verified contact method %s: pages reach you there now.",
	"contact-removed":  "Removed contact method %s.",
	"rule-added":       "Added the rule.",
	"rule-removed":     "Removed the rule.",
	// On call: the override's ID, the feed's user or schedule.
	"override-added":   "Added override %s.",
	"override-removed": "Removed override %s.",
	"feed-revoked":     "Revoked the calendar feed of %s: its address no longer works.",
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
func (a *pages) frame(r *http.Request, p *adminPage) {
	pr, _ := kit.PrincipalFrom(r.Context())
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
	if a.oncall != nil {
		p.Nav = append(p.Nav, navItem{Href: "/admin/oncall", Label: "On call", Current: p.Section == "oncall", ID: "nav-oncall"})
	}
	if a.contacts != nil && p.User != "" {
		p.Nav = append(p.Nav, navItem{Href: "/admin/contacts", Label: "Contact methods", Current: p.Section == "contacts", ID: "nav-contacts"})
	}
	if a.factors != nil && p.User != "" {
		p.Nav = append(p.Nav, navItem{Href: "/admin/security", Label: "Security", Current: p.Section == "security", ID: "nav-security"})
	}
	if a.people != nil && p.IsAdmin {
		p.Nav = append(p.Nav, navItem{Href: "/admin/users", Label: "Users", Current: p.Section == "users", ID: "nav-users"})
	}
}

// firing counts the alerts that nobody has acknowledged yet, and the open
// ones.
func (a *pages) firing(ctx context.Context) (firing, open int) {
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
func (a *pages) render(w http.ResponseWriter, r *http.Request, status int, name string, p *adminPage) {
	a.frame(r, p)
	a.renderBare(w, status, name, p)
}

// renderBare shows a page without the signed-in frame: the sign-in page.
func (a *pages) renderBare(w http.ResponseWriter, status int, name string, data any) {
	a.renderBareCSP(w, status, name, data, adminCSP)
}

// renderBareCSP is renderBare under another content security policy.
func (a *pages) renderBareCSP(w http.ResponseWriter, status int, name string, data any, csp string) {
	var buf bytes.Buffer
	if err := adminTemplates.ExecuteTemplate(&buf, name, data); err != nil {
		a.log.Error("render admin page", "page", name, "err", err)
		http.Error(w, "this page could not be shown; the log says why", http.StatusInternalServerError)
		return
	}
	adminHeaders(w)
	w.Header().Set("Content-Security-Policy", csp)
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// fail shows an error in place of a page's content, with the status its
// code maps to.
func (a *pages) fail(w http.ResponseWriter, r *http.Request, title string, err error) {
	status := kit.StatusOf(err)
	if status == http.StatusInternalServerError {
		a.log.Error("admin page", "path", r.URL.Path, "err", err)
	}
	// The template's heading is Data: render decorates Title for the
	// document's title.
	a.render(w, r, status, "admin_error.html", &adminPage{Title: title, Error: nightowl.ErrorMessage(err), Data: title})
}

func (a *pages) adminNotFound(w http.ResponseWriter, r *http.Request) {
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
	// BlockedBy names a blocked check's root cause; Blocked lists, on a
	// failing check, the checks it blocks (the dashboard's red box folds
	// them under it).
	BlockedBy string
	Blocked   []checkRow
}

// statusIcons say a status with a shape as well as a colour; the word is
// always beside it.
var statusIcons = map[nightowl.Status]string{
	nightowl.StatusDown: "✖", nightowl.StatusDegraded: "▲", nightowl.StatusMaintenance: "◆",
	nightowl.StatusUnknown: "?", nightowl.StatusUp: "✔", nightowl.StatusPaused: "Ⅱ",
	nightowl.StatusBlocked: "⊘", nightowl.StatusFlapping: "↯",
}

func checkHref(name string) string { return "/admin/checks/" + url.PathEscape(name) }

func toRow(v nightowl.CheckView) checkRow {
	row := checkRow{Name: v.Check.Name, Href: checkHref(v.Check.Name), Type: v.Check.Type,
		Status: v.State.Status, Pending: v.State.Pending, Since: at(v.State.Since), Cause: v.State.Cause,
		Icon: statusIcons[v.State.Status], Labels: labelsText(v.Check.Labels), BlockedBy: v.State.BlockedBy}
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

func (a *pages) dashboard(ctx context.Context) dashboard {
	views := a.b.Checks()
	nightowl.SortWorstFirst(views)
	var d dashboard
	counts := map[nightowl.Status]int{}
	d.Checks = foldBlocked(views)
	for _, row := range d.Checks {
		counts[row.Status]++
		if row.Status == nightowl.StatusDown {
			d.Down = append(d.Down, row)
		}
	}
	d.Total, d.Degraded = len(views), counts[nightowl.StatusDegraded]
	d.Firing, d.Open = a.firing(ctx)
	var parts []string
	for _, s := range []nightowl.Status{nightowl.StatusDown, nightowl.StatusDegraded, nightowl.StatusFlapping, nightowl.StatusBlocked,
		nightowl.StatusMaintenance, nightowl.StatusUnknown, nightowl.StatusUp, nightowl.StatusPaused} {
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

// foldBlocked returns the rows of views, worst first, with each blocked
// check moved to just below its root cause and listed on the root's row:
// the cause first, and what it takes down with it under it. A blocked
// check whose root is not in views keeps its place.
func foldBlocked(views []nightowl.CheckView) []checkRow {
	rows := make([]checkRow, 0, len(views))
	index := map[string]int{}
	for _, v := range views {
		if v.State.Status != nightowl.StatusBlocked {
			index[v.Check.Name] = len(rows)
			rows = append(rows, toRow(v))
		}
	}
	under := map[string][]checkRow{}
	var orphans []checkRow
	for _, v := range views {
		if v.State.Status != nightowl.StatusBlocked {
			continue
		}
		if i, ok := index[v.State.BlockedBy]; ok {
			rows[i].Blocked = append(rows[i].Blocked, toRow(v))
			under[v.State.BlockedBy] = append(under[v.State.BlockedBy], toRow(v))
		} else {
			orphans = append(orphans, toRow(v))
		}
	}
	out := make([]checkRow, 0, len(views))
	for _, row := range rows {
		if row.Status != nightowl.StatusDown && row.Status != nightowl.StatusDegraded && len(orphans) > 0 {
			// The blocked checks whose root is not shown come after
			// the failing ones, as their rank says.
			out = append(out, orphans...)
			orphans = nil
		}
		out = append(out, row)
		out = append(out, under[row.Name]...)
	}
	return append(out, orphans...)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

func (a *pages) adminChecks(w http.ResponseWriter, r *http.Request) {
	d := a.dashboard(r.Context())
	a.render(w, r, http.StatusOK, "admin.html", &adminPage{Section: "checks", Refresh: true, Data: d})
}

// adminLive is what admin.js polls to keep the dashboard current: the
// title, the summary, and the rows of the checks table, rendered by the
// same template as the page.
func (a *pages) adminLive(w http.ResponseWriter, r *http.Request) {
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
		kit.WriteError(w, err)
		return
	}
	kit.WriteJSON(w, http.StatusOK, map[string]any{
		"title": p.Title, "down": len(d.Down), "firing": d.Firing, "open_alerts": d.Open,
		"summary": d.Summary, "rows": rows.String(), "down_html": down.String(), "updated_at": a.clock.Now().UTC(),
	})
}
