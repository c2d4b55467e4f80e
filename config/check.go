package config

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net"
	"net/url"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/assert"
	"github.com/nightowl/nightowl/probe"
)

// checkKeys are the keys of a check other than assert and the type block.
// Pointers tell a value given by the check from one it inherits.
type checkKeys struct {
	Name         string            `yaml:"name"`
	Labels       map[string]string `yaml:"labels"`
	Interval     *time.Duration    `yaml:"interval"`
	Timeout      *time.Duration    `yaml:"timeout"`
	FailAfter    *int              `yaml:"fail_after"`
	RecoverAfter *int              `yaml:"recover_after"`
	Flap         *flapKeys         `yaml:"flap"`
	Paused       bool              `yaml:"paused"`
	OnDown       *onDownKeys       `yaml:"on_down"`
	DependsOn    []string          `yaml:"depends_on"`
	Badge        *bool             `yaml:"badge"`
}

// flapKeys is a check's flap block: what it leaves out, it inherits.
type flapKeys struct {
	Changes *int           `yaml:"changes"`
	Window  *time.Duration `yaml:"window"`
}

// assertBlock is the long form of an assertion.
type assertBlock struct {
	Expr     string `yaml:"expr"`
	Severity string `yaml:"severity"`
}

var (
	checkNameRE     = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)
	labelNameRE     = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
	assertionNameRE = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)
)

// typeNames returns the check types, sorted, as messages list them.
func typeNames() []string {
	names := make([]string, 0, len(probe.Types))
	for name := range probe.Types {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// checks decodes the checks section, each check inheriting def; n is nil
// when the file has no such section.
func (d *decoder) checks(n *yaml.Node, def Defaults) ([]Check, *roster) {
	l := namedList{path: "checks", kind: "check", notList: "must be a list"}
	return decodeNamed(d, n, l, func(n *yaml.Node, path string) Check {
		return d.check(n, path, def)
	}, func(ch Check) string { return ch.Name })
}

func (d *decoder) check(n *yaml.Node, path string, def Defaults) Check {
	ch := Check{
		Pos:          Pos{n.Line, n.Column},
		Interval:     def.Interval,
		Timeout:      def.Timeout,
		FailAfter:    def.FailAfter,
		RecoverAfter: def.RecoverAfter,
		Flap:         def.Flap,
	}
	if n.Kind != yaml.MappingNode {
		d.Errorf(n, path, "must be a mapping")
		return ch
	}
	types := typeNames()
	var k checkKeys
	var blocks []pair
	var asserts *pair
	d.DecodeStruct(n, reflect.ValueOf(&k).Elem(), path, append([]string{"assert"}, types...), func(key string, p pair) bool {
		if key == "assert" {
			asserts = &p
			return true
		}
		if _, ok := probe.Types[key]; ok {
			blocks = append(blocks, p)
			return true
		}
		return false
	})

	ch.Name = d.itemName(n, path, k.Name, badName)

	for name := range k.Labels {
		if !labelNameRE.MatchString(name) {
			lpath := path + ".labels." + name
			d.Errorf(d.Keys[lpath], lpath, "label names must match [a-zA-Z_][a-zA-Z0-9_]*")
		}
	}
	ch.Labels = k.Labels

	if len(blocks) == 0 {
		d.Errorf(n, path, "one of %s is required", strings.Join(types, ", "))
	} else {
		for _, b := range blocks[1:] {
			d.Errorf(b.Key, joinPath(path, b.Key.Value), "only one of %s may be given", strings.Join(types, ", "))
		}
		ch.Type = blocks[0].Key.Value
		ch.Spec = d.spec(ch.Type, blocks[0].Val, joinPath(path, ch.Type))
	}

	d.thresholds(&ch, &k, path)
	ch.Paused = k.Paused
	ch.Badge = k.Badge
	ch.OnDown = d.onDownAction(k.OnDown, path+".on_down")
	ch.DependsOn = k.DependsOn

	if asserts != nil {
		ch.Assertions = d.assertions(asserts.Val, path+".assert", ch.Type)
	}
	given := len(ch.Assertions) > 0 || d.HasError(path+".assert")
	if t, ok := probe.Types[ch.Type]; ok && !given {
		for _, def := range t.Defaults {
			a, err := d.opts.Compiler.Compile(ch.Type, t.Facts, def.Name, def.Expr, def.Severity)
			if err != nil {
				// The probe table's own default does not compile: a bug,
				// but one to report rather than to crash on.
				d.Errorf(n, path, "default assertion %s of type %s: %v", def.Name, ch.Type, err)
				continue
			}
			ch.Assertions = append(ch.Assertions, a)
		}
	}
	if ch.Spec != nil {
		ch.Fingerprint = d.fingerprint(&ch)
	}
	return ch
}

// spec decodes a type block into the type's struct and reports what its
// Validate finds, each at the key it names.
func (d *decoder) spec(typ string, n *yaml.Node, path string) probe.Spec {
	spec := probe.Types[typ].New()
	d.block(spec, n, path)
	return spec
}

// validator is a decoded block that checks itself: a probe.Spec or a
// receiver's kit.Spec.
type validator interface {
	Validate() []nightowl.FieldError
}

// block decodes n into spec, a pointer to a block's struct, and reports
// what its Validate finds, each at the key it names.
func (d *decoder) block(spec validator, n *yaml.Node, path string) {
	d.Decode(n, reflect.ValueOf(spec), path)
	if d.Bad(path) {
		// Not a mapping: whatever Validate says would be noise.
		return
	}
	d.fieldErrors(path, spec.Validate())
}

// fieldErrors reports a block's own errors, each under its key within
// path, unless that key has an error already.
func (d *decoder) fieldErrors(path string, errs []nightowl.FieldError) {
	for _, fe := range errs {
		fpath := path
		if fe.Key != "" {
			fpath = joinPath(path, fe.Key)
		}
		if d.HasError(fpath) {
			continue
		}
		d.Errorf(d.Locate(fpath), fpath, "%s", fe.Message)
	}
}

func (d *decoder) thresholds(ch *Check, k *checkKeys, path string) {
	ipath, tpath := path+".interval", path+".timeout"
	intervalOK, timeoutOK := true, true
	if k.Interval != nil {
		ch.Interval = *k.Interval
		intervalOK = d.positive(ipath, ch.Interval)
	}
	if k.Timeout != nil {
		ch.Timeout = *k.Timeout
		timeoutOK = d.positive(tpath, ch.Timeout)
	}
	if intervalOK && timeoutOK && ch.Timeout > ch.Interval {
		if k.Timeout != nil {
			d.Errorf(d.Locate(tpath), tpath, "must not exceed interval (%s)", nightowl.FormatDuration(ch.Interval))
		} else {
			// A check that runs more often than the default timeout
			// gets a timeout that fits, rather than an error for a key
			// it never wrote.
			ch.Timeout = ch.Interval
		}
	}
	if probe.Types[ch.Type].Passive {
		// A heartbeat's grace is its damping: one missed deadline is
		// the failure, not the first of fail_after.
		ch.FailAfter, ch.RecoverAfter = 1, 1
	}
	if k.FailAfter != nil {
		ch.FailAfter = *k.FailAfter
		d.atLeastOne(path+".fail_after", ch.FailAfter)
	}
	if k.RecoverAfter != nil {
		ch.RecoverAfter = *k.RecoverAfter
		d.atLeastOne(path+".recover_after", ch.RecoverAfter)
	}
	if k.Flap != nil {
		if k.Flap.Changes != nil {
			ch.Flap.Changes = *k.Flap.Changes
		}
		if k.Flap.Window != nil {
			ch.Flap.Window = *k.Flap.Window
		}
		d.flap(&ch.Flap, path+".flap", k.Flap.Changes != nil, k.Flap.Window != nil)
	}
}

// assertions decodes and compiles the assert mapping. typ is empty when the
// check has no type block; the assertions are then checked but not compiled.
func (d *decoder) assertions(n *yaml.Node, path, typ string) []*assert.Assertion {
	n = resolve(n)
	d.Vals[path] = n
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		d.Errorf(n, path, "must be a mapping of assertion names to expressions")
		return nil
	}
	var out []*assert.Assertion
	for _, e := range d.Pairs(n, path) {
		name := e.Key.Value
		apath := joinPath(path, name)
		d.Keys[apath] = e.Key
		if !assertionNameRE.MatchString(name) {
			d.Errorf(e.Key, apath, "assertion names must match [a-z_][a-z0-9_]*")
			continue
		}
		v := resolve(e.Val)
		d.Vals[apath] = v
		src, sev := "", nightowl.SeverityCritical
		at, epath := v, apath
		switch v.Kind {
		case yaml.ScalarNode:
			s, ok := d.Text(v, apath, "")
			if !ok {
				continue
			}
			src = s
		case yaml.MappingNode:
			var b assertBlock
			d.DecodeStruct(v, reflect.ValueOf(&b).Elem(), apath, nil, nil)
			if d.HasError(apath) {
				continue
			}
			epath = joinPath(apath, "expr")
			if at = d.Vals[epath]; at == nil || isNull(at) {
				d.Errorf(e.Key, epath, "required")
				continue
			}
			switch nightowl.Severity(b.Severity) {
			case "", nightowl.SeverityCritical:
			case nightowl.SeverityWarning:
				sev = nightowl.SeverityWarning
			default:
				spath := joinPath(apath, "severity")
				d.Errorf(d.Locate(spath), spath, `must be "critical" or "warning"`)
				continue
			}
			src = b.Expr
		default:
			d.Errorf(v, apath, "must be an expression, or a mapping with expr and severity")
			continue
		}
		if typ == "" {
			continue
		}
		a, err := d.opts.Compiler.Compile(typ, probe.Types[typ].Facts, name, src, sev)
		if err != nil {
			col := at.Column
			var ce *assert.CompileError
			if errors.As(err, &ce) {
				if c, ok := d.Column(at, src, ce.Column-1); ok {
					col = c
				}
			}
			d.ErrorAt(at.Line, col, epath, "%s", err)
			continue
		}
		out = append(out, a)
	}
	return out
}

// fingerprint hashes what decides how a check runs. The name is left out:
// the engine compares fingerprints of checks with the same name. Files that
// path fields name (a CA bundle) count by content, so that a renewed bundle
// is a change.
func (d *decoder) fingerprint(ch *Check) string {
	as := make([][3]string, len(ch.Assertions))
	for i, a := range ch.Assertions {
		as[i] = [3]string{a.Name(), string(a.Severity()), a.Source()}
	}
	fp := map[string]any{
		"type":          ch.Type,
		"spec":          d.Canonical(reflect.ValueOf(ch.Spec)),
		"labels":        ch.Labels,
		"interval":      ch.Interval.String(),
		"timeout":       ch.Timeout.String(),
		"fail_after":    ch.FailAfter,
		"recover_after": ch.RecoverAfter,
		"flap":          []any{ch.Flap.Changes, ch.Flap.Window.String()},
		"paused":        ch.Paused,
		"assertions":    as,
	}
	if ch.OnDown != "" {
		// Only when set, so that the fingerprints of checks without
		// one stay as they were; with it, a reload that changes the
		// action reaches the engine's copy of the check.
		fp["on_down"] = ch.OnDown
	}
	if len(ch.DependsOn) > 0 {
		// Likewise: the engine's copy of the check must know them.
		fp["depends_on"] = ch.DependsOn
	}
	b, err := json.Marshal(fp)
	if err != nil {
		// Unreachable: Canonical yields only strings, bools, integers,
		// maps and lists. Hash the error rather than panic on a reload.
		b = []byte(err.Error())
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func hostPort(s string) bool {
	_, port, err := net.SplitHostPort(s)
	return err == nil && port != ""
}

// checkURL returns what is wrong with an http(s) URL, or "".
func checkURL(s string) string {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return "not a valid URL"
	case u.Scheme != "http" && u.Scheme != "https":
		return `scheme must be "http" or "https"`
	case u.Host == "":
		return "has no host"
	}
	return ""
}
