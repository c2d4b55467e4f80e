package engine

import (
	"testing"
	"time"

	"github.com/nightowl/nightowl"
)

func TestApply(t *testing.T) {
	const (
		up   = nightowl.StatusUp
		deg  = nightowl.StatusDegraded
		down = nightowl.StatusDown
	)
	tests := []struct {
		name          string
		start         nightowl.Status
		fail, recover int
		results       []nightowl.Status
		want          []nightowl.Status // status after each result
		events        int
	}{
		{"first result sets status at once", nightowl.StatusUnknown, 3, 3, []nightowl.Status{down}, []nightowl.Status{down}, 1},
		{"fail_after 2", up, 2, 1, []nightowl.Status{down, down, down}, []nightowl.Status{up, down, down}, 1},
		{"blip does not flap", up, 2, 1, []nightowl.Status{down, up, down, up}, []nightowl.Status{up, up, up, up}, 0},
		{"mixed failures count together", up, 3, 1, []nightowl.Status{down, deg, down}, []nightowl.Status{up, up, down}, 1},
		{"recover_after 2", down, 1, 2, []nightowl.Status{up, down, up, up}, []nightowl.Status{down, down, down, up}, 1},
		{"degraded then down", up, 1, 1, []nightowl.Status{deg, down}, []nightowl.Status{deg, down}, 2},
		{"down improves to degraded", down, 1, 1, []nightowl.Status{deg}, []nightowl.Status{deg}, 1},
		{"paused resumes at once", nightowl.StatusPaused, 5, 5, []nightowl.Status{up}, []nightowl.Status{up}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &nightowl.Check{Name: "c", FailAfter: tt.fail, RecoverAfter: tt.recover}
			st := nightowl.State{Check: "c", Status: tt.start}
			t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			events := 0
			for i, rs := range tt.results {
				r := &nightowl.Result{Check: "c", Start: t0.Add(time.Duration(i) * time.Minute), OK: rs != down, Status: rs, Error: "boom"}
				var ev *nightowl.Event
				st, ev = Apply(st, c, r)
				if st.Status != tt.want[i] {
					t.Fatalf("after result %d (%s): status %s, want %s", i, rs, st.Status, tt.want[i])
				}
				if ev != nil {
					events++
					if ev.To != st.Status || !st.Since.Equal(ev.Time) {
						t.Errorf("event %+v does not match state %+v", ev, st)
					}
				}
			}
			if events != tt.events {
				t.Errorf("%d events, want %d", events, tt.events)
			}
			if st.Runs != int64(len(tt.results)) {
				t.Errorf("runs = %d", st.Runs)
			}
		})
	}
}

func TestCause(t *testing.T) {
	r := &nightowl.Result{OK: true, Assertions: []nightowl.AssertionResult{
		{Name: "ok_status", OK: false, Message: "status == 200 (status = 503)"},
		{Name: "fast", OK: true},
		{Name: "writable", OK: false, Message: `body contains "read-only mode"`},
	}}
	want := `ok_status failed: status == 200 (status = 503); writable failed: body contains "read-only mode"`
	if got := Cause(r); got != want {
		t.Errorf("Cause = %q, want %q", got, want)
	}
	if got := Cause(&nightowl.Result{Error: "connect: refused"}); got != "connect: refused" {
		t.Errorf("Cause = %q", got)
	}
	partial := &nightowl.Result{OK: true, Error: "replica status: access denied", Assertions: []nightowl.AssertionResult{
		{Name: "replicating", Message: "cannot evaluate: cannot fetch io_running from <nil> (replica = nil)"},
	}}
	want = "replicating failed: cannot evaluate: cannot fetch io_running from <nil> (replica = nil); replica status: access denied"
	if got := Cause(partial); got != want {
		t.Errorf("Cause = %q, want %q", got, want)
	}
}

func TestClassify(t *testing.T) {
	failing := func(ok bool, names ...string) *nightowl.Result {
		r := &nightowl.Result{OK: ok, Status: nightowl.StatusDown, Error: "x"}
		for _, n := range names {
			r.Assertions = append(r.Assertions, nightowl.AssertionResult{Name: n, OK: false, Severity: nightowl.SeverityCritical})
		}
		r.Assertions = append(r.Assertions, nightowl.AssertionResult{Name: "fine", OK: true})
		return r
	}
	global := nightowl.ActiveWindow{ID: "failover", Name: "failover", Expect: []string{"writable"}}
	silence := nightowl.ActiveWindow{ID: "silence", Name: "silence", Expect: []string{"*"}}
	tests := []struct {
		name       string
		r          *nightowl.Result
		windows    []nightowl.ActiveWindow
		status     nightowl.Status
		unexpected []string
	}{
		{"no window", failing(true, "writable"), nil, nightowl.StatusDown, nil},
		{"expected failure", failing(true, "writable"), []nightowl.ActiveWindow{global}, nightowl.StatusMaintenance, nil},
		{"unexpected failure alerts", failing(true, "writable", "site_writable"), []nightowl.ActiveWindow{global}, nightowl.StatusDown, []string{"site_writable"}},
		{"probe failure is not an assertion", failing(false, "writable"), []nightowl.ActiveWindow{global}, nightowl.StatusDown, []string{"probe"}},
		{"anything", failing(false, "writable", "site_writable"), []nightowl.ActiveWindow{silence}, nightowl.StatusMaintenance, nil},
		{"overlapping windows combine", failing(true, "writable", "replicating"),
			[]nightowl.ActiveWindow{global, {ID: "repl", Name: "repl", Expect: []string{"replicating"}}}, nightowl.StatusMaintenance, nil},
		{"up stays up", &nightowl.Result{OK: true, Status: nightowl.StatusUp}, []nightowl.ActiveWindow{global}, nightowl.StatusUp, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			Classify(tt.r, tt.windows)
			if tt.r.Status != tt.status {
				t.Fatalf("status %s, want %s", tt.r.Status, tt.status)
			}
			if len(tt.windows) == 0 {
				if tt.r.Maintenance != nil {
					t.Fatal("a note outside any window")
				}
				return
			}
			if tt.r.Maintenance == nil || len(tt.r.Maintenance.Windows) != len(tt.windows) {
				t.Fatalf("note = %+v", tt.r.Maintenance)
			}
			if got := tt.r.Maintenance.Unexpected; len(got) != len(tt.unexpected) || (len(got) > 0 && got[0] != tt.unexpected[0]) {
				t.Fatalf("unexpected = %v, want %v", got, tt.unexpected)
			}
		})
	}
}

// TestMaintenanceThresholds: an expected failure is maintenance at once; an
// unexpected one alerts after fail_after as usual; a check held in
// maintenance that still fails once its window is over goes down at once.
func TestMaintenanceThresholds(t *testing.T) {
	const (
		up    = nightowl.StatusUp
		down  = nightowl.StatusDown
		maint = nightowl.StatusMaintenance
	)
	type step struct {
		status   nightowl.Status
		inWindow bool
		want     nightowl.Status
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"expected failure at once", []step{{maint, true, maint}, {up, true, up}}},
		{"unexpected failure waits for fail_after", []step{{maint, true, maint}, {down, true, maint}, {down, true, down}}},
		{"still failing after the window: down at once", []step{{maint, true, maint}, {down, false, down}}},
		{"recovered by the end", []step{{maint, true, maint}, {up, false, up}}},
		{"down before the window: maintenance explains it", []step{{down, false, up}, {down, false, down}, {maint, true, maint}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &nightowl.Check{Name: "c", FailAfter: 2, RecoverAfter: 1}
			st := nightowl.State{Check: "c", Status: up}
			for i, s := range tt.steps {
				r := &nightowl.Result{Check: "c", OK: true, Status: s.status}
				if s.inWindow {
					r.Maintenance = &nightowl.MaintenanceNote{Windows: []string{"w"}}
				}
				st, _ = Apply(st, c, r)
				if st.Status != s.want {
					t.Fatalf("after step %d: %s, want %s", i, st.Status, s.want)
				}
			}
		})
	}
}
