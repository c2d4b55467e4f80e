// Package assert compiles the assertions of a check once, at config load,
// against the fact environment of the check's type, and evaluates them on
// every result. A failing assertion explains itself with the part of the
// expression that failed and the values it saw.
package assert

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/types"
	"github.com/expr-lang/expr/vm"

	"github.com/nightowl/nightowl"
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
type CompileError struct {
	Column  int
	Message string
}

func (e *CompileError) Error() string { return e.Message }

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
	if strings.TrimSpace(src) == "" {
		return compiled{err: &CompileError{Column: 1, Message: "empty expression"}}
	}
	prog, err := expr.Compile(src, expr.Env(env), expr.AsBool())
	if err != nil {
		return compiled{err: cleanError(err)}
	}
	tree, err := parser.Parse(src)
	if err != nil {
		return compiled{err: cleanError(err)}
	}
	return compiled{prog: prog, tree: tree.Node}
}

// cleanError turns expr's multi-line error (with a source snippet) into one
// line that fits a FILE:LINE:COL message.
func cleanError(err error) error {
	var fe *file.Error
	if errors.As(err, &fe) {
		msg := fe.Message
		if fe.Prev != nil && msg == "" {
			msg = fe.Prev.Error()
		}
		return &CompileError{Column: fe.Column + 1, Message: oneLine(msg)}
	}
	return &CompileError{Column: 1, Message: oneLine(err.Error())}
}

func oneLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}

// Eval runs the assertion on facts.
func (a *Assertion) Eval(f nightowl.Facts) nightowl.AssertionResult {
	res := nightowl.AssertionResult{Name: a.name, Severity: a.severity}
	out, err := vm.Run(a.prog, map[string]any(f))
	if err != nil {
		res.Message = "cannot evaluate: " + oneLine(err.Error()) + observed(a.tree, f)
		return res
	}
	if b, ok := out.(bool); ok && b {
		res.OK = true
		return res
	}
	res.Message = explain(a.tree, f)
	return res
}

// explain describes why node evaluated to false: for "not X" it shows X (which
// held), for a conjunction the conjuncts that failed, and otherwise the
// expression itself, each followed by the values of the facts it reads.
func explain(node ast.Node, f nightowl.Facts) string {
	switch n := node.(type) {
	case *ast.UnaryNode:
		if n.Operator == "not" || n.Operator == "!" {
			// not (body contains "read-only mode") failed: the body does
			// contain it, and repeating the body adds nothing.
			if b, ok := n.Node.(*ast.BinaryNode); ok && stringMatch[b.Operator] {
				return n.Node.String()
			}
			return n.Node.String() + observed(n.Node, f)
		}
	case *ast.BinaryNode:
		if n.Operator == "and" || n.Operator == "&&" {
			var parts []string
			for _, side := range []ast.Node{n.Left, n.Right} {
				if v, err := evalNode(side, f); err != nil || v != true {
					parts = append(parts, explain(side, f))
				}
			}
			if len(parts) > 0 {
				return strings.Join(parts, "; ")
			}
		}
	}
	return node.String() + observed(node, f)
}

var stringMatch = map[string]bool{"contains": true, "startsWith": true, "endsWith": true, "matches": true}

func evalNode(node ast.Node, f nightowl.Facts) (any, error) {
	return expr.Eval(node.String(), map[string]any(f))
}

// maxShown bounds how much of an observed value a message repeats: a whole
// HTTP body helps nobody in a page.
const maxShown = 80

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
		shown := show(v)
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

func show(v any) string {
	switch x := v.(type) {
	case nil:
		return "nil"
	case string:
		if len(x) > maxShown {
			return ""
		}
		return fmt.Sprintf("%q", x)
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Map, reflect.Slice, reflect.Array, reflect.Struct:
		s := fmt.Sprintf("%v", v)
		if len(s) > maxShown {
			return s[:maxShown] + "…"
		}
		return s
	}
	return fmt.Sprint(v)
}
