package sqlite

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/clocktest"
)

func TestActionRequests(t *testing.T) {
	ctx := context.Background()
	path := dbPath(t)
	s := openTest(t, path, clocktest.New(t0), Options{})

	newRequest := func(id, action string, at time.Time) *nightowl.ActionRequest {
		return &nightowl.ActionRequest{
			ID: id, Action: action, Params: map[string]string{"replica": "db2"}, Reason: "restore a table",
			RequestedBy: "ana", RequestedAt: at, ExpiresAt: at.Add(time.Hour), State: nightowl.RequestPending, Needs: 1,
		}
	}
	pause := newRequest("r1", "pause-replication", t0)
	restart := newRequest("r2", "restart-mysql", t0.Add(time.Minute))
	pause2 := newRequest("r3", "pause-replication", t0.Add(2*time.Minute))
	for _, r := range []*nightowl.ActionRequest{pause, restart, pause2} {
		if err := s.SaveRequest(ctx, r); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("invalid", func(t *testing.T) {
		bad := newRequest("", "x", t0)
		if err := s.SaveRequest(ctx, bad); nightowl.ErrorCode(err) != nightowl.EInvalid {
			t.Errorf("request without an id: %v, want invalid", err)
		}
	})

	t.Run("never ran", func(t *testing.T) {
		last, err := s.LastRun(ctx, "pause-replication")
		if err != nil || !last.IsZero() {
			t.Errorf("LastRun = %v, %v; want zero", last, err)
		}
	})

	// r1 is approved and runs to the end; r2 is denied.
	exit := 0
	pause.State = nightowl.RequestApproved
	pause.Approvals = []nightowl.Approval{{By: "bo", At: t0.Add(5 * time.Minute)}}
	if err := s.SaveRequest(ctx, pause); err != nil {
		t.Fatal(err)
	}
	pause.State, pause.RanBy, pause.StartedAt = nightowl.RequestRunning, "ana", t0.Add(6*time.Minute)
	if err := s.SaveRequest(ctx, pause); err != nil {
		t.Fatal(err)
	}
	pause.State, pause.EndedAt, pause.ExitCode, pause.Output = nightowl.RequestSucceeded, t0.Add(7*time.Minute), &exit, "ok\n"
	if err := s.SaveRequest(ctx, pause); err != nil {
		t.Fatal(err)
	}
	restart.State, restart.DeniedBy = nightowl.RequestDenied, "bo"
	if err := s.SaveRequest(ctx, restart); err != nil {
		t.Fatal(err)
	}

	t.Run("get", func(t *testing.T) {
		got, err := s.Request(ctx, "r1")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, *pause) {
			t.Errorf("request = %+v\nwant %+v", got, *pause)
		}
		if _, err := s.Request(ctx, "r9"); nightowl.ErrorCode(err) != nightowl.ENotFound {
			t.Errorf("unknown request: %v, want not_found", err)
		}
	})

	ids := func(rs []nightowl.ActionRequest) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r.ID)
		}
		return out
	}
	queries := []struct {
		name string
		q    nightowl.ActionQuery
		want []string
	}{
		{"all, newest first", nightowl.ActionQuery{}, []string{"r3", "r2", "r1"}},
		{"open", nightowl.ActionQuery{Open: true}, []string{"r3"}},
		{"by action", nightowl.ActionQuery{Action: "pause-replication"}, []string{"r3", "r1"}},
		{"limit", nightowl.ActionQuery{Limit: 2}, []string{"r3", "r2"}},
		{"none", nightowl.ActionQuery{Action: "nope"}, nil},
	}
	for _, tt := range queries {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Requests(ctx, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(ids(got), tt.want) {
				t.Errorf("Requests(%+v) = %q, want %q", tt.q, ids(got), tt.want)
			}
		})
	}

	t.Run("last run survives a reopen", func(t *testing.T) {
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s2 := openTest(t, path, clocktest.New(t0), Options{})
		last, err := s2.LastRun(ctx, "pause-replication")
		if err != nil || !last.Equal(t0.Add(6*time.Minute)) {
			t.Errorf("LastRun = %v, %v; want %v", last, err, t0.Add(6*time.Minute))
		}
		if last, _ := s2.LastRun(ctx, "restart-mysql"); !last.IsZero() {
			t.Errorf("LastRun of a denied request's action = %v, want zero", last)
		}
	})
}
