package main

import (
	"context"
	"strings"
	"testing"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/app"
)

// TestUserPassword sets a user's password from the command line: their
// sessions are refused afterwards, the new password signs in and the old
// one does not, and the change is in the audit log.
func TestUserPassword(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg := writeFile(t, dir, "nightowl.yaml", "")
	if code, out, errOut := runCmdIn(t, nil, "correct horse battery staple\n", "user", "add", "-c", cfg, "--password-stdin", "ana"); code != 0 {
		t.Fatalf("user add: exit %d: %s%s", code, out, errOut)
	}
	signIn := func(password string) (string, error) {
		st, err := app.OpenStorage(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		_, cookie, err := st.Access("test").Login(ctx, "ana", password, "192.0.2.1")
		return cookie, err
	}
	cookie, err := signIn("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}

	if code, _, errOut := runCmdIn(t, nil, "short\n", "user", "password", "-c", cfg, "--password-stdin", "ana"); code != 1 || !strings.Contains(errOut, "12") {
		t.Fatalf("a short password: exit %d: %s", code, errOut)
	}
	if code, _, _ := runCmdIn(t, nil, "a brand new passphrase\n", "user", "password", "-c", cfg, "--password-stdin", "zed"); code != 1 {
		t.Fatalf("an unknown user: exit %d", code)
	}
	if code, _, errOut := runCmd(t, nil, "user", "password", "-c", cfg, "ana"); code != 2 || !strings.Contains(errOut, "terminal") {
		t.Fatalf("no terminal and no --password-stdin: exit %d: %s", code, errOut)
	}
	code, out, errOut := runCmdIn(t, map[string]string{"USER": "ops"}, "a brand new passphrase\n", "user", "password", "-c", cfg, "--password-stdin", "ana")
	if code != 0 || out != "changed the password of ana; their sessions have ended\n" {
		t.Fatalf("user password: exit %d: %q %s", code, out, errOut)
	}

	st, err := app.OpenStorage(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.Access("test").Session(ctx, cookie); nightowl.ErrorCode(err) != nightowl.EUnauthorized {
		t.Errorf("a session from before the change: %v", err)
	}
	entries, err := st.AuditLog().AuditEntries(ctx, nightowl.AuditQuery{Action: "user.password"})
	if err != nil || len(entries) != 1 || entries[0].Actor != "cli:ops" || entries[0].Subject != "ana" {
		t.Errorf("audit: %+v %v", entries, err)
	}
	st.Close()
	if _, err := signIn("correct horse battery staple"); nightowl.ErrorCode(err) != nightowl.EUnauthorized {
		t.Errorf("the old password: %v", err)
	}
	if _, err := signIn("a brand new passphrase"); err != nil {
		t.Errorf("the new password: %v", err)
	}
}
