// Package oncall says who is on call: schedules made of rotations in
// layers, with restrictions and overrides, in a time zone of their own.
//
// Time is wall-clock time in the schedule's zone: a daily rotation that
// hands off at 09:00 in Europe/Berlin hands off at 09:00 local on every
// day, so the shift that spans the change to summer time lasts 23 hours
// and the one that spans the change back 25. Restrictions are wall-clock
// windows in the same zone.
package oncall

import (
	"fmt"
	"slices"
	"sort"
	"time"
)

// Schedule is who is on call, and when: layers of rotations, the later
// layer winning wherever it has someone, and overrides above them all.
type Schedule struct {
	Name      string
	Zone      *time.Location // UTC when nil
	Layers    []Rotation
	Overrides []Override
}

// Rotation hands the pager from one participant to the next every Length,
// starting with Participants[0] at Start (a wall-clock time in the
// schedule's zone).
type Rotation struct {
	Name         string
	Participants []string
	Start        time.Time
	Length       Length
	// Restrictions, when any, are when the rotation has someone on call:
	// outside them it has nobody, and a lower layer (or nobody) answers.
	Restrictions []Window
}

// Length is how long a shift lasts, in wall-clock units: days and hours
// are counted on the clock of the schedule's zone.
type Length struct {
	Days  int
	Hours int
}

// Daily and Weekly are the usual lengths.
var (
	Daily  = Length{Days: 1}
	Weekly = Length{Days: 7}
)

func (l Length) String() string {
	switch {
	case l.Hours == 0 && l.Days%7 == 0:
		return fmt.Sprintf("%dw", l.Days/7)
	case l.Hours == 0:
		return fmt.Sprintf("%dd", l.Days)
	case l.Days == 0:
		return fmt.Sprintf("%dh", l.Hours)
	}
	return fmt.Sprintf("%dd%dh", l.Days, l.Hours)
}

// Window is a weekly span of wall-clock time: on each of Days, From to To
// (offsets from midnight; To after From, at most 24h). A window whose To
// is before its From runs past midnight into the next day.
type Window struct {
	Days     []time.Weekday
	From, To time.Duration
}

// Override puts User on call from From to To, above every layer; of two
// overrides that cover a time, the later in the list wins.
type Override struct {
	User     string
	From, To time.Time
}

// Shift is a span of time with one person on call ("" for nobody).
type Shift struct {
	User     string
	From, To time.Time
	// Layer is the rotation the person is on call through, or
	// "override".
	Layer string
}

func (s *Schedule) zone() *time.Location {
	if s.Zone == nil {
		return time.UTC
	}
	return s.Zone
}

// At returns who is on call at t, and through which layer; "" for nobody.
func (s *Schedule) At(t time.Time) (user, layer string) {
	for i := len(s.Overrides) - 1; i >= 0; i-- {
		o := s.Overrides[i]
		if !t.Before(o.From) && t.Before(o.To) {
			return o.User, "override"
		}
	}
	for i := len(s.Layers) - 1; i >= 0; i-- {
		if u := s.Layers[i].at(t, s.zone()); u != "" {
			return u, s.Layers[i].Name
		}
	}
	return "", ""
}

// handoff is the start of shift k of r, in zone: Start plus k lengths of
// wall-clock time.
func (r *Rotation) handoff(k int, zone *time.Location) time.Time {
	st := r.Start.In(zone)
	return time.Date(st.Year(), st.Month(), st.Day()+k*r.Length.Days, st.Hour()+k*r.Length.Hours,
		st.Minute(), st.Second(), st.Nanosecond(), zone)
}

// shiftAt is the number of the shift of r that t falls in: the last
// handoff at or before t. Negative before Start.
func (r *Rotation) shiftAt(t time.Time, zone *time.Location) int {
	approx := time.Duration(r.Length.Days)*24*time.Hour + time.Duration(r.Length.Hours)*time.Hour
	k := int(t.Sub(r.Start) / approx)
	// The estimate is off by at most a DST hour a shift: walk to the
	// exact one.
	for r.handoff(k, zone).After(t) {
		k--
	}
	for !r.handoff(k+1, zone).After(t) {
		k++
	}
	return k
}

// valid says whether r can have anyone on call: participants, and shifts
// of some length. (The config refuses the others; this keeps a
// hand-made one from dividing by zero.)
func (r *Rotation) valid() bool {
	return len(r.Participants) > 0 && r.Length.Days >= 0 && r.Length.Hours >= 0 && r.Length.Days+r.Length.Hours > 0
}

func (r *Rotation) at(t time.Time, zone *time.Location) string {
	if !r.valid() || t.Before(r.Start) || !r.allowed(t, zone) {
		return ""
	}
	k := r.shiftAt(t, zone)
	return r.Participants[k%len(r.Participants)]
}

// allowed says whether t is within one of r's restrictions (always, when
// it has none).
func (r *Rotation) allowed(t time.Time, zone *time.Location) bool {
	if len(r.Restrictions) == 0 {
		return true
	}
	lt := t.In(zone)
	midnight := time.Date(lt.Year(), lt.Month(), lt.Day(), 0, 0, 0, 0, zone)
	for _, w := range r.Restrictions {
		// Today's window, and yesterday's when it runs past midnight.
		for back := 0; back <= 1; back++ {
			day := midnight.AddDate(0, 0, -back)
			if !slices.Contains(w.Days, day.Weekday()) {
				continue
			}
			from, to := w.span(day, zone)
			if !t.Before(from) && t.Before(to) {
				return true
			}
		}
	}
	return false
}

// span is the window's wall-clock span that begins on day (a local
// midnight).
func (w Window) span(day time.Time, zone *time.Location) (from, to time.Time) {
	from = wall(day, w.From, 0, zone)
	if w.To > w.From {
		return from, wall(day, w.To, 0, zone)
	}
	return from, wall(day, w.To, 1, zone)
}

// wall is the time of day d on day plus days, on the zone's clock.
func wall(day time.Time, d time.Duration, plusDays int, zone *time.Location) time.Time {
	h, m, s := int(d/time.Hour), int(d%time.Hour/time.Minute), int(d%time.Minute/time.Second)
	return time.Date(day.Year(), day.Month(), day.Day()+plusDays, h, m, s, 0, zone)
}

// Shifts returns who is on call from from to to, as consecutive shifts
// (nobody's included), each as long as one person is on call through one
// layer.
func (s *Schedule) Shifts(from, to time.Time) []Shift {
	if !to.After(from) {
		return nil
	}
	zone := s.zone()
	// Keyed by the instant: the same time in two zones is one cut.
	cuts := map[int64]time.Time{from.UnixNano(): from}
	add := func(t time.Time) {
		if t.After(from) && t.Before(to) {
			cuts[t.UnixNano()] = t
		}
	}
	for _, o := range s.Overrides {
		add(o.From)
		add(o.To)
	}
	for i := range s.Layers {
		r := &s.Layers[i]
		add(r.Start)
		if r.valid() {
			k := r.shiftAt(from, zone)
			for ; ; k++ {
				h := r.handoff(k, zone)
				if !h.Before(to) {
					break
				}
				add(h)
			}
		}
		// Each day's window edges, a day either side for windows that
		// run past midnight.
		lf := from.In(zone)
		for day := time.Date(lf.Year(), lf.Month(), lf.Day()-1, 0, 0, 0, 0, zone); day.Before(to); day = day.AddDate(0, 0, 1) {
			for _, w := range r.Restrictions {
				if slices.Contains(w.Days, day.Weekday()) {
					f, t := w.span(day, zone)
					add(f)
					add(t)
				}
			}
		}
	}
	times := make([]time.Time, 0, len(cuts))
	for _, t := range cuts {
		times = append(times, t)
	}
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	var out []Shift
	for i, t := range times {
		end := to
		if i+1 < len(times) {
			end = times[i+1]
		}
		u, l := s.At(t)
		if n := len(out); n > 0 && out[n-1].User == u && out[n-1].Layer == l {
			out[n-1].To = end
			continue
		}
		out = append(out, Shift{User: u, Layer: l, From: t, To: end})
	}
	return out
}
