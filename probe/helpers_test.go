package probe

import (
	"os"
	"strings"
	"testing"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/assert"
)

// skipUnlessCI skips a test that needs something this machine lacks (a
// service, a program) locally, and fails it in CI, where every test must run.
func skipUnlessCI(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatal(why)
	}
	t.Skip(why)
}

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
