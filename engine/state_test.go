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
