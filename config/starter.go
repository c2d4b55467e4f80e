package config

import (
	"bytes"
	_ "embed"
	"strconv"
)

// Starter is the commented config `nightowl init` writes: it validates as
// it is, and watches nightowl itself until the operator adds checks.
//
//go:embed starter.yaml
var Starter []byte

// starterSQLite is the line of Starter that names its store.
const starterSQLite = "  sqlite: nightowl.db\n"

// StarterWithSQLite is Starter with its SQLite store at path instead of
// beside the config: for an install that keeps its config in one place
// and its data in another, such as /etc/nightowl and /var/lib/nightowl.
func StarterWithSQLite(path string) []byte {
	return bytes.Replace(Starter, []byte(starterSQLite), []byte("  sqlite: "+strconv.Quote(path)+"\n"), 1)
}
