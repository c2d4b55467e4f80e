package probe

import (
	"strings"
	"testing"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/assert"
)

// judge evaluates assertions ("name: expr") compiled against the facts of
// type typ, as the engine does, and returns the judged result.
func judge(t testing.TB, typ string, r nightowl.Result, asserts ...string) nightowl.Result {
	t.Helper()
	var c assert.Compiler
	r.Assertions = nil
	for _, src := range asserts {
		name, expr, _ := strings.Cut(src, ": ")
		a, err := c.Compile(typ, Types[typ].Facts, name, expr, nightowl.SeverityCritical)
		if err != nil {
			t.Fatalf("compile %s: %v", src, err)
		}
		r.Assertions = append(r.Assertions, a.Eval(r.Facts))
	}
	r.Judge()
	return r
}
