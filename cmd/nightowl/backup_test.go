package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestBackupAndRestore backs the store up while a server runs on it; a
// restore and a second server are refused until it stops; then the restore
// brings back what the backup held and drops what came after.
func TestBackupAndRestore(t *testing.T) {
	dir := t.TempDir()
	addr := freePort(t)
	cfg := writeFile(t, dir, "nightowl.yaml", fmt.Sprintf("server: {listen: %q}\nstorage: {sqlite: %q}\n", addr, filepath.Join(dir, "nightowl.db")))
	adminToken(t, cfg)

	stop := serveReady(t, cfg, addr)

	backup := filepath.Join(t.TempDir(), "backup.db")
	if code, out, errOut := runCmd(t, nil, "backup", "-c", cfg, backup); code != 0 || !strings.Contains(out, "it verifies") {
		t.Fatalf("backup: exit %d: %s%s", code, out, errOut)
	}
	if code, _, errOut := runCmd(t, nil, "restore", "-c", cfg, backup); code == 0 || !strings.Contains(errOut, "server is running") {
		t.Errorf("restore under a running server: exit %d: %s", code, errOut)
	}
	if code, _, errOut := runCmd(t, nil, "serve", "-c", cfg, "--listen", "127.0.0.1:0"); code == 0 || !strings.Contains(errOut, "server is running") {
		t.Errorf("a second server on the same file: exit %d: %s", code, errOut)
	}
	if code, serveErr := stop(); code != 0 {
		t.Fatalf("serve exited %d: %s", code, serveErr)
	}

	if code, out, errOut := runCmdIn(t, nil, "another good passphrase\n", "user", "add", "-c", cfg, "--role", "viewer", "--password-stdin", "bo"); code != 0 {
		t.Fatalf("user add: exit %d: %s%s", code, out, errOut)
	}
	if code, out, errOut := runCmd(t, nil, "restore", "-c", cfg, backup); code != 0 {
		t.Fatalf("restore: exit %d: %s%s", code, out, errOut)
	}
	code, out, _ := runCmd(t, nil, "user", "list", "-c", cfg)
	if code != 0 || !strings.Contains(out, "ops") || strings.Contains(out, "bo ") || strings.Contains(out, "bo\n") {
		t.Errorf("users after the restore: exit %d:\n%s", code, out)
	}
	if code, out, errOut := runCmd(t, nil, "audit", "verify", "-c", cfg); code != 0 {
		t.Errorf("audit verify after the restore: exit %d: %s%s", code, out, errOut)
	}
}
