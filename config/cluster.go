package config

import (
	"net/url"
	"regexp"
	"time"
)

// nodeNameRE admits host names and host:port.
var nodeNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)

// Cluster is the cluster section: it matters only with storage.postgres,
// where every `nightowl serve` on the same database is a node.
type Cluster struct {
	// Node names this process in the cluster; unique, and the same
	// across its restarts. Default: the host name and the port it
	// listens on.
	Node string `yaml:"node"`
	// NodeTimeout is the longest a dead node's checks go unrun: within
	// it they run on the others. Default 15s.
	NodeTimeout time.Duration `yaml:"node_timeout"`
	// Advertise is the address other nodes reach this one's API at;
	// default server.listen.
	Advertise string `yaml:"advertise"`
}

// Watchdog is the watchdog section: a dead man's switch outside the
// cluster, pinged while this node is healthy, so that the loss of every
// node is noticed too.
type Watchdog struct {
	URL   string        `yaml:"url" secret:"true"`
	Every time.Duration `yaml:"every"`
}

// Defaults of the cluster and watchdog sections.
const (
	DefaultNodeTimeout   = 15 * time.Second
	DefaultWatchdogEvery = time.Minute
)

func (d *decoder) cluster(cfg *Config) {
	c, w := &cfg.Cluster, &cfg.Watchdog
	if c.NodeTimeout == 0 {
		c.NodeTimeout = DefaultNodeTimeout
	} else if c.NodeTimeout < 3*time.Second && !d.HasError("cluster.node_timeout") {
		d.Errorf(d.Locate("cluster.node_timeout"), "cluster.node_timeout", "must be at least 3s, not %s", c.NodeTimeout)
	}
	if c.Node != "" && !nodeNameRE.MatchString(c.Node) && !d.HasError("cluster.node") {
		d.Errorf(d.Locate("cluster.node"), "cluster.node", "must be up to 128 letters, digits, \".\", \"_\", \":\" and \"-\", not %q", c.Node)
	}
	if w.URL == "" {
		if w.Every != 0 && !d.HasError("watchdog.every") {
			d.Errorf(d.Locate("watchdog.every"), "watchdog.every", "needs watchdog.url")
		}
		return
	}
	if u, err := url.Parse(w.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		if !d.HasError("watchdog.url") {
			// The URL may carry a token: the message does not repeat it.
			d.Errorf(d.Locate("watchdog.url"), "watchdog.url", "must be an http or https URL")
		}
	}
	if w.Every == 0 {
		w.Every = DefaultWatchdogEvery
	} else if w.Every < time.Second && !d.HasError("watchdog.every") {
		d.Errorf(d.Locate("watchdog.every"), "watchdog.every", "must be at least 1s, not %s", w.Every)
	}
}
