package probe

import (
	"context"
	"database/sql"
	"github.com/nightowl/nightowl/internal/testdb"
	"os"
	"testing"
	"time"
)

// mysqlTestDSN returns the DSN of the shared MariaDB server that the tests
// may use, from NIGHTOWL_TEST_MYSQL. Without it a test is skipped, except in
// CI, where a missing server is a failure.
func mysqlTestDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("NIGHTOWL_TEST_MYSQL")
	if dsn == "" {
		testdb.SkipUnlessCI(t, "NIGHTOWL_TEST_MYSQL is not set (e.g. root@tcp(127.0.0.1:3306)/test); scripts/test sets it")
	}
	return dsn
}

// mysqlOpen opens dsn for a test's own statements and closes it when the
// test ends.
func mysqlOpen(t testing.TB, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// mysqlExec runs statements in order, failing the test on the first error.
func mysqlExec(t testing.TB, db *sql.DB, stmts ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}
