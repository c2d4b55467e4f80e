package boolexpr

import (
	"errors"
	"strings"
	"testing"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/types"
)

var env = types.Map{"status": types.Int, "body": types.String, "up": types.Bool}

func TestCompile(t *testing.T) {
	tests := []struct {
		name, src string
		col       int
		msg       string
	}{
		{"ok", "status == 200", 0, ""},
		{"empty", "  ", 1, "empty expression"},
		{"unknown name", "stauts == 200", 1, "unknown name stauts"},
		{"syntax", "status ==", 9, "unexpected token EOF"},
		{"not a bool", "status", 1, "expected bool, but got int"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prog, err := Compile(tt.src, env)
			if tt.msg == "" {
				if err != nil || prog == nil {
					t.Fatalf("Compile(%q) = %v, %v", tt.src, prog, err)
				}
				return
			}
			var ce *CompileError
			if !errors.As(err, &ce) {
				t.Fatalf("Compile(%q) error %v (%T), want a CompileError", tt.src, err, err)
			}
			if ce.Message != tt.msg || ce.Column != tt.col || strings.Contains(ce.Message, "\n") {
				t.Errorf("Compile(%q) error at column %d: %q, want column %d: %q", tt.src, ce.Column, ce.Message, tt.col, tt.msg)
			}
		})
	}
}

func TestCompileWithValues(t *testing.T) {
	vals := map[string]any{"params": map[string]string{}, "check": func(string) map[string]any { return nil }}
	if _, err := Compile(`check("db").status == "up" and params.host != ""`, vals); err != nil {
		t.Fatal(err)
	}
	if _, err := Compile(`nope("db")`, vals); err == nil {
		t.Fatal("an unknown function compiled")
	}
}

func TestRun(t *testing.T) {
	tests := []struct {
		name string
		src  string
		vars map[string]any
		held bool
		err  string
	}{
		{"true", "status == 200", map[string]any{"status": 200}, true, ""},
		{"false", "status == 200", map[string]any{"status": 503}, false, ""},
		{"cannot evaluate", "status > 7", map[string]any{"status": nil}, false, "invalid operation: <nil> > int (1:8)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prog, err := Compile(tt.src, types.Map{"status": types.Any})
			if err != nil {
				t.Fatal(err)
			}
			held, err := Run(prog, tt.vars)
			if held != tt.held {
				t.Errorf("held = %v, want %v", held, tt.held)
			}
			switch {
			case tt.err == "" && err != nil:
				t.Errorf("error %v", err)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err) || strings.Contains(err.Error(), "\n")):
				t.Errorf("error %v, want one line with %q", err, tt.err)
			}
		})
	}
}

func TestExplain(t *testing.T) {
	vars := map[string]any{"status": 503, "body": "read-only mode", "up": true}
	// observed shows every identifier the node reads.
	observed := func(n ast.Node) string {
		var parts []string
		ast.Find(n, func(n ast.Node) bool {
			if id, ok := n.(*ast.IdentifierNode); ok {
				parts = append(parts, id.Value+" = "+Show(vars[id.Value], OmitLong))
			}
			return false
		})
		if len(parts) == 0 {
			return ""
		}
		return " (" + strings.Join(parts, ", ") + ")"
	}
	quiet := func(n ast.Node) bool {
		b, ok := n.(*ast.BinaryNode)
		return ok && b.Operator == "contains"
	}
	tests := []struct {
		name, src, want string
		quiet           func(ast.Node) bool
	}{
		{"plain", "status == 200", "status == 200 (status = 503)", nil},
		{"not", "not up", "up (up = true)", nil},
		{"conjunction", "up and status < 400 and status > 100", "status < 400 (status = 503)", nil},
		{"both sides", "status == 200 && !up", "status == 200 (status = 503); up (up = true)", nil},
		{"not quiet", `not (body contains "read-only")`, `body contains "read-only" (body = "read-only mode")`, nil},
		{"quiet", `not (body contains "read-only")`, `body contains "read-only"`, quiet},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tree, err := parser.Parse(tt.src)
			if err != nil {
				t.Fatal(err)
			}
			if got := Explain(tree.Node, vars, observed, tt.quiet); got != tt.want {
				t.Errorf("Explain(%q) = %q, want %q", tt.src, got, tt.want)
			}
		})
	}
}

func TestShow(t *testing.T) {
	long := strings.Repeat("x", MaxShown+1)
	tests := []struct {
		name string
		v    any
		long LongStrings
		want string
	}{
		{"nil", nil, OmitLong, "nil"},
		{"string", "up", OmitLong, `"up"`},
		{"number", 2.5, OmitLong, "2.5"},
		{"bool", true, CutLong, "true"},
		{"long string omitted", long, OmitLong, ""},
		{"long string cut", long, CutLong, `"` + long[:MaxShown] + `"…`},
		{"short map", map[string]any{"a": 1}, OmitLong, "map[a:1]"},
		{"long list cut", []string{long}, OmitLong, "[" + long[:MaxShown-1] + "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Show(tt.v, tt.long); got != tt.want {
				t.Errorf("Show(%v) = %q, want %q", tt.v, got, tt.want)
			}
		})
	}
}
