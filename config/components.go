package config

import (
	"reflect"
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
}

// components decodes the components section against the decoded checks:
// each component selects some of them. n is nil when the file has no such
// section.
func (d *decoder) components(n *yaml.Node, checks []Check) []nightowl.Component {
	const path = "components"
	if n == nil {
		return nil
	}
	n = resolve(n)
	d.vals[path] = n
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, path, "must be a list of components")
		return nil
	}
	sc := d.newScope(checks)
	out := make([]nightowl.Component, 0, len(n.Content))
	// Names are compared without case: "website" and "Website" side by
	// side on a status page would only confuse.
	first := map[string]*yaml.Node{}
	for i, item := range n.Content {
		cpath := indexPath(path, i)
		c := d.component(resolve(item), cpath, sc)
		if c.Name != "" {
			at := d.vals[cpath+".name"]
			key := strings.ToLower(c.Name)
			if f := first[key]; f != nil {
				d.errorf(at, cpath+".name", "duplicate component name (first used on line %d)", f.Line)
			} else {
				first[key] = at
			}
		}
		out = append(out, c)
	}
	return out
}

func (d *decoder) component(n *yaml.Node, path string, sc *scope) nightowl.Component {
	var c nightowl.Component
	d.vals[path] = n
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "must be a mapping")
		return c
	}
	var k componentKeys
	d.decodeStruct(n, reflect.ValueOf(&k).Elem(), path, nil, nil)

	npath := path + ".name"
	switch {
	case d.hasError(npath):
	case k.Name == "":
		at := n
		if v := d.vals[npath]; v != nil && !isNull(v) {
			at = v
		}
		d.errorf(at, npath, "required")
	case utf8.RuneCountInString(k.Name) > maxComponentName:
		d.errorf(d.locate(npath), npath, "must be at most %d characters", maxComponentName)
	case strings.TrimSpace(k.Name) != k.Name:
		d.errorf(d.locate(npath), npath, "must not begin or end with spaces")
	case strings.ContainsFunc(k.Name, func(r rune) bool { return r == ',' || unicode.IsControl(r) }):
		// nightowl incident open --components takes a comma-separated
		// list of them.
		d.errorf(d.locate(npath), npath, "must not contain commas or control characters")
	default:
		c.Name = k.Name
	}
	c.Description = k.Description

	cpath := path + ".checks"
	if k.Checks == nil && !d.hasError(cpath) {
		d.errorf(n, cpath, "required: the checks that make up the component, by labels, names or both")
		return c
	}
	c.Checks = d.selector(k.Checks, n, cpath, sc)
	d.inScope(&c.Checks, cpath, sc)
	return c
}

// incidents checks the incidents section, decoded with the top level.
func (d *decoder) incidents(in *Incidents) {
	const path = "incidents.auto_open"
	switch in.AutoOpen {
	case "":
		in.AutoOpen = AutoOpenOff
	case AutoOpenOff, AutoOpenCritical:
	default:
		if !d.hasError(path) {
			d.errorf(d.locate(path), path, "must be off or critical, not %q", in.AutoOpen)
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
