package sqlite

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/clocktest"
)

func TestIncidents(t *testing.T) {
	ctx := context.Background()
	clock := clocktest.New(t0)
	path := dbPath(t)
	s := openTest(t, path, clock, Options{})

	newIncident := func(title string, at time.Time) *nightowl.Incident {
		return &nightowl.Incident{
			Title: title, State: nightowl.IncidentInvestigating, Impact: nightowl.ImpactMajor,
			Components: []string{"Website"}, CreatedAt: at, CreatedBy: "ana", UpdatedAt: at,
		}
	}

	first := newIncident("Website down", t0)
	u1 := &nightowl.IncidentUpdate{Time: t0, By: "ana", Public: true, State: nightowl.IncidentInvestigating,
		Impact: nightowl.ImpactMajor, Components: []string{"Website"}, Message: "We are looking into it."}
	if err := s.SaveIncident(ctx, first, u1); err != nil {
		t.Fatal(err)
	}
	if first.ID != "inc-1" || u1.ID == 0 || u1.IncidentID != "inc-1" {
		t.Fatalf("IDs after creating: incident %q, update %d of %q", first.ID, u1.ID, u1.IncidentID)
	}
	second := newIncident("Database slow", t0.Add(time.Hour))
	if err := s.SaveIncident(ctx, second, nil); err != nil {
		t.Fatal(err)
	}
	if second.ID != "inc-2" {
		t.Fatalf("second incident's ID = %q, want inc-2", second.ID)
	}

	t.Run("get", func(t *testing.T) {
		got, err := s.Incident(ctx, "inc-1")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, *first) {
			t.Errorf("incident = %+v\nwant %+v", got, *first)
		}
		if _, err := s.Incident(ctx, "inc-9"); nightowl.ErrorCode(err) != nightowl.ENotFound {
			t.Errorf("unknown incident: %v, want not_found", err)
		}
	})

	t.Run("update and resolve", func(t *testing.T) {
		at := t0.Add(30 * time.Minute)
		first.State, first.ResolvedAt, first.UpdatedAt = nightowl.IncidentResolved, at, at
		first.Alerts = []string{"abc"}
		note := &nightowl.IncidentUpdate{Time: at, By: "bo", State: nightowl.IncidentResolved, Message: "fixed"}
		if err := s.SaveIncident(ctx, first, note); err != nil {
			t.Fatal(err)
		}
		ups, err := s.Updates(ctx, "inc-1")
		if err != nil {
			t.Fatal(err)
		}
		want := []nightowl.IncidentUpdate{*u1, *note}
		if !reflect.DeepEqual(ups, want) {
			t.Errorf("updates = %+v\nwant %+v", ups, want)
		}
		if ups[1].Components != nil {
			t.Errorf("an update that left the components has %v", ups[1].Components)
		}
		missing := newIncident("nowhere", t0)
		missing.ID = "inc-77"
		if err := s.SaveIncident(ctx, missing, nil); nightowl.ErrorCode(err) != nightowl.ENotFound {
			t.Errorf("updating an incident that is not there: %v, want not_found", err)
		}
	})

	t.Run("query", func(t *testing.T) {
		ids := func(q nightowl.IncidentQuery) []string {
			t.Helper()
			list, err := s.Incidents(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, inc := range list {
				out = append(out, inc.ID)
			}
			return out
		}
		tests := []struct {
			name string
			q    nightowl.IncidentQuery
			want []string
		}{
			{"all, newest first", nightowl.IncidentQuery{}, []string{"inc-2", "inc-1"}},
			{"open", nightowl.IncidentQuery{Open: true}, []string{"inc-2"}},
			{"limit", nightowl.IncidentQuery{Limit: 1}, []string{"inc-2"}},
			{"resolved since", nightowl.IncidentQuery{Since: t0.Add(20 * time.Minute)}, []string{"inc-2", "inc-1"}},
			{"since", nightowl.IncidentQuery{Since: t0.Add(45 * time.Minute)}, []string{"inc-2"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if got := ids(tt.q); !reflect.DeepEqual(got, tt.want) {
					t.Errorf("incidents = %v, want %v", got, tt.want)
				}
			})
		}
	})

	t.Run("invalid", func(t *testing.T) {
		if err := s.SaveIncident(ctx, &nightowl.Incident{Title: "x"}, nil); nightowl.ErrorCode(err) != nightowl.EInvalid {
			t.Errorf("an incident without state or impact: %v, want invalid", err)
		}
	})

	t.Run("numbers survive a restart", func(t *testing.T) {
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s2 := openTest(t, path, clock, Options{})
		third := newIncident("Again", t0.Add(2*time.Hour))
		if err := s2.SaveIncident(ctx, third, nil); err != nil {
			t.Fatal(err)
		}
		if third.ID != "inc-3" {
			t.Errorf("after a restart the next incident is %q, want inc-3", third.ID)
		}
	})
}
