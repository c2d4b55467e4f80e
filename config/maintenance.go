package config

import (
	"fmt"
	"sort"
	"strings"
	"time"

	cron "github.com/netresearch/go-cron"
	"go.yaml.in/yaml/v3"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/maintenance"
)

// DefaultVerifyWithin is how long after a maintenance window ends its checks
// have to be up again, when the window does not say.
const DefaultVerifyWithin = maintenance.DefaultVerifyWithin

// maxWindowDuration bounds a recurring window: one longer than a week is a
// silence that never lifts, or a typo (168h for 16h).
const maxWindowDuration = 7 * 24 * time.Hour

// windowSource is Window.Source for a window from the config file.
const windowSource = "config"

// windowKeys is the shape of one maintenance window. Pointers tell a value
// given from one left out.
type windowKeys struct {
	Name     string             `yaml:"name"`
	Start    string             `yaml:"start"`
	End      string             `yaml:"end"`
	Schedule string             `yaml:"schedule"`
	Duration *time.Duration     `yaml:"duration"`
	Timezone string             `yaml:"timezone"`
	Checks   *nightowl.Selector `yaml:"checks"`
	Expect   []string           `yaml:"expect"`
	Verify   *verifyKeys        `yaml:"verify"`
	Announce bool               `yaml:"announce"`
	Reason   string             `yaml:"reason"`
}

type verifyKeys struct {
	Within     *time.Duration  `yaml:"within"`
	AgainAfter []time.Duration `yaml:"again_after"`
}

// maintenance decodes the maintenance section against the checks in sc: a
// window's selector and expectations name them. n is nil when the file has
// no such section.
func (d *decoder) maintenance(n *yaml.Node, sc *scope) []nightowl.Window {
	l := namedList{path: "maintenance", kind: "window", notList: "must be a list of windows"}
	out, _ := decodeNamed(d, n, l, func(n *yaml.Node, path string) nightowl.Window {
		return d.window(n, path, sc)
	}, func(w nightowl.Window) string { return w.Name })
	return out
}

// scope is what windows are checked against: the configured checks, and how
// far they can be trusted.
type scope struct {
	checks []Check
	// names are the valid names of checks, in file order; written are the
	// names as written, valid or not, so that a window naming a check
	// whose own name is wrong adds no error of its own.
	names   []string
	written map[string]bool
	// sure is false when the checks section has errors: a check or an
	// assertion may then be missing only because it failed to decode.
	sure bool
	// none is true when the checks section is not even a list.
	none bool
}

// newScope makes the scope of checks, decoded with the roster r.
func (d *decoder) newScope(checks []Check, r *roster) *scope {
	sc := &scope{checks: checks, written: r.written, sure: !d.HasError("checks"), none: d.Bad("checks")}
	// Every valid name, repeated ones included, as they are listed in
	// suggestions.
	for _, ch := range checks {
		if ch.Name != "" {
			sc.names = append(sc.names, ch.Name)
		}
	}
	return sc
}

func (d *decoder) window(n *yaml.Node, path string, sc *scope) nightowl.Window {
	w := nightowl.Window{Source: windowSource}
	var k windowKeys
	if !d.namedItem(n, path, &k) {
		return w
	}
	w.Name = d.itemName(n, path, k.Name, badName)
	w.ID = w.Name

	d.when(&w, &k, n, path)
	w.Checks = d.selector(k.Checks, n, path+".checks", sc)
	in, inOK := d.inScope(&w.Checks, path+".checks", sc)
	w.Expect = d.expect(k.Expect, n, path+".expect", in, inOK)
	w.Verify = d.verify(k.Verify, path+".verify")
	w.Announce = k.Announce
	w.Reason = k.Reason
	return w
}

// when decodes the one-off (start, end) or recurring (schedule, duration,
// timezone) form of a window.
func (d *decoder) when(w *nightowl.Window, k *windowKeys, n *yaml.Node, path string) {
	spath, epath := path+".start", path+".end"
	schpath, dpath, tzpath := path+".schedule", path+".duration", path+".timezone"
	// A key that failed to decode was given all the same.
	given := func(p string, set bool) bool { return set || d.HasError(p) }
	hasStart, hasEnd := given(spath, k.Start != ""), given(epath, k.End != "")
	hasSchedule, hasDuration := given(schpath, k.Schedule != ""), given(dpath, k.Duration != nil)
	oneOff, recurring := hasStart || hasEnd, hasSchedule || hasDuration

	switch {
	case oneOff && recurring:
		at := schpath
		if !hasSchedule {
			at = dpath
		}
		d.Errorf(d.Keys[at], at, "a window is either one-off (start, end) or recurring (schedule, duration), not both")
	case oneOff:
		if !hasStart {
			d.Errorf(n, spath, "required: a one-off window has start and end")
		}
		if !hasEnd {
			d.Errorf(n, epath, "required: a one-off window has start and end")
		}
		if k.Timezone != "" {
			d.Errorf(d.Keys[tzpath], tzpath, "only applies to a schedule: start and end carry their own offset")
		}
	case recurring:
		if !hasSchedule {
			d.Errorf(n, schpath, "required: a recurring window has schedule and duration")
		}
		if !hasDuration {
			d.Errorf(n, dpath, "required: a recurring window has schedule and duration")
		}
	default:
		d.Errorf(n, path, "needs start and end (a one-off window) or schedule and duration (a recurring one)")
	}

	start, startOK := d.timestamp(k.Start, spath)
	end, endOK := d.timestamp(k.End, epath)
	if startOK && endOK && !end.After(start) {
		d.Errorf(d.Locate(epath), epath, "must be after start (%s)", start.Format(time.RFC3339))
	}
	if startOK && endOK {
		// UTC, so that two loads of one file give equal times: each
		// parsed offset is a *time.Location of its own.
		w.Start, w.End = start.UTC(), end.UTC()
	}

	if k.Schedule != "" && !d.HasError(schpath) {
		if msg := checkSchedule(k.Schedule); msg != "" {
			d.Errorf(d.Locate(schpath), schpath, "%s", msg)
		}
		w.Schedule = k.Schedule
	}
	if k.Duration != nil && !d.HasError(dpath) {
		switch v := *k.Duration; {
		case v <= 0:
			d.Errorf(d.Locate(dpath), dpath, "must be positive")
		case v > maxWindowDuration:
			d.Errorf(d.Locate(dpath), dpath, "must not exceed %s (7 days)", nightowl.FormatDuration(maxWindowDuration))
		}
		w.Duration = nightowl.Seconds(*k.Duration)
	}
	if k.Timezone != "" && !d.HasError(tzpath) {
		if _, err := time.LoadLocation(k.Timezone); err != nil {
			d.Errorf(d.Locate(tzpath), tzpath, "unknown time zone %q", k.Timezone)
		}
		w.Timezone = k.Timezone
	}
	if recurring && w.Timezone == "" {
		w.Timezone = "UTC"
	}
}

// timestamp parses an RFC 3339 time; ok is false when s is empty or wrong.
func (d *decoder) timestamp(s, path string) (t time.Time, ok bool) {
	if s == "" || d.HasError(path) {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		d.Errorf(d.Locate(path), path, "must be a time with a zone offset, such as 2026-03-17T22:00:00Z or 2026-03-17T23:00:00+01:00")
		return time.Time{}, false
	}
	return t, true
}

// checkSchedule returns what is wrong with a window's cron schedule, or "".
func checkSchedule(s string) string {
	switch {
	case strings.HasPrefix(s, "TZ=") || strings.HasPrefix(s, "CRON_TZ="):
		return "give the time zone as timezone, not in the schedule"
	case strings.HasPrefix(s, "@every"):
		// It counts from whenever nightowl started, so the window would
		// move with every restart.
		return `@every counts from when nightowl started: give times, such as "0 2 * * SUN"`
	}
	sched, err := cron.ParseStandard(s)
	if err != nil {
		return fmt.Sprintf("not a cron schedule: %v", err)
	}
	if sched.Next(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)).IsZero() {
		return "never falls due"
	}
	return ""
}

// selector checks a window's checks key against the configured checks.
func (d *decoder) selector(sel *nightowl.Selector, n *yaml.Node, path string, sc *scope) nightowl.Selector {
	switch {
	case d.HasError(path):
		if sel != nil {
			return *sel
		}
		return nightowl.Selector{}
	case sel == nil:
		d.Errorf(n, path, "required: the checks the work affects, by labels, names or both")
		return nightowl.Selector{}
	case sel.Empty():
		d.Errorf(d.Locate(path), path, "must give labels, names or both")
		return *sel
	}
	for _, label := range sortedKeys(sel.Labels) {
		lpath := path + ".labels." + label
		if !labelNameRE.MatchString(label) {
			d.Errorf(d.Keys[lpath], lpath, "label names must match [a-zA-Z_][a-zA-Z0-9_]*")
		}
	}
	if !sc.none {
		for i, name := range sel.Names {
			ipath := indexPath(path+".names", i)
			if sc.written[name] || d.HasError(ipath) {
				continue
			}
			d.Errorf(d.Locate(ipath), ipath, "unknown check %q (%s)", name, suggest(name, sc.names))
		}
	}
	return *sel
}

// inScope returns the checks a window selects; ok is false when they cannot
// be known, so that nothing is said about them.
func (d *decoder) inScope(sel *nightowl.Selector, path string, sc *scope) (in []*Check, ok bool) {
	if !sc.sure || d.HasError(path) {
		return nil, false
	}
	for i := range sc.checks {
		if ch := &sc.checks[i]; sel.Matches(ch.Name, ch.Labels) {
			in = append(in, ch)
		}
	}
	if len(in) == 0 {
		d.Errorf(d.Locate(path), path, "selects no configured check")
		return nil, false
	}
	return in, true
}

// expect checks that every expected assertion exists on a check in scope:
// a misspelled one would let nothing fail, and page everyone.
func (d *decoder) expect(list []string, n *yaml.Node, path string, in []*Check, inOK bool) []string {
	switch {
	case d.HasError(path):
		return list
	case list == nil:
		d.Errorf(n, path, `required: the assertions the work may make fail, or "*" for any failure`)
		return nil
	case len(list) == 0:
		d.Errorf(d.Locate(path), path, `must list at least one assertion, or "*"`)
		return list
	}
	have := map[string]bool{}
	for _, ch := range in {
		for _, a := range ch.Assertions {
			have[a.Name()] = true
		}
	}
	for i, name := range list {
		ipath := indexPath(path, i)
		switch {
		case d.HasError(ipath):
		case name == nightowl.ExpectAnything:
			if len(list) > 1 {
				d.Errorf(d.Locate(ipath), ipath, `"*" already allows any failure: give it alone`)
			}
		case name == "":
			d.Errorf(d.Locate(ipath), ipath, "must be an assertion name")
		case inOK && !have[name]:
			d.Errorf(d.Locate(ipath), ipath, "no check in scope has an assertion %q (assertions in scope: %s)", name, strings.Join(sortedKeys(have), ", "))
		}
	}
	return list
}

func (d *decoder) verify(k *verifyKeys, path string) nightowl.Verify {
	v := nightowl.Verify{Within: DefaultVerifyWithin}
	if k == nil || d.Bad(path) {
		return v
	}
	wpath := path + ".within"
	// A within that did not decode leaves again_after nothing to be
	// compared with.
	withinOK := !d.HasError(wpath)
	within := nightowl.FormatDuration(v.Within) + ", the default"
	if k.Within != nil {
		v.Within = *k.Within
		withinOK = d.positive(wpath, v.Within)
		within = nightowl.FormatDuration(v.Within)
	}
	v.AgainAfter = k.AgainAfter
	apath := path + ".again_after"
	// latest is the index of the latest entry so far, -1 before the first.
	latest := -1
	for i, a := range k.AgainAfter {
		ipath := indexPath(apath, i)
		switch {
		case d.HasError(ipath):
		case a <= 0:
			d.Errorf(d.Locate(ipath), ipath, "must be positive")
		case withinOK && a <= v.Within:
			d.Errorf(d.Locate(ipath), ipath, "must be later than within (%s)", within)
		case latest >= 0 && a <= k.AgainAfter[latest]:
			d.Errorf(d.Locate(ipath), ipath, "must be later than %s (%s)", indexPath("again_after", latest), nightowl.FormatDuration(k.AgainAfter[latest]))
		}
		if latest < 0 || a > k.AgainAfter[latest] {
			latest = i
		}
	}
	return v
}

// suggest names the configured checks closest to a misspelled name, or a
// few of them.
func suggest(name string, names []string) string {
	if len(names) == 0 {
		return "no checks are configured"
	}
	best, dist := "", len(name)/3+2
	for _, c := range names {
		if e := editDistance(name, c); e < dist {
			best, dist = c, e
		}
	}
	if best != "" {
		return fmt.Sprintf("did you mean %q?", best)
	}
	const few = 5
	shown := append([]string(nil), names...)
	sort.Strings(shown)
	if len(shown) <= few {
		return "checks: " + strings.Join(shown, ", ")
	}
	return fmt.Sprintf("checks: %s and %d more", strings.Join(shown[:few], ", "), len(shown)-few)
}

// editDistance is the Levenshtein distance between a and b, in bytes: check
// names are ASCII.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
