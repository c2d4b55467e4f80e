package config

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/nightowl/nightowl"
)

// maxComponentName bounds a component's name: it is a heading on the status
// page, not a description.
const maxComponentName = 64

// The values of incidents.auto_open.
const (
	AutoOpenOff      = "off"
	AutoOpenCritical = "critical"
)

// Incidents is the incidents section.
type Incidents struct {
	// AutoOpen is "critical" to open an incident when a critical alert
	// fires on a check of a component, or "off" (the default).
	AutoOpen string `yaml:"auto_open"`
}

// componentKeys is the shape of one component.
type componentKeys struct {
	Name        string             `yaml:"name"`
	Description string             `yaml:"description"`
	Checks      *nightowl.Selector `yaml:"checks"`
	DependsOn   []string           `yaml:"depends_on"`
	Alerts      []alertMatchKeys   `yaml:"alerts"`
	// ShowResponseTime puts the component's response-time chart on the
	// public status page.
	ShowResponseTime bool `yaml:"show_response_time"`
}

// alertMatchKeys select the alerts of an integration that belong to a
// component.
type alertMatchKeys struct {
	Integration string            `yaml:"integration"`
	Match       map[string]string `yaml:"match"`
}

// components decodes the components section against the checks in sc:
// each component selects some of them. n is nil when the file has no such
// section.
func (d *decoder) components(n *yaml.Node, sc *scope, integrations []string) []nightowl.Component {
	// Names are compared without case: "website" and "Website" side by
	// side on a status page would only confuse.
	l := namedList{path: "components", kind: "component", notList: "must be a list of components", foldCase: true}
	out, r := decodeNamed(d, n, l, func(n *yaml.Node, path string) nightowl.Component {
		return d.component(n, path, sc, integrations)
	}, func(c nightowl.Component) string { return c.Name })
	names := make([]string, len(out))
	deps := make([][]string, len(out))
	written := map[string]bool{}
	for w := range r.written {
		written[strings.ToLower(w)] = true
	}
	for i, c := range out {
		names[i], deps[i] = c.Name, c.DependsOn
	}
	graph := dependencyGraph{section: "components", kind: "component", names: names, deps: deps, fold: true,
		known: func(name string) bool { return written[strings.ToLower(name)] },
		suggest: func(name string) string {
			return strings.Replace(suggest(name, r.names), "checks: ", "components: ", 1)
		}, none: r.none}
	for i, kept := range d.dependencies(graph) {
		out[i].DependsOn = kept
	}
	return out
}

func (d *decoder) component(n *yaml.Node, path string, sc *scope, integrations []string) nightowl.Component {
	var c nightowl.Component
	var k componentKeys
	if !d.namedItem(n, path, &k) {
		return c
	}
	c.Name = d.itemName(n, path, k.Name, badComponentName)
	c.Description = k.Description
	c.DependsOn = k.DependsOn
	c.ShowResponseTime = k.ShowResponseTime

	c.Alerts = d.alertMatches(k.Alerts, path+".alerts", integrations)
	cpath := path + ".checks"
	if k.Checks == nil && len(k.Alerts) == 0 && !d.HasError(cpath) && !d.HasError(path+".alerts") {
		d.Errorf(n, cpath, "required: the checks that make up the component, by labels, names or both (or alerts: of integrations)")
		return c
	}
	if k.Checks == nil {
		if k.ShowResponseTime {
			// Alerts sent in by other tools carry no durations: the
			// chart would stay empty.
			rpath := path + ".show_response_time"
			d.Errorf(d.Locate(rpath), rpath, "needs checks: alerts of integrations have no response times to chart")
		}
		return c
	}
	c.Checks = d.selector(k.Checks, n, cpath, sc)
	d.inScope(&c.Checks, cpath, sc)
	return c
}

// alertMatches checks the alerts key of a component: each names an
// integration of the config.
func (d *decoder) alertMatches(keys []alertMatchKeys, path string, integrations []string) []nightowl.AlertMatch {
	var out []nightowl.AlertMatch
	for i, k := range keys {
		ipath := indexPath(path, i) + ".integration"
		switch {
		case d.HasError(ipath):
		case k.Integration == "":
			d.Errorf(d.Locate(indexPath(path, i)), ipath, "required: the integration whose alerts these are")
		case !slices.Contains(integrations, k.Integration):
			d.Errorf(d.Locate(ipath), ipath, "no integration named %q (integrations: %s)", k.Integration, strings.Join(integrations, ", "))
		}
		for name := range k.Match {
			if !labelNameRE.MatchString(name) {
				lpath := indexPath(path, i) + ".match." + name
				d.Errorf(d.Keys[lpath], lpath, "label names must match [a-zA-Z_][a-zA-Z0-9_]*")
			}
		}
		out = append(out, nightowl.AlertMatch{Integration: k.Integration, Match: k.Match})
	}
	return out
}

// badComponentName says what is wrong with a component's name, or "".
func badComponentName(name string) string {
	switch {
	case utf8.RuneCountInString(name) > maxComponentName:
		return fmt.Sprintf("must be at most %d characters", maxComponentName)
	case strings.TrimSpace(name) != name:
		return "must not begin or end with spaces"
	case strings.ContainsFunc(name, func(r rune) bool { return r == ',' || unicode.IsControl(r) }):
		// nightowl incident open --components takes a comma-separated
		// list of them.
		return "must not contain commas or control characters"
	}
	return ""
}

// incidents checks the incidents section, decoded with the top level.
func (d *decoder) incidents(in *Incidents) {
	const path = "incidents.auto_open"
	switch in.AutoOpen {
	case "":
		in.AutoOpen = AutoOpenOff
	case AutoOpenOff, AutoOpenCritical:
	default:
		if !d.HasError(path) {
			d.Errorf(d.Locate(path), path, "must be off or critical, not %q", in.AutoOpen)
		}
	}
}

// HasBadge reports whether the public badge of the named check is served:
// when the check says so with badge, and otherwise when a component of the
// status page selects it. A check that is on no component is internal: its
// badge would only tell strangers that a check of that name exists. False
// for no such check.
func (c *Config) HasBadge(name string) bool {
	for i := range c.Checks {
		ch := &c.Checks[i]
		if ch.Name != name {
			continue
		}
		if ch.Badge != nil {
			return *ch.Badge
		}
		for _, comp := range c.Components {
			if comp.Checks.Matches(ch.Name, ch.Labels) {
				return true
			}
		}
		return false
	}
	return false
}
