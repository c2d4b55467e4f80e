// Package web serves nightowl over HTTP: the JSON API under /api/v1, the
// Prometheus metrics, the health endpoints, the heartbeat pings and the
// public status page; it mounts the admin pages of web/admin beside them,
// and Routes lists every route with the role it needs. Domain error codes
// map to HTTP statuses in one table, in web/internal/kit.
package web

import (
	"cmp"
	"context"
	"crypto/rand"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/web/admin"
	"github.com/nightowl/nightowl/web/internal/kit"
)

// Backend is what the web layer needs from the running server; app/
// implements it.
type Backend interface {
	Checks() []nightowl.CheckView
	Check(name string) (nightowl.CheckView, bool)
	RunNow(ctx context.Context, name string) (nightowl.Result, error)
	// Reload reads the config again and applies it whole, or returns why
	// not and keeps the running one.
	Reload(ctx context.Context) error
	// Ready returns nil when the server can do its job.
	Ready(ctx context.Context) error
	// Store reads the checks' history.
	Store() History
	// PingURL returns a heartbeat check's ping URL; false for other checks.
	PingURL(check string) (string, bool)
}

// History is what web reads of checks' past (results, status changes,
// daily rollups, pings): Results, Events, Rollups and Pings, and nothing
// that writes.
type History = kit.History

// AlertReader is what web reads of alerts: Alert, Alerts and
// Notifications. Acknowledging goes through Alerter.Ack.
type AlertReader = kit.AlertReader

// ClusterViewer is a Backend that can tell the nodes of its cluster: those
// seen in the last hour, live or not; none outside a cluster.
type ClusterViewer interface {
	ClusterNodes() []nightowl.Node
}

// Options configure the handler.
type Options struct {
	Backend  Backend
	Logger   *slog.Logger
	Gatherer prometheus.Gatherer // for /metrics; nothing served when nil
	// Metrics count the requests answered, by route; none when nil.
	Metrics *Metrics
	// Pinger receives heartbeat pings at /ping/; none are served when nil.
	Pinger Pinger
	// Alerter serves the alerts, notifications and acknowledgement links;
	// none are served when nil.
	Alerter Alerter
	// Maintainer serves the maintenance windows; none are served when nil.
	Maintainer Maintainer
	// Incidents serves the incidents; none are served when nil.
	Incidents Incidents
	// Auth tells who is asking. Without it, only public routes answer.
	Auth Authenticator
	// Anonymous is the role of a request that gives no credentials; none
	// when empty.
	Anonymous nightowl.Role
	// PublicURL is server.public_url: an https one makes cookies Secure.
	PublicURL string
	// TrustedProxies are server.trusted_proxies: the peers whose
	// ForwardedHeader names the client.
	TrustedProxies []netip.Prefix
	// ForwardedHeader is server.forwarded_header: the one header, of
	// HeaderXForwardedFor (when empty) and HeaderForwarded, that the
	// trusted proxies write and that is read.
	ForwardedHeader string
	// LoginKey signs the sign-in form's tokens; a random key of this
	// process when nil, which a restart or another node does not know.
	LoginKey []byte
	// SSO signs people in at an identity provider (access.oidc); none
	// when nil. Auth must then be an admin.OIDCAccounts.
	SSO SingleSignOn
	// PasswordsOff is access.local: false: only the break-glass account
	// signs in with a password, which Auth enforces; the sign-in page
	// says so.
	PasswordsOff bool
	// Proxy is access.proxy_header; none when its Header is empty. Auth
	// must then be a ProxyUsers.
	Proxy ProxyAuth
	// People manages users on the admin dashboard; no users page when nil.
	People People
	// AuditLog serves the audit log at /api/v1/audit; not served when nil.
	AuditLog AuditLog
	// Actions serves the guarded actions; none are served when nil.
	Actions Actioner
	// Publisher serves the public status page, its feed, JSON and badges;
	// none are served when nil.
	Publisher Publisher
	// Ingester takes alerts from other tools at
	// /api/v1/integrations/{name}; not served when nil.
	Ingester Ingester
	// Oncall serves the schedules, with the overrides people stored,
	// and the calendar feeds; none are served when nil.
	Oncall Oncall
	// Contacts serves each person's contact methods and rules; none are
	// served when nil.
	Contacts Contacts
	// Factors serves each person's second factors and sessions; none
	// are served when nil.
	Factors Factors
	// StepUp is access.step_up: how recent a session's second factor
	// must be for a dangerous route; config.DefaultStepUp when zero.
	StepUp time.Duration
	Clock  nightowl.Clock
}

// Handler returns the HTTP handler for everything nightowl serves.
func Handler(opts Options) http.Handler {
	a := newAPI(opts)
	mux := http.NewServeMux()
	for _, rt := range a.routes(opts) {
		h := rt.Handler
		if rt.Pattern != pingPattern {
			// The ping URLs read their bodies as bytes, bounded
			// their own way (ping.go).
			h = boundBody(h)
		}
		if rt.Role != "" {
			h = a.require(rt, h)
		}
		h = bounded(h, WriteTimeout+rt.Long)
		mux.Handle(rt.Pattern, opts.Metrics.instrument(rt.Pattern, h))
	}
	return a.secureHeaders(mux)
}

func newAPI(opts Options) *api {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Clock == nil {
		opts.Clock = nightowl.SystemClock{}
	}
	if opts.LoginKey == nil {
		opts.LoginKey = make([]byte, 32)
		rand.Read(opts.LoginKey)
	}
	return &api{loginKey: opts.LoginKey, b: opts.Backend, alerts: opts.Alerter, maint: opts.Maintainer, incidents: opts.Incidents, auth: opts.Auth, pub: opts.Publisher,
		anonymous: opts.Anonymous, publicURL: opts.PublicURL, trusted: opts.TrustedProxies, forwarded: opts.ForwardedHeader, log: opts.Logger, clock: opts.Clock, people: opts.People, actions: opts.Actions,
		ackLimit: newAckLimits(), oncall: opts.Oncall, feedLimit: newFeedLimit(), badgeLimit: newBadgeLimit(), contacts: opts.Contacts,
		factors: opts.Factors, stepUp: cmp.Or(opts.StepUp, defaultStepUp),
		sso: opts.SSO, pwOff: opts.PasswordsOff, proxy: opts.Proxy}
}

// Route is one endpoint and the least role that may call it; Role is empty
// for a public one.
type Route = kit.Route

// People manages users on the admin dashboard.
type People = admin.People

// SingleSignOn signs people in at an identity provider (sso.Provider).
type SingleSignOn = admin.SingleSignOn

// OIDCAccounts makes and signs in the accounts of people the identity
// provider vouched for; the Authenticator implements it when the server
// keeps people.
type OIDCAccounts = admin.OIDCAccounts

// PasswordChanger lets people signed in with a password change it on the
// admin dashboard; the Authenticator implements it when the server keeps
// people.
type PasswordChanger = admin.PasswordChanger

// adminOptions hands the admin pages the services they show, and the rules
// this package keeps for every route: who may see a ping URL, and where a
// request comes from.
func (a *api) adminOptions() admin.Options {
	o := admin.Options{Backend: a.b, Alerter: a.alerts, Maintainer: a.maint, Incidents: a.incidents,
		Actions: a.actions, People: a.people, Auth: a.auth, PingURL: a.pingURL, ClientAddr: a.clientAddr,
		PublicURL: a.publicURL, LoginKey: a.loginKey, Oncall: a.oncall, Contacts: a.contacts, Factors: a.factors, Logger: a.log, Clock: a.clock,
		SSO: a.sso, PasswordsOff: a.pwOff}
	if a.pub != nil {
		o.Components = a.componentNames
	}
	return o
}

// componentNames are the components the status page shows.
func (a *api) componentNames(ctx context.Context) ([]string, error) {
	ps, err := a.pub.PublicStatus(ctx)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(ps.Components))
	for _, c := range ps.Components {
		names = append(names, c.Name)
	}
	return names, nil
}

// Routes lists every endpoint Handler serves with these options, with the
// role each needs: the one table of who may do what.
func Routes(opts Options) []Route { return newAPI(opts).routes(opts) }

const (
	viewer    = nightowl.RoleViewer
	responder = nightowl.RoleResponder
	adminRole = nightowl.RoleAdmin
	public    = nightowl.Role("")
)

func (a *api) routes(opts Options) []Route {
	f := func(pattern string, role nightowl.Role, h http.HandlerFunc) Route {
		return Route{Pattern: pattern, Role: role, Handler: h}
	}
	rs := []Route{
		f("GET /api/v1/checks", viewer, a.listChecks),
		f("GET /api/v1/checks/{name}", viewer, a.getCheck),
		kit.WithLong(f("POST /api/v1/checks/{name}/run", responder, a.runCheck), kit.ActionWrite),
		kit.WithLong(f("POST /api/v1/reload", adminRole, a.reload), time.Minute),
		kit.WhilePending(f("GET /api/v1/whoami", viewer, a.whoami)),
		f("POST /api/v1/login", public, a.login),
		kit.WhilePending(f("POST /api/v1/logout", public, a.logout)),
		f("GET /healthz", public, a.healthz),
		f("GET /readyz", public, a.readyz),
	}
	if a.alerts != nil {
		rs = append(rs,
			f("GET /api/v1/alerts", viewer, a.listAlerts),
			f("GET /api/v1/alerts/{id}", viewer, a.getAlert),
			f("POST /api/v1/alerts/{id}/ack", responder, a.ackAlert),
			f("GET /api/v1/notifications", viewer, a.listNotifications),
			// Signed links: whoever holds one may acknowledge that alert.
			f("GET /ack/{id}", public, a.ackPage),
			f("POST /ack/{id}", public, a.ackByLink),
		)
	}
	rs = append(rs, a.oncallRoutes()...) // schedules.go
	if a.maint != nil {
		rs = append(rs,
			f("GET /api/v1/maintenance", viewer, a.listMaintenance),
			f("POST /api/v1/maintenance", responder, a.startMaintenance),
			f("POST /api/v1/maintenance/{id}/end", responder, a.endMaintenance),
		)
	}
	if a.incidents != nil {
		rs = append(rs,
			f("GET /api/v1/incidents", viewer, a.listIncidents),
			f("POST /api/v1/incidents", responder, a.openIncident),
			f("GET /api/v1/incidents/{id}", viewer, a.getIncident),
			f("POST /api/v1/incidents/{id}/updates", responder, a.updateIncident),
			f("POST /api/v1/incidents/{id}/publish", responder, a.publishIncident),
			f("GET /api/v1/incidents/{id}/postmortem", viewer, a.incidentPostmortem),
		)
	}
	if opts.Pinger != nil {
		rs = append(rs, Route{Pattern: pingPattern, Handler: PingHandler(opts.Pinger, opts.Clock)})
		if cp, ok := opts.Pinger.(ClusterPinger); ok {
			// Signed by the forwarding node with a key from the shared
			// store, not by a person (web/cluster.go).
			rs = append(rs, f("POST "+ClusterPingPath, public, clusterPing(cp, a.log)))
		}
		if h, ok := opts.Pinger.(ClusterHearer); ok {
			// Signed the same way: a node cut off from the store tells
			// the others it runs its checks from memory.
			rs = append(rs, f("POST "+ClusterAlivePath, public, clusterAlive(h, opts.Clock, a.log)))
		}
	}
	if opts.Ingester != nil {
		// Public: the integration's token is the credential, checked
		// in constant time, and each integration is rate-limited.
		rs = append(rs, f("POST "+IntegrationPath+"{name}", public, receiveAlerts(opts.Ingester)))
	}
	if cv, ok := opts.Backend.(ClusterViewer); ok {
		rs = append(rs, f("GET /api/v1/cluster", viewer, func(w http.ResponseWriter, r *http.Request) {
			nodes := cv.ClusterNodes()
			if nodes == nil {
				nodes = []nightowl.Node{}
			}
			kit.WriteJSON(w, http.StatusOK, map[string]any{"nodes": nodes})
		}))
	}
	if opts.AuditLog != nil {
		// Admin only: the log names everyone's sign-ins and addresses.
		rs = append(rs, f("GET /api/v1/audit", adminRole, a.listAudit(opts.AuditLog)))
		// Viewer: the head names no one, and a collector outside nightowl
		// keeps it with a token of its own.
		rs = append(rs, f("GET /api/v1/audit/head", viewer, a.auditHead(opts.AuditLog)))
	}
	if opts.Gatherer != nil {
		rs = append(rs, Route{Pattern: "GET /metrics", Role: viewer, Handler: metricsHandler(opts.Gatherer)})
	}
	rs = append(rs, a.contactRoutes()...)
	rs = append(rs, a.factorRoutes()...)
	rs = append(rs, a.actionRoutes()...)
	rs = append(rs, a.publicRoutes()...)
	rs = append(rs, admin.Routes(a.adminOptions())...)
	rs = append(rs, f("/api/", public, func(w http.ResponseWriter, r *http.Request) {
		kit.WriteError(w, nightowl.Errorf(nightowl.ENotFound, "no such endpoint: %s %s", r.Method, r.URL.Path))
	}))
	return rs
}

func (a *api) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ok\n"))
}

func (a *api) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := a.b.Ready(ctx); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte("not ready: " + nightowl.ErrorMessage(err) + "\n"))
		return
	}
	w.Write([]byte("ready\n"))
}

type api struct {
	b         Backend
	alerts    Alerter
	maint     Maintainer
	incidents Incidents
	auth      Authenticator
	pub       Publisher
	anonymous nightowl.Role
	publicURL string
	trusted   []netip.Prefix
	forwarded string
	loginKey  []byte
	log       *slog.Logger
	clock     nightowl.Clock
	people    People
	actions   Actioner
	ackLimit  *ackLimits
	oncall    Oncall
	feedLimit *kit.Buckets
	// badgeLimit bounds the component badges per client address.
	badgeLimit *kit.Buckets
	contacts   Contacts
	factors    Factors
	stepUp     time.Duration
	sso        admin.SingleSignOn
	pwOff      bool
	proxy      ProxyAuth
}

// DetailedError is an error made of several problems, such as a config with
// many mistakes; the API lists them under details.
type DetailedError = kit.DetailedError

// CheckJSON is how the API shows a check.
type CheckJSON struct {
	Name         string                     `json:"name"`
	Type         string                     `json:"type"`
	Labels       map[string]string          `json:"labels,omitempty"`
	Status       nightowl.Status            `json:"status"`
	Since        time.Time                  `json:"since"`
	Cause        string                     `json:"cause,omitempty"`
	BlockedBy    string                     `json:"blocked_by,omitempty"`
	Underlying   nightowl.Status            `json:"underlying,omitempty"`
	DependsOn    []string                   `json:"depends_on,omitempty"`
	Pending      nightowl.Status            `json:"pending,omitempty"`
	Interval     nightowl.Seconds           `json:"interval"`
	Timeout      nightowl.Seconds           `json:"timeout"`
	FailAfter    int                        `json:"fail_after"`
	RecoverAfter int                        `json:"recover_after"`
	LastRun      *time.Time                 `json:"last_run,omitempty"`
	Duration     *nightowl.Seconds          `json:"duration,omitempty"`
	Error        string                     `json:"error,omitempty"`
	Facts        nightowl.Facts             `json:"facts,omitempty"`
	Assertions   []nightowl.AssertionResult `json:"assertions,omitempty"`
	PingURL      string                     `json:"ping_url,omitempty"`
	Runs         int64                      `json:"runs"`
	Failures     int64                      `json:"failures"`
	Results      []nightowl.Result          `json:"results,omitempty"`
	// Events is the check's recent history: status changes, maintenance
	// windows and their verification, newest first.
	Events []nightowl.Event `json:"events,omitempty"`
	Pings  []nightowl.Ping  `json:"pings,omitempty"`
}

// CheckToJSON shapes a check view for the API and the CLI.
func CheckToJSON(v nightowl.CheckView) CheckJSON {
	c := CheckJSON{
		Name: v.Check.Name, Type: v.Check.Type, Labels: v.Check.Labels,
		Status: v.State.Status, Since: v.State.Since, Cause: v.State.Cause, Pending: v.State.Pending,
		BlockedBy: v.State.BlockedBy, Underlying: v.State.Underlying, DependsOn: v.Check.DependsOn,
		Interval: nightowl.Seconds(v.Check.Interval), Timeout: nightowl.Seconds(v.Check.Timeout),
		FailAfter: v.Check.FailAfter, RecoverAfter: v.Check.RecoverAfter,
		Runs: v.State.Runs, Failures: v.State.Fails,
	}
	if l := v.Last; l != nil {
		start, d := l.Start, l.Duration
		c.LastRun, c.Duration = &start, &d
		c.Error, c.Facts, c.Assertions = l.Error, l.Facts, l.Assertions
	}
	return c
}

func (a *api) listChecks(w http.ResponseWriter, r *http.Request) {
	views := a.b.Checks()
	nightowl.SortWorstFirst(views)
	out := make([]CheckJSON, len(views))
	for i, v := range views {
		out[i] = CheckToJSON(v)
		out[i].PingURL = a.pingURL(r, v.Check.Name)
	}
	kit.WriteJSON(w, http.StatusOK, map[string]any{"checks": out})
}

func (a *api) getCheck(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	v, ok := a.b.Check(name)
	if !ok {
		kit.WriteError(w, nightowl.Errorf(nightowl.ENotFound, "check %q not found", name))
		return
	}
	limit := 20
	if s := r.URL.Query().Get("results"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > 1000 {
			kit.WriteError(w, nightowl.Errorf(nightowl.EInvalid, "results must be a number from 0 to 1000"))
			return
		}
		limit = n
	}
	out := CheckToJSON(v)
	out.PingURL = a.pingURL(r, name)
	if limit > 0 {
		res, err := a.b.Store().Results(r.Context(), name, limit)
		if err != nil {
			a.log.Error("read results", "check", name, "err", err)
			kit.WriteError(w, err)
			return
		}
		// The store writes in batches; the engine knows the latest run
		// before the store does.
		if v.Last != nil && (len(res) == 0 || v.Last.Start.After(res[0].Start)) {
			res = append([]nightowl.Result{*v.Last}, res...)
			if len(res) > limit {
				res = res[:limit]
			}
		}
		out.Results = res
		if out.Events, err = a.b.Store().Events(r.Context(), name, limit); err != nil {
			a.log.Error("read events", "check", name, "err", err)
			kit.WriteError(w, err)
			return
		}
		if v.Check.Passive {
			if out.Pings, err = a.b.Store().Pings(r.Context(), name, limit); err != nil {
				a.log.Error("read pings", "check", name, "err", err)
				kit.WriteError(w, err)
				return
			}
		}
	}
	kit.WriteJSON(w, http.StatusOK, out)
}

func (a *api) runCheck(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if v, ok := a.b.Check(name); ok {
		kit.LongWrite(w, v.Check.Timeout)
	}
	res, err := a.b.RunNow(r.Context(), name)
	if err != nil {
		kit.WriteError(w, err)
		return
	}
	kit.WriteJSON(w, http.StatusOK, res)
}

func (a *api) reload(w http.ResponseWriter, r *http.Request) {
	kit.LongWrite(w, time.Minute)
	if err := a.b.Reload(r.Context()); err != nil {
		kit.WriteError(w, err)
		return
	}
	kit.WriteJSON(w, http.StatusOK, map[string]any{"reloaded": true})
}

// pingURL returns a heartbeat check's ping URL for those who may act: its
// token is what a job uses to say it ran, so a viewer (or an anonymous
// reader) who saw it could keep a dead job looking alive.
func (a *api) pingURL(r *http.Request, check string) string {
	if p, ok := PrincipalFrom(r.Context()); !ok || !p.Role.Allows(nightowl.RoleResponder) {
		return ""
	}
	u, _ := a.b.PingURL(check)
	return u
}
