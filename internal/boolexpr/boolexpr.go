// Package boolexpr is what the two kinds of boolean expression nightowl
// compiles (a check's assertions, an action's preflights) share on top of
// expr-lang: compiling to a program that must give a bool, with a one-line
// error and its column; running it; and explaining why it gave false.
// What an expression may read, and which of those values an explanation
// shows, stays with each kind.
package boolexpr

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
)

// CompileError is an expression that does not compile. Column is 1-based
// within the expression.
type CompileError struct {
	Column  int
	Message string
}

func (e *CompileError) Error() string { return e.Message }

// Compile compiles src, which must give a bool, against env: the names an
// expression may read and their types, as a types.Map or as a map of
// values of those types. Its errors are *CompileError.
func Compile(src string, env any) (*vm.Program, error) {
	if strings.TrimSpace(src) == "" {
		return nil, &CompileError{Column: 1, Message: "empty expression"}
	}
	prog, err := expr.Compile(src, expr.Env(env), expr.AsBool())
	if err != nil {
		return nil, CleanError(err)
	}
	return prog, nil
}

// CleanError turns expr's multi-line error (with a source snippet) into a
// *CompileError of one line that fits a FILE:LINE:COL message.
func CleanError(err error) error {
	var fe *file.Error
	if errors.As(err, &fe) {
		msg := fe.Message
		if fe.Prev != nil && msg == "" {
			msg = fe.Prev.Error()
		}
		return &CompileError{Column: fe.Column + 1, Message: OneLine(msg)}
	}
	return &CompileError{Column: 1, Message: OneLine(err.Error())}
}

// OneLine is the first line of s, trimmed.
func OneLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}

// Run runs prog on vars: held is true when it gave true. err, in one
// line, says why it could not be evaluated (a fact that is nil, a type
// error).
func Run(prog *vm.Program, vars map[string]any) (held bool, err error) {
	out, err := vm.Run(prog, vars)
	if err != nil {
		return false, errors.New(OneLine(err.Error()))
	}
	b, ok := out.(bool)
	return ok && b, nil
}

// Explain describes why node evaluated to false over vars: for "not X" it
// shows X (which held), for a conjunction the conjuncts that failed, and
// otherwise the expression itself, each followed by observed(node), the
// values it read (" (status = 503)"). quiet, when not nil, names the X of
// a "not X" whose values add nothing: not (body contains "read-only") failed
// because the body does contain it, and repeating the body helps nobody.
func Explain(node ast.Node, vars map[string]any, observed func(ast.Node) string, quiet func(ast.Node) bool) string {
	switch n := node.(type) {
	case *ast.UnaryNode:
		if n.Operator == "not" || n.Operator == "!" {
			if quiet != nil && quiet(n.Node) {
				return n.Node.String()
			}
			return n.Node.String() + observed(n.Node)
		}
	case *ast.BinaryNode:
		if n.Operator == "and" || n.Operator == "&&" {
			var parts []string
			for _, side := range []ast.Node{n.Left, n.Right} {
				if v, err := expr.Eval(side.String(), vars); err != nil || v != true {
					parts = append(parts, Explain(side, vars, observed, quiet))
				}
			}
			if len(parts) > 0 {
				return strings.Join(parts, "; ")
			}
		}
	}
	return node.String() + observed(node)
}

// MaxShown bounds how much of a value an explanation repeats: a whole HTTP
// body helps nobody in a page.
const MaxShown = 80

// LongStrings says what Show does with a string longer than MaxShown.
type LongStrings int

const (
	// OmitLong shows nothing: the expression already says what was looked
	// for.
	OmitLong LongStrings = iota
	// CutLong shows its first MaxShown bytes, quoted, then "…".
	CutLong
)

// Show renders a value an expression read for an explanation: nil, a
// quoted string, a number; maps, lists and structs cut at MaxShown bytes.
// It returns "" for a value not worth showing.
func Show(v any, long LongStrings) string {
	switch x := v.(type) {
	case nil:
		return "nil"
	case string:
		if len(x) > MaxShown {
			if long == CutLong {
				return fmt.Sprintf("%q…", x[:MaxShown])
			}
			return ""
		}
		return fmt.Sprintf("%q", x)
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Map, reflect.Slice, reflect.Array, reflect.Struct:
		s := fmt.Sprintf("%v", v)
		if len(s) > MaxShown {
			return s[:MaxShown] + "…"
		}
		return s
	}
	return fmt.Sprint(v)
}
