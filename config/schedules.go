package config

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/nightowl/nightowl/oncall"
)

// scheduleKeys is the shape of one schedule.
type scheduleKeys struct {
	Name      string         `yaml:"name"`
	Timezone  string         `yaml:"timezone"`
	Layers    []layerKeys    `yaml:"layers"`
	Overrides []overrideKeys `yaml:"overrides"`
}

type layerKeys struct {
	Name         string            `yaml:"name"`
	Participants []string          `yaml:"participants"`
	Start        string            `yaml:"start"`
	Length       string            `yaml:"length"`
	Restrictions []restrictionKeys `yaml:"restrictions"`
}

type restrictionKeys struct {
	Days []string `yaml:"days"`
	From string   `yaml:"from"`
	To   string   `yaml:"to"`
}

type overrideKeys struct {
	User string `yaml:"user"`
	From string `yaml:"from"`
	To   string `yaml:"to"`
}

// wallLayout is how schedules write a wall-clock time in their zone.
const wallLayout = "2006-01-02 15:04"

var lengthRE = regexp.MustCompile(`^([1-9][0-9]*)([dhw])$`)

// schedules decodes the schedules section; n is nil when the file has
// none.
func (d *decoder) schedules(n *yaml.Node) []oncall.Schedule {
	l := namedList{path: "schedules", kind: "schedule", notList: "must be a list of schedules"}
	out, _ := decodeNamed(d, n, l, d.schedule, func(s oncall.Schedule) string { return s.Name })
	return out
}

func (d *decoder) schedule(n *yaml.Node, path string) oncall.Schedule {
	var s oncall.Schedule
	var k scheduleKeys
	if !d.namedItem(n, path, &k) {
		return s
	}
	s.Name = d.itemName(n, path, k.Name, badName)
	s.Zone = time.UTC
	if tzpath := path + ".timezone"; k.Timezone != "" && !d.HasError(tzpath) {
		z, err := time.LoadLocation(k.Timezone)
		if err != nil {
			d.Errorf(d.Locate(tzpath), tzpath, "unknown time zone %q", k.Timezone)
		} else {
			s.Zone = z
		}
	}
	lpath := path + ".layers"
	if len(k.Layers) == 0 && !d.HasError(lpath) {
		d.Errorf(n, lpath, "required: at least one layer, a rotation of people")
	}
	for i, lk := range k.Layers {
		s.Layers = append(s.Layers, d.layer(lk, indexPath(lpath, i), s.Zone))
	}
	for i, ok := range k.Overrides {
		opath := indexPath(path+".overrides", i)
		o := oncall.Override{User: ok.User}
		if ok.User == "" && !d.HasError(opath+".user") {
			d.Errorf(d.Locate(opath), opath+".user", "required: who is on call instead")
		}
		from, fromOK := d.wallTime(ok.From, opath+".from", s.Zone)
		to, toOK := d.wallTime(ok.To, opath+".to", s.Zone)
		if fromOK && toOK && !to.After(from) {
			d.Errorf(d.Locate(opath+".to"), opath+".to", "must be after from (%s)", ok.From)
		}
		o.From, o.To = from, to
		s.Overrides = append(s.Overrides, o)
	}
	return s
}

func (d *decoder) layer(k layerKeys, path string, zone *time.Location) oncall.Rotation {
	r := oncall.Rotation{Name: k.Name, Participants: k.Participants}
	if r.Name == "" {
		r.Name = path[strings.LastIndex(path, ".")+1:]
	}
	if ppath := path + ".participants"; len(k.Participants) == 0 && !d.HasError(ppath) {
		d.Errorf(d.Locate(path), ppath, "required: the people who take turns, in order")
	}
	r.Start, _ = d.wallTime(k.Start, path+".start", zone)
	lenpath := path + ".length"
	switch m := lengthRE.FindStringSubmatch(k.Length); {
	case d.HasError(lenpath):
	case k.Length == "daily":
		r.Length = oncall.Daily
	case k.Length == "weekly":
		r.Length = oncall.Weekly
	case m != nil:
		n, _ := strconv.Atoi(m[1])
		switch m[2] {
		case "h":
			r.Length = oncall.Length{Hours: n}
		case "d":
			r.Length = oncall.Length{Days: n}
		case "w":
			r.Length = oncall.Length{Days: 7 * n}
		}
	case k.Length == "":
		d.Errorf(d.Locate(path), lenpath, "required: daily, weekly, or a number of hours, days or weeks (12h, 3d, 2w)")
	default:
		d.Errorf(d.Locate(lenpath), lenpath, "must be daily, weekly, or a number of hours, days or weeks (12h, 3d, 2w)")
	}
	for i, wk := range k.Restrictions {
		wpath := indexPath(path+".restrictions", i)
		w := oncall.Window{}
		for j, day := range wk.Days {
			days, ok := weekdays[strings.ToLower(day)]
			if !ok {
				dpath := indexPath(wpath+".days", j)
				d.Errorf(d.Locate(dpath), dpath, "must be a day (mon … sun), weekdays or weekends")
				continue
			}
			w.Days = append(w.Days, days...)
		}
		if len(wk.Days) == 0 && !d.HasError(wpath+".days") {
			d.Errorf(d.Locate(wpath), wpath+".days", "required: the days it applies to")
		}
		var fromOK, toOK bool
		w.From, fromOK = d.clock(wk.From, wpath+".from")
		w.To, toOK = d.clock(wk.To, wpath+".to")
		if fromOK && toOK && w.From == w.To {
			d.Errorf(d.Locate(wpath+".to"), wpath+".to", "must differ from from; a window to the same time the next day is not one")
		}
		r.Restrictions = append(r.Restrictions, w)
	}
	return r
}

var weekdays = map[string][]time.Weekday{
	"sun": {time.Sunday}, "mon": {time.Monday}, "tue": {time.Tuesday}, "wed": {time.Wednesday},
	"thu": {time.Thursday}, "fri": {time.Friday}, "sat": {time.Saturday},
	"weekdays": {time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday},
	"weekends": {time.Saturday, time.Sunday},
}

// wallTime parses "YYYY-MM-DD HH:MM" on the zone's clock.
func (d *decoder) wallTime(s, path string, zone *time.Location) (time.Time, bool) {
	if d.HasError(path) {
		return time.Time{}, false
	}
	if s == "" {
		d.Errorf(d.Locate(path[:strings.LastIndex(path, ".")]), path, "required: a time such as 2026-03-02 09:00, on the schedule's clock")
		return time.Time{}, false
	}
	t, err := time.ParseInLocation(wallLayout, s, zone)
	if err != nil {
		d.Errorf(d.Locate(path), path, "must be a time such as 2026-03-02 09:00, on the schedule's clock")
		return time.Time{}, false
	}
	return t, true
}

// clock parses "HH:MM", 00:00 to 24:00.
func (d *decoder) clock(s, path string) (time.Duration, bool) {
	if d.HasError(path) {
		return 0, false
	}
	var h, m int
	if _, err := fmt.Sscanf(s, "%d:%d", &h, &m); err != nil || len(s) != 5 || h < 0 || m < 0 || m > 59 || h > 24 || (h == 24 && m > 0) {
		if s == "" {
			d.Errorf(d.Locate(path[:strings.LastIndex(path, ".")]), path, "required: a time of day such as 09:00")
		} else {
			d.Errorf(d.Locate(path), path, "must be a time of day such as 09:00")
		}
		return 0, false
	}
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute, true
}

// scheduleSteps checks the schedules that escalation steps name, in the
// file's order (the steps themselves are sorted by after).
func (d *decoder) scheduleSteps(cfg *Config) {
	var names []string
	for _, s := range cfg.Schedules {
		names = append(names, s.Name)
	}
	for _, name := range sortedKeys(cfg.Notify.Escalations) {
		spath := joinPath(joinPath("notify.escalations", name), "steps")
		for j := 0; d.Vals[indexPath(spath, j)] != nil; j++ {
			p := indexPath(spath, j) + ".schedule"
			if v := d.Vals[p]; v != nil && !isNull(v) && !d.HasError(p) && !slices.Contains(names, v.Value) {
				d.Errorf(v, p, "unknown schedule %s (%s)", v.Value, defined(names, "schedules"))
			}
		}
	}
}
