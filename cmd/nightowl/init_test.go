package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestInit writes the starter config and the first admin, refuses to write
// over them, and leaves nothing behind when the admin cannot be made.
func TestInit(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "owl")
	code, out, errOut := runCmdIn(t, nil, "correct horse battery staple\n", "init", "--dir", dir, "--admin", "ana", "--password-stdin")
	cfg := filepath.Join(dir, "nightowl.yaml")
	if code != 0 || !strings.Contains(out, "nightowl serve -c "+cfg) {
		t.Fatalf("init: exit %d: %s%s", code, out, errOut)
	}
	if fi, err := os.Stat(cfg); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("config: %v, %v", fi, err)
	}
	if code, out, errOut := runCmd(t, nil, "validate", "-c", cfg); code != 0 {
		t.Errorf("validate the starter: exit %d: %s%s", code, out, errOut)
	}
	if code, out, _ := runCmd(t, nil, "user", "list", "-c", cfg); code != 0 || !strings.Contains(out, "ana   admin") {
		t.Errorf("users: exit %d:\n%s", code, out)
	}
	before, _ := os.ReadFile(cfg)
	if code, _, errOut := runCmdIn(t, nil, "another good passphrase\n", "init", "--dir", dir, "--password-stdin"); code != 2 || !strings.Contains(errOut, "exists") {
		t.Errorf("init over an existing config: exit %d: %s", code, errOut)
	}
	if after, _ := os.ReadFile(cfg); string(after) != string(before) {
		t.Error("init changed an existing config")
	}

	empty := filepath.Join(t.TempDir(), "owl")
	if code, _, errOut := runCmdIn(t, nil, "short\n", "init", "--dir", empty, "--password-stdin"); code == 0 {
		t.Errorf("init with a password that is refused: exit 0: %s", errOut)
	}
	if entries, _ := os.ReadDir(empty); len(entries) != 0 {
		t.Errorf("a failed init left %v", entries)
	}
}
