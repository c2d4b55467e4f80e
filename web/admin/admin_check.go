package admin

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/ingest"
	"github.com/nightowl/nightowl/statuspage"
	"github.com/nightowl/nightowl/web/internal/kit"
)

// uptimeChartDays is how many days the check page's uptime chart covers.
const uptimeChartDays = 90

// recentResults is how many results the check page lists and charts.
const recentResults = 60

// checkPage is one check in detail. Its configuration is not here: that is
// where DSNs, passwords and tokens live.
type checkPage struct {
	Row          checkRow
	Labels       []fact
	DependsOn    []checkLink
	Interval     string
	Timeout      string
	FailAfter    int
	RecoverAfter int
	Runs, Fails  int64
	PingURL      string
	Error        string
	Facts        []fact
	Assertions   []assertionRow
	Results      []resultRow
	Events       []eventRow
	Alerts       alertTable
	Latency      latencyChart
	Uptime       uptimeChart
}

type fact struct{ Name, Value string }

// checkLink names another check and links to its page.
type checkLink struct{ Name, Href string }

type assertionRow struct {
	Name, Severity, Outcome, Message string
	OK                               bool
}

type resultRow struct {
	Start       *stamp
	Status      nightowl.Status
	Icon        string
	Latency     string
	Error       string
	Maintenance string
}

type eventRow struct {
	Time           *stamp
	Kind           string
	From, To       nightowl.Status
	Cause          string
	FromIcon, Icon string
}

func (a *pages) adminCheck(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	v, ok := a.b.Check(name)
	if in, key, ingested := ingest.Split(name); !ok && ingested && a.alerts != nil {
		// An alert another tool sent has no check to show, only its
		// alerts: where the dashboard links of its messages lead.
		a.ingestedAlerts(w, r, name, in, key)
		return
	}
	if !ok {
		a.fail(w, r, "Not found", nightowl.Errorf(nightowl.ENotFound, "check %q not found", name))
		return
	}
	ctx := r.Context()
	p := checkPage{Row: toRow(v), Interval: v.Check.Interval.String(), Timeout: v.Check.Timeout.String(),
		FailAfter: v.Check.FailAfter, RecoverAfter: v.Check.RecoverAfter, Runs: v.State.Runs, Fails: v.State.Fails}
	p.PingURL = a.pingURL(r, name)
	for _, d := range v.Check.DependsOn {
		p.DependsOn = append(p.DependsOn, checkLink{d, checkHref(d)})
	}
	for _, k := range sortedKeys(v.Check.Labels) {
		p.Labels = append(p.Labels, fact{k, v.Check.Labels[k]})
	}
	if l := v.Last; l != nil {
		p.Error = l.Error
		for _, k := range sortedKeys(l.Facts) {
			p.Facts = append(p.Facts, fact{k, factText(l.Facts[k])})
		}
		for _, as := range l.Assertions {
			row := assertionRow{Name: as.Name, Severity: string(as.Severity), OK: as.OK, Message: as.Message, Outcome: "holds"}
			if row.Severity == "" {
				row.Severity = string(nightowl.SeverityCritical)
			}
			if !as.OK {
				row.Outcome = "fails"
			}
			p.Assertions = append(p.Assertions, row)
		}
	}
	results, err := a.b.Store().Results(ctx, name, recentResults)
	if err != nil {
		a.fail(w, r, name, err)
		return
	}
	// The store writes in batches; the engine knows the latest run first.
	if v.Last != nil && (len(results) == 0 || v.Last.Start.After(results[0].Start)) {
		results = append([]nightowl.Result{*v.Last}, results...)
		if len(results) > recentResults {
			results = results[:recentResults]
		}
	}
	for _, res := range results {
		row := resultRow{Start: at(res.Start), Status: res.Status, Icon: statusIcons[res.Status],
			Latency: millis(time.Duration(res.Duration)), Error: res.Error}
		if res.Maintenance != nil {
			row.Maintenance = strings.Join(res.Maintenance.Windows, ", ")
		}
		p.Results = append(p.Results, row)
	}
	p.Latency = newLatencyChart(results)
	now := a.clock.Now().UTC()
	since := now.Truncate(24*time.Hour).AddDate(0, 0, -(uptimeChartDays - 1))
	rollups, err := a.b.Store().Rollups(ctx, name, nightowl.Daily, since)
	if err != nil {
		a.fail(w, r, name, err)
		return
	}
	p.Uptime = newUptimeChart(rollups, since, uptimeChartDays)
	events, err := a.b.Store().Events(ctx, name, 30)
	if err != nil {
		a.fail(w, r, name, err)
		return
	}
	for _, e := range events {
		p.Events = append(p.Events, eventRow{Time: at(e.Time), Kind: e.Kind, From: e.From, To: e.To, Cause: e.Cause,
			FromIcon: statusIcons[e.From], Icon: statusIcons[e.To]})
	}
	if a.alerts != nil {
		als, err := a.alerts.AlertStore().Alerts(ctx, nightowl.AlertQuery{Check: name, Limit: 10})
		if err != nil {
			a.fail(w, r, name, err)
			return
		}
		p.Alerts = newAlertTable(r, "check-alerts", alertRows(als), checkHref(name))
	}
	a.render(w, r, http.StatusOK, "admin_check.html", &adminPage{Title: name, Section: "checks", Data: p})
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// maxFact is how much of a fact the page shows: a body is up to 64 KiB.
const maxFact = 400

// factText shows a fact as an assertion would compare it: numbers and text
// as they are, lists and maps as JSON.
func factText(v any) string {
	var s string
	switch v := v.(type) {
	case nil:
		s = "nil"
	case string:
		s = strconv.Quote(v)
	case float64:
		s = strconv.FormatFloat(v, 'f', -1, 64)
	case bool, int, int64, float32, uint64:
		s = fmt.Sprint(v)
	default:
		b, err := json.Marshal(v)
		if err != nil {
			s = fmt.Sprint(v)
		} else {
			s = string(b)
		}
	}
	if len(s) > maxFact {
		return kit.Truncate(s, maxFact) + fmt.Sprintf("… (%d bytes in all)", len(s))
	}
	return s
}

// The charts are SVG drawn here, without scripts: one viewBox, scaled by
// the style sheet to the width of the page.
const (
	chartW, chartH      = 640, 180
	chartLeft, chartTop = 56, 12
	chartRight          = 12
	chartBottom         = 28
	plotW               = chartW - chartLeft - chartRight
	plotH               = chartH - chartTop - chartBottom
)

type latencyChart struct {
	W, H, Left, Top, Right, Bottom, Mid int
	Points                              string
	Fails                               []chartPoint
	Max, Half                           string // the axis labels
	From, To                            string // the time labels
	Summary                             string
	Empty                               bool
}

type chartPoint struct {
	X, Y  string
	Label string
}

// niceCeil rounds up to 1, 2 or 5 times a power of ten, for axis labels.
func niceCeil(x float64) float64 {
	if x <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(x)))
	for _, m := range []float64{1, 2, 5, 10} {
		if x <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func coord(f float64) string { return strconv.FormatFloat(math.Round(f*10)/10, 'f', -1, 64) }

// newLatencyChart draws results, newest first as the store gives them, as
// a line from the oldest to the newest, with failed runs marked.
func newLatencyChart(results []nightowl.Result) latencyChart {
	c := latencyChart{W: chartW, H: chartH, Left: chartLeft, Top: chartTop, Right: chartW - chartRight,
		Bottom: chartH - chartBottom, Mid: chartTop + plotH/2}
	if len(results) == 0 {
		c.Empty = true
		c.Summary = "No runs yet."
		return c
	}
	n := len(results)
	ms := make([]float64, n)
	top, fails := 0.0, 0
	for i, res := range results {
		ms[n-1-i] = float64(time.Duration(res.Duration)) / float64(time.Millisecond)
		top = math.Max(top, ms[n-1-i])
	}
	scale := niceCeil(top)
	c.Max, c.Half = fmt.Sprintf("%g ms", scale), fmt.Sprintf("%g ms", scale/2)
	var pts []string
	for i := range n {
		res := results[n-1-i]
		x := float64(chartLeft)
		if n > 1 {
			x += float64(plotW) * float64(i) / float64(n-1)
		} else {
			x += float64(plotW) / 2
		}
		y := float64(chartTop) + float64(plotH)*(1-ms[i]/scale)
		pts = append(pts, coord(x)+","+coord(y))
		if res.Status == nightowl.StatusDown || res.Status == nightowl.StatusDegraded || !res.OK {
			fails++
			c.Fails = append(c.Fails, chartPoint{X: coord(x), Y: coord(y),
				Label: fmt.Sprintf("%s: %s, %s", res.Start.UTC().Format("15:04:05 UTC"), res.Status, millis(time.Duration(res.Duration)))})
		}
	}
	c.Points = strings.Join(pts, " ")
	oldest, newest := results[n-1].Start.UTC(), results[0].Start.UTC()
	c.From, c.To = oldest.Format("15:04:05"), newest.Format("15:04:05 UTC")
	sorted := append([]float64(nil), ms...)
	sort.Float64s(sorted)
	c.Summary = fmt.Sprintf("Latency of the last %s from %s to %s: median %s, slowest %s; %d not up.",
		plural(n, "run", "runs"), oldest.Format("15:04:05"), newest.Format("15:04:05 UTC"),
		millis(time.Duration(sorted[n/2]*float64(time.Millisecond))), millis(time.Duration(top*float64(time.Millisecond))), fails)
	return c
}

type uptimeChart struct {
	W, H, Left, Top, Right, Bottom int
	Bars                           []uptimeBar
	Days                           int
	From, To                       string
	Summary                        string
	Worst                          []uptimeBar // the days below 100%, worst first, for the text
}

type uptimeBar struct {
	X, Y, Width, Height string
	// DownY and DownHeight are the part of the bar above the uptime: the
	// share of the day's runs that were down; empty for none.
	DownY, DownHeight string
	Class             string // ok, minor, partial, major, none
	Date              string
	Uptime            string // "99.95%", or "no data"
	Runs, Failures    int64
}

// newUptimeChart draws a bar a day from since: the part as tall as the day's
// uptime coloured (and titled) by how bad the day was, and the rest of it,
// the share that was down, in red on top, so that a day that was all down
// is a red bar rather than none.
func newUptimeChart(rollups []nightowl.Rollup, since time.Time, days int) uptimeChart {
	c := uptimeChart{W: chartW, H: chartH, Left: chartLeft, Top: chartTop, Right: chartW - chartRight,
		Bottom: chartH - chartBottom, Days: days}
	byDay := map[string]nightowl.Rollup{}
	for _, ru := range rollups {
		byDay[ru.Start.UTC().Format("2006-01-02")] = ru
	}
	bw := float64(plotW) / float64(days)
	var runs, failures int64
	for i := range days {
		day := since.AddDate(0, 0, i)
		ru, ok := byDay[day.Format("2006-01-02")]
		b := uptimeBar{Date: day.Format("Jan 2"), X: coord(float64(chartLeft) + float64(i)*bw + 0.5), Width: coord(math.Max(bw-1, 1))}
		if !ok || ru.Runs == 0 {
			b.Class, b.Uptime = "none", "no data"
			b.Y, b.Height = coord(float64(chartTop+plotH-2)), "2"
		} else {
			u := statuspage.Uptime(ru.Runs, ru.Failures)
			b.Class = kit.DayClass(u)
			b.Uptime = fmt.Sprintf("%.2f%%", u)
			b.Runs, b.Failures = ru.Runs, ru.Failures
			h := float64(plotH) * u / 100
			b.Y, b.Height = coord(float64(chartTop+plotH)-h), coord(h)
			if ru.Failures > 0 {
				down := math.Max(float64(plotH)-h, 1.5)
				b.DownY, b.DownHeight = coord(float64(chartTop+plotH)-h-down), coord(down)
			}
			runs += ru.Runs
			failures += ru.Failures
			if ru.Failures > 0 {
				c.Worst = append(c.Worst, b)
			}
		}
		c.Bars = append(c.Bars, b)
	}
	sort.SliceStable(c.Worst, func(i, j int) bool {
		return float64(c.Worst[i].Failures)/float64(c.Worst[i].Runs) > float64(c.Worst[j].Failures)/float64(c.Worst[j].Runs)
	})
	if len(c.Worst) > 5 {
		c.Worst = c.Worst[:5]
	}
	c.From, c.To = since.Format("Jan 2"), since.AddDate(0, 0, days-1).Format("Jan 2")
	if runs == 0 {
		c.Summary = fmt.Sprintf("No runs recorded in the last %d days.", days)
	} else {
		c.Summary = fmt.Sprintf("Uptime over the last %d days: %.3f%% of %d runs (%d not up).",
			days, 100*float64(runs-failures)/float64(runs), runs, failures)
	}
	return c
}
