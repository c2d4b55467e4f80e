package crashtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/testdb"
)

// TestActionsOnTwoNodes runs two real nightowl processes on one PostgreSQL
// and acts on the same action requests through both at once: of many runs
// of one request exactly one runs; of an approval, a denial and runs racing
// on one request, a denial that was answered means the request never runs,
// and every answer matches the stored request and the audit log. A check
// that goes down on the node that runs it is seen down by the preflight of
// the other node, which judges the newest result in the store rather than
// the last one it saw itself.
func TestActionsOnTwoNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two servers; skipped in -short")
	}
	dsn := testdb.PostgresSchema(t)
	ctx := context.Background()
	dir := t.TempDir()
	bin, err := build(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	ran := filepath.Join(dir, "ran.txt")
	var shopDown atomic.Bool
	shop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if shopDown.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer shop.Close()

	nodes := make([]*node, 2)
	for i := range nodes {
		n := &node{name: fmt.Sprintf("n%d", i+1), addr: freeAddr(t)}
		cfg := fmt.Sprintf(`server: {listen: %q}
storage: {postgres: %q}
cluster: {node: %s}
checks:
  - name: shop
    http: {url: %q}
    interval: 2s
    timeout: 1s
    fail_after: 1
    recover_after: 1
actions:
  - name: append
    run: [/bin/sh, -c, "echo {{tag}} >> %s"]
    params: {tag: {pattern: "^[a-z0-9-]+$"}}
  - name: guarded
    run: [/bin/sh, -c, "echo {{tag}} >> %s"]
    params: {tag: {pattern: "^[a-z0-9-]+$"}}
    approvals: 1
  - name: deploy
    run: [/bin/true]
    preflight: ['check("shop").facts.status == 200']
`, n.addr, dsn, n.name, shop.URL, ran, ran)
		n.cfg = filepath.Join(dir, n.name+".yaml")
		if err := os.WriteFile(n.cfg, []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		if n.log, err = os.Create(filepath.Join(dir, n.name+".log")); err != nil {
			t.Fatal(err)
		}
		nodes[i] = n
	}
	tokens := map[string]string{}
	for _, u := range []string{"ana", "bo", "cy"} {
		tokens[u] = cliToken(t, bin, nodes[0].cfg, u)
	}
	defer func() {
		for _, n := range nodes {
			if n.p != nil && !n.p.exited() {
				n.p.stop(10 * time.Second)
			}
		}
		if t.Failed() {
			for _, n := range nodes {
				t.Logf("%s's output ends:\n%s", n.name, tail(n.log.Name(), 30))
			}
		}
	}()
	for i, n := range nodes {
		if n.p, err = start(i+1, bin, n.cfg, n.log); err != nil {
			t.Fatal(err)
		}
	}
	call := func(n *node, user, method, path string, body any) (int, map[string]any) {
		t.Helper()
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, "http://"+n.addr+path, rd)
		req.Header.Set("Authorization", "Bearer "+tokens[user])
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, map[string]any{"error": err.Error()}
		}
		defer resp.Body.Close()
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	for _, n := range nodes {
		waitFor(t, 30*time.Second, n.name+" answers", func() string { return tail(n.log.Name(), 10) }, func() bool {
			code, _ := call(n, "ana", "GET", "/api/v1/actions", nil)
			return code == http.StatusOK
		})
	}
	request := func(n *node, action, tag string) string {
		t.Helper()
		code, out := call(n, "ana", "POST", "/api/v1/actions/"+action+"/requests",
			map[string]any{"params": map[string]string{"tag": tag}, "reason": "race"})
		if code != http.StatusCreated {
			t.Fatalf("request %s: %d %v", action, code, out)
		}
		return out["request"].(map[string]any)["id"].(string)
	}
	db, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	audited := func(id, action string) int {
		t.Helper()
		var n int
		if err := db.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE subject = $1 AND action = $2 AND detail NOT LIKE 'refused:%'`,
			id, action).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	stored := func(id string) nightowl.RequestState {
		t.Helper()
		var st string
		if err := db.QueryRow(ctx, `SELECT state FROM action_requests WHERE id = $1`, id).Scan(&st); err != nil {
			t.Fatal(err)
		}
		return nightowl.RequestState(st)
	}
	lines := func(tag string) int {
		b, _ := os.ReadFile(ran)
		n := 0
		for _, l := range strings.Split(string(b), "\n") {
			if l == tag {
				n++
			}
		}
		return n
	}

	t.Run("many runs of one request", func(t *testing.T) {
		for round := range 3 {
			tag := fmt.Sprintf("run-%d", round)
			id := request(nodes[0], "append", tag)
			const runs = 12
			codes := make([]int, runs)
			var wg sync.WaitGroup
			gate := make(chan struct{})
			for i := range runs {
				wg.Go(func() {
					<-gate
					codes[i], _ = call(nodes[i%2], "ana", "POST", "/api/v1/action-requests/"+id+"/run", nil)
				})
			}
			close(gate)
			wg.Wait()
			ok, conflict := 0, 0
			for _, c := range codes {
				switch c {
				case http.StatusOK:
					ok++
				case http.StatusConflict:
					conflict++
				}
			}
			if ok != 1 || conflict != runs-1 || lines(tag) != 1 || audited(id, "action.run") != 1 || stored(id) != nightowl.RequestSucceeded {
				t.Errorf("round %d: answers %v; %d lines ran, %d action.run rows, stored %s; want one 200, one run, one row, succeeded",
					round, codes, lines(tag), audited(id, "action.run"), stored(id))
			}
		}
	})

	t.Run("approve, deny and run at once", func(t *testing.T) {
		denied, ranOK := 0, 0
		for round := range 12 {
			tag := fmt.Sprintf("race-%d", round)
			id := request(nodes[round%2], "guarded", tag)
			var approveCode, denyCode, runCode int
			var denyOut, runOut map[string]any
			var wg sync.WaitGroup
			gate := make(chan struct{})
			wg.Go(func() {
				<-gate
				approveCode, _ = call(nodes[0], "bo", "POST", "/api/v1/action-requests/"+id+"/approve", nil)
			})
			wg.Go(func() {
				<-gate
				if round%3 == 0 {
					time.Sleep(time.Duration(round) * time.Millisecond)
				}
				denyCode, denyOut = call(nodes[1], "cy", "POST", "/api/v1/action-requests/"+id+"/deny", map[string]string{"reason": "not now"})
			})
			wg.Go(func() {
				<-gate
				// The requester runs it as soon as it is approved.
				for try := 0; try < 50; try++ {
					runCode, runOut = call(nodes[try%2], "ana", "POST", "/api/v1/action-requests/"+id+"/run", nil)
					if runCode != http.StatusConflict || !strings.Contains(fmt.Sprint(runOut), "0 of the 1 approvals") {
						return
					}
					time.Sleep(2 * time.Millisecond)
				}
			})
			close(gate)
			wg.Wait()
			st := stored(id)
			runs, approvals, denials := audited(id, "action.run"), audited(id, "action.approve"), audited(id, "action.deny")
			state := fmt.Sprintf("approve %d, deny %d %v, run %d %v; stored %s; %d lines; audit: %d approve, %d deny, %d run",
				approveCode, denyCode, denyOut, runCode, runOut, st, lines(tag), approvals, denials, runs)
			if denyCode == http.StatusOK {
				denied++
				if st != nightowl.RequestDenied || lines(tag) != 0 || runs != 0 || runCode == http.StatusOK || denials != 1 {
					t.Errorf("round %d: a denial was answered, yet: %s", round, state)
				}
			}
			if runCode == http.StatusOK {
				ranOK++
				if st != nightowl.RequestSucceeded || lines(tag) != 1 || runs != 1 || denyCode != http.StatusConflict || denials != 0 {
					t.Errorf("round %d: a run was answered, yet: %s", round, state)
				}
			}
			if denyCode != http.StatusOK && runCode != http.StatusOK || denyCode == http.StatusOK && runCode == http.StatusOK {
				t.Errorf("round %d: exactly one of the denial and the run should have won: %s", round, state)
			}
			if (approveCode == http.StatusOK) != (approvals == 1) || approveCode != http.StatusOK && approveCode != http.StatusConflict {
				t.Errorf("round %d: the approval's answer does not match the audit log: %s", round, state)
			}
		}
		t.Logf("12 races: %d denied, %d ran", denied, ranOK)
	})

	t.Run("preflight on the node that does not run the check", func(t *testing.T) {
		deploy := func(n *node) (int, map[string]any) {
			return call(n, "ana", "POST", "/api/v1/actions/deploy/requests", map[string]any{"reason": "release"})
		}
		waitFor(t, 20*time.Second, "shop up on both nodes", func() string { return "" }, func() bool {
			c1, _ := deploy(nodes[0])
			c2, _ := deploy(nodes[1])
			return c1 == http.StatusCreated && c2 == http.StatusCreated
		})
		shopDown.Store(true)
		time.Sleep(6 * time.Second) // three runs at its 2s interval, written within the 1s flush
		for _, n := range nodes {
			code, out := deploy(n)
			if code != http.StatusConflict || !strings.Contains(fmt.Sprint(out), `check("shop").facts.status = 503`) {
				t.Errorf("deploy on %s with shop down: %d %v", n.name, code, out)
			}
		}
	})
}

// cliToken adds a responder through the CLI of the binary and returns a
// token of theirs.
func cliToken(t *testing.T, bin, cfg, user string) string {
	t.Helper()
	add := exec.Command(bin, "user", "add", "-c", cfg, "--role", "responder", "--password-stdin", user)
	add.Stdin = strings.NewReader("correct horse battery staple\n")
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("user add %s: %v\n%s", user, err, out)
	}
	// Responders approve guarded actions with it.
	out, err := exec.Command(bin, "token", "create", "-c", cfg, "--user", user, "--name", "race", "--can-approve").Output()
	if err != nil {
		t.Fatalf("token create %s: %v", user, err)
	}
	return strings.TrimSpace(string(out))
}
