package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"

	modernc "modernc.org/sqlite"
)

// openWriter opens the writer's pool on a driver of the store's own, so that
// the SQL functions the writer needs exist on its connections and nowhere
// else in the process: registering them on the shared "sqlite" driver would
// be global state.
func (s *Store) openWriter(dsn string) (*sql.DB, error) {
	d := &modernc.Driver{}
	if err := d.RegisterDeterministicScalarFunction("merge_hist", 2, s.mergeHist); err != nil {
		return nil, err
	}
	return sql.OpenDB(connector{d: d, dsn: dsn}), nil
}

type connector struct {
	d   *modernc.Driver
	dsn string
}

func (c connector) Connect(context.Context) (driver.Conn, error) { return c.d.Open(c.dsn) }
func (c connector) Driver() driver.Driver                        { return c.d }

// mergeHist implements merge_hist(stored, added): the histogram that holds
// the durations of both.
func (s *Store) mergeHist(_ *modernc.FunctionContext, args []driver.Value) (driver.Value, error) {
	b, ok := args[1].([]byte)
	if !ok {
		return nil, errors.New("merge_hist: added histogram is not a blob")
	}
	added, err := decodeHist(b)
	if err != nil {
		return nil, err
	}
	stored, _ := args[0].([]byte)
	h, err := decodeHist(stored)
	if err != nil {
		// A damaged row loses its percentiles, but must not stop every
		// later write: its runs, failures and max still add up.
		s.log.Warn("sqlite: replacing a damaged rollup histogram", "err", err)
		return b, nil
	}
	h.merge(added)
	return h.encode(), nil
}
