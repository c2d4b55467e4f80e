package preflight

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
)

type fakeStored struct {
	results []nightowl.Result
	states  []nightowl.State
	err     error
}

func (f fakeStored) Results(context.Context, string, int) ([]nightowl.Result, error) {
	return f.results, f.err
}
func (f fakeStored) States(context.Context) ([]nightowl.State, error) { return f.states, f.err }

func TestNewest(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 4, 0, 0, 0, time.UTC)
	localResult := nightowl.Result{Start: t0, Status: nightowl.StatusUp}
	local := func(name string) (nightowl.CheckView, bool) {
		if name != "db" {
			return nightowl.CheckView{}, false
		}
		r := localResult
		return nightowl.CheckView{Last: &r, State: nightowl.State{Check: "db", Status: nightowl.StatusUp, LastRun: t0}}, true
	}
	newer := nightowl.Result{Start: t0.Add(time.Minute), Status: nightowl.StatusDown}
	tests := []struct {
		name       string
		store      fakeStored
		check      string
		wantOK     bool
		wantStart  time.Time
		wantStatus nightowl.Status
	}{
		{name: "unknown check", check: "web", wantOK: false},
		{name: "nothing stored", check: "db", wantOK: true, wantStart: t0, wantStatus: nightowl.StatusUp},
		{name: "local is newest", check: "db", wantOK: true, wantStart: t0, wantStatus: nightowl.StatusUp,
			store: fakeStored{results: []nightowl.Result{{Start: t0.Add(-time.Minute)}}}},
		{name: "another node's result is newer", check: "db", wantOK: true, wantStart: newer.Start, wantStatus: nightowl.StatusDown,
			store: fakeStored{results: []nightowl.Result{newer},
				states: []nightowl.State{{Check: "other", Status: nightowl.StatusUp}, {Check: "db", Status: nightowl.StatusDown, LastRun: newer.Start}}}},
		{name: "store unreadable: local stands", check: "db", wantOK: true, wantStart: t0, wantStatus: nightowl.StatusUp,
			store: fakeStored{results: []nightowl.Result{newer}, err: errors.New("down")}},
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, ok := Newest(t.Context(), local, tc.store, log)(tc.check)
			if ok != tc.wantOK {
				t.Fatalf("ok = %v, want %v", ok, tc.wantOK)
			}
			if !ok {
				return
			}
			if !v.Last.Start.Equal(tc.wantStart) || v.State.Status != tc.wantStatus {
				t.Errorf("got result at %v and state %s, want %v and %s", v.Last.Start, v.State.Status, tc.wantStart, tc.wantStatus)
			}
		})
	}
}
