package incident_test

import (
	"testing"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/incident"
)

// TestPublicTimes: an incident's public times start at its publication and
// move with what the status page shows, never with private notes.
func TestPublicTimes(t *testing.T) {
	t0 := time.Date(2026, 3, 17, 22, 0, 0, 0, time.UTC)
	at := func(h float64) time.Time { return t0.Add(time.Duration(h * float64(time.Hour))) }
	note := func(h float64) nightowl.IncidentUpdate {
		return nightowl.IncidentUpdate{Time: at(h), Message: "private"}
	}
	public := func(h float64) nightowl.IncidentUpdate {
		return nightowl.IncidentUpdate{Time: at(h), Public: true, Message: "public"}
	}
	for _, tc := range []struct {
		name string
		inc  nightowl.Incident
		ups  []nightowl.IncidentUpdate
		want incident.PublicTimes
	}{
		{"unpublished", nightowl.Incident{CreatedAt: t0}, []nightowl.IncidentUpdate{note(0), note(1)}, incident.PublicTimes{}},
		{"published hours after it was opened, then private notes",
			nightowl.Incident{CreatedAt: t0, PublishedAt: at(4)}, []nightowl.IncidentUpdate{note(0), note(3), public(4), note(5)},
			incident.PublicTimes{Started: at(4), Updated: at(4)}},
		{"published as it stands", nightowl.Incident{CreatedAt: t0, PublishedAt: at(2)}, []nightowl.IncidentUpdate{note(0), note(2)},
			incident.PublicTimes{Started: at(2), Updated: at(2)}},
		{"a private note that changes the impact shows",
			nightowl.Incident{CreatedAt: t0, PublishedAt: at(1)},
			[]nightowl.IncidentUpdate{public(1), {Time: at(2), Impact: nightowl.ImpactMinor, Message: "better"}, note(3)},
			incident.PublicTimes{Started: at(1), Updated: at(2)}},
		{"a change before publication does not",
			nightowl.Incident{CreatedAt: t0, PublishedAt: at(3)},
			[]nightowl.IncidentUpdate{note(0), {Time: at(1), State: nightowl.IncidentIdentified, Message: "found"}, note(3)},
			incident.PublicTimes{Started: at(3), Updated: at(3)}},
		{"stored before publication was recorded", nightowl.Incident{CreatedAt: t0},
			[]nightowl.IncidentUpdate{note(0), public(2), public(3), note(4)},
			incident.PublicTimes{Started: at(2), Updated: at(3)}},
		{"resolved", nightowl.Incident{CreatedAt: t0, PublishedAt: at(1), ResolvedAt: at(5)},
			[]nightowl.IncidentUpdate{public(1), {Time: at(5), Public: true, State: nightowl.IncidentResolved, Message: "fixed"}, note(6)},
			incident.PublicTimes{Started: at(1), Updated: at(5), Resolved: at(5)}},
		{"resolved quietly, published afterwards", nightowl.Incident{CreatedAt: t0, PublishedAt: at(8), ResolvedAt: at(5)},
			[]nightowl.IncidentUpdate{note(0), {Time: at(5), State: nightowl.IncidentResolved, Message: "fixed"}, note(8)},
			incident.PublicTimes{Started: at(8), Updated: at(8), Resolved: at(8)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := incident.Public(tc.inc, tc.ups); got != tc.want {
				t.Errorf("Public = %+v, want %+v", got, tc.want)
			}
		})
	}
}
