package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/nightowl/nightowl/internal/storetest"
)

func TestStoreSuite(t *testing.T) {
	storetest.Run(t, func(t *testing.T, c *storetest.Clock) (storetest.Store, func() storetest.Store) {
		path := filepath.Join(t.TempDir(), "nightowl.db")
		open := func() storetest.Store {
			s, err := Open(context.Background(), Options{Path: path, Now: c.Now})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}
		return open(), open
	})
}
