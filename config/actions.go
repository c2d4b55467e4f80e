package config

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"time"
	"unicode"

	"go.yaml.in/yaml/v3"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/preflight"
)

// Defaults and bounds of an action.
const (
	DefaultActionTimeout = time.Minute
	// MaxActionTimeout bounds a run: a runbook step that takes longer is
	// a job for a person watching it, not a button.
	MaxActionTimeout = time.Hour
	// MaxApprovals bounds approvals: more people than this are not to be
	// found at night, and the action could never run.
	MaxApprovals = 5
)

// DefaultBuddyDuringIncidents is buddy_during_incidents when the file does
// not say: while an incident is open, every action needs an approval.
const DefaultBuddyDuringIncidents = true

// httpMethods are the methods an http action may send.
var httpMethods = []string{"GET", "POST", "PUT", "PATCH", "DELETE"}

var paramNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// actionKeys is the shape of one action. Run is a node so that a shell
// command line given as one string gets a message of its own.
type actionKeys struct {
	Name        string               `yaml:"name"`
	Description string               `yaml:"description"`
	Run         *yaml.Node           `yaml:"run"`
	HTTP        *actionHTTPKeys      `yaml:"http"`
	Params      map[string]paramKeys `yaml:"params"`
	Preflight   []string             `yaml:"preflight"`
	Approvals   int                  `yaml:"approvals"`
	Confirm     string               `yaml:"confirm"`
	Cooldown    time.Duration        `yaml:"cooldown"`
	Timeout     *time.Duration       `yaml:"timeout"`
}

type actionHTTPKeys struct {
	URL     string            `yaml:"url"`
	Method  string            `yaml:"method"`
	Headers map[string]string `yaml:"headers"`
	Body    string            `yaml:"body"`
}

type paramKeys struct {
	Pattern     string `yaml:"pattern"`
	Description string `yaml:"description"`
}

// onDownKeys is the on_down block of a check.
type onDownKeys struct {
	Action string `yaml:"action"`
}

// actionScope is what on_down is checked against.
type actionScope struct {
	actions []nightowl.Action
	*roster
}

// actions decodes the actions section against the checks in sc, which
// preflight expressions name. n is nil when the file has no such section.
func (d *decoder) actions(n *yaml.Node, sc *scope) ([]nightowl.Action, *actionScope) {
	l := namedList{path: "actions", kind: "action", notList: "must be a list of actions"}
	out, r := decodeNamed(d, n, l, func(n *yaml.Node, path string) nightowl.Action {
		return d.action(n, path, sc)
	}, func(a nightowl.Action) string { return a.Name })
	return out, &actionScope{actions: out, roster: r}
}

// uses records where an action's templates and preflight read each
// parameter, to tell a misspelled {{name}} from an unused parameter.
type uses map[string]bool

func (d *decoder) action(n *yaml.Node, path string, sc *scope) nightowl.Action {
	a := nightowl.Action{Timeout: DefaultActionTimeout}
	var k actionKeys
	if !d.namedItem(n, path, &k) {
		return a
	}
	a.Name = d.itemName(n, path, k.Name, badName)
	a.Description = k.Description

	a.Params = d.params(k.Params, path+".params")
	declared := map[string]bool{}
	for _, p := range a.Params {
		declared[p.Name] = true
	}
	// Names that failed a check of their own are declared all the same:
	// their uses would only repeat the error.
	for name := range k.Params {
		declared[name] = true
	}
	used := uses{}

	rpath, hpath := path+".run", path+".http"
	hasRun := k.Run != nil && !isNull(resolve(k.Run))
	hasHTTP := k.HTTP != nil || d.HasError(hpath)
	switch {
	case hasRun && hasHTTP:
		d.Errorf(d.Keys[hpath], hpath, "only one of run, http may be given")
	case !hasRun && !hasHTTP:
		d.Errorf(n, path, "one of run (a command) or http (a request) is required")
	}
	if hasRun {
		a.Run = d.run(resolve(k.Run), rpath, declared, used)
	}
	if k.HTTP != nil && !d.Bad(hpath) {
		a.HTTP = d.actionHTTP(k.HTTP, hpath, declared, used)
	}

	a.Preflight = d.preflight(k.Preflight, path+".preflight", sc, declared, used)

	// With run, http or preflight wrong, a parameter may be unused only
	// because what uses it did not decode.
	usesKnown := !d.HasError(rpath) && !d.HasError(hpath) && !d.HasError(path+".preflight")
	for _, p := range a.Params {
		if usesKnown && !used[p.Name] && !d.HasError(path+".params."+p.Name) {
			ppath := path + ".params." + p.Name
			d.Errorf(d.Keys[ppath], ppath, "not used by run, http or preflight (is a {{%s}} misspelled?)", p.Name)
		}
	}

	if cpath := path + ".confirm"; k.Confirm != "" && !d.HasError(cpath) {
		if !declared[k.Confirm] {
			d.Errorf(d.Locate(cpath), cpath, "must name a parameter, whose value the requester types again (%s)", paramList(a.Params))
		}
		a.Confirm = k.Confirm
	}
	if apath := path + ".approvals"; !d.HasError(apath) && (k.Approvals < 0 || k.Approvals > MaxApprovals) {
		d.Errorf(d.Locate(apath), apath, "must be between 0 and %d", MaxApprovals)
	}
	a.Approvals = k.Approvals
	if cpath := path + ".cooldown"; !d.HasError(cpath) && k.Cooldown < 0 {
		d.Errorf(d.Locate(cpath), cpath, "must not be negative")
	}
	a.Cooldown = k.Cooldown
	if k.Timeout != nil {
		a.Timeout = *k.Timeout
		tpath := path + ".timeout"
		if d.positive(tpath, a.Timeout) && a.Timeout > MaxActionTimeout {
			d.Errorf(d.Locate(tpath), tpath, "must not exceed %s", nightowl.FormatDuration(MaxActionTimeout))
		}
	}
	return a
}

// params checks the parameters and returns them sorted by name.
func (d *decoder) params(m map[string]paramKeys, path string) []nightowl.ActionParam {
	var out []nightowl.ActionParam
	for _, name := range sortedKeys(m) {
		ppath := path + "." + name
		if !paramNameRE.MatchString(name) {
			d.Errorf(d.Keys[ppath], ppath, "parameter names must match [a-z][a-z0-9_]*")
			continue
		}
		p := nightowl.ActionParam{Name: name, Pattern: m[name].Pattern, Description: m[name].Description}
		out = append(out, p)
		if d.HasError(ppath) {
			continue
		}
		pat := ppath + ".pattern"
		if p.Pattern == "" {
			at := d.Keys[ppath]
			if v := d.Vals[pat]; v != nil && !isNull(v) {
				at = v
			}
			d.Errorf(at, pat, `required: the values allowed, such as "^[a-z0-9-]+$"`)
			continue
		}
		if msg := checkPattern(p.Pattern); msg != "" {
			d.Errorf(d.Locate(pat), pat, "%s", msg)
		}
	}
	return out
}

// checkPattern returns what is wrong with a parameter's pattern, or "".
func checkPattern(s string) string {
	if _, err := regexp.Compile(s); err != nil {
		var se *syntax.Error
		if errors.As(err, &se) {
			return fmt.Sprintf("not a regular expression: %s: %s", se.Code, se.Expr)
		}
		return "not a regular expression: " + err.Error()
	}
	re, err := syntax.Parse(s, syntax.Perl)
	if err != nil {
		return "not a regular expression: " + err.Error()
	}
	if !anchored(re, true) || !anchored(re, false) {
		return "must be anchored with ^ and $ (a pattern that matches a substring would let anything through)"
	}
	return ""
}

// anchored reports whether every match of re must begin at the start of
// the value (start) or end at its end: ^a|b$ is anchored at neither for
// its every alternative, and (?m)^a$ only to lines.
func anchored(re *syntax.Regexp, start bool) bool {
	switch re.Op {
	case syntax.OpBeginText:
		return start
	case syntax.OpEndText:
		return !start
	case syntax.OpCapture:
		return anchored(re.Sub[0], start)
	case syntax.OpConcat:
		if len(re.Sub) == 0 {
			return false
		}
		if start {
			return anchored(re.Sub[0], start)
		}
		return anchored(re.Sub[len(re.Sub)-1], start)
	case syntax.OpAlternate:
		for _, sub := range re.Sub {
			if !anchored(sub, start) {
				return false
			}
		}
		return len(re.Sub) > 0
	}
	return false
}

// run checks the argv of an action.
func (d *decoder) run(n *yaml.Node, path string, declared map[string]bool, used uses) []string {
	d.Vals[path] = n
	if n.Kind == yaml.ScalarNode {
		d.Errorf(n, path, "must be a list: the program and each argument, such as [systemctl, restart, mysql]; it never goes through a shell")
		return nil
	}
	var argv []string
	d.Decode(n, reflect.ValueOf(&argv).Elem(), path)
	if d.HasError(path) {
		return argv
	}
	if len(argv) == 0 {
		d.Errorf(n, path, "must list the program and its arguments")
		return argv
	}
	p0 := indexPath(path, 0)
	switch prog := argv[0]; {
	case strings.Contains(prog, "{{"):
		d.Errorf(d.Locate(p0), p0, "the program (first element) must be fixed: parameters may fill only its arguments")
	case prog == "":
		d.Errorf(d.Locate(p0), p0, "the program (first element) is empty")
	case len(argv) == 1 && strings.IndexFunc(prog, unicode.IsSpace) >= 0:
		d.Errorf(d.Locate(p0), p0, "looks like a shell command line: give the program and each argument as an item of the list, such as [systemctl, restart, mysql]")
	case strings.ContainsRune(prog, '/') && !strings.HasPrefix(prog, "/"):
		d.Errorf(d.Locate(p0), p0, "the program (first element) must be an absolute path or a name to look up in PATH")
	}
	for i, arg := range argv {
		ipath := indexPath(path, i)
		if strings.ContainsRune(arg, 0) {
			d.Errorf(d.Locate(ipath), ipath, "contains a NUL byte")
			continue
		}
		if i > 0 {
			d.template(arg, ipath, declared, used)
		}
	}
	return argv
}

// actionHTTP checks the request of an http action.
func (d *decoder) actionHTTP(k *actionHTTPKeys, path string, declared map[string]bool, used uses) *nightowl.ActionHTTP {
	h := &nightowl.ActionHTTP{URL: k.URL, Method: k.Method, Headers: k.Headers, Body: k.Body}
	upath := path + ".url"
	switch {
	case d.HasError(upath):
	case h.URL == "":
		d.Errorf(d.Locate(upath), upath, "required")
	case d.template(h.URL, upath, declared, used):
		// A URL that a parameter begins is checked against the
		// parameter's pattern when the request is made.
		if !strings.HasPrefix(h.URL, "{{") {
			if msg := checkURL(paramRE.ReplaceAllString(h.URL, "x")); msg != "" {
				d.Errorf(d.Locate(upath), upath, "%s", msg)
			}
		}
	}
	mpath := path + ".method"
	switch {
	case d.HasError(mpath):
	case h.Method == "":
		h.Method = "POST"
	case !slices.Contains(httpMethods, h.Method):
		d.Errorf(d.Locate(mpath), mpath, "must be one of %s", strings.Join(httpMethods, ", "))
	}
	for _, name := range sortedKeys(h.Headers) {
		hp := path + ".headers." + name
		if strings.Contains(name, "{{") {
			d.Errorf(d.Keys[hp], hp, "header names cannot hold parameters; their values can")
			continue
		}
		d.template(h.Headers[name], hp, declared, used)
	}
	d.template(h.Body, path+".body", declared, used)
	return h
}

var paramRE = regexp.MustCompile(`\{\{[a-z][a-z0-9_]*\}\}`)

// template checks the {{name}} references in s, the value at path, and
// records the parameters it uses. It reports whether all is well.
func (d *decoder) template(s, path string, declared map[string]bool, used uses) bool {
	if d.HasError(path) {
		return false
	}
	rest := s
	for {
		i := strings.Index(rest, "{{")
		if i < 0 {
			return true
		}
		rest = rest[i+2:]
		j := strings.Index(rest, "}}")
		if j < 0 {
			d.Errorf(d.Locate(path), path, "{{ without a matching }}: a parameter is written {{name}}")
			return false
		}
		name := rest[:j]
		rest = rest[j+2:]
		switch {
		case !paramNameRE.MatchString(name):
			d.Errorf(d.Locate(path), path, "{{%s}} is not a parameter: a parameter is written {{name}}, such as {{replica}}", name)
			return false
		case !declared[name]:
			d.Errorf(d.Locate(path), path, "{{%s}}: unknown parameter (%s)", name, paramNames(declared))
			return false
		}
		used[name] = true
	}
}

// preflight compiles the preflight expressions and checks the checks and
// parameters they name.
func (d *decoder) preflight(list []string, path string, sc *scope, declared map[string]bool, used uses) []string {
	if d.HasError(path) {
		return list
	}
	for i, src := range list {
		ipath := indexPath(path, i)
		at := d.Locate(ipath)
		if d.HasError(ipath) {
			continue
		}
		p, err := preflight.Compile(src)
		if err != nil {
			col := at.Column
			var ce *preflight.CompileError
			if errors.As(err, &ce) {
				if c, ok := d.Column(at, src, ce.Column-1); ok {
					col = c
				}
			}
			d.ErrorAt(at.Line, col, ipath, "%s", err)
			continue
		}
		for _, name := range p.Params() {
			if !declared[name] {
				d.Errorf(at, ipath, "params.%s: unknown parameter (%s)", name, paramNames(declared))
				continue
			}
			used[name] = true
		}
		if sc.none {
			continue
		}
		for _, name := range p.Checks() {
			if !sc.written[name] {
				d.Errorf(at, ipath, "check(%q): unknown check (%s)", name, suggest(name, sc.names))
			}
		}
	}
	return list
}

func paramNames(declared map[string]bool) string {
	var names []string
	for _, name := range sortedKeys(declared) {
		if paramNameRE.MatchString(name) {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return "the action declares no params"
	}
	return "params: " + strings.Join(names, ", ")
}

func paramList(ps []nightowl.ActionParam) string {
	if len(ps) == 0 {
		return "the action declares no params"
	}
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.Name
	}
	return "params: " + strings.Join(names, ", ")
}

// onDown checks each check's on_down against the actions: it runs with
// nobody at the keyboard, so its action must need no approval, no
// parameters and no typed confirmation.
func (d *decoder) onDown(checks []Check, as *actionScope) {
	for i := range checks {
		ch := &checks[i]
		apath := indexPath("checks", i) + ".on_down.action"
		if ch.OnDown == "" || d.HasError(apath) || as.none {
			continue
		}
		at := d.Locate(apath)
		var a *nightowl.Action
		for j := range as.actions {
			if as.actions[j].Name == ch.OnDown {
				a = &as.actions[j]
			}
		}
		switch {
		case a == nil && as.written[ch.OnDown]:
			// The action has errors of its own.
		case a == nil:
			d.Errorf(at, apath, "unknown action %q (%s)", ch.OnDown, suggestAction(ch.OnDown, as.names))
		case a.Approvals > 0:
			d.Errorf(at, apath, "on_down runs an action automatically, so it must need no approval (approvals: 0)")
		case len(a.Params) > 0:
			d.Errorf(at, apath, "on_down runs an action automatically, with nobody to fill in its params; %s has %s", a.Name, paramList(a.Params))
		case a.Confirm != "":
			d.Errorf(at, apath, "on_down runs an action automatically, with nobody to type a confirmation; %s asks for one", a.Name)
		}
	}
}

func suggestAction(name string, names []string) string {
	if len(names) == 0 {
		return "no actions are configured"
	}
	s := suggest(name, names)
	return strings.Replace(s, "checks: ", "actions: ", 1)
}

// onDownAction decodes a check's on_down block.
func (d *decoder) onDownAction(k *onDownKeys, path string) string {
	apath := path + ".action"
	if k == nil || d.HasError(path) {
		return ""
	}
	if k.Action == "" {
		d.Errorf(d.Locate(apath), apath, "required: the action to run when the check goes down")
	}
	return k.Action
}

// Action returns the action with the given name, or nil.
func (c *Config) Action(name string) *nightowl.Action {
	for i := range c.Actions {
		if c.Actions[i].Name == name {
			return &c.Actions[i]
		}
	}
	return nil
}
