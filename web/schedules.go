package web

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/oncall"
	"github.com/nightowl/nightowl/web/internal/kit"
)

// ShiftJSON is one shift as the API shows it: User is "" for nobody.
type ShiftJSON struct {
	User  string    `json:"user"`
	Layer string    `json:"layer,omitempty"`
	From  time.Time `json:"from"`
	To    time.Time `json:"to"`
}

// OncallJSON is who is on call in a schedule at a time, and the shifts
// after it.
type OncallJSON struct {
	Schedule string      `json:"schedule"`
	Timezone string      `json:"timezone"`
	At       time.Time   `json:"at"`
	User     string      `json:"user"`
	Layer    string      `json:"layer,omitempty"`
	Shifts   []ShiftJSON `json:"shifts"`
}

// maxOncallDays bounds how far ahead the API lists shifts.
const maxOncallDays = 366

// oncallQuery reads ?at= (RFC 3339; now when absent) and ?days= (how many
// days of shifts, 14 when absent, 0 to 366).
func oncallQuery(q url.Values, now time.Time) (at time.Time, days int, err error) {
	at, days = now, 14
	if s := q.Get("at"); s != "" {
		if at, err = time.Parse(time.RFC3339, s); err != nil {
			return at, 0, nightowl.Errorf(nightowl.EInvalid, "at: must be a time in RFC 3339, such as 2026-03-02T09:00:00+01:00")
		}
	}
	if s := q.Get("days"); s != "" {
		if days, err = strconv.Atoi(s); err != nil || days < 0 || days > maxOncallDays {
			return at, 0, nightowl.Errorf(nightowl.EInvalid, "days: must be a whole number from 0 to %d", maxOncallDays)
		}
	}
	return at, days, nil
}

func oncallJSON(s *oncall.Schedule, at time.Time, days int) OncallJSON {
	u, l := s.At(at)
	out := OncallJSON{Schedule: s.Name, Timezone: zoneName(s.Zone), At: at.In(s.Zone), User: u, Layer: l, Shifts: []ShiftJSON{}}
	// Days on the schedule's clock.
	for _, sh := range s.Shifts(at, at.In(s.Zone).AddDate(0, 0, days)) {
		out.Shifts = append(out.Shifts, ShiftJSON{User: sh.User, Layer: sh.Layer, From: sh.From.In(s.Zone), To: sh.To.In(s.Zone)})
	}
	return out
}

func zoneName(z *time.Location) string {
	if z == nil {
		return "UTC"
	}
	return z.String()
}

func (a *api) listSchedules(w http.ResponseWriter, r *http.Request) {
	now := a.clock.Now()
	schedules, err := a.oncall.Schedules(r.Context())
	if err != nil {
		kit.WriteError(w, err)
		return
	}
	out := []OncallJSON{}
	for _, s := range schedules {
		o := oncallJSON(&s, now, 0)
		o.Shifts = nil
		out = append(out, o)
	}
	kit.WriteJSON(w, http.StatusOK, map[string]any{"schedules": out})
}

func (a *api) scheduleOncall(w http.ResponseWriter, r *http.Request) {
	at, days, err := oncallQuery(r.URL.Query(), a.clock.Now())
	if err != nil {
		kit.WriteError(w, err)
		return
	}
	name := r.PathValue("name")
	s, ok, err := a.oncall.Schedule(r.Context(), name)
	switch {
	case err != nil:
		kit.WriteError(w, err)
	case !ok:
		kit.WriteError(w, nightowl.Errorf(nightowl.ENotFound, "schedule %q not found", name))
	default:
		kit.WriteJSON(w, http.StatusOK, oncallJSON(&s, at, days))
	}
}
