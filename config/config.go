// Package config loads and validates nightowl.yaml. It decodes the YAML node
// tree with internal/yamlnode, so that every problem is reported as
// FILE:LINE:COL: KEY: MESSAGE and ${VAR} and NAME_file secrets are expanded;
// here live nightowl's schema and its checks. It applies the defaults, decodes
// each check's type block into the struct that probe.Types names (and each
// receiver's into the one notify/receivers names), and compiles the
// assertions. A config is either complete and valid or rejected
// with every problem found: nothing half-applies.
//
// Docs for users: docs/config.md.
package config

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/assert"
	"github.com/nightowl/nightowl/ingest"
	"github.com/nightowl/nightowl/oncall"
	"github.com/nightowl/nightowl/probe"
)

// Defaults applied when the config does not say otherwise.
const (
	DefaultListen = "127.0.0.1:8080"
	DefaultTitle  = "nightowl"
	// DefaultForwardedHeader is the header that nginx, HAProxy, Caddy
	// and Traefik append the client's address to.
	DefaultForwardedHeader = "X-Forwarded-For"
	DefaultSQLite          = "nightowl.db"
	DefaultInterval        = 30 * time.Second
	DefaultTimeout         = 10 * time.Second
	DefaultFailAfter       = 2
	DefaultRecoverAfter    = 1
	// A check is flapping when its status changed more than
	// DefaultFlapChanges times within DefaultFlapWindow.
	DefaultFlapChanges = 5
	DefaultFlapWindow  = 15 * time.Minute
)

// Options are what Load and Parse read from outside the file. The zero value
// uses the process environment and the file system.
type Options struct {
	// Getenv looks up ${VAR}; os.LookupEnv when nil.
	Getenv func(string) (string, bool)
	// ReadFile reads NAME_file secrets (and the config file, in Load);
	// when nil, regular files only, of at most MaxFileSize bytes (one
	// more is read, to tell a file too big).
	ReadFile func(string) ([]byte, error)
	// Compiler compiles assertions. Passing the running one on reload shares
	// the programs of unchanged expressions; a new one is used when nil.
	Compiler *assert.Compiler
}

func (o Options) withDefaults() Options {
	if o.Getenv == nil {
		o.Getenv = os.LookupEnv
	}
	if o.ReadFile == nil {
		o.ReadFile = readLimited
	}
	if o.Compiler == nil {
		o.Compiler = &assert.Compiler{}
	}
	return o
}

// Config is a loaded, valid nightowl.yaml.
type Config struct {
	File string // as given to Load or Parse
	Dir  string // relative paths in the file resolve against it

	Server   Server
	Storage  Storage
	Defaults Defaults
	Checks   []Check
	Notify   Notify
	// Maintenance are the configured windows in file order, with the
	// defaults applied.
	Maintenance []nightowl.Window
	// Components are what the status page shows, in file order
	// (components.go).
	Components []nightowl.Component
	Incidents  Incidents
	// Actions are the runbook actions in file order, each one's Params
	// sorted by name (actions.go).
	Actions []nightowl.Action
	// Schedules say who is on call, in file order.
	Schedules []oncall.Schedule
	// BuddyDuringIncidents makes every action need an approval while an
	// incident is open; default true.
	BuddyDuringIncidents bool
	// Cluster and Watchdog are for several nodes on one PostgreSQL
	// store (cluster.go).
	Cluster  Cluster
	Watchdog Watchdog
	// Audit is the audit section (audit.go).
	Audit Audit
	// Access is how people sign in (access.go).
	Access Access
	// Integrations are the tools that send alerts in, in file order
	// (integrations.go).
	Integrations []ingest.Integration
}

// Server is the server section.
type Server struct {
	Listen string `yaml:"listen"`
	// PublicURL is where people reach nightowl, for links in notifications;
	// without a trailing slash.
	PublicURL string `yaml:"public_url"`
	Title     string `yaml:"title"`
	// Anonymous is the role of requests that give no credentials: none
	// (every API route needs a session or token), or viewer, for a
	// read-only API and dashboard without signing in.
	Anonymous nightowl.Role `yaml:"anonymous"`
	// TrustedProxies are the reverse proxies whose ForwardedHeader names
	// the client; no others are believed.
	TrustedProxies []CIDR `yaml:"trusted_proxies"`
	// ForwardedHeader is the one header the trusted proxies write the
	// client's address in, X-Forwarded-For (the default) or Forwarded;
	// the other is ignored, since proxies pass on the one they do not
	// write as the client sent it.
	ForwardedHeader string `yaml:"forwarded_header"`
	// Log is how the server logs.
	Log Log `yaml:"log"`
	// MetricsListen, when set, is a second address that serves /metrics
	// (and /healthz) without credentials, for a scraper: it keeps
	// answering while the store does not, since no token is looked up.
	MetricsListen string `yaml:"metrics_listen"`
}

// Log is server.log: the format of the server's log lines on standard
// error and the least level written.
type Log struct {
	// Format is text (key=value, the default) or json (one object a
	// line, for a log shipper).
	Format string `yaml:"format"`
	// Level is debug, info (the default), warn or error.
	Level string `yaml:"level"`
}

// Handler returns the slog handler that writes w as l says; debug lowers
// the level to debug whatever l says (serve --debug).
func (l Log) Handler(w io.Writer, debug bool) slog.Handler {
	var level slog.Level
	level.UnmarshalText([]byte(l.Level)) // validated: cannot fail
	if debug {
		level = slog.LevelDebug
	}
	opts := &slog.HandlerOptions{Level: level}
	if l.Format == "json" {
		return slog.NewJSONHandler(w, opts)
	}
	return slog.NewTextHandler(w, opts)
}

// Proxies returns TrustedProxies as prefixes.
func (s Server) Proxies() []netip.Prefix {
	out := make([]netip.Prefix, len(s.TrustedProxies))
	for i, c := range s.TrustedProxies {
		out[i] = c.Prefix
	}
	return out
}

// CIDR is an address range, 10.0.0.0/8 or fd00::/8; a bare address is the
// range of that address alone.
type CIDR struct{ netip.Prefix }

// UnmarshalText implements encoding.TextUnmarshaler.
func (c *CIDR) UnmarshalText(b []byte) error {
	s := string(b)
	if ip, err := netip.ParseAddr(s); err == nil && ip.Zone() == "" {
		ip = ip.Unmap()
		c.Prefix = netip.PrefixFrom(ip, ip.BitLen())
		return nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return fmt.Errorf("must be an IP address or a CIDR range such as 10.0.0.0/8, not %q", s)
	}
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	c.Prefix = p.Masked()
	return nil
}

// Storage is the storage section: exactly one of SQLite (a file path,
// resolved against the config's directory) and Postgres (a DSN).
type Storage struct {
	SQLite   string `yaml:"sqlite"`
	Postgres string `yaml:"postgres" secret:"true"`
	// SQLiteBackup makes backups of the SQLite store on a schedule; none
	// when Every is 0.
	SQLiteBackup SQLiteBackup `yaml:"sqlite_backup"`
}

// SQLiteBackup is storage.sqlite_backup: every Every, the server writes a
// backup of its SQLite store into Dir (nightowl backup's, named by its UTC
// time) and keeps the newest Keep of them.
type SQLiteBackup struct {
	Every time.Duration `yaml:"every"`
	Keep  int           `yaml:"keep"`
	Dir   string        `yaml:"dir"`
}

// Defaults and bounds of storage.sqlite_backup.
const (
	DefaultBackupKeep = 7
	MinBackupEvery    = time.Minute
)

// Defaults is the defaults section, inherited by every check.
type Defaults struct {
	Interval     time.Duration `yaml:"interval"`
	Timeout      time.Duration `yaml:"timeout"`
	FailAfter    int           `yaml:"fail_after"`
	RecoverAfter int           `yaml:"recover_after"`
	Flap         Flap          `yaml:"flap"`
}

// Flap is when a check is flapping: its status changed more than Changes
// times within Window. Zero Changes turns flap detection off.
type Flap struct {
	Changes int           `yaml:"changes"`
	Window  time.Duration `yaml:"window"`
}

// Check is one configured check, with the defaults applied.
type Check struct {
	Name   string
	Type   string // a key of probe.Types
	Labels map[string]string

	Interval     time.Duration
	Timeout      time.Duration
	FailAfter    int
	RecoverAfter int
	Flap         Flap
	Paused       bool
	// OnDown names the action to run when the check goes down; empty for
	// none.
	OnDown string
	// DependsOn names the checks this one depends on, each once.
	DependsOn []string
	// Badge says whether /badge/NAME.svg answers for the check; nil
	// leaves it to HasBadge's default.
	Badge *bool

	// Spec is the decoded, validated type block.
	Spec probe.Spec
	// Assertions are in file order; the type's default assertion when the
	// check gives none.
	Assertions []*assert.Assertion
	// Fingerprint is a hex SHA-256 over everything that affects how the
	// check runs, after expansion: equal configs give equal fingerprints, so
	// a reload keeps the state of checks whose fingerprint is unchanged.
	Fingerprint string

	Pos Pos // where the check begins in the file
}

// Load reads the config file at path and parses it. A file that cannot be
// read is an ordinary wrapped error (errors.Is(err, fs.ErrNotExist) works);
// an invalid one is Errors.
func Load(path string, opts Options) (*Config, error) {
	return LoadContext(context.Background(), path, opts)
}

// Parse parses and validates a config. name is the file name used in errors;
// relative paths in the config resolve against its directory. The error, if
// any, is Errors.
func Parse(name string, data []byte, opts Options) (*Config, error) {
	return parse(context.Background(), name, data, opts)
}

func parse(ctx context.Context, name string, data []byte, opts Options) (*Config, error) {
	opts = opts.withDefaults()
	if len(data) > MaxFileSize {
		return nil, Errors{{File: name, Line: 1, Col: 1, Message: fmt.Sprintf("the file is larger than %d MiB: refused unread", MaxFileSize>>20)}}
	}
	d := newDecoder(ctx, name, data, opts)
	cfg := d.config()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("load config %s: %w", name, err)
	}
	if errs := d.Errors(); errs != nil {
		return nil, errs
	}
	return cfg, nil
}

// top is the shape of the whole file; checks are decoded separately, once
// the defaults they inherit are known, and so are notify (notify.go) and
// maintenance (maintenance.go), which name checks.
type top struct {
	Server    Server    `yaml:"server"`
	Storage   Storage   `yaml:"storage"`
	Defaults  Defaults  `yaml:"defaults"`
	Incidents Incidents `yaml:"incidents"`
	Cluster   Cluster   `yaml:"cluster"`
	Watchdog  Watchdog  `yaml:"watchdog"`
	Audit     Audit     `yaml:"audit"`
	Access    Access    `yaml:"access"`

	BuddyDuringIncidents bool `yaml:"buddy_during_incidents"`
}

func (d *decoder) config() *Config {
	root, ok := d.parseYAML()
	if !ok {
		return nil
	}
	t := top{
		Server: Server{Listen: DefaultListen, Title: DefaultTitle, ForwardedHeader: DefaultForwardedHeader},
		Defaults: Defaults{
			Interval:     DefaultInterval,
			Timeout:      DefaultTimeout,
			FailAfter:    DefaultFailAfter,
			RecoverAfter: DefaultRecoverAfter,
			Flap:         Flap{Changes: DefaultFlapChanges, Window: DefaultFlapWindow},
		},
		BuddyDuringIncidents: DefaultBuddyDuringIncidents,
		Access:               Access{Local: true},
	}
	var checks, notifyNode, maintenance, components, actions, schedules, integrations *yaml.Node
	if root != nil {
		d.DecodeStruct(root, reflect.ValueOf(&t).Elem(), "", []string{"checks", "notify", "maintenance", "components", "actions", "schedules", "integrations"}, func(key string, p pair) bool {
			switch key {
			case "integrations":
				integrations = p.Val
			case "schedules":
				schedules = p.Val
			case "checks":
				checks = p.Val
			case "notify":
				notifyNode = p.Val
			case "maintenance":
				maintenance = p.Val
			case "components":
				components = p.Val
			case "actions":
				actions = p.Val
			default:
				return false
			}
			return true
		})
	}
	cfg := &Config{File: d.File(), Dir: d.Dir(), Server: t.Server, Storage: t.Storage, Defaults: t.Defaults, Incidents: t.Incidents,
		BuddyDuringIncidents: t.BuddyDuringIncidents, Cluster: t.Cluster, Watchdog: t.Watchdog, Audit: t.Audit, Access: t.Access}
	d.server(&cfg.Server)
	d.storage(&cfg.Storage)
	d.defaults(&cfg.Defaults)
	var checkNames *roster
	cfg.Checks, checkNames = d.checks(checks, cfg.Defaults)
	cfg.Notify = d.notify(notifyNode)
	// Maintenance, components and actions name checks; the notify section
	// names none, and adds no errors under checks.
	sc := d.newScope(cfg.Checks, checkNames)
	d.dependsOn(cfg.Checks, sc)
	cfg.Maintenance = d.maintenance(maintenance, sc)
	cfg.Integrations = d.integrations(integrations)
	integrationNames := make([]string, 0, len(cfg.Integrations))
	for _, in := range cfg.Integrations {
		if in.Name != "" {
			integrationNames = append(integrationNames, in.Name)
		}
	}
	cfg.Components = d.components(components, sc, integrationNames)
	d.incidents(&cfg.Incidents)
	d.cluster(cfg)
	d.audit(&cfg.Audit)
	d.access(&cfg.Access)
	var as *actionScope
	cfg.Actions, as = d.actions(actions, sc)
	d.onDown(cfg.Checks, as)
	cfg.Schedules = d.schedules(schedules)
	d.scheduleSteps(cfg)
	return cfg
}

// parseYAML returns the root mapping, nil for an empty file.
func (d *decoder) parseYAML() (*yaml.Node, bool) {
	root, ok := d.Parse(MaxNodes)
	if root == nil {
		return nil, ok
	}
	if root.Kind != yaml.MappingNode {
		d.Errorf(root, "", "must be a mapping of server, storage, defaults, checks, notify and maintenance")
		return nil, false
	}
	return root, true
}

func (d *decoder) server(s *Server) {
	if s.Listen == "" {
		s.Listen = DefaultListen
	} else if !hostPort(s.Listen) {
		d.Errorf(d.Locate("server.listen"), "server.listen", "must be host:port, such as 127.0.0.1:8080 or :8080")
	}
	if s.Title == "" {
		s.Title = DefaultTitle
	}
	switch s.Anonymous {
	case "", nightowl.RoleViewer:
	default:
		d.Errorf(d.Locate("server.anonymous"), "server.anonymous",
			"must be viewer, or left out: acting on an outage needs a person who signed in")
	}
	switch {
	case s.ForwardedHeader == "":
		s.ForwardedHeader = DefaultForwardedHeader
	case strings.EqualFold(s.ForwardedHeader, "X-Forwarded-For"):
		s.ForwardedHeader = "X-Forwarded-For"
	case strings.EqualFold(s.ForwardedHeader, "Forwarded"):
		s.ForwardedHeader = "Forwarded"
	default:
		d.Errorf(d.Locate("server.forwarded_header"), "server.forwarded_header",
			"must be X-Forwarded-For or Forwarded: the one header the trusted proxies write")
	}
	switch s.Log.Format {
	case "":
		s.Log.Format = "text"
	case "text", "json":
	default:
		d.Errorf(d.Locate("server.log.format"), "server.log.format", "must be text or json")
	}
	switch s.Log.Level {
	case "":
		s.Log.Level = "info"
	case "debug", "info", "warn", "error":
	default:
		d.Errorf(d.Locate("server.log.level"), "server.log.level", "must be debug, info, warn or error")
	}
	if s.MetricsListen != "" && !hostPort(s.MetricsListen) {
		d.Errorf(d.Locate("server.metrics_listen"), "server.metrics_listen", "must be host:port, such as 127.0.0.1:9810")
	}
	if s.PublicURL != "" {
		if msg := checkURL(s.PublicURL); msg != "" {
			d.Errorf(d.Locate("server.public_url"), "server.public_url", "%s", msg)
		}
		s.PublicURL = strings.TrimRight(s.PublicURL, "/")
	}
}

func (d *decoder) storage(s *Storage) {
	if s.SQLite != "" && s.Postgres != "" {
		d.Errorf(d.Locate("storage.postgres"), "storage.postgres", "only one of sqlite, postgres may be given")
		return
	}
	b := &s.SQLiteBackup
	given := *b != SQLiteBackup{}
	if s.Postgres != "" {
		if given {
			d.Errorf(d.Locate("storage.sqlite_backup"), "storage.sqlite_backup",
				"only with storage.sqlite: back PostgreSQL up with pg_dump")
		}
		return
	}
	if s.SQLite == "" {
		s.SQLite = DefaultSQLite
	}
	// SQLite's own names for a database that is not a plain file stay as
	// they are.
	plain := s.SQLite != ":memory:" && !strings.HasPrefix(s.SQLite, "file:")
	if plain {
		s.SQLite = d.ResolvePath(s.SQLite)
	}
	if !given {
		return
	}
	switch {
	case !plain:
		d.Errorf(d.Locate("storage.sqlite_backup"), "storage.sqlite_backup", "needs storage.sqlite to be a file")
	case b.Every < MinBackupEvery:
		d.Errorf(d.Locate("storage.sqlite_backup.every"), "storage.sqlite_backup.every", "must be at least %s", nightowl.FormatDuration(MinBackupEvery))
	}
	switch {
	case b.Keep == 0:
		b.Keep = DefaultBackupKeep
	case b.Keep < 1:
		d.Errorf(d.Locate("storage.sqlite_backup.keep"), "storage.sqlite_backup.keep", "must be at least 1")
	}
	if b.Dir == "" {
		b.Dir = filepath.Join(filepath.Dir(s.SQLite), "backups")
	} else {
		b.Dir = d.ResolvePath(b.Dir)
	}
}

func (d *decoder) defaults(def *Defaults) {
	ok := true
	ok = d.positive("defaults.interval", def.Interval) && ok
	ok = d.positive("defaults.timeout", def.Timeout) && ok
	if ok && def.Timeout > def.Interval {
		if v := d.Vals["defaults.timeout"]; v != nil && !isNull(v) {
			d.Errorf(v, "defaults.timeout", "must not exceed interval (%s)", nightowl.FormatDuration(def.Interval))
		} else {
			// As for a check: a short interval brings the timeout that
			// nobody wrote down with it.
			def.Timeout = def.Interval
		}
	}
	d.atLeastOne("defaults.fail_after", def.FailAfter)
	d.atLeastOne("defaults.recover_after", def.RecoverAfter)
	d.flap(&def.Flap, "defaults.flap", true, true)
}

// flap checks the keys of a flap block that it is told were given:
// changes not negative (0 is off), and a window of at least a second.
func (d *decoder) flap(f *Flap, path string, changes, window bool) {
	if cpath := path + ".changes"; changes && f.Changes < 0 && !d.HasError(cpath) {
		d.Errorf(d.Locate(cpath), cpath, "must not be negative (0 turns flap detection off)")
	}
	if wpath := path + ".window"; window && f.Window < time.Second && !d.HasError(wpath) {
		d.Errorf(d.Locate(wpath), wpath, "must be at least 1s")
	}
}

func (d *decoder) positive(path string, v time.Duration) bool {
	if v <= 0 && !d.HasError(path) {
		d.Errorf(d.Locate(path), path, "must be positive")
		return false
	}
	return v > 0
}

func (d *decoder) atLeastOne(path string, v int) {
	if v < 1 && !d.HasError(path) {
		d.Errorf(d.Locate(path), path, "must be at least 1")
	}
}

// DomainChecks returns the checks as the engine sees them. Prober is left nil:
// app/ builds it from Spec.
func (c *Config) DomainChecks() []nightowl.Check {
	out := make([]nightowl.Check, len(c.Checks))
	for i, ch := range c.Checks {
		as := make([]nightowl.Assertion, len(ch.Assertions))
		for j, a := range ch.Assertions {
			as[j] = a
		}
		out[i] = nightowl.Check{
			Name:         ch.Name,
			Type:         ch.Type,
			Labels:       ch.Labels,
			Interval:     ch.Interval,
			Timeout:      ch.Timeout,
			FailAfter:    ch.FailAfter,
			RecoverAfter: ch.RecoverAfter,
			Flap:         nightowl.Flap{Changes: ch.Flap.Changes, Window: ch.Flap.Window},
			Paused:       ch.Paused,
			OnDown:       ch.OnDown,
			DependsOn:    ch.DependsOn,
			Passive:      probe.Types[ch.Type].Passive,
			Assertions:   as,
			Fingerprint:  ch.Fingerprint,
		}
		if hb, ok := ch.Spec.(*probe.Heartbeat); ok {
			out[i].Grace = hb.Grace
		}
	}
	return out
}

// Check returns the check with the given name, or nil.
func (c *Config) Check(name string) *Check {
	for i := range c.Checks {
		if c.Checks[i].Name == name {
			return &c.Checks[i]
		}
	}
	return nil
}
