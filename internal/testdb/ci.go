package testdb

import (
	"os"
	"testing"
)

// SkipUnlessCI skips a test that needs something this machine lacks (a
// service, a program) with why, except in CI (CI set), where every test
// must run and what is missing is a failure. Every package's tests use it,
// so that "skipped locally, never in CI" is decided in one place.
func SkipUnlessCI(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("%s (CI is set: this test must run)", why)
	}
	t.Skip(why)
}
