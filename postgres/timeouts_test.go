package postgres

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/nightowl/nightowl"
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

// TestEventWithinCallersDeadline holds up an event behind a lock another
// session holds on its check: the caller is told within its deadline that
// the event was not written, and it is not written later either, when the
// lock goes. Told otherwise, a caller that keeps what failed to write it
// again (package offline) would record it twice.
func TestEventWithinCallersDeadline(t *testing.T) {
	ctx := context.Background()
	dsn := testdb.PostgresSchema(t)
	s := openChecks(t, dsn, Options{})
	ev := func(to nightowl.Status) nightowl.Event {
		return nightowl.Event{Check: "web", Time: checksT0, Kind: nightowl.EventStatus, From: nightowl.StatusUp, To: to}
	}
	if _, err := s.AddEvent(ctx, ev(nightowl.StatusDown)); err != nil {
		t.Fatal(err)
	}
	locker, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer locker.Close(ctx)
	tx, err := locker.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT 1 FROM checks WHERE name = 'web' FOR UPDATE`); err != nil {
		t.Fatal(err)
	}

	const deadline = 500 * time.Millisecond
	cctx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	if _, err := s.AddEvent(cctx, ev(nightowl.StatusDegraded)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("event held up past its deadline: %v", err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	events, err := s.Events(ctx, "web", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 || events[0].To != nightowl.StatusDown {
		t.Fatalf("events of web: %+v, want only the first: the one that failed was written after all", events)
	}
}
