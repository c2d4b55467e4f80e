package postgres

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/nightowl/nightowl/internal/testdb"
)

// TestSessionTimeouts reads the timeouts of the pool's sessions back from
// the server: nightowl's by default, the connection string's where it sets
// them, as a parameter or with -c in options; and a migration's session
// goes back to the pool with them.
func TestSessionTimeouts(t *testing.T) {
	dsn := testdb.PostgresSchema(t)
	with := func(set map[string]string) string {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		for k, v := range set {
			q.Set(k, v)
		}
		// A space in options must be %20: pgx reads + as itself.
		u.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20")
		return u.String()
	}
	for _, c := range []struct {
		name string
		dsn  string
		want map[string]string
	}{
		{"defaults", dsn, map[string]string{
			"statement_timeout": "1min", "lock_timeout": "30s", "idle_in_transaction_session_timeout": "1min"}},
		{"parameters", with(map[string]string{"statement_timeout": "5s", "lock_timeout": "0"}), map[string]string{
			"statement_timeout": "5s", "lock_timeout": "0", "idle_in_transaction_session_timeout": "1min"}},
		{"options", with(map[string]string{"options": "-c lock_timeout=2s -c idle_in_transaction_session_timeout=0"}), map[string]string{
			"statement_timeout": "1min", "lock_timeout": "2s", "idle_in_transaction_session_timeout": "0"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := openChecks(t, c.dsn, Options{MaxConns: 1})
			// With one connection, this is the one the migration ran on.
			for name, want := range c.want {
				var got string
				if err := s.pool.QueryRow(context.Background(), "SHOW "+name).Scan(&got); err != nil {
					t.Fatal(err)
				}
				if got != want {
					t.Errorf("%s = %s, want %s", name, got, want)
				}
			}
		})
	}
}
