package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
)

// fakeActions is a hand-written stand-in for the server's action API, as
// web/actions.go defines it: enough state to drive a request from making
// to running, and to refuse what the server refuses, with its error shape.
// The people are their tokens: "ana" and "bo".
type fakeActions struct {
	mu   sync.Mutex
	reqs map[string]*nightowl.ActionRequest
	// bodies holds each request body received, by path.
	bodies map[string]map[string]any
}

var pauseReplication = nightowl.Action{
	Name: "pause-replication", Description: "Pause replication on a replica",
	Run:       []string{"mysql", "-h", "{{replica}}", "-e", "STOP REPLICA"},
	Params:    []nightowl.ActionParam{{Name: "replica", Pattern: "^[a-z0-9-]+$"}},
	Approvals: 1, Confirm: "replica",
}

func (f *fakeActions) handler() http.Handler {
	t0 := time.Date(2026, 3, 17, 22, 0, 0, 0, time.UTC)
	mux := http.NewServeMux()
	fail := func(w http.ResponseWriter, status int, code, msg string) {
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": msg}})
	}
	ok := func(w http.ResponseWriter, status int, v any) {
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(v)
	}
	who := func(r *http.Request) string { return strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ") }
	body := func(r *http.Request) map[string]any {
		var m map[string]any
		json.NewDecoder(r.Body).Decode(&m)
		f.bodies[r.URL.Path] = m
		return m
	}
	get := func(w http.ResponseWriter, r *http.Request) *nightowl.ActionRequest {
		req := f.reqs[r.PathValue("id")]
		if req == nil {
			fail(w, 404, "not_found", "no action request \""+r.PathValue("id")+"\"")
		}
		return req
	}
	mux.HandleFunc("GET /api/v1/actions", func(w http.ResponseWriter, r *http.Request) {
		ok(w, 200, map[string]any{"actions": []nightowl.ActionView{{Action: pauseReplication, Needs: 1}}})
	})
	mux.HandleFunc("GET /api/v1/action-requests", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		list := []nightowl.ActionRequest{}
		for _, req := range f.reqs {
			if r.URL.Query().Get("state") != "open" || !req.State.Final() {
				list = append(list, *req)
			}
		}
		ok(w, 200, map[string]any{"requests": list})
	})
	mux.HandleFunc("POST /api/v1/actions/{name}/requests", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if r.PathValue("name") != pauseReplication.Name {
			fail(w, 404, "not_found", "no action \""+r.PathValue("name")+"\"")
			return
		}
		b := body(r)
		params, _ := b["params"].(map[string]any)
		replica, _ := params["replica"].(string)
		switch {
		case replica == "" || strings.ContainsAny(replica, ";| $`"):
			fail(w, 400, "invalid", "params.replica: must match ^[a-z0-9-]+$")
			return
		case b["confirm"] != replica:
			fail(w, 400, "invalid", "type the value of replica again to confirm")
			return
		}
		req := &nightowl.ActionRequest{ID: "r1", Action: pauseReplication.Name, Params: map[string]string{"replica": replica},
			Reason: b["reason"].(string), RequestedBy: who(r), RequestedAt: t0, ExpiresAt: t0.Add(time.Hour),
			State: nightowl.RequestPending, Needs: 1}
		f.reqs[req.ID] = req
		ok(w, 201, map[string]any{"request": req})
	})
	mux.HandleFunc("GET /api/v1/action-requests/{id}", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if req := get(w, r); req != nil {
			plan := nightowl.ActionPlan{Run: []string{"mysql", "-h", req.Params["replica"], "-e", "STOP REPLICA"}}
			ok(w, 200, map[string]any{"request": req, "plan": plan})
		}
	})
	mux.HandleFunc("POST /api/v1/action-requests/{id}/approve", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		req := get(w, r)
		switch {
		case req == nil:
		case who(r) == req.RequestedBy:
			fail(w, 403, "forbidden", "you made this request: someone else must approve it")
		default:
			req.Approvals = append(req.Approvals, nightowl.Approval{By: who(r), At: t0.Add(time.Minute)})
			req.State = nightowl.RequestApproved
			ok(w, 200, map[string]any{"request": req})
		}
	})
	mux.HandleFunc("POST /api/v1/action-requests/{id}/deny", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if req := get(w, r); req != nil {
			body(r)
			req.State, req.DeniedBy = nightowl.RequestDenied, who(r)
			ok(w, 200, map[string]any{"request": req})
		}
	})
	mux.HandleFunc("POST /api/v1/action-requests/{id}/run", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		req := get(w, r)
		switch {
		case req == nil:
		case req.State != nightowl.RequestApproved:
			fail(w, 409, "conflict", "request "+req.ID+" is "+string(req.State)+": it cannot run")
		default:
			code := 0
			req.State, req.RanBy, req.ExitCode, req.Output = nightowl.RequestSucceeded, who(r), &code, "Query OK"
			req.StartedAt, req.EndedAt = t0.Add(2*time.Minute), t0.Add(2*time.Minute+1500*time.Millisecond)
			ok(w, 200, map[string]any{"request": req})
		}
	})
	return mux
}

// TestActionCLI drives a request through the CLI against the fake API:
// made with its confirmation, refused to its own requester, approved by
// someone else, shown with exactly what it runs, run, and refused again.
func TestActionCLI(t *testing.T) {
	f := &fakeActions{reqs: map[string]*nightowl.ActionRequest{}, bodies: map[string]map[string]any{}}
	srv := httptest.NewServer(f.handler())
	t.Cleanup(srv.Close)
	ana := map[string]string{"NIGHTOWL_URL": srv.URL, "NIGHTOWL_TOKEN": "ana"}
	bo := map[string]string{"NIGHTOWL_URL": srv.URL, "NIGHTOWL_TOKEN": "bo"}

	steps := []struct {
		name string
		env  map[string]string
		args []string
		code int
		want []string
	}{
		{"list", ana, []string{"action", "list"}, 0,
			[]string{"pause-replication  1          replica  mysql -h {{replica}} -e \"STOP REPLICA\""}},
		{"no reason", ana, []string{"action", "request", "pause-replication", "--param", "replica=db2"}, 2, []string{"--reason is required"}},
		{"no name", ana, []string{"action", "request", "--reason", "r"}, 2, []string{"name one action"}},
		{"bad param flag", ana, []string{"action", "request", "pause-replication", "--param", "replica", "--reason", "r"}, 2, []string{`"replica" is not NAME=VALUE`}},
		{"shell metacharacters", ana, []string{"action", "request", "pause-replication", "--param", "replica=db2; rm -rf /", "--confirm", "db2; rm -rf /", "--reason", "r"}, 1,
			[]string{"invalid: params.replica: must match ^[a-z0-9-]+$"}},
		{"wrong confirmation", ana, []string{"action", "request", "pause-replication", "--param", "replica=db2", "--confirm", "db3", "--reason", "r"}, 1,
			[]string{"type the value of replica again"}},
		{"request", ana, []string{"action", "request", "pause-replication", "--param", "replica=db2", "--confirm", "db2", "--reason", "restore checklistsectionline"}, 0,
			[]string{"request r1 made for pause-replication (pending)", "it needs 1 more approval by someone other than the requester", "nightowl action approve r1"}},
		{"open requests listed", bo, []string{"action", "list"}, 0, []string{"open requests:", "r1  pause-replication  pending  0/1        ana"}},
		{"run before approval", ana, []string{"action", "run", "r1"}, 1, []string{"conflict: request r1 is pending"}},
		{"self-approval", ana, []string{"action", "approve", "r1"}, 1, []string{"forbidden: you made this request"}},
		{"approve", bo, []string{"action", "approve", "r1"}, 0,
			[]string{"request r1 for pause-replication approved (1 of 1 approvals; approved)", "nightowl action run r1"}},
		{"show", bo, []string{"action", "show", "r1"}, 0,
			[]string{"state      approved", `params     replica = "db2"`, "approvals  1 of 1: bo at",
				"runs (each argument as it is, never through a shell):\n  mysql -h db2 -e \"STOP REPLICA\"\n"}},
		{"run", ana, []string{"action", "run", "r1"}, 0,
			[]string{"request r1 for pause-replication succeeded: exit code 0 in 1.5s", "output:\nQuery OK\n"}},
		{"run again", ana, []string{"action", "run", "r1"}, 1, []string{"conflict: request r1 is succeeded: it cannot run"}},
		{"show json", ana, []string{"action", "show", "r1", "--json"}, 0, []string{`"plan":{"run":["mysql","-h","db2"`}},
		{"unknown request", ana, []string{"action", "show", "r9"}, 1, []string{`not_found: no action request "r9"`}},
		{"deny", bo, []string{"action", "deny", "r1", "--reason", "not now"}, 0, []string{"request r1 for pause-replication denied"}},
		{"unknown subcommand", ana, []string{"action", "start"}, 2, []string{"unknown subcommand"}},
		{"no subcommand", ana, []string{"action"}, 2, []string{"usage: nightowl action"}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			code, out, errOut := runCmd(t, st.env, st.args...)
			if code != st.code {
				t.Errorf("exit %d, want %d:\n%s%s", code, st.code, out, errOut)
			}
			for _, w := range st.want {
				if !strings.Contains(out+errOut, w) {
					t.Errorf("output lacks %q:\n%s%s", w, out, errOut)
				}
			}
		})
	}

	want := map[string]any{"params": map[string]any{"replica": "db2"}, "reason": "restore checklistsectionline", "confirm": "db2"}
	if got := f.bodies["/api/v1/actions/pause-replication/requests"]; !reflect.DeepEqual(got, want) {
		t.Errorf("request body = %v, want %v", got, want)
	}
	if got := f.bodies["/api/v1/action-requests/r1/deny"]; !reflect.DeepEqual(got, map[string]any{"reason": "not now"}) {
		t.Errorf("deny body = %v", got)
	}
}

func TestArgvString(t *testing.T) {
	got := argvString([]string{"mysql", "-h", "db2", "-e", "STOP REPLICA", "a'b", "", "--x={{p}}"})
	want := `mysql -h db2 -e "STOP REPLICA" "a'b" "" --x={{p}}`
	if got != want {
		t.Errorf("argvString = %s, want %s", got, want)
	}
}
