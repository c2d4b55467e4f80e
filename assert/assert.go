// Package assert compiles the assertions of a check once, at config load,
// against the fact environment of the check's type, and evaluates them on
// every result. A failing assertion explains itself with the part of the
// expression that failed and the values it saw.
package assert

import (
	"sort"
	"strings"
	"sync"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/types"
	"github.com/expr-lang/expr/vm"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/boolexpr"
)

// Assertion is a compiled assertion. It is immutable and safe to share
// between checks and goroutines.
type Assertion struct {
	name     string
	severity nightowl.Severity
	src      string
	prog     *vm.Program
	tree     ast.Node
}

var _ nightowl.Assertion = (*Assertion)(nil)

func (a *Assertion) Name() string                { return a.name }
func (a *Assertion) Severity() nightowl.Severity { return a.severity }
func (a *Assertion) Source() string              { return a.src }

// CompileError is an expression that does not compile. Column is 1-based
// within the expression.
type CompileError = boolexpr.CompileError

// Compiler compiles assertions, sharing one program between every check that
// uses the same expression against the same environment: 100,000 checks with
// the default assertion hold one program, not 100,000.
type Compiler struct {
	mu    sync.Mutex
	progs map[string]compiled
}

type compiled struct {
	prog *vm.Program
	tree ast.Node
	err  error
}

// Compile compiles src against env, the types of the facts of a check type
// (types.Any for facts of no fixed type, such as parsed JSON). envName names
// the environment for sharing: the check type.
func (c *Compiler) Compile(envName string, env types.Map, name, src string, sev nightowl.Severity) (*Assertion, error) {
	if sev == "" {
		sev = nightowl.SeverityCritical
	}
	key := envName + "\x00" + src
	c.mu.Lock()
	if c.progs == nil {
		c.progs = map[string]compiled{}
	}
	p, ok := c.progs[key]
	c.mu.Unlock()
	if !ok {
		p = compile(env, src)
		c.mu.Lock()
		c.progs[key] = p
		c.mu.Unlock()
	}
	if p.err != nil {
		return nil, p.err
	}
	return &Assertion{name: name, severity: sev, src: src, prog: p.prog, tree: p.tree}, nil
}

func compile(env types.Map, src string) compiled {
	prog, err := boolexpr.Compile(src, env)
	if err != nil {
		return compiled{err: err}
	}
	// The tree as written, not as compiled and optimised: explanations
	// quote it.
	tree, err := parser.Parse(src)
	if err != nil {
		return compiled{err: boolexpr.CleanError(err)}
	}
	return compiled{prog: prog, tree: tree.Node}
}

// Eval runs the assertion on facts.
func (a *Assertion) Eval(f nightowl.Facts) nightowl.AssertionResult {
	res := nightowl.AssertionResult{Name: a.name, Severity: a.severity}
	held, err := boolexpr.Run(a.prog, f)
	switch {
	case err != nil:
		res.Message = "cannot evaluate: " + err.Error() + observed(a.tree, f)
	case held:
		res.OK = true
	default:
		res.Message = boolexpr.Explain(a.tree, f, func(n ast.Node) string { return observed(n, f) }, quietWhenNegated)
	}
	return res
}

// quietWhenNegated: not (body contains "read-only mode") failed: the body
// does contain it, and repeating the body adds nothing.
func quietWhenNegated(n ast.Node) bool {
	b, ok := n.(*ast.BinaryNode)
	return ok && stringMatch[b.Operator]
}

var stringMatch = map[string]bool{"contains": true, "startsWith": true, "endsWith": true, "matches": true}

// observed lists the facts (identifiers and member chains such as
// replica.lag) that node reads, with their values: " (status = 503)". Long
// strings are left out: the expression already says what was looked for.
func observed(node ast.Node, f nightowl.Facts) string {
	seen := map[string]bool{}
	var names []string
	ast.Find(node, func(n ast.Node) bool {
		var s string
		switch n := n.(type) {
		case *ast.MemberNode:
			if !isChain(n) {
				return false
			}
			s = n.String()
		case *ast.IdentifierNode:
			s = n.Value
		default:
			return false
		}
		if !seen[s] {
			seen[s] = true
			names = append(names, s)
		}
		return false
	})
	// A member chain makes its root redundant: show replica.lag, not replica.
	var parts []string
	shownRoot := map[string]bool{}
	sort.Strings(names)
	for _, name := range names {
		covered := false
		for _, other := range names {
			if strings.HasPrefix(other, name+".") {
				covered = true
				break
			}
		}
		if covered {
			continue
		}
		v, err := expr.Eval(name, map[string]any(f))
		if err != nil {
			// replica.lag of a nil replica: show what is there, replica = nil.
			root, _, _ := strings.Cut(name, ".")
			if root == name || shownRoot[root] {
				continue
			}
			shownRoot[root] = true
			name = root
			if v, err = expr.Eval(root, map[string]any(f)); err != nil {
				continue
			}
		}
		shown := boolexpr.Show(v, boolexpr.OmitLong)
		if shown == "" {
			continue
		}
		parts = append(parts, name+" = "+shown)
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

func isChain(n *ast.MemberNode) bool {
	switch x := n.Node.(type) {
	case *ast.IdentifierNode:
	case *ast.MemberNode:
		if !isChain(x) {
			return false
		}
	default:
		return false
	}
	_, ok := n.Property.(*ast.StringNode)
	return ok
}
