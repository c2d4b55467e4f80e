// Package preflight compiles and evaluates the preflight expressions of
// actions: conditions over live check state and a request's parameters that
// must hold before an action may be requested and again before it runs, such
// as `check("math-db-replica").status == "up"` or
// `check("traffic-" + params.cluster).status == "down"`.
//
// An expression sees two names:
//
//   - check(name) returns the check's state as a map: status (up, down, …;
//     "unknown" for a check that is not configured or has not run), ok (true
//     when the status is up), error (the last result's error text), facts
//     (the last result's facts), and every fact again at the top level,
//     unless its name is one of those four (the http check's status fact is
//     check("web").facts.status).
//   - params maps each parameter of the request to its value.
//
// A preflight judges only fresh facts: the result a check's state comes
// from must be younger than twice the check's interval plus its timeout
// (passive checks, such as heartbeats, excepted), or the preflight fails
// saying how old it is, whether or not the expression holds.
//
// config compiles every expression at load, so that a typo fails the config;
// the actions service evaluates them, and a false one explains itself with
// the values it saw, as an assertion does.
package preflight

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/boolexpr"
)

// Env is what an expression is evaluated against.
type Env struct {
	// Checks returns the check with the given name as it is now; ok is
	// false for a name that is not configured.
	Checks func(name string) (v nightowl.CheckView, ok bool)
	Params map[string]string
	// Now is the time the results' age is judged at; nil judges no age.
	Now func() time.Time
}

// Report is what an evaluation of an action's preflight found.
type Report struct {
	// Failed explains the first expression that does not hold or read a
	// stale result; "" when all hold.
	Failed string
	// Seen lists the checks the expressions read, in the order they were
	// first read, with the time of the result each was judged by.
	Seen []nightowl.CheckSeen
}

// MaxAge is how old the newest result of c may be for a preflight to judge
// it: twice its interval plus its timeout, or 0 (no limit) for a passive
// check, whose results come when signals do.
func MaxAge(c *nightowl.Check) time.Duration {
	if c.Passive || c.Interval <= 0 {
		return 0
	}
	return 2*c.Interval + c.Timeout
}

// The names of the keys of check(name) that are not facts.
const (
	keyStatus = "status"
	keyOK     = "ok"
	keyError  = "error"
	keyFacts  = "facts"
)

// Program is a compiled preflight expression. It is immutable and safe to
// share between goroutines.
type Program struct {
	src  string
	prog *vm.Program
	tree ast.Node
}

// Source returns the expression as written.
func (p *Program) Source() string { return p.src }

// CompileError is an expression that does not compile. Column is 1-based
// within the expression.
type CompileError = boolexpr.CompileError

// compileEnv gives the names their types; the values are never called.
var compileEnv = map[string]any{
	"check":  func(string) map[string]any { return nil },
	"params": map[string]string{},
}

// Compile compiles a preflight expression, which must give a bool.
func Compile(src string) (*Program, error) {
	prog, err := boolexpr.Compile(src, compileEnv)
	if err != nil {
		return nil, err
	}
	return &Program{src: src, prog: prog, tree: prog.Node()}, nil
}

// Checks returns the names of the checks the expression names literally,
// as in check("math-db"), in order of appearance. Names computed at run
// time, as in check("traffic-" + params.cluster), are not among them.
func (p *Program) Checks() []string {
	var out []string
	ast.Find(p.tree, func(n ast.Node) bool {
		if name, ok := checkCall(n); ok && !contains(out, name) {
			out = append(out, name)
		}
		return false
	})
	return out
}

// Params returns the names of the parameters the expression reads as
// params.NAME or params["NAME"], in order of appearance.
func (p *Program) Params() []string {
	var out []string
	ast.Find(p.tree, func(n ast.Node) bool {
		m, ok := n.(*ast.MemberNode)
		if !ok {
			return false
		}
		id, ok := m.Node.(*ast.IdentifierNode)
		if !ok || id.Value != "params" {
			return false
		}
		if s, ok := m.Property.(*ast.StringNode); ok && !contains(out, s.Value) {
			out = append(out, s.Value)
		}
		return false
	})
	return out
}

// checkCall reports whether n is check("NAME") with a literal name.
func checkCall(n ast.Node) (string, bool) {
	c, ok := n.(*ast.CallNode)
	if !ok || !isCheckCallee(c) || len(c.Arguments) != 1 {
		return "", false
	}
	s, ok := c.Arguments[0].(*ast.StringNode)
	if !ok {
		return "", false
	}
	return s.Value, true
}

func isCheckCallee(c *ast.CallNode) bool {
	id, ok := c.Callee.(*ast.IdentifierNode)
	return ok && id.Value == "check"
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Eval evaluates p against env. When the expression does not hold, detail
// says so with the values it saw:
//
//	check("traffic-blue").status == "down" (check("traffic-blue").status = "up")
//
// err is not nil when the expression cannot be evaluated (a fact that is
// nil, a type error); detail then says why, and ok is false.
func Eval(p *Program, env Env) (ok bool, detail string, err error) {
	return p.eval(env.vars(&lookups{env: env}))
}

func (p *Program) eval(vars map[string]any) (ok bool, detail string, err error) {
	held, err := boolexpr.Run(p.prog, vars)
	if err != nil {
		return false, p.tree.String() + ": cannot evaluate: " + err.Error() + observed(p.tree, vars), fmt.Errorf("preflight %s: %w", p.src, err)
	}
	if held {
		return true, "", nil
	}
	return false, boolexpr.Explain(p.tree, vars, func(n ast.Node) string { return observed(n, vars) }, nil), nil
}

// Run compiles and evaluates the expressions in order and returns the
// explanation of the first that does not hold or cannot be evaluated, or ""
// when all hold. err is for an expression that does not compile, which a
// loaded config rules out.
func Run(exprs []string, env Env) (failed string, err error) {
	r, err := Judge(exprs, env)
	return r.Failed, err
}

// Judge is Run with the checks the expressions read. Every expression sees
// one state of each check, however often it reads it; with env.Now, an
// expression that read a stale result fails for it.
func Judge(exprs []string, env Env) (Report, error) {
	l := &lookups{env: env, seen: map[string]map[string]any{}}
	vars := env.vars(l)
	for _, src := range exprs {
		p, err := Compile(src)
		if err != nil {
			return Report{}, fmt.Errorf("preflight %s: %w", src, err)
		}
		read := len(l.order)
		ok, detail, _ := p.eval(vars)
		if stale := l.stale(read); stale != "" {
			return Report{Failed: stale, Seen: l.report()}, nil
		}
		if !ok {
			return Report{Failed: detail, Seen: l.report()}, nil
		}
	}
	return Report{Seen: l.report()}, nil
}

// lookups is the checks one evaluation has read.
type lookups struct {
	env   Env
	now   time.Time
	seen  map[string]map[string]any
	order []nightowl.CheckSeen
	limit []time.Duration
}

// stale explains the first check read since the first n that is older than
// its limit, or "". An active check without any result has nothing fresh
// to judge: it is stale too, however the expression reads "unknown".
func (l *lookups) stale(n int) string {
	for i := n; i < len(l.order); i++ {
		c := l.order[i]
		if l.limit[i] > 0 && c.At.IsZero() {
			return fmt.Sprintf("check %q has no result yet", c.Check)
		}
		if l.env.Now != nil && l.limit[i] > 0 && time.Duration(c.Age) > l.limit[i] {
			return fmt.Sprintf("the newest result of check %q is %s old (taken at %s), older than the %s a preflight may judge (twice its interval plus its timeout)",
				c.Check, time.Duration(c.Age).Round(time.Second), c.At.UTC().Format(time.RFC3339), l.limit[i])
		}
	}
	return ""
}

func (l *lookups) report() []nightowl.CheckSeen { return slices.Clone(l.order) }

// vars is the environment of one evaluation. check(name) looks each check
// up once, so that an expression and its explanation see one state even
// while the check runs again.
func (env Env) vars(l *lookups) map[string]any {
	if l.seen == nil {
		l.seen = map[string]map[string]any{}
	}
	if env.Now != nil {
		l.now = env.Now()
	}
	check := func(name string) map[string]any {
		if v, ok := l.seen[name]; ok {
			return v
		}
		var v map[string]any
		seen := nightowl.CheckSeen{Check: name, Status: nightowl.StatusUnknown}
		var limit time.Duration
		if cv, ok := env.lookup(name); ok {
			v = view(cv)
			if cv.State.Status != "" {
				seen.Status = cv.State.Status
			}
			// The result the state comes from; a state without one (read
			// back at a start) is as old as its last run.
			taken := cv.State.LastRun
			if cv.Last != nil && !cv.Last.Start.IsZero() {
				taken = cv.Last.Start
			}
			if !taken.IsZero() {
				seen.At = taken.UTC()
				if !l.now.IsZero() {
					seen.Age = nightowl.Seconds(l.now.Sub(taken))
				}
			}
			limit = MaxAge(&cv.Check)
		} else {
			v = map[string]any{keyStatus: string(nightowl.StatusUnknown), keyOK: false, keyError: "", keyFacts: map[string]any{}}
		}
		l.seen[name] = v
		l.order = append(l.order, seen)
		l.limit = append(l.limit, limit)
		return v
	}
	params := env.Params
	if params == nil {
		params = map[string]string{}
	}
	return map[string]any{"check": check, "params": params}
}

func (env Env) lookup(name string) (nightowl.CheckView, bool) {
	if env.Checks == nil {
		return nightowl.CheckView{}, false
	}
	return env.Checks(name)
}

// view is what check(name) returns for a configured check.
func view(cv nightowl.CheckView) map[string]any {
	status := cv.State.Status
	if status == "" {
		status = nightowl.StatusUnknown
	}
	facts := map[string]any{}
	errText := ""
	if cv.Last != nil {
		for k, f := range cv.Last.Facts {
			facts[k] = f
		}
		errText = cv.Last.Error
	}
	v := make(map[string]any, len(facts)+4)
	for k, f := range facts {
		v[k] = f
	}
	v[keyStatus] = string(status)
	v[keyOK] = status == nightowl.StatusUp
	v[keyError] = errText
	v[keyFacts] = facts
	return v
}

// observed lists the values node reads, with the check states and
// parameters they come from: ` (check("db").status = "up", params.host =
// "db1")`. A chain such as check("db").replica.lag is shown rather than
// check("db") itself.
func observed(node ast.Node, vars map[string]any) string {
	var names []string
	nodes := map[string]ast.Node{}
	ast.Find(node, func(n ast.Node) bool {
		switch x := n.(type) {
		case *ast.CallNode:
			if !isCheckCallee(x) {
				return false
			}
		case *ast.MemberNode:
			if !isChain(x) {
				return false
			}
		default:
			return false
		}
		s := n.String()
		if nodes[s] == nil {
			nodes[s] = n
			names = append(names, s)
		}
		return false
	})
	sort.Strings(names)
	var parts []string
	shown := map[string]bool{}
	for _, name := range names {
		covered := false
		for _, other := range names {
			if strings.HasPrefix(other, name+".") || strings.HasPrefix(other, name+"[") {
				covered = true
				break
			}
		}
		if covered {
			continue
		}
		// check("db").replica.lag of a nil replica: show what is
		// there, check("db").replica = nil.
		for n := nodes[name]; n != nil; n = parent(n) {
			s := n.String()
			v, err := expr.Eval(s, vars)
			if err != nil {
				continue
			}
			if text := boolexpr.Show(v, boolexpr.CutLong); text != "" && !shown[s] {
				shown[s] = true
				parts = append(parts, s+" = "+text)
			}
			break
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// parent is the value a member access reads from, nil for the start of a
// chain.
func parent(n ast.Node) ast.Node {
	if m, ok := n.(*ast.MemberNode); ok {
		return m.Node
	}
	return nil
}

// isChain reports whether n is a chain of member accesses by name that
// starts at params or at a call of check.
func isChain(n *ast.MemberNode) bool {
	if _, ok := n.Property.(*ast.StringNode); !ok {
		return false
	}
	switch x := n.Node.(type) {
	case *ast.IdentifierNode:
		return x.Value == "params"
	case *ast.CallNode:
		return isCheckCallee(x)
	case *ast.MemberNode:
		return isChain(x)
	}
	return false
}
