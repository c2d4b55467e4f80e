package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/testdb"
	"github.com/nightowl/nightowl/postgres"
)

// closedDSN names a port nothing listens on.
const closedDSN = "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=5"

func TestUnavailableClassifies(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"domain error", nightowl.Errorf(nightowl.ENotFound, "no alert"), false},
		{"wrapped domain error", fmt.Errorf("save alert: %w", nightowl.Errorf(nightowl.EInvalid, "no id")), false},
		{"plain error", errors.New("something else"), false},
		{"cancelled by the caller", fmt.Errorf("claim: %w", context.Canceled), false},
		{"deadline", fmt.Errorf("claim: %w", context.DeadlineExceeded), true},
		{"admin shutdown", &pgconn.PgError{Code: "57P01"}, true},
		{"crash shutdown", &pgconn.PgError{Code: "57P02"}, true},
		{"cannot connect now", &pgconn.PgError{Code: "57P03"}, true},
		{"connection failure", fmt.Errorf("x: %w", &pgconn.PgError{Code: "08006"}), true},
		{"statement timeout", &pgconn.PgError{Code: "57014"}, true},
		{"lock timeout", &pgconn.PgError{Code: "55P03"}, true},
		{"idle in transaction timeout", &pgconn.PgError{Code: "25P03"}, true},
		{"unique violation", &pgconn.PgError{Code: "23505"}, false},
		{"conn closed", fmt.Errorf("x: %w", pgconn.ErrConnClosed), true},
		{"net error", &net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset by peer")}, true},
		{"unexpected eof", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), true},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := postgres.Unavailable(c.err); got != c.want {
				t.Errorf("Unavailable(%v) = %v, want %v", c.err, got, c.want)
			}
		})
	}
}

// TestUnavailableAgainstServers asks the real server, and a port where
// there is none, for the errors Unavailable must tell apart.
func TestUnavailableAgainstServers(t *testing.T) {
	dsn := testdb.PostgresSchema(t)
	ctx := context.Background()
	store, err := postgres.Open(ctx, postgres.Options{DSN: dsn, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	// A connection of each case's own: a timeout closes the one it hit.
	connect := func(t *testing.T) *pgx.Conn {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close(context.Background()) })
		return conn
	}

	for _, c := range []struct {
		name string
		do   func(t *testing.T) error
		want bool
	}{
		{"not found", func(t *testing.T) error {
			_, err := store.Alert(ctx, "nope")
			return err
		}, false},
		{"invalid alert", func(t *testing.T) error {
			return store.SaveAlert(ctx, &nightowl.Alert{}, nil)
		}, false},
		{"syntax error", func(t *testing.T) error {
			_, err := connect(t).Exec(ctx, "SELEC 1")
			return err
		}, false},
		{"division by zero", func(t *testing.T) error {
			_, err := connect(t).Exec(ctx, "SELECT 1/0")
			return err
		}, false},
		{"timeout", func(t *testing.T) error {
			tctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
			defer cancel()
			_, err := connect(t).Exec(tctx, "SELECT pg_sleep(10)")
			return err
		}, true},
		{"statement timeout", func(t *testing.T) error {
			conn := connect(t)
			if _, err := conn.Exec(ctx, "SET statement_timeout = '100ms'"); err != nil {
				t.Fatal(err)
			}
			_, err := conn.Exec(ctx, "SELECT pg_sleep(10)")
			return err
		}, true},
		{"lock timeout", func(t *testing.T) error {
			holder, waiter := connect(t), connect(t)
			if _, err := holder.Exec(ctx, "SELECT pg_advisory_lock(15)"); err != nil {
				t.Fatal(err)
			}
			if _, err := waiter.Exec(ctx, "SET lock_timeout = '100ms'"); err != nil {
				t.Fatal(err)
			}
			_, err := waiter.Exec(ctx, "SELECT pg_advisory_lock(15)")
			return err
		}, true},
		{"terminated by an administrator", func(t *testing.T) error {
			victim := connect(t)
			var ok bool
			if err := connect(t).QueryRow(ctx, "SELECT pg_terminate_backend($1)", victim.PgConn().PID()).Scan(&ok); err != nil || !ok {
				t.Fatalf("terminate backend: %v, %v", ok, err)
			}
			_, err := victim.Exec(ctx, "SELECT 1")
			return err
		}, true},
		{"open on a closed port", func(t *testing.T) error {
			s, err := postgres.Open(ctx, postgres.Options{DSN: closedDSN, Logger: slog.New(slog.DiscardHandler)})
			if err == nil {
				s.Close()
			}
			return err
		}, true},
		{"query on a closed port", func(t *testing.T) error {
			pool, err := pgxpool.New(ctx, closedDSN)
			if err != nil {
				t.Fatal(err)
			}
			defer pool.Close()
			_, err = pool.Exec(ctx, "SELECT 1")
			return err
		}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.do(t)
			if err == nil {
				t.Fatal("no error")
			}
			if got := postgres.Unavailable(err); got != c.want {
				t.Errorf("Unavailable(%v) = %v, want %v", err, got, c.want)
			}
		})
	}
}
