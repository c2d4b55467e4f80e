package postgres

import (
	"context"
	"sync"
	"testing"

	"github.com/nightowl/nightowl/internal/storetest"
	"github.com/nightowl/nightowl/internal/testdb"
)

// recordsNode is a Store that the suite may close before the test's
// cleanup closes it again.
type recordsNode struct {
	*Store
	once sync.Once
	err  error
}

func (n *recordsNode) Close() error {
	n.once.Do(func() { n.err = n.Store.Close() })
	return n.err
}

// recordsOpen opens a Store on dsn, closed when the test ends.
func recordsOpen(t *testing.T, dsn string, opts Options) *recordsNode {
	t.Helper()
	opts.DSN = dsn
	s, err := Open(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	n := &recordsNode{Store: s}
	t.Cleanup(func() { n.Close() })
	return n
}

func TestRecordsSuite(t *testing.T) {
	storetest.RecordsSuite(t, func(t *testing.T, c *storetest.Clock) (storetest.Records, func() storetest.Records) {
		dsn := testdb.PostgresSchema(t)
		open := func() storetest.Records { return recordsOpen(t, dsn, Options{Now: c.Now}) }
		return open(), open
	})
}
