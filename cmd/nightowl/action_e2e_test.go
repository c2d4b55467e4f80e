package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/nightowl/nightowl"
)

// userTokenCLI adds a user with the role to the storage of the config at
// cfg and makes a token of theirs, through the CLI, before the server runs.
func userTokenCLI(t *testing.T, cfg, name, role string) string {
	t.Helper()
	if code, out, errOut := runCmdIn(t, nil, "correct horse battery staple\n", "user", "add", "-c", cfg, "--role", role, "--password-stdin", name); code != 0 {
		t.Fatalf("user add %s: exit %d: %s%s", name, code, out, errOut)
	}
	// The people approving through the CLI need tokens that may.
	code, out, errOut := runCmd(t, nil, "token", "create", "-c", cfg, "--user", name, "--name", "cli", "--can-approve")
	if code != 0 || !strings.HasPrefix(out, "nwl_") {
		t.Fatalf("token create %s: exit %d: %s%s", name, code, out, errOut)
	}
	return strings.TrimSpace(out)
}

// TestActionSelfApprovalCLI drives a request through the CLI against a
// server run in-process: ana requests, cannot approve her own request, bo
// approves, `action show` prints exactly the argv that runs, and ana runs
// it.
func TestActionSelfApprovalCLI(t *testing.T) {
	dir := t.TempDir()
	addr := freePort(t)
	cfg := writeFile(t, dir, "nightowl.yaml", fmt.Sprintf(`server: {listen: %q}
checks:
  - name: closed
    tcp: {addr: "127.0.0.1:1"}
    interval: 1h
actions:
  - name: restore-table
    run: [/bin/echo, "restoring table", "{{table}}", "--from=nightly"]
    params: {table: {pattern: "^[a-z_]+$"}}
    approvals: 1
    confirm: table
`, addr))
	ana := map[string]string{"NIGHTOWL_URL": "http://" + addr, "NIGHTOWL_TOKEN": userTokenCLI(t, cfg, "ana", "responder")}
	bo := map[string]string{"NIGHTOWL_URL": "http://" + addr, "NIGHTOWL_TOKEN": userTokenCLI(t, cfg, "bo", "responder")}
	if code, out, errOut := runCmd(t, nil, "token", "list", "-c", cfg, "--user", "bo"); code != 0 || !strings.Contains(out, "responder, may approve") {
		t.Fatalf("token list: exit %d: %s%s", code, out, errOut)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() {
		e := &env{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}, getenv: func(string) string { return "" }}
		done <- run(ctx, e, []string{"serve", "-c", cfg})
	}()
	defer func() { cancel(); <-done }()
	waitUntil(t, "the server", func() bool { code, _, _ := runCmd(t, ana, "action", "list"); return code == 0 })

	code, out, errOut := runCmd(t, ana, "action", "request", "restore-table", "--param", "table=orders", "--confirm", "orders", "--reason", "orders dropped at 02:10")
	m := regexp.MustCompile(`^request (r-[a-z2-7]+) made for restore-table \(pending\)\n`).FindStringSubmatch(out)
	if code != 0 || m == nil || !strings.Contains(out, "it needs 1 more approval by someone other than the requester") {
		t.Fatalf("request: exit %d:\n%s%s", code, out, errOut)
	}
	id := m[1]

	code, out, errOut = runCmd(t, ana, "action", "approve", id)
	if want := "nightowl action approve " + id + ": forbidden: you requested " + id + ": someone else must approve it\n"; code != 1 || errOut != want || out != "" {
		t.Errorf("self-approval: exit %d: %s%s, want exit 1 and %q", code, out, errOut, want)
	}
	code, _, errOut = runCmd(t, ana, "action", "run", id)
	if code != 1 || !strings.Contains(errOut, "conflict: request "+id+" has 0 of the 1 approvals it needs") {
		t.Errorf("run before approval: exit %d: %s", code, errOut)
	}
	code, out, errOut = runCmd(t, bo, "action", "approve", id)
	if code != 0 || !strings.HasPrefix(out, "request "+id+" for restore-table approved (1 of 1 approvals; approved)\n") ||
		!strings.Contains(out, "nightowl action run "+id) {
		t.Fatalf("approval by bo: exit %d: %s%s", code, out, errOut)
	}

	code, out, errOut = runCmd(t, bo, "action", "show", id)
	for _, want := range []string{
		"state      approved\n",
		`params     table = "orders"` + "\n",
		"approvals  1 of 1: bo at ",
		"\nruns (each argument as it is, never through a shell):\n  /bin/echo \"restoring table\" orders --from=nightly\n",
		"\nplan sha256 ",
	} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("show: exit %d: lacks %q:\n%s%s", code, want, out, errOut)
		}
	}
	code, out, errOut = runCmd(t, bo, "action", "show", id, "--json")
	var shown struct{ Plan nightowl.ActionPlan }
	json.Unmarshal([]byte(out), &shown)
	if want := []string{"/bin/echo", "restoring table", "orders", "--from=nightly"}; code != 0 || !reflect.DeepEqual(shown.Plan.Run, want) {
		t.Errorf("show --json: exit %d: plan %q, want %q:\n%s%s", code, shown.Plan.Run, want, out, errOut)
	}

	code, out, errOut = runCmd(t, ana, "action", "run", id)
	if code != 0 || !strings.HasPrefix(out, "request "+id+" for restore-table succeeded: exit code 0 in ") ||
		!strings.HasSuffix(out, "output:\nrestoring table orders --from=nightly\n") {
		t.Errorf("run: exit %d:\n%s%s", code, out, errOut)
	}
	code, out, errOut = runCmd(t, bo, "action", "show", id)
	if code != 0 || !strings.Contains(out, "ran        by ana at ") || !strings.Contains(out, "succeeded: exit code 0") {
		t.Errorf("show after the run: exit %d:\n%s%s", code, out, errOut)
	}
	code, out, errOut = runCmd(t, ana, "audit", "list", "-c", cfg, "--action", "action.")
	for _, want := range []string{"refused: the requester cannot approve their own request", "action.result"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("audit list: exit %d: lacks %q:\n%s%s", code, want, out, errOut)
		}
	}
}
