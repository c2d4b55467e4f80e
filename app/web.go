package app

import (
	"context"
	"net/url"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/actions"
	"github.com/nightowl/nightowl/audit/audited"
	"github.com/nightowl/nightowl/config"
	"github.com/nightowl/nightowl/engine"
	"github.com/nightowl/nightowl/heartbeat"
	"github.com/nightowl/nightowl/notify/acklink"
	"github.com/nightowl/nightowl/sso"
	"github.com/nightowl/nightowl/web"
)

// webOptions hands the web layer the services it serves, each wrapped by
// the audit recorder where people act through it (package audited).
func (a *App) webOptions() web.Options {
	people := &audited.Access{Service: a.access, Recorder: a.audit, UserStore: a.store, Actor: webActor, Logger: a.log}
	o := web.Options{Backend: a.backend(), Logger: a.log, Gatherer: a.registry, Metrics: a.webMetrics, Pinger: a.pinger(),
		Alerter:    alerter{Acks: audited.Acks{Acker: a.alerts, Recorder: a.audit}, store: a.store, signer: a.signer, clock: a.opts.Clock},
		Maintainer: audited.Maintenance{Runner: a.maint, Recorder: a.audit},
		Incidents:  audited.Incidents{Service: a.incidents, Recorder: a.audit},
		Clock:      a.opts.Clock, Auth: people, Anonymous: a.cfg.Server.Anonymous, PublicURL: a.cfg.Server.PublicURL,
		Publisher: a.status, TrustedProxies: a.cfg.Server.Proxies(), ForwardedHeader: a.cfg.Server.ForwardedHeader,
		LoginKey: a.loginKey, People: people, AuditLog: a.store, Actions: actioner{a.actions},
		Contacts: audited.Contacts{Service: a.contacts, Recorder: a.audit}, Oncall: audited.Oncall{Roster: a.roster, Recorder: a.audit},
		Ingester: a.ingest, Factors: people, StepUp: a.cfg.Access.StepUp}
	a.accessWebOptions(&o) // access.go
	return o
}

// Routes lists every route the server serves with the role each needs.
func (a *App) Routes() []web.Route { return web.Routes(a.webOptions()) }

// backend is the checks as the web layer serves them (web.Backend and
// web.ClusterViewer).
type backend struct {
	engine *engine.Engine
	beats  *heartbeat.Tracker
	store  store
	reload func(context.Context) error
	config func() *config.Config
	nodes  func() []nightowl.Node
}

func (a *App) backend() backend {
	return backend{engine: a.engine, beats: a.beats, store: a.store, reload: a.Reload, config: a.Config, nodes: a.ClusterNodes}
}

func (b backend) Checks() []nightowl.CheckView                 { return b.engine.Checks() }
func (b backend) Check(name string) (nightowl.CheckView, bool) { return b.engine.Check(name) }
func (b backend) Store() web.History                           { return b.store }
func (b backend) Reload(ctx context.Context) error             { return b.reload(ctx) }
func (b backend) ClusterNodes() []nightowl.Node                { return b.nodes() }

func (b backend) RunNow(ctx context.Context, name string) (nightowl.Result, error) {
	return b.engine.RunNow(ctx, name)
}

// PingURL is the ping URL of a heartbeat check, under server.public_url
// when set, else a path.
func (b backend) PingURL(check string) (string, bool) {
	tok, ok := b.beats.Token(check)
	if !ok {
		return "", false
	}
	return b.config().Server.PublicURL + "/ping/" + tok, true
}

// Ready says the server can do its job when the store answers.
func (b backend) Ready(ctx context.Context) error {
	if _, err := b.store.Events(ctx, "", 1); err != nil {
		return nightowl.Errorf(nightowl.EInternal, "storage unavailable")
	}
	return nil
}

// alerter is the alert manager as the web layer serves it (web.Alerter):
// acknowledgements recorded, links checked with the key that signs them.
type alerter struct {
	audited.Acks
	store  web.AlertReader
	signer *acklink.Signer
	clock  nightowl.Clock
}

func (x alerter) AlertStore() web.AlertReader { return x.store }

func (x alerter) VerifyAckLink(id string, q url.Values) error {
	return x.signer.Verify(id, q, x.clock.Now())
}

// actioner is the actions service as the web layer serves it
// (web.Actioner).
type actioner struct{ svc *actions.Service }

// Actions lists the actions with the values of their HTTP headers hidden.
func (x actioner) Actions(ctx context.Context) ([]nightowl.ActionView, error) {
	list, err := x.svc.List(ctx)
	for i := range list {
		list[i].HTTP = actions.HideHeaders(list[i].HTTP)
	}
	return list, err
}

func (x actioner) RequestAction(ctx context.Context, name string, params map[string]string, reason, confirm, by string) (nightowl.ActionRequest, error) {
	return x.svc.Request(ctx, name, params, reason, confirm, by)
}

func (x actioner) ActionRequests(ctx context.Context, q nightowl.ActionQuery) ([]nightowl.ActionRequest, error) {
	return x.svc.Requests(ctx, q)
}

// ActionRequest returns the request and exactly what it runs, as it was
// when it was requested.
func (x actioner) ActionRequest(ctx context.Context, id string) (nightowl.ActionRequest, nightowl.ActionPlan, error) {
	r, err := x.svc.Get(ctx, id)
	if err != nil || r.Plan == nil {
		return r, nightowl.ActionPlan{}, err
	}
	return r, *r.Plan, nil
}

func (x actioner) ApproveAction(ctx context.Context, id, by string) (nightowl.ActionRequest, error) {
	return x.svc.Approve(ctx, id, by)
}

func (x actioner) DenyAction(ctx context.Context, id, by, reason string) (nightowl.ActionRequest, error) {
	return x.svc.Deny(ctx, id, by, reason)
}

func (x actioner) RunAction(ctx context.Context, id, by string) (nightowl.ActionRequest, error) {
	return x.svc.Run(ctx, id, by)
}

// webActor is who makes a change through the web: the signed-in user or the
// token's.
func webActor(ctx context.Context) string {
	if p, ok := web.PrincipalFrom(ctx); ok && p.User != "" {
		return p.User
	}
	return "anonymous"
}

var (
	_ web.Backend         = backend{}
	_ web.ClusterViewer   = backend{}
	_ web.Alerter         = alerter{}
	_ web.Maintainer      = audited.Maintenance{}
	_ web.Incidents       = audited.Incidents{}
	_ web.Authenticator   = (*audited.Access)(nil)
	_ web.People          = (*audited.Access)(nil)
	_ web.OIDCAccounts    = (*audited.Access)(nil)
	_ web.ProxyUsers      = (*audited.Access)(nil)
	_ web.SingleSignOn    = (*sso.Provider)(nil)
	_ web.PasswordChanger = (*audited.Access)(nil)
	_ web.Actioner        = actioner{}
	_ web.Oncall          = audited.Oncall{}
)
