package admin

import (
	"net/http"
	"time"

	"github.com/nightowl/nightowl/oncall"
)

// oncallDays is how far ahead the on-call page lists shifts.
const oncallDays = 14

// oncallSchedule is one schedule as the on-call page shows it: who is on
// call now, and the shifts of the next two weeks on its clock.
type oncallSchedule struct {
	Name, Zone string
	Now, Layer string
	Until      *stamp
	Shifts     []oncallShift
}

type oncallShift struct {
	User, Layer string
	From, To    string // on the schedule's clock
	Now         bool
}

func (a *pages) adminOncall(w http.ResponseWriter, r *http.Request) {
	now := a.clock.Now()
	var out []oncallSchedule
	for _, s := range a.schedules() {
		out = append(out, oncallPage(&s, now))
	}
	a.render(w, r, http.StatusOK, "admin_oncall.html", &adminPage{Title: "On call", Section: "oncall", Data: out})
}

func oncallPage(s *oncall.Schedule, now time.Time) oncallSchedule {
	zone := s.Zone
	if zone == nil {
		zone = time.UTC
	}
	p := oncallSchedule{Name: s.Name, Zone: zone.String()}
	p.Now, p.Layer = s.At(now)
	const layout = "Mon 2 Jan 15:04"
	for i, sh := range s.Shifts(now, now.In(zone).AddDate(0, 0, oncallDays)) {
		if i == 0 {
			p.Until = at(sh.To)
		}
		p.Shifts = append(p.Shifts, oncallShift{User: sh.User, Layer: sh.Layer, Now: i == 0,
			From: sh.From.In(zone).Format(layout), To: sh.To.In(zone).Format(layout)})
	}
	return p
}
