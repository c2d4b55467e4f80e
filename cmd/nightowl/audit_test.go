package main

import (
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/nightowl/nightowl"
)

// TestAuditCLI manages people and tokens through the CLI, which records
// each change as made by cli:$USER; lists the log; verifies it; then edits
// one row with SQL on the file, as someone with access to it could, and
// expects verify to fail naming that entry.
func TestAuditCLI(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "nightowl.yaml", `checks:
  - name: refused
    tcp: {addr: "127.0.0.1:1"}
`)
	who := map[string]string{"USER": "ops-person"}
	if code, out, errOut := runCmdIn(t, who, "correct horse battery staple\n", "user", "add", "-c", cfg, "--role", "admin", "--password-stdin", "ana"); code != 0 {
		t.Fatalf("user add: exit %d: %s%s", code, out, errOut)
	}
	code, secret, errOut := runCmd(t, who, "token", "create", "-c", cfg, "--user", "ana", "--name", "ci")
	if code != 0 {
		t.Fatalf("token create: exit %d: %s", code, errOut)
	}
	id := regexp.MustCompile(`token (\S+) for ana`).FindStringSubmatch(errOut)
	if id == nil {
		t.Fatalf("token create said %q", errOut)
	}
	if code, out, errOut := runCmd(t, who, "token", "revoke", "-c", cfg, id[1]); code != 0 {
		t.Fatalf("token revoke: exit %d: %s%s", code, out, errOut)
	}
	if code, out, errOut := runCmd(t, who, "user", "remove", "-c", cfg, "ana"); code == 0 {
		t.Fatalf("removing the last admin: exit 0: %s%s", out, errOut)
	}
	if code, out, errOut := runCmdIn(t, nil, "another good password\n", "user", "add", "-c", cfg, "--password-stdin", "vic"); code != 0 {
		t.Fatalf("user add: exit %d: %s%s", code, out, errOut)
	}
	if code, out, errOut := runCmd(t, who, "user", "role", "-c", cfg, "ana", "viewer"); code == 0 {
		t.Fatalf("demoting the last admin: exit 0: %s%s", out, errOut)
	}
	if code, out, errOut := runCmd(t, who, "user", "role", "-c", cfg, "vic", "responder"); code != 0 || out != "vic is now responder\n" {
		t.Fatalf("user role: exit %d: %q %s", code, out, errOut)
	}

	code, out, errOut := runCmd(t, nil, "audit", "list", "-c", cfg)
	if code != 0 {
		t.Fatalf("audit list: exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 6 || !strings.HasPrefix(lines[0], "SEQ") {
		t.Fatalf("audit list:\n%s", out)
	}
	for i, want := range []string{
		`^5 .* cli:ops-person +user\.role +vic +from viewer to responder$`,
		`^4 .* cli:unknown +user\.add +vic +role viewer$`,
		`^3 .* cli:ops-person +token\.revoke +` + id[1] + ` +of ana; name ci$`,
		`^2 .* cli:ops-person +token\.create +` + id[1] + ` +for ana; name ci; role admin$`,
		`^1 .* cli:ops-person +user\.add +ana +role admin$`,
	} {
		if !regexp.MustCompile(want).MatchString(lines[i+1]) {
			t.Errorf("line %d: %q, want %s", i+1, lines[i+1], want)
		}
	}
	if strings.Contains(out, strings.TrimSpace(secret)) || strings.Contains(out, "correct horse") {
		t.Error("the log holds a secret")
	}

	code, out, _ = runCmd(t, nil, "audit", "list", "-c", cfg, "--json", "--action", "token.", "--limit", "1")
	var list struct{ Entries []nightowl.AuditEntry }
	if err := json.Unmarshal([]byte(out), &list); code != 0 || err != nil || len(list.Entries) != 1 || list.Entries[0].Action != "token.revoke" {
		t.Fatalf("audit list --json: exit %d: %v %s", code, err, out)
	}
	code, out, _ = runCmd(t, nil, "audit", "list", "-c", cfg, "--actor", "cli:unknown")
	if code != 0 || strings.Count(out, "\n") != 2 {
		t.Errorf("audit list --actor:\n%s", out)
	}

	code, out, errOut = runCmd(t, nil, "audit", "verify", "-c", cfg)
	if code != 0 || !regexp.MustCompile(`^ok: 5 entries, head [0-9a-f]{64}\n$`).MatchString(out) {
		t.Fatalf("audit verify: exit %d: %s%s", code, out, errOut)
	}

	db, err := sql.Open("sqlite", filepath.Join(dir, "nightowl.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`DROP TRIGGER audit_log_no_update; UPDATE audit_log SET actor = 'someone-else' WHERE seq = 2`); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runCmd(t, nil, "audit", "verify", "-c", cfg)
	if code != 1 || out != "FAILED: entry 2 was altered (its hash does not match its contents)\n" {
		t.Fatalf("audit verify after an edit: exit %d: %q %s", code, out, errOut)
	}

	for _, args := range [][]string{{"audit"}, {"audit", "nosuch"}, {"audit", "list", "extra"}, {"audit", "verify", "extra"}} {
		if code, _, _ := runCmd(t, nil, append(args, "-c", cfg)...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

// TestAuditSignedCheckpoints makes a signing key, records through the CLI
// with it in the config (each command signs the head it leaves), then cuts
// the tail of the log and moves the head back as someone who can write the
// file could: the chain alone looks whole, the checkpoints do not. A head
// recorded elsewhere (--expect-head) finds the cut too.
func TestAuditSignedCheckpoints(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "keys", "audit.key")
	os.Mkdir(filepath.Dir(keyFile), 0o700)
	code, pubPEM, errOut := runCmd(t, nil, "audit", "keygen", keyFile)
	if code != 0 || !strings.HasPrefix(pubPEM, "-----BEGIN PUBLIC KEY-----") {
		t.Fatalf("keygen: exit %d: %s%s", code, pubPEM, errOut)
	}
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi.Mode(), err)
	}
	if code, _, _ := runCmd(t, nil, "audit", "keygen", keyFile); code == 0 {
		t.Fatal("keygen overwrote a key file")
	}
	pubFile := writeFile(t, dir, "audit.pub", pubPEM)
	cfg := writeFile(t, dir, "nightowl.yaml", "audit: {signing_key: keys/audit.key}\n")
	for _, name := range []string{"ana", "bo", "cy"} {
		if code, out, errOut := runCmdIn(t, nil, "correct horse battery staple\n", "user", "add", "-c", cfg, "--password-stdin", name); code != 0 {
			t.Fatalf("user add: exit %d: %s%s", code, out, errOut)
		}
	}
	code, out, errOut := runCmd(t, nil, "audit", "verify", "-c", cfg)
	if code != 0 || !strings.Contains(out, "ok: 3 entries") || !strings.Contains(out, "3 signed checkpoints, the newest at the head") {
		t.Fatalf("verify: exit %d: %s%s", code, out, errOut)
	}
	head := regexp.MustCompile(`head ([0-9a-f]{64})`).FindStringSubmatch(out)[1]
	if code, out, _ := runCmd(t, nil, "audit", "verify", "-c", cfg, "--public-key", pubFile, "--expect-head", head); code != 0 {
		t.Fatalf("verify with the public key and the head: exit %d: %s", code, out)
	}

	db, err := sql.Open("sqlite", filepath.Join(dir, "nightowl.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE seq = 3;
		UPDATE audit_head SET seq = 2, hash = (SELECT hash FROM audit_log WHERE seq = 2)`); err != nil {
		t.Fatal(err)
	}
	code, out, _ = runCmd(t, nil, "audit", "verify", "-c", writeFile(t, dir, "nokey.yaml", ""))
	if code != 0 {
		t.Fatalf("without a key the cut is not found (the chain is whole): exit %d: %s", code, out)
	}
	code, out, _ = runCmd(t, nil, "audit", "verify", "-c", cfg)
	if code != 1 || !strings.HasPrefix(out, "FAILED: entries 3 to 3 were cut") {
		t.Fatalf("verify after the cut: exit %d: %q", code, out)
	}
	code, out, _ = runCmd(t, nil, "audit", "verify", "-c", writeFile(t, dir, "nokey2.yaml", ""), "--expect-head", head)
	if code != 1 || !strings.Contains(out, "does not hold the expected head") {
		t.Fatalf("verify --expect-head of a hash cut off: exit %d: %q", code, out)
	}
	// Reading the log signs nothing: with every checkpoint deleted,
	// verify keeps failing however often it runs.
	if _, err := db.Exec(`DROP TRIGGER audit_checkpoints_no_delete; DELETE FROM audit_checkpoints`); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		runCmd(t, nil, "audit", "list", "-c", cfg)
		if code, out, _ := runCmd(t, nil, "audit", "verify", "-c", cfg); code != 1 || !strings.Contains(out, "no signed checkpoint") {
			t.Fatalf("verify without checkpoints: exit %d: %q", code, out)
		}
	}
	for _, bad := range []string{"xyz", "abcd"} {
		if code, _, _ := runCmd(t, nil, "audit", "verify", "-c", cfg, "--expect-head", bad); code != 2 {
			t.Errorf("--expect-head %s: exit %d, want 2", bad, code)
		}
	}
}
