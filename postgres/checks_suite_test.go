package postgres

import (
	"context"
	"log/slog"
	"testing"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/storetest"
	"github.com/nightowl/nightowl/internal/testdb"
)

func TestChecksSuite(t *testing.T) {
	storetest.Checks(t, func(t *testing.T, c *storetest.Clock) (nightowl.Store, func() nightowl.Store) {
		dsn := testdb.PostgresSchema(t)
		open := func() nightowl.Store {
			s, err := Open(context.Background(), Options{DSN: dsn, Now: c.Now, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}
		return open(), open
	})
}
