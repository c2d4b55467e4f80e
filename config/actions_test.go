package config

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
)

// actionsConfig holds the Actions example of the product contract, with the
// checks it names, an http action and an on_down.
const actionsConfig = `
checks:
  - name: math-db-replica
    tcp: {addr: "replica.example.com:3306"}
  - name: math-db
    tcp: {addr: "db.example.com:3306"}
    on_down: {action: restart-mysql}
  - name: traffic-blue
    tcp: {addr: "blue.example.com:443"}

actions:
  - name: pause-replication
    description: Pause replication on a replica
    run: [mysql, -h, "{{replica}}", -e, "STOP REPLICA"]   # argv, never a shell; or http: {url, method, headers, body}
    params: {replica: {pattern: "^[a-z0-9-]+$", description: "the replica's host"}}
    preflight: ['check("math-db-replica").status == "up"']
    approvals: 1          # approvers besides the requester; the requester can never approve their own request
    confirm: replica      # the requester must type this parameter's value
    cooldown: 10m
    timeout: 5m
  - name: restart-mysql
    run: [/usr/bin/systemctl, restart, mysql]
  - name: terminate-cluster
    http:
      url: "https://cloud.example.com/clusters/{{cluster}}"
      method: DELETE
      headers: {Authorization: "Bearer ${CLOUD_TOKEN}", X-Reason: "{{ticket}}"}
    params:
      ticket: {pattern: "^OPS-[0-9]+$"}
      cluster: {pattern: "^(blue|green)$"}
    preflight:
      - 'check("traffic-" + params.cluster).status == "down"'
    approvals: 2
    confirm: cluster
  - name: webhook
    http: {url: "{{target}}", body: '{"text": "hello"}'}
    params: {target: {pattern: "^https://hooks\\.example\\.com/[a-z]+$"}}
buddy_during_incidents: false
`

func TestActionsValid(t *testing.T) {
	cfg := mustParse(t, actionsConfig, Options{Getenv: env(map[string]string{"CLOUD_TOKEN": "s3cret"})})
	want := []nightowl.Action{
		{
			Name: "pause-replication", Description: "Pause replication on a replica",
			Run:       []string{"mysql", "-h", "{{replica}}", "-e", "STOP REPLICA"},
			Params:    []nightowl.ActionParam{{Name: "replica", Pattern: "^[a-z0-9-]+$", Description: "the replica's host"}},
			Preflight: []string{`check("math-db-replica").status == "up"`},
			Approvals: 1, Confirm: "replica", Cooldown: 10 * time.Minute, Timeout: 5 * time.Minute,
		},
		{Name: "restart-mysql", Run: []string{"/usr/bin/systemctl", "restart", "mysql"}, Timeout: DefaultActionTimeout},
		{
			Name: "terminate-cluster",
			HTTP: &nightowl.ActionHTTP{URL: "https://cloud.example.com/clusters/{{cluster}}", Method: "DELETE",
				Headers: map[string]string{"Authorization": "Bearer s3cret", "X-Reason": "{{ticket}}"}},
			// Sorted by name.
			Params: []nightowl.ActionParam{
				{Name: "cluster", Pattern: "^(blue|green)$"},
				{Name: "ticket", Pattern: "^OPS-[0-9]+$"},
			},
			Preflight: []string{`check("traffic-" + params.cluster).status == "down"`},
			Approvals: 2, Confirm: "cluster", Timeout: DefaultActionTimeout,
		},
		{
			Name:    "webhook",
			HTTP:    &nightowl.ActionHTTP{URL: "{{target}}", Method: "POST", Body: `{"text": "hello"}`},
			Params:  []nightowl.ActionParam{{Name: "target", Pattern: `^https://hooks\.example\.com/[a-z]+$`}},
			Timeout: DefaultActionTimeout,
		},
	}
	if !reflect.DeepEqual(cfg.Actions, want) {
		t.Errorf("actions:\n got %+v\nwant %+v", cfg.Actions, want)
	}
	if cfg.BuddyDuringIncidents {
		t.Error("buddy_during_incidents: false was not applied")
	}
	if got := cfg.DomainChecks()[1].OnDown; got != "restart-mysql" {
		t.Errorf("math-db's OnDown = %q", got)
	}
	if a := cfg.Action("webhook"); a == nil || a.Name != "webhook" {
		t.Errorf("Action(webhook) = %v", a)
	}
	if a := cfg.Action("nope"); a != nil {
		t.Errorf("Action(nope) = %v", a)
	}
}

func TestActionsDefaults(t *testing.T) {
	cfg := mustParse(t, "checks: [{name: a, tcp: {addr: 'a:1'}}]", Options{})
	if !cfg.BuddyDuringIncidents || cfg.Actions != nil {
		t.Errorf("BuddyDuringIncidents = %v, Actions = %v; want true and none", cfg.BuddyDuringIncidents, cfg.Actions)
	}
}

// TestOnDownFingerprint: changing only on_down changes the fingerprint, so
// that a reload reaches the engine's copy of the check; a check without one
// keeps the fingerprint it always had.
func TestOnDownFingerprint(t *testing.T) {
	base := "checks: [{name: a, tcp: {addr: 'a:1'}%s}]\nactions: [{name: x, run: [/bin/true]}, {name: y, run: [/bin/false]}]\n"
	fp := func(onDown string) string {
		return mustParse(t, fmt.Sprintf(base, onDown), Options{}).Checks[0].Fingerprint
	}
	none, x, y := fp(""), fp(", on_down: {action: x}"), fp(", on_down: {action: y}")
	if none == x || x == y {
		t.Errorf("fingerprints: none %s, x %s, y %s; want all different", none, x, y)
	}
	plain := mustParse(t, "checks: [{name: a, tcp: {addr: 'a:1'}}]", Options{}).Checks[0].Fingerprint
	if none != plain {
		t.Error("a check without on_down changed fingerprint when actions were added")
	}
}

func TestCheckPattern(t *testing.T) {
	tests := []struct {
		pattern string
		ok      bool
	}{
		{`^[a-z0-9-]+$`, true},
		{`^(blue|green)$`, true},
		{`^blue$|^green$`, true},
		{`\A[a-z]+\z`, true},
		{`[a-z]+`, false},
		{`^[a-z]+`, false},
		{`[a-z]+$`, false},
		{`^blue|green$`, false},
		{`(?m)^[a-z]+$`, false},
		{`^[a-z]+\$`, false},
		{`^[a-z`, false},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			if msg := checkPattern(tt.pattern); (msg == "") != tt.ok {
				t.Errorf("checkPattern(%q) = %q, want ok %v", tt.pattern, msg, tt.ok)
			}
		})
	}
}
