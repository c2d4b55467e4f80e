package oncall

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func zone(t *testing.T, name string) *time.Location {
	t.Helper()
	z, err := time.LoadLocation(name)
	if err != nil {
		t.Skipf("no time zone %s here: %v", name, err)
	}
	return z
}

func at(z *time.Location, s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, z)
	if err != nil {
		panic(err)
	}
	return t
}

// TestWeeklyRotation: the pager passes on Monday at 09:00 to the next
// participant, round and round.
func TestWeeklyRotation(t *testing.T) {
	berlin := zone(t, "Europe/Berlin")
	s := &Schedule{Zone: berlin, Layers: []Rotation{{Name: "primary", Participants: []string{"ana", "bo", "cy"},
		Start: at(berlin, "2026-03-02 09:00"), Length: Weekly}}}
	for when, want := range map[string]string{
		"2026-03-02 08:59": "",
		"2026-03-02 09:00": "ana",
		"2026-03-09 08:59": "ana",
		"2026-03-09 09:00": "bo",
		"2026-03-16 12:00": "cy",
		"2026-03-23 09:00": "ana",
		// Across the change to summer time on 29 March.
		"2026-03-30 08:59": "ana",
		"2026-03-30 09:00": "bo",
		"2026-12-28 09:00": fmt.Sprint([]string{"ana", "bo", "cy"}[(43)%3]),
	} {
		if got, _ := s.At(at(berlin, when)); got != want {
			t.Errorf("%s: %q, want %q", when, got, want)
		}
	}
}

// TestDaylightSaving: a daily rotation hands off at the same wall-clock
// time every day, so the shift across the change to summer time is 23
// hours long and the one across the change back 25, in Berlin and in New
// York alike.
func TestDaylightSaving(t *testing.T) {
	for _, tc := range []struct {
		zone, handoff, spring, fall string
	}{
		// Europe/Berlin: 29 March 02:00 → 03:00, 25 October 03:00 → 02:00.
		{"Europe/Berlin", "2026-03-20 09:00", "2026-03-28 09:00", "2026-10-24 09:00"},
		// America/New_York: 8 March 02:00 → 03:00, 1 November 02:00 → 01:00.
		{"America/New_York", "2026-03-01 18:00", "2026-03-07 18:00", "2026-10-31 18:00"},
	} {
		t.Run(tc.zone, func(t *testing.T) {
			z := zone(t, tc.zone)
			s := &Schedule{Zone: z, Layers: []Rotation{{Name: "daily", Participants: []string{"ana", "bo"},
				Start: at(z, tc.handoff), Length: Daily}}}
			for _, c := range []struct {
				day  string
				want time.Duration
			}{{tc.spring, 23 * time.Hour}, {tc.fall, 25 * time.Hour}} {
				from := at(z, c.day)
				shifts := s.Shifts(from.Add(-time.Hour), from.Add(48*time.Hour))
				if len(shifts) < 3 {
					t.Fatalf("shifts around %s: %+v", c.day, shifts)
				}
				sh := shifts[1]
				if !sh.From.Equal(from) || sh.To.Sub(sh.From) != c.want {
					t.Errorf("the shift from %s: %s to %s, %s long; want %s", c.day, sh.From.In(z), sh.To.In(z), sh.To.Sub(sh.From), c.want)
				}
				if got := sh.To.In(z).Format("15:04"); got != from.Format("15:04") {
					t.Errorf("the shift from %s hands off at %s, want %s", c.day, got, from.Format("15:04"))
				}
				if next := shifts[2]; next.To.Sub(next.From) != 24*time.Hour && !next.To.Equal(from.Add(48*time.Hour)) {
					t.Errorf("the shift after: %s long", next.To.Sub(next.From))
				}
			}
		})
	}
}

// TestLayersRestrictionsOverrides: the later layer wins where it has
// someone; a restricted layer has someone only within its windows, one of
// which runs past midnight; an override wins over every layer, and of two
// overrides the later in the list.
func TestLayersRestrictionsOverrides(t *testing.T) {
	z := zone(t, "America/New_York")
	weekdays := []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday}
	s := &Schedule{Zone: z,
		Layers: []Rotation{
			{Name: "base", Participants: []string{"ana", "bo"}, Start: at(z, "2026-03-02 09:00"), Length: Weekly},
			{Name: "office", Participants: []string{"cy"}, Start: at(z, "2026-03-02 00:00"), Length: Daily,
				Restrictions: []Window{{Days: weekdays, From: 9 * time.Hour, To: 18 * time.Hour}}},
			{Name: "friday-night", Participants: []string{"dan"}, Start: at(z, "2026-03-02 00:00"), Length: Weekly,
				Restrictions: []Window{{Days: []time.Weekday{time.Friday}, From: 22 * time.Hour, To: 6 * time.Hour}}},
		},
		Overrides: []Override{
			{User: "eve", From: at(z, "2026-03-03 12:00"), To: at(z, "2026-03-03 14:00")},
			{User: "fay", From: at(z, "2026-03-03 13:00"), To: at(z, "2026-03-03 13:30")},
		},
	}
	for _, c := range []struct{ when, user, layer string }{
		{"2026-03-03 08:59", "ana", "base"},
		{"2026-03-03 09:00", "cy", "office"},
		{"2026-03-03 12:30", "eve", "override"},
		{"2026-03-03 13:15", "fay", "override"},
		{"2026-03-03 13:45", "eve", "override"},
		{"2026-03-03 14:00", "cy", "office"},
		{"2026-03-03 18:00", "ana", "base"},
		{"2026-03-06 23:00", "dan", "friday-night"}, // Friday night
		{"2026-03-07 05:59", "dan", "friday-night"}, // into Saturday
		{"2026-03-07 06:00", "ana", "base"},
		{"2026-03-07 12:00", "ana", "base"}, // Saturday: no office
		{"2026-03-09 10:00", "cy", "office"},
		{"2026-03-09 20:00", "bo", "base"},
	} {
		if u, l := s.At(at(z, c.when)); u != c.user || l != c.layer {
			t.Errorf("%s: %s (%s), want %s (%s)", c.when, u, l, c.user, c.layer)
		}
	}

	// The same day as shifts: contiguous, merged where nothing changes.
	shifts := s.Shifts(at(z, "2026-03-03 00:00"), at(z, "2026-03-04 00:00"))
	var got []string
	for i, sh := range shifts {
		got = append(got, sh.From.In(z).Format("15:04")+" "+sh.User)
		if i > 0 && !shifts[i-1].To.Equal(sh.From) {
			t.Errorf("a gap before %s", sh.From)
		}
	}
	want := "00:00 ana, 09:00 cy, 12:00 eve, 13:00 fay, 13:30 eve, 14:00 cy, 18:00 ana"
	if strings.Join(got, ", ") != want {
		t.Errorf("shifts:\n got %s\nwant %s", strings.Join(got, ", "), want)
	}
}

// TestNobody: a schedule whose only layer is restricted has nobody on call
// outside its windows, and says so as a shift of its own.
func TestNobody(t *testing.T) {
	s := &Schedule{Layers: []Rotation{{Name: "days", Participants: []string{"ana"}, Start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		Length: Daily, Restrictions: []Window{{Days: []time.Weekday{time.Thursday}, From: 9 * time.Hour, To: 17 * time.Hour}}}}}
	shifts := s.Shifts(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC))
	var got []string
	for _, sh := range shifts {
		got = append(got, fmt.Sprintf("%s-%s %q", sh.From.Format("15"), sh.To.Format("15"), sh.User))
	}
	if want := `00-09 "", 09-17 "ana", 17-00 ""`; strings.Join(got, ", ") != want {
		t.Errorf("shifts %s, want %s", strings.Join(got, ", "), want)
	}
}

// TestEmptyRotations: a rotation with nobody in it, or shifts of no
// length, has nobody on call, and does not stop the schedule answering.
func TestEmptyRotations(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := &Schedule{Layers: []Rotation{
		{Name: "base", Participants: []string{"ana"}, Start: t0, Length: Weekly},
		{Name: "nobody", Start: t0, Length: Daily},
		{Name: "no-length", Participants: []string{"bo"}, Start: t0},
	}}
	if u, l := s.At(t0.Add(time.Hour)); u != "ana" || l != "base" {
		t.Errorf("At: %s (%s), want ana (base)", u, l)
	}
	if sh := s.Shifts(t0, t0.Add(24*time.Hour)); len(sh) != 1 || sh[0].User != "ana" {
		t.Errorf("Shifts: %+v", sh)
	}
}
