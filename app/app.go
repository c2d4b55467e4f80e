// Package app wires nightowl together: it reads the config, opens the store,
// builds the probes, runs the engine and serves the web layer. It is the one
// package that knows every other; the command line and the end-to-end tests
// start the server through it.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/access"
	"github.com/nightowl/nightowl/actions"
	"github.com/nightowl/nightowl/assert"
	"github.com/nightowl/nightowl/audit"
	"github.com/nightowl/nightowl/config"
	"github.com/nightowl/nightowl/connlimit"
	"github.com/nightowl/nightowl/contact"
	"github.com/nightowl/nightowl/engine"
	"github.com/nightowl/nightowl/heartbeat"
	"github.com/nightowl/nightowl/incident"
	"github.com/nightowl/nightowl/ingest"
	"github.com/nightowl/nightowl/maintenance"
	"github.com/nightowl/nightowl/notify"
	"github.com/nightowl/nightowl/notify/acklink"
	"github.com/nightowl/nightowl/notify/kit"
	"github.com/nightowl/nightowl/oncall"
	"github.com/nightowl/nightowl/probe"
	"github.com/nightowl/nightowl/sqlite"
	"github.com/nightowl/nightowl/sso"
	"github.com/nightowl/nightowl/statuspage"
	"github.com/nightowl/nightowl/web"
)

// Options configure an App.
type Options struct {
	ConfigPath string
	Logger     *slog.Logger // slog.Default() when nil, and LogOutput not set
	// LogOutput, when set and Logger is not, receives the log in the
	// format and from the level server.log says (serve writes standard
	// error); Debug lowers the level to debug whatever it says.
	LogOutput io.Writer
	Debug     bool
	Clock     nightowl.Clock // the system clock when nil
	// Listen overrides server.listen (tests use 127.0.0.1:0).
	Listen string
	// Concurrency bounds concurrent checks; the engine's default when 0.
	Concurrency int
	// BcryptCost is the cost of password hashes; the access package's
	// default when 0 (tests lower it).
	BcryptCost int
	// PublicTTL is how long what the public status page shows is reused;
	// 5s when 0, never when negative (tests).
	PublicTTL time.Duration
	// ReadFile reads the config file and the files it names; config's
	// default (regular files only) when nil. Tests make it slow.
	ReadFile func(string) ([]byte, error)
}

// App is a running nightowl server.
type App struct {
	opts     Options
	log      *slog.Logger
	compiler *assert.Compiler
	clients  *probe.Clients
	store    store
	engine   *engine.Engine
	alerts   *notify.Manager
	maint    *maintenance.Runner
	access   *access.Service
	sender   *notify.Sender
	signer   *acklink.Signer
	// loginKey signs the sign-in form's tokens; kept in the store, so
	// that a form outlives a restart and works on every node.
	loginKey []byte
	// sso is the identity provider of access.oidc; nil without one.
	sso *sso.Provider
	// targets are the receivers of the config in force, by ID.
	targets atomic.Pointer[map[string]notify.Target]
	// contacts keeps people's contact methods (contacts.go).
	contacts *contact.Service
	// crew owns every goroutine the App starts (crew.go); Stop waits for
	// them. stopLoops ends the background loops (escalation, sending,
	// maintenance, audit, watchdog, cluster, store upkeep).
	crew      *crew
	stopLoops context.CancelFunc
	// failed receives why the web server stopped serving on its own.
	failed   chan error
	beats    *heartbeat.Tracker
	registry *prometheus.Registry
	// webMetrics count the requests served, across reloads.
	webMetrics *web.Metrics

	// reloading is held (a token in it) by a reload, which alone changes
	// cfg, and by Stop, which waits for a reload in progress; live is the
	// config in force for everyone else, read without waiting, and
	// swapped in once a reload has built and applied the new one.
	// stopping refuses reloads that were still reading when Stop gave up
	// waiting.
	reloading chan struct{}
	stopping  atomic.Bool
	// afterSwap, when set (by tests), is called with the context the rest
	// of a reload runs with, once the new config is in force.
	afterSwap func(context.Context)
	cfg       *config.Config
	live      atomic.Pointer[config.Config]

	srv      *http.Server
	listener net.Listener
	// metrics serves /metrics alone on server.metrics_listen; nil when
	// not configured.
	metrics     *http.Server
	metricsAddr net.Addr
	// unlock releases the SQLite store's server lock (sqlite.ServeLock).
	unlock func()

	// incidents keeps incidents (incidents.go).
	incidents *incident.Service
	// roster says who is on call (oncall.go).
	roster *oncall.Roster
	// status builds what the public status page shows.
	status *statuspage.Service
	// audit records what people do (audit.go).
	audit *audit.Recorder
	// actions runs the guarded actions (actions.go).
	actions *actions.Service
	// cluster is this node's part in a cluster; nil with SQLite
	// (cluster.go).
	cluster *clusterState
	// ingest takes the alerts other tools send (ingest.go).
	ingest *ingest.Service
}

// New loads the config and opens the store. Nothing runs until Start. On an
// error, what was built is released: the probes and the store.
func New(ctx context.Context, opts Options) (_ *App, err error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	if opts.Clock == nil {
		opts.Clock = nightowl.SystemClock{}
	}
	a := &App{opts: opts, log: logger, compiler: &assert.Compiler{}, clients: probe.NewClients(),
		reloading: make(chan struct{}, 1), crew: newCrew(), failed: make(chan error, 1)}
	a.opts.Logger = logger
	// undo releases, last first, what was built when a step fails.
	var undo []func()
	defer func() {
		if err != nil {
			for _, f := range slices.Backward(undo) {
				f()
			}
		}
	}()

	cfg, err := config.LoadContext(ctx, opts.ConfigPath, config.Options{Compiler: a.compiler, ReadFile: opts.ReadFile})
	if err != nil {
		return nil, err
	}
	if opts.LogOutput != nil && opts.Logger == nil {
		a.log = slog.New(cfg.Server.Log.Handler(opts.LogOutput, opts.Debug))
		a.opts.Logger = a.log
	}
	checks, err := BuildChecks(cfg, probe.Env{Logger: a.log, Clients: a.clients})
	if err != nil {
		return nil, err
	}
	undo = append(undo, func() { closeProbers(checks) })
	if cfg.Storage.Postgres == "" {
		// One server a SQLite file, and no restore under it.
		unlock, err := sqlite.ServeLock(cfg.Storage.SQLite)
		if err != nil {
			return nil, fmt.Errorf("storage.sqlite %s: %w", cfg.Storage.SQLite, err)
		}
		undo = append(undo, unlock)
		a.unlock = unlock
	}
	store, err := openServerStore(ctx, cfg, a.log, opts.Clock)
	if err != nil {
		return nil, err
	}
	undo = append(undo, func() { store.Close() })
	a.store, a.cfg = store, cfg
	a.live.Store(cfg)

	a.registry = prometheus.NewRegistry()
	a.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	a.webMetrics = web.NewMetrics(a.registry)
	a.newCluster()
	registerStoreMetrics(a.registry, store, opts.Clock)
	factorKey, err := store.Secret(ctx, factorKeyName, access.FactorKeySize)
	if err != nil {
		return nil, fmt.Errorf("read the second factors' key: %w", err)
	}
	if a.access, err = access.New(access.Options{Store: store, Clock: opts.Clock, BcryptCost: opts.BcryptCost,
		SessionIdle: cfg.Access.SessionIdle, SessionMax: cfg.Access.SessionMax,
		PasswordsOff: !cfg.Access.Local, BreakGlass: cfg.Access.BreakGlass, Logger: a.log,
		FactorKey: factorKey, RequireSecondFactor: cfg.Access.RequireSecondFactor}); err != nil {
		return nil, err
	}
	if a.loginKey, err = store.Secret(ctx, loginKeyName, ackKeySize); err != nil {
		return nil, fmt.Errorf("read the sign-in form key: %w", err)
	}
	if a.sso, err = newSSO(cfg.Access.OIDC, a.loginKey, opts.Clock, a.log); err != nil { // access.go
		return nil, err
	}
	if a.audit, err = newAuditRecorder(store, cfg, opts.Clock, a.log, a.registry); err != nil {
		return nil, err
	}
	if err := a.newIncidents(); err != nil {
		return nil, err
	}
	if err := a.newRoster(); err != nil { // oncall.go
		return nil, err
	}
	if err := a.newActions(a.audit); err != nil {
		return nil, err
	}
	// The scheduler's metrics count the pages saved, which the alert
	// manager saves too (a group's other alerts).
	em := engine.NewMetrics(a.registry)
	if err := a.startAlerting(ctx, cfg, em); err != nil {
		return nil, err
	}
	if err := a.newIngest(cfg.Integrations); err != nil {
		return nil, err
	}
	if a.engine, err = a.newEngine(em); err != nil {
		return nil, err
	}
	if a.maint, err = a.newMaintenance(ctx, cfg); err != nil {
		return nil, fmt.Errorf("load maintenance windows: %w", err)
	}
	states, err := store.States(ctx)
	if err != nil {
		return nil, fmt.Errorf("read check states: %w", err)
	}
	beatOpts := heartbeat.Options{
		Clock: opts.Clock, Store: store, Logger: a.log,
		Report: func(check string, at time.Time, facts nightowl.Facts) {
			// A report may race a reload that removed the check; the
			// engine then no longer knows it, which is fine. In a
			// cluster the engine drops it unless this node holds the
			// check.
			a.engine.Submit(check, at, facts)
		},
	}
	pingKey, err := a.clusterHeartbeats(ctx, &beatOpts) // pings.go
	if err != nil {
		return nil, err
	}
	if a.beats, err = heartbeat.New(beatOpts); err != nil {
		return nil, err
	}
	if a.cluster != nil {
		a.newRelay(pingKey)
	}
	a.status = statuspage.New(statuspage.Options{Settings: a.pageSettings, Checks: pageChecks{a}, Incidents: a.incidents,
		Maintenance: a.maint, Rollups: store, Clock: opts.Clock, TTL: opts.PublicTTL})
	stored, err := store.Heartbeats(ctx)
	if err != nil {
		return nil, fmt.Errorf("read heartbeat states: %w", err)
	}
	a.engine.SetChecks(checks, states)
	if err := a.beats.SetChecks(heartbeats(cfg), stored); err != nil {
		return nil, InvalidConfig(err)
	}
	// Generated ping tokens must survive a crash from the first moment a
	// job may have been given its URL.
	if err := store.Flush(ctx); err != nil {
		return nil, fmt.Errorf("write heartbeat tokens: %w", err)
	}
	return a, nil
}

// newEngine builds the engine over the store: each status change goes to
// the alert manager, and a check gone down runs its on_down action.
func (a *App) newEngine(em *engine.Metrics) (*engine.Engine, error) {
	e, err := engine.New(engine.Options{
		Clock: a.opts.Clock, Store: a.store, Logger: a.log, Concurrency: a.opts.Concurrency, Metrics: em,
		Windows: func(c *nightowl.Check, at time.Time) []nightowl.ActiveWindow { return a.maint.Active(c, at) },
		Owns:    a.ownsFunc(),
		OnEvent: func(_ nightowl.Event, v nightowl.CheckView) {
			// A failure is logged by the manager's caller here and made
			// good by the reconciliation at the next start or reload.
			// An unreachable store is no failure: the change is kept in
			// memory (storage.go).
			ctx, cancel := context.WithTimeout(context.Background(), alertTimeout)
			defer cancel()
			if err := a.alerts.Observe(ctx, v); err != nil {
				a.log.Error("alert on status change", "check", v.Check.Name, "err", err)
			}
			a.onDown(v)
		},
	})
	if err != nil {
		return nil, err
	}
	a.registry.MustRegister(engine.Collector{E: e})
	return e, nil
}

// newMaintenance builds the maintenance runner: it verifies the checks of
// this node when a window ends, and alerts on those still down.
func (a *App) newMaintenance(ctx context.Context, cfg *config.Config) (*maintenance.Runner, error) {
	return maintenance.New(ctx, cfg.Maintenance, maintenance.Options{
		Store: a.store, Clock: a.opts.Clock, Logger: a.log,
		Checks: a.engine.Checks, Mine: a.ownsFunc(),
		Run: func(ctx context.Context, check string) error {
			if !a.owns(check) {
				return nil // its own node verifies it
			}
			_, err := a.engine.RunNow(ctx, check)
			return err
		},
		AddEvent: func(ctx context.Context, e nightowl.Event) error {
			ctx, cancel := context.WithTimeout(ctx, engine.EventTimeout)
			defer cancel()
			_, err := a.store.AddEvent(ctx, e)
			return err
		},
		NotRecovered: func(ctx context.Context, v nightowl.CheckView, w *nightowl.Window, stage int) {
			if !a.owns(v.Check.Name) {
				return
			}
			after := w.Verify.Within
			if stage > 0 {
				after = w.Verify.AgainAfter[stage-1]
			}
			ctx, cancel := context.WithTimeout(ctx, alertTimeout)
			defer cancel()
			if err := a.alerts.NotRecovered(ctx, v, w, stage, after); err != nil {
				a.log.Error("alert after maintenance", "check", v.Check.Name, "window", w.ID, "err", err)
			}
		},
	})
}

// alertTimeout bounds the alert change that a status change (or a check
// found down after maintenance) leads to: reading the alert back in a
// cluster and writing it with its notifications. It holds up the engine
// worker that saw the change, as the event does (engine.EventTimeout); a
// store that has not answered by then hangs, and the change is kept in
// memory and sent from there (storage.go).
const alertTimeout = 5 * time.Second

// heartbeats lists the heartbeat checks of a config for the tracker.
func heartbeats(cfg *config.Config) []heartbeat.Check {
	var out []heartbeat.Check
	for _, c := range cfg.Checks {
		if hb, ok := c.Spec.(*probe.Heartbeat); ok {
			out = append(out, heartbeat.Check{Name: c.Name, Spec: hb})
		}
	}
	return out
}

// BuildChecks turns a loaded config into runnable checks, building each
// check's probe.
func BuildChecks(cfg *config.Config, env probe.Env) ([]nightowl.Check, error) {
	checks := cfg.DomainChecks()
	for i := range checks {
		p, err := cfg.Checks[i].Spec.Prober(env)
		if err != nil {
			closeProbers(checks[:i])
			return nil, &buildError{fmt.Sprintf("%s:%d:%d: checks[%d].%s: %v",
				cfg.File, cfg.Checks[i].Pos.Line, cfg.Checks[i].Pos.Col, i, cfg.Checks[i].Type, err)}
		}
		checks[i].Prober = p
	}
	return checks, nil
}

// Start listens and starts running checks.
func (a *App) Start(ctx context.Context) error {
	addr := a.opts.Listen
	if addr == "" {
		addr = a.cfg.Server.Listen
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	var mln net.Listener
	if maddr := a.cfg.Server.MetricsListen; maddr != "" {
		if mln, err = net.Listen("tcp", maddr); err != nil {
			ln.Close()
			return fmt.Errorf("listen on %s (server.metrics_listen): %w", maddr, err)
		}
	}
	a.listener = ln
	// Connections are capped so that file descriptors stay for the
	// checks: half of the process's limit, a share of that per client.
	limit, err := connlimit.FileLimit()
	if err != nil {
		limit = fallbackFileLimit
	}
	caps := connlimit.Derive(limit, 0, 0)
	caps.Exempt = a.cfg.Server.Proxies()
	a.srv = web.NewServer(a.webOptions())
	a.log.Debug("connection caps", "max", caps.Max, "per_client", caps.PerClient, "per_network", caps.PerNetwork, "file_limit", limit)
	ln = connlimit.Listener(ln, caps)
	a.crew.Go("web server", func(context.Context) {
		// Serve returns ErrServerClosed once Stop shuts it down; any
		// other end leaves the API and the ping endpoint dead while the
		// checks would go on, so the process is told (Failed).
		if err := a.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			err = fmt.Errorf("serve http on %s: %w", ln.Addr(), err)
			a.log.Error("the web server stopped serving", "err", err)
			a.failed <- err
		}
	})
	if mln != nil {
		a.metrics, a.metricsAddr = web.NewMetricsServer(a.registry), mln.Addr()
		a.crew.Go("metrics server", func(context.Context) {
			if err := a.metrics.Serve(mln); !errors.Is(err, http.ErrServerClosed) {
				// Only the scraper is left without: logged, and the
				// server goes on.
				a.log.Error("the metrics server stopped serving", "addr", mln.Addr().String(), "err", err)
			}
		})
	}
	// The states restored from the store may disagree with the alerts it
	// kept, if the last process died between recording a change and
	// acting on it.
	a.reconcile(ctx, nil)
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	a.stopLoops = cancel
	// What a reload changes of storage waits for a restart.
	storage := a.cfg.Storage
	for name, run := range map[string]func(context.Context){
		"audit":       a.audit.Run,
		"escalation":  a.alerts.Run,
		"sender":      a.sender.Run,
		"maintenance": a.maint.Run,
		"watchdog":    a.runWatchdog,
		"cluster":     func(ctx context.Context) { a.runCluster(ctx, ln.Addr().String()) },
		"store":       func(ctx context.Context) { runStore(ctx, a.store) },
		"backups":     func(ctx context.Context) { a.runBackups(ctx, storage) },
		"ingest":      a.ingest.Run,
	} {
		a.crew.Go(name, func(context.Context) { run(lctx) })
	}
	a.engine.Start(context.WithoutCancel(ctx))
	a.beats.Start(context.WithoutCancel(ctx))
	a.log.Info("nightowl serving", "addr", ln.Addr().String(), "checks", len(a.cfg.Checks))
	return nil
}

// fallbackFileLimit stands for the file descriptor limit where it cannot
// be read.
const fallbackFileLimit = 4096

// Failed receives an error if the web server stops serving before Stop (the
// listener failed under it): the server is then no longer whole, and
// whoever runs it should stop it and exit.
func (a *App) Failed() <-chan error { return a.failed }

// Addr is the address the server listens on.
func (a *App) Addr() string { return a.listener.Addr().String() }

// MetricsAddr is the address of server.metrics_listen, "" when there is
// none.
func (a *App) MetricsAddr() string {
	if a.metricsAddr == nil {
		return ""
	}
	return a.metricsAddr.String()
}

// Stop shuts the server down gracefully: no new requests, running checks
// finish, everything queued is written, and every goroutine the App started
// has ended (on_down runs each within its action's timeout). When ctx ends
// first, what is still running is cut off, logged and named in the error.
func (a *App) Stop(ctx context.Context) error {
	// A reload in progress finishes first (one still reading gives up
	// with ctx's end, or its own), so that it never applies to what is
	// stopped or closed; none starts after.
	a.stopping.Store(true)
	select {
	case a.reloading <- struct{}{}:
		defer func() { <-a.reloading }()
	case <-ctx.Done():
		a.log.Warn("stopping while a config reload is still reading; it will be refused")
	}
	var errs []error
	if a.srv != nil {
		errs = append(errs, a.srv.Shutdown(ctx))
	}
	if a.metrics != nil {
		errs = append(errs, a.metrics.Shutdown(ctx))
	}
	a.beats.Stop()
	a.engine.Stop()
	a.engine.Close()
	if a.cluster != nil {
		// What this node ran is written before it leaves the cluster,
		// so that the next owners carry on from all of it.
		errs = append(errs, a.store.Flush(ctx))
	}
	if a.stopLoops != nil {
		// Sends under way finish (each within its timeout) and are
		// recorded; what is left waits in the outbox for the next start.
		a.stopLoops()
	}
	// The web server, the loops and the on_down runs under way end
	// before the store closes under them.
	if left := a.crew.Wait(ctx); len(left) > 0 {
		a.log.Error("stopped before these finished; they were cut off", "running", strings.Join(left, ", "))
		errs = append(errs, fmt.Errorf("stopped before %s finished: %w", strings.Join(left, ", "), ctx.Err()))
	}
	// What was appended in the last moments is signed too.
	if _, _, err := a.audit.Checkpoint(ctx); err != nil && !errors.Is(err, audit.ErrHeadRefused) {
		a.log.Error("audit: could not sign a checkpoint", "err", err)
	}
	errs = append(errs, a.store.Flush(ctx), a.store.Close())
	if a.unlock != nil {
		a.unlock()
	}
	return errors.Join(errs...)
}

// Reload reads the config file again. A config with any error is refused
// whole and the running one stays in force. Reading, checking and building
// the new config hold up nothing but other reloads: the status page, the
// API and the checks go on with the config in force (Config) until the new
// one is applied. Ending ctx gives up a reload that is still reading.
func (a *App) Reload(ctx context.Context) error {
	select {
	case a.reloading <- struct{}{}:
		defer func() { <-a.reloading }()
	case <-ctx.Done():
		return fmt.Errorf("reload: %w", ctx.Err())
	}
	if a.stopping.Load() {
		return errStopping
	}
	cfg, err := config.LoadContext(ctx, a.opts.ConfigPath, config.Options{Compiler: a.compiler, ReadFile: a.opts.ReadFile})
	if err != nil {
		return a.refuse(err, nil)
	}
	checks, err := BuildChecks(cfg, probe.Env{Logger: a.log, Clients: a.clients})
	if err != nil {
		return a.refuse(err, nil)
	}
	targets, err := buildTargets(cfg, a.log)
	if err != nil {
		return a.refuse(err, checks)
	}
	if err := maintenance.Check(cfg.Maintenance); err != nil {
		return a.refuse(nightowl.Errorf(nightowl.EInvalid, "%v", err), checks)
	}
	if a.stopping.Load() {
		closeProbers(checks)
		return errStopping
	}
	// The point of no return: the new config is applied whole, even when
	// whoever asked for it goes away now (an HTTP client that hangs up).
	ctx = context.WithoutCancel(ctx)
	// The tracker refuses a config whose tokens clash before anything
	// changes; the engine's SetChecks cannot fail.
	if err := a.beats.SetChecks(heartbeats(cfg), nil); err != nil {
		return a.refuse(err, checks)
	}
	if cfg.Server.Listen != a.cfg.Server.Listen || cfg.Storage != a.cfg.Storage ||
		cfg.Server.Anonymous != a.cfg.Server.Anonymous || cfg.Server.PublicURL != a.cfg.Server.PublicURL ||
		!slices.Equal(cfg.Server.TrustedProxies, a.cfg.Server.TrustedProxies) || cfg.Server.ForwardedHeader != a.cfg.Server.ForwardedHeader ||
		cfg.Cluster != a.cfg.Cluster || cfg.Watchdog != a.cfg.Watchdog || cfg.Server.Log != a.cfg.Server.Log {
		a.log.Warn("changes to server.listen, server.anonymous, server.public_url, server.trusted_proxies, server.forwarded_header, server.log, storage, cluster and watchdog take effect after a restart")
	}
	if err := a.maint.SetConfig(cfg.Maintenance); err != nil {
		// Checked above: cannot happen.
		a.log.Error("apply maintenance windows", "err", err)
	}
	a.engine.SetChecks(checks, nil)
	a.targets.Store(&targets)
	a.alerts.SetPolicy(policy(cfg))
	a.ingest.SetIntegrations(cfg.Integrations)
	a.sender.SetGiveUpAfter(cfg.Notify.GiveUpAfter)
	a.audit.SetSigner(cfg.Audit.Signer)
	a.cfg = cfg
	a.live.Store(cfg)
	if a.afterSwap != nil {
		a.afterSwap(ctx)
	}
	// Checks removed from the config resolve their alerts; a route that
	// now asks for degraded checks opens theirs.
	a.reconcile(ctx, nil)
	// Ping URLs of new heartbeat checks are shown from now on; their
	// tokens must not be lost to a crash.
	if err := a.store.Flush(ctx); err != nil {
		a.log.Error("write heartbeat tokens after reload", "err", err)
	}
	// The tracker reported new heartbeat checks before the engine knew
	// them; hand their facts over now.
	now := a.opts.Clock.Now()
	for _, hb := range heartbeats(cfg) {
		if v, ok := a.engine.Check(hb.Name); ok && v.Last == nil {
			if f, ok := a.beats.Facts(hb.Name); ok {
				a.engine.Submit(hb.Name, now, f)
			}
		}
	}
	// Connections to hosts no check watches any more need not linger
	// until their idle timeout.
	a.clients.CloseIdle()
	a.log.Info("config reloaded", "checks", len(checks))
	return nil
}

// errStopping refuses a reload while the server stops.
var errStopping = nightowl.Errorf(nightowl.EConflict, "the server is stopping: the config is not reloaded")

// refuse closes the probes built for a refused config (they hold pools and
// connections) and says why it was refused.
func (a *App) refuse(err error, built []nightowl.Check) error {
	closeProbers(built)
	a.log.Error("config reload refused; the running config stays in force", "err", err)
	var cerrs config.Errors
	var berr *buildError
	if errors.As(err, &cerrs) || errors.As(err, &berr) || nightowl.ErrorCode(err) == nightowl.EInvalid {
		return InvalidConfig(err)
	}
	// Not the config's fault (the file could not be read): the API says
	// "internal" and the log has the detail.
	return err
}

func closeProbers(checks []nightowl.Check) {
	for _, c := range checks {
		if cl, ok := c.Prober.(io.Closer); ok {
			cl.Close()
		}
	}
}

// buildError is a check whose probe could not be built from a valid config
// (an unreadable ca_file, say): the config's fault, reported at its place.
type buildError struct{ msg string }

func (e *buildError) Error() string { return e.msg }

// invalidConfig is a config that failed to load, as the API reports it.
type invalidConfig struct {
	err     *nightowl.Error
	details []string
}

func (e invalidConfig) Error() string     { return e.err.Message + ":\n" + strings.Join(e.details, "\n") }
func (e invalidConfig) Unwrap() error     { return e.err }
func (e invalidConfig) Details() []string { return e.details }

// InvalidConfig wraps config errors as a domain error with one detail per
// problem.
func InvalidConfig(err error) error {
	var details []string
	var errs config.Errors
	if errors.As(err, &errs) {
		for _, e := range errs {
			details = append(details, e.Error())
		}
	} else {
		details = []string{err.Error()}
	}
	return invalidConfig{
		err:     nightowl.Errorf(nightowl.EInvalid, "config refused, the running config stays in force: %d error(s)", len(details)),
		details: details,
	}
}

// pageSettings is what the config in force says of the status page.
func (a *App) pageSettings() statuspage.Settings {
	c := a.Config()
	return statuspage.Settings{Title: c.Server.Title, URL: c.Server.PublicURL, Components: c.Components, HasBadge: c.HasBadge}
}

// Logger is the server's log, as server.log says when Options.LogOutput
// was given.
func (a *App) Logger() *slog.Logger { return a.log }

// Config returns the config in force. It never waits for a reload.
func (a *App) Config() *config.Config { return a.live.Load() }

// Checks returns every check with its state; tests use it.
func (a *App) Checks() []nightowl.CheckView { return a.engine.Checks() }

// Check returns a check with its state; tests use it.
func (a *App) Check(name string) (nightowl.CheckView, bool) { return a.engine.Check(name) }

// Store returns the store; tests use it.
func (a *App) Store() nightowl.Store { return a.store }

// PingURL returns the ping URL of a heartbeat check, as the API shows it.
func (a *App) PingURL(check string) (string, bool) { return a.backend().PingURL(check) }

// policy is the notify section as the alert manager uses it.
func policy(cfg *config.Config) notify.Policy {
	n := cfg.Notify
	groups := make(map[string][]string, len(n.Receivers))
	for g, rs := range n.Receivers {
		for _, r := range rs {
			groups[g] = append(groups[g], r.ID)
		}
	}
	return notify.Policy{
		Routes: n.Routes, Escalations: n.Escalations, Groups: groups,
		SendResolved: n.SendResolved, AckLinkTTL: n.AckLinkTTL,
	}
}

// buildTargets builds every configured receiver.
func buildTargets(cfg *config.Config, log *slog.Logger) (map[string]notify.Target, error) {
	deps := kit.Deps{
		Client: kit.NewHTTPClient(),
		Logger: log,
		SMTP:   cfg.Notify.SMTP,
	}
	out := make(map[string]notify.Target)
	for _, rs := range cfg.Notify.Receivers {
		for _, r := range rs {
			n, err := r.Spec.Notifier(deps)
			if err != nil {
				return nil, &buildError{fmt.Sprintf("%s:%d:%d: notify.receivers.%s.%s: %v",
					cfg.File, r.Pos.Line, r.Pos.Col, r.ID, r.Kind, err)}
			}
			out[r.ID] = notify.Target{Kind: r.Kind, Notifier: n}
		}
	}
	return out, nil
}

// ackKeySize is the length of the key that signs acknowledgement links,
// and of the one that signs the sign-in form's tokens.
const ackKeySize = 32

// loginKeyName is the store's name of the key that signs the sign-in
// form's tokens.
const loginKeyName = "login_form_key"

// factorKeyName is the store's name of the key that seals the TOTP keys
// of second factors (access.Options.FactorKey).
const factorKeyName = "second_factor_key"

// startAlerting builds the alert manager and the notification sender. The
// key that signs acknowledgement links is made once and kept in the store,
// so that links outlive restarts.
func (a *App) startAlerting(ctx context.Context, cfg *config.Config, em *engine.Metrics) error {
	targets, err := buildTargets(cfg, a.log)
	if err != nil {
		return InvalidConfig(err)
	}
	a.targets.Store(&targets)
	if err := a.startContacts(); err != nil {
		return err
	}
	key, err := a.store.Secret(ctx, "ack_link_key", ackKeySize)
	if err != nil {
		return fmt.Errorf("read acknowledgement link key: %w", err)
	}
	if a.signer, err = acklink.New(key); err != nil {
		return err
	}
	metrics := notify.NewMetrics(a.registry)
	a.registry.MustRegister(notify.OutboxCollector{Store: a.store, Clock: a.opts.Clock, Receivers: func() []string {
		return slices.Sorted(maps.Keys(*a.targets.Load()))
	}})
	a.sender, err = notify.NewSender(notify.SenderOptions{
		Store: a.store, Clock: a.opts.Clock, Logger: a.log, Owner: a.nodeName(),
		Targets:     a.target,
		GiveUpAfter: cfg.Notify.GiveUpAfter,
		Metrics:     metrics,
	})
	if err != nil {
		return err
	}
	a.alerts, err = notify.NewManager(ctx, notify.ManagerOptions{
		Store: a.store, Clock: a.opts.Clock, Logger: a.log, Policy: policy(cfg),
		Signer: a.signer, PublicURL: cfg.Server.PublicURL, Queued: a.sender.Wake,
		Fired: a.alertFired, Owns: a.ownsFunc(), People: people{a},
		Saved: func(reason string) { em.Saved.WithLabelValues(reason).Inc() },
	})
	if err != nil {
		return fmt.Errorf("load alerts: %w", err)
	}
	return nil
}

// Alerts returns the alert manager, for tests.
func (a *App) Alerts() *notify.Manager { return a.alerts }

// Maintenance returns the maintenance runner; the web layer and tests use it.
func (a *App) Maintenance() *maintenance.Runner { return a.maint }

// Access returns the people and tokens service; tests make users with it.
func (a *App) Access() *access.Service { return a.access }
