package config

import (
	"regexp"
	"strings"
	"testing"
)

// TestStarterValidates: the config nightowl init writes loads as it is, and
// so do its commented examples once uncommented, as a user would.
func TestStarterValidates(t *testing.T) {
	cfg, err := Parse("nightowl.yaml", Starter, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Checks) != 1 || cfg.Checks[0].Name != "nightowl" || cfg.Server.Listen != "127.0.0.1:8080" {
		t.Errorf("starter config: %d checks, listen %s", len(cfg.Checks), cfg.Server.Listen)
	}

	// An example is a commented line of YAML: an item, a key of a
	// section, or a line indented under one; prose comments stay.
	example := regexp.MustCompile(`^(\s*)# ((?:- name|  |notify:|sqlite_backup).*)$`)
	var lines []string
	for line := range strings.Lines(string(Starter)) {
		lines = append(lines, example.ReplaceAllString(strings.TrimRight(line, "\n"), "$1$2"))
	}
	getenv := func(k string) (string, bool) { return "nightowl:secret@tcp(127.0.0.1:3306)/shop", k == "SHOP_DB_DSN" }
	all, err := Parse("nightowl.yaml", []byte(strings.Join(lines, "\n")), Options{Getenv: getenv})
	if err != nil {
		t.Fatalf("the starter's examples, uncommented:\n%v", err)
	}
	if len(all.Checks) != 4 || len(all.Notify.Receivers) != 1 || all.Storage.SQLiteBackup.Every == 0 {
		t.Errorf("uncommented: %d checks, %d receiver groups, backups every %s", len(all.Checks), len(all.Notify.Receivers), all.Storage.SQLiteBackup.Every)
	}
}

// TestStarterWithSQLite: the starter with its store elsewhere loads, with
// the store, and its backups, where it was put.
func TestStarterWithSQLite(t *testing.T) {
	for _, path := range []string{"/var/lib/nightowl/nightowl.db", `/srv/odd "dir"/no.db`} {
		cfg, err := Parse("/etc/nightowl/nightowl.yaml", StarterWithSQLite(path), Options{})
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if cfg.Storage.SQLite != path {
			t.Errorf("storage.sqlite = %q, want %q", cfg.Storage.SQLite, path)
		}
		if n := strings.Count(string(StarterWithSQLite(path)), "\n"); n != strings.Count(string(Starter), "\n") {
			t.Errorf("%d lines, the starter has %d", n, strings.Count(string(Starter), "\n"))
		}
	}
}
