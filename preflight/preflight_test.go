package preflight

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
)

// checks is a fixed set of live checks: two clusters' traffic checks, one
// taking traffic and one idle, and a MariaDB replica.
func checks() func(string) (nightowl.CheckView, bool) {
	views := map[string]nightowl.CheckView{
		"traffic-blue":  {State: nightowl.State{Status: nightowl.StatusUp}, Last: &nightowl.Result{OK: true, Facts: nightowl.Facts{"status": 200}}},
		"traffic-green": {State: nightowl.State{Status: nightowl.StatusDown}, Last: &nightowl.Result{OK: false, Error: "connection refused"}},
		"math-db-replica": {State: nightowl.State{Status: nightowl.StatusUp}, Last: &nightowl.Result{OK: true, Facts: nightowl.Facts{
			"read_only": true,
			"replica":   map[string]any{"io_running": true, "sql_running": true, "lag": int64(0)},
		}}},
		"fresh": {},
	}
	return func(name string) (nightowl.CheckView, bool) {
		v, ok := views[name]
		return v, ok
	}
}

func TestEval(t *testing.T) {
	tests := []struct {
		name   string
		src    string
		params map[string]string
		ok     bool
		detail string
		err    bool
	}{
		{"up", `check("traffic-blue").status == "up"`, nil, true, "", false},
		{"live cluster refused", `check("traffic-" + params.cluster).status == "down"`, map[string]string{"cluster": "blue"}, false,
			`check("traffic-" + params.cluster).status == "down" (check("traffic-" + params.cluster).status = "up", params.cluster = "blue")`, false},
		{"idle cluster allowed", `check("traffic-" + params.cluster).status == "down"`, map[string]string{"cluster": "green"}, true, "", false},
		{"literal name", `check("traffic-blue").status == "down"`, nil, false,
			`check("traffic-blue").status == "down" (check("traffic-blue").status = "up")`, false},
		{"facts at the top", `not check("math-db-replica").replica.sql_running`, nil, false,
			`check("math-db-replica").replica.sql_running (check("math-db-replica").replica.sql_running = true)`, false},
		{"conjunction names the failing part", `check("math-db-replica").read_only and check("math-db-replica").replica.lag > 10`, nil, false,
			`check("math-db-replica").replica.lag > 10 (check("math-db-replica").replica.lag = 0)`, false},
		{"status wins over a fact of that name", `check("traffic-blue").status == "up" and check("traffic-blue").facts.status == 200`, nil, true, "", false},
		{"ok", `check("traffic-blue").ok and not check("traffic-green").ok`, nil, true, "", false},
		{"error", `check("traffic-green").error contains "refused"`, nil, true, "", false},
		{"unknown check", `check("nope").status == "up"`, nil, false,
			`check("nope").status == "up" (check("nope").status = "unknown")`, false},
		{"check that has not run", `check("fresh").status == "unknown"`, nil, true, "", false},
		{"params", `params.replica matches "^db[0-9]$"`, map[string]string{"replica": "db10"}, false,
			`params.replica matches "^db[0-9]$" (params.replica = "db10")`, false},
		{"cannot evaluate", `check("traffic-green").replica.lag < 30`, nil, false,
			`check("traffic-green").replica.lag < 30: cannot evaluate: cannot fetch lag from <nil> (1:32) (check("traffic-green").replica = nil)`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Compile(tt.src)
			if err != nil {
				t.Fatal(err)
			}
			ok, detail, err := Eval(p, Env{Checks: checks(), Params: tt.params})
			if ok != tt.ok || (err != nil) != tt.err {
				t.Errorf("Eval = %v, %v; want %v, error %v", ok, err, tt.ok, tt.err)
			}
			if detail != tt.detail {
				t.Errorf("detail:\n got %s\nwant %s", detail, tt.detail)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name, src string
		col       int
	}{
		{"empty", " ", 1},
		{"not bool", `params.x`, 1},
		{"unknown name", `chek("a").status == "up"`, 1},
		{"syntax", `check("a").status ==`, 20},
		{"check takes a string", `check(1).status == "up"`, 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compile(tt.src)
			var ce *CompileError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v (%T), want a CompileError", err, err)
			}
			if ce.Column != tt.col {
				t.Errorf("column %d, want %d (%s)", ce.Column, tt.col, ce.Message)
			}
		})
	}
}

func TestNames(t *testing.T) {
	p, err := Compile(`check("a").status == "up" and check("b").ok and check("a").ok and check("t-" + params.x).ok and params["y"] != ""`)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := p.Checks(), []string{"a", "b"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Checks() = %q, want %q", got, want)
	}
	if got, want := p.Params(), []string{"x", "y"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Params() = %q, want %q", got, want)
	}
}

func TestRun(t *testing.T) {
	env := Env{Checks: checks(), Params: map[string]string{"cluster": "blue"}}
	failed, err := Run([]string{`check("math-db-replica").status == "up"`, `check("traffic-" + params.cluster).status == "down"`}, env)
	if err != nil || failed == "" {
		t.Errorf("Run = %q, %v; want the second expression", failed, err)
	}
	if failed, err := Run([]string{`check("traffic-green").status == "down"`}, env); failed != "" || err != nil {
		t.Errorf("Run = %q, %v; want it to hold", failed, err)
	}
	if _, err := Run([]string{`check(`}, env); err == nil {
		t.Error("Run of an expression that does not compile gave no error")
	}
}

// TestJudgeFreshness: a result older than twice its check's interval plus
// its timeout fails the preflight with its age, even when the expression
// holds; heartbeats are exempt; what was read is reported in order.
func TestJudgeFreshness(t *testing.T) {
	now := time.Date(2026, 3, 18, 2, 0, 0, 0, time.UTC)
	views := map[string]nightowl.CheckView{
		"fresh": {Check: nightowl.Check{Interval: time.Minute, Timeout: 10 * time.Second}, State: nightowl.State{Status: nightowl.StatusUp},
			Last: &nightowl.Result{Start: now.Add(-time.Minute), Facts: nightowl.Facts{"status": 200}}},
		"stale": {Check: nightowl.Check{Interval: time.Minute, Timeout: 10 * time.Second}, State: nightowl.State{Status: nightowl.StatusUp},
			Last: &nightowl.Result{Start: now.Add(-3 * time.Minute), Facts: nightowl.Facts{"status": 200}}},
		"restarted": {Check: nightowl.Check{Interval: time.Minute, Timeout: 10 * time.Second},
			State: nightowl.State{Status: nightowl.StatusUp, LastRun: now.Add(-5 * time.Minute)}},
		"heartbeat": {Check: nightowl.Check{Passive: true}, State: nightowl.State{Status: nightowl.StatusUp},
			Last: &nightowl.Result{Start: now.Add(-24 * time.Hour)}},
		"new":      {Check: nightowl.Check{Interval: time.Minute, Timeout: 10 * time.Second}},
		"new-ping": {Check: nightowl.Check{Passive: true}},
	}
	env := Env{Now: func() time.Time { return now }, Checks: func(name string) (nightowl.CheckView, bool) {
		v, ok := views[name]
		return v, ok
	}}
	tests := []struct {
		name   string
		exprs  []string
		failed string
		seen   []string
	}{
		{"fresh", []string{`check("fresh").facts.status == 200`, `check("heartbeat").ok`}, "", []string{"fresh up 60s", "heartbeat up 86400s"}},
		{"stale though it holds", []string{`check("fresh").ok`, `check("stale").facts.status == 200`},
			`the newest result of check "stale" is 3m0s old (taken at 2026-03-18T01:57:00Z), older than the 2m10s a preflight may judge (twice its interval plus its timeout)`,
			[]string{"fresh up 60s", "stale up 180s"}},
		{"a state without its result", []string{`check("restarted").ok`},
			`the newest result of check "restarted" is 5m0s old (taken at 2026-03-18T01:55:00Z), older than the 2m10s a preflight may judge (twice its interval plus its timeout)`,
			[]string{"restarted up 300s"}},
		{"not configured", []string{`check("nope").status == "unknown"`}, "", []string{"nope unknown 0s"}},
		{"never ran", []string{`check("new").status != "down"`}, `check "new" has no result yet`, []string{"new unknown 0s"}},
		{"a heartbeat never pinged", []string{`check("new-ping").status != "down"`}, "", []string{"new-ping unknown 0s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Judge(tt.exprs, env)
			if err != nil || r.Failed != tt.failed {
				t.Fatalf("failed %q, %v; want %q", r.Failed, err, tt.failed)
			}
			var seen []string
			for _, c := range r.Seen {
				seen = append(seen, fmt.Sprintf("%s %s %.0fs", c.Check, c.Status, time.Duration(c.Age).Seconds()))
			}
			if !reflect.DeepEqual(seen, tt.seen) {
				t.Errorf("seen %q, want %q", seen, tt.seen)
			}
		})
	}
}
