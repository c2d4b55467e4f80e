// Package schema reads the migrations that each of nightowl's stores
// (sqlite, postgres) embeds: numbered files, NNNN_what.sql, applied in
// order, each in a transaction together with the row that records it. A
// released file is never edited: a change to the schema is a new file. How
// a migration is applied, and recorded, is each store's own.
package schema

import (
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Migration is one numbered file.
type Migration struct {
	Version int
	Name    string // the file's name, as recorded
	SQL     string
}

// Load reads migrations/*.sql from fsys, in order. Their numbers must run
// from 1 without a gap.
func Load(fsys fs.FS) ([]Migration, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []Migration
	for _, name := range names {
		base := path.Base(name)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must start with a positive number and '_'", base)
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		ms = append(ms, Migration{Version: v, Name: base, SQL: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i, m := range ms {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migration %s: expected version %d", m.Name, i+1)
		}
	}
	return ms, nil
}

// TooNew is the error for a database whose schema is at version cur,
// beyond latest, the newest migration this binary has: a newer nightowl
// migrated it, and this one would not know what its tables mean.
func TooNew(cur, latest int) error {
	return fmt.Errorf("database schema is version %d, newer than version %d that this nightowl knows: upgrade nightowl", cur, latest)
}
