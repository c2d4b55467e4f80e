package assert

import (
	"testing"

	"github.com/expr-lang/expr/types"

	"github.com/nightowl/nightowl"
)

var httpEnv = types.Map{
	"status": types.Int, "body": types.String, "headers": types.Map{types.Extra: types.String}, "json": types.Any,
	"duration": types.Float, "cert_days_left": types.Float,
}

func TestEval(t *testing.T) {
	tests := []struct {
		name  string
		src   string
		facts nightowl.Facts
		ok    bool
		msg   string
	}{
		{"status ok", "status == 200", nightowl.Facts{"status": 200}, true, ""},
		{"status bad", "status == 200", nightowl.Facts{"status": 503}, false, "status == 200 (status = 503)"},
		{"read-only body", `not (body contains "read-only mode")`,
			nightowl.Facts{"body": "<html>This site is currently in read-only mode. We will return with full functionality soon.</html>"},
			false, `body contains "read-only mode"`},
		{"conjunction names failing side", "status >= 200 and status < 400", nightowl.Facts{"status": 503}, false, "status < 400 (status = 503)"},
		{"json member", `json.state == "ok"`, nightowl.Facts{"json": map[string]any{"state": "degraded"}}, false, `json.state == "ok" (json.state = "degraded")`},
		{"json missing", `json.state == "ok"`, nightowl.Facts{"json": nil}, false, `cannot evaluate: cannot fetch state from <nil> (1:6) (json = nil)`},
		{"nil fact cannot evaluate", "cert_days_left > 7", nightowl.Facts{"cert_days_left": nil}, false,
			"cannot evaluate: invalid operation: <nil> > int (1:16) (cert_days_left = nil)"},
		{"warning duration", "duration < 2", nightowl.Facts{"duration": 2.5}, false, "duration < 2 (duration = 2.5)"},
	}
	var c Compiler
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := c.Compile("http", httpEnv, "a", tt.src, "")
			if err != nil {
				t.Fatal(err)
			}
			got := a.Eval(tt.facts)
			if got.OK != tt.ok || got.Message != tt.msg {
				t.Errorf("Eval = %v %q, want %v %q", got.OK, got.Message, tt.ok, tt.msg)
			}
			if got.Severity != nightowl.SeverityCritical {
				t.Errorf("severity = %q", got.Severity)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct{ src, msg string }{
		{"stauts == 200", "unknown name stauts"},
		{"status ==", "unexpected token EOF"},
		{"status", "expected bool, but got int"},
		{"  ", "empty expression"},
	}
	var c Compiler
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			_, err := c.Compile("http", httpEnv, "a", tt.src, "")
			if err == nil || err.Error() != tt.msg {
				t.Errorf("Compile(%q) error = %v, want %q", tt.src, err, tt.msg)
			}
		})
	}
}

func TestCompileShares(t *testing.T) {
	var c Compiler
	a, _ := c.Compile("http", httpEnv, "a", "status == 200", "")
	b, _ := c.Compile("http", httpEnv, "b", "status == 200", nightowl.SeverityWarning)
	if a.prog != b.prog {
		t.Error("same expression compiled twice")
	}
	if b.Severity() != nightowl.SeverityWarning || b.Name() != "b" {
		t.Errorf("b = %s %s", b.Name(), b.Severity())
	}
}
