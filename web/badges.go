package web

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/statuspage"
	"github.com/nightowl/nightowl/web/internal/kit"
)

// Component badges: GET /badge/component/NAME.svg draws one in the
// shields.io style, and GET /badge/component/NAME.json answers shields.io's
// endpoint schema, so that shields.io draws it in any of its styles. They
// live under their own path: /badge/NAME.svg is a check's, and a check and
// a component may share a name. Both are built from the public page alone,
// so a badge tells nothing the page does not.

// Per client address: a README with a dozen badges reloaded a few times
// is far within; someone asking in a loop is not.
const (
	badgeAddrBurst = 120
	badgeAddrEvery = 250 * time.Millisecond // 120 at once, then four a second
)

func newBadgeLimit() *kit.Buckets { return kit.NewBuckets(badgeAddrBurst, badgeAddrEvery, kit.MaxKeys) }

// The metrics a component badge shows.
const (
	metricStatus   = "status"
	metricUptime   = "uptime"
	metricResponse = "response"
)

// defaultBadgePeriod is the uptime badge's period when none is asked for.
const defaultBadgePeriod = "30d"

// badgeQuery is what a badge's query asks for.
type badgeQuery struct {
	Metric string // status, uptime or response
	Period string // the uptime's: one of statuspage.Periods
}

// parseBadgeQuery reads ?metric= and ?period=. Other parameters are
// ignored: services that fetch badges add their own (cache busters).
func parseBadgeQuery(q url.Values) (badgeQuery, error) {
	for _, key := range []string{"metric", "period"} {
		if len(q[key]) > 1 {
			return badgeQuery{}, nightowl.Errorf(nightowl.EInvalid, "%s is given %d times; give it once", key, len(q[key]))
		}
	}
	bq := badgeQuery{Metric: q.Get("metric"), Period: q.Get("period")}
	switch bq.Metric {
	case "", metricStatus:
		bq.Metric = metricStatus
	case metricUptime, metricResponse:
	default:
		return badgeQuery{}, nightowl.Errorf(nightowl.EInvalid, "metric must be status, uptime or response, not %q", clip(bq.Metric))
	}
	switch {
	case bq.Metric != metricUptime && bq.Period != "":
		return badgeQuery{}, nightowl.Errorf(nightowl.EInvalid, "period is for metric=uptime only")
	case bq.Metric == metricUptime && bq.Period == "":
		bq.Period = defaultBadgePeriod
	case bq.Metric == metricUptime && !slices.Contains(statuspage.Periods, bq.Period):
		return badgeQuery{}, nightowl.Errorf(nightowl.EInvalid, "period must be one of %s, not %q",
			strings.Join(statuspage.Periods, ", "), clip(bq.Period))
	}
	return bq, nil
}

// clip shortens what a stranger sent before it is echoed in an error.
func clip(s string) string {
	if r := []rune(s); len(r) > 20 {
		return string(r[:20]) + "…"
	}
	return s
}

// badgeFace is what a badge says, and its colour by shields.io's name.
type badgeFace struct {
	Label, Message, Color string
}

// shieldsColours are shields.io's named colours, for the SVG.
var shieldsColours = map[string]string{
	"brightgreen": "#4c1", "green": "#97ca00", "yellow": "#dfb317", "orange": "#fe7d37", "red": "#e05d44",
	"blue": "#007ec6", "lightgrey": "#9f9f9f",
}

var componentColours = map[nightowl.ComponentStatus]string{
	nightowl.ComponentOperational: "brightgreen", nightowl.ComponentDegraded: "yellow",
	nightowl.ComponentPartialOutage: "orange", nightowl.ComponentMajorOutage: "red",
	nightowl.ComponentUnderMaintenance: "blue",
}

// uptimeColour grades an uptime as the bars do.
func uptimeColour(u float64) string {
	switch {
	case u < 0:
		return "lightgrey"
	case u >= 99.9:
		return "brightgreen"
	case u >= 99:
		return "green"
	case u >= 95:
		return "yellow"
	case u >= 90:
		return "orange"
	}
	return "red"
}

// responseColour grades a median response time, in seconds.
func responseColour(s float64) string {
	switch {
	case s < 0.3:
		return "brightgreen"
	case s < 1:
		return "green"
	case s < 2:
		return "yellow"
	case s < 5:
		return "orange"
	}
	return "red"
}

// faceOf says what c's badge shows for bq; false when c has nothing to
// show for it (response times it does not publish).
func faceOf(c PublicComponent, bq badgeQuery) (badgeFace, bool) {
	switch bq.Metric {
	case metricUptime:
		w, _ := c.Window(bq.Period)
		f := badgeFace{Label: "uptime " + bq.Period, Message: "no data", Color: uptimeColour(w.Uptime())}
		if u := w.Uptime(); u >= 0 {
			f.Message = strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", u), "0"), ".") + "%"
		}
		return f, true
	case metricResponse:
		if !c.ShowResponseTime {
			return badgeFace{}, false
		}
		f := badgeFace{Label: "response time", Message: "no data", Color: "lightgrey"}
		if c.Response.Runs > 0 {
			f.Message, f.Color = millis(c.Response.P50), responseColour(c.Response.P50)
		}
		return f, true
	}
	return badgeFace{Label: c.Name, Message: words(string(c.Status)), Color: componentColours[c.Status]}, true
}

// findComponent finds a component by its name, or by the name's ID on the
// page (main-database for "Main Database"), which reads better in a URL.
func findComponent(ps *PublicStatus, name string) (PublicComponent, bool) {
	for _, c := range ps.Components {
		if c.Name == name {
			return c, true
		}
	}
	for _, c := range ps.Components {
		if kit.ComponentID(c.Name) == name {
			return c, true
		}
	}
	return PublicComponent{}, false
}

// componentBadge serves GET /badge/component/{NAME.svg|NAME.json}.
func (a *api) componentBadge(w http.ResponseWriter, r *http.Request) {
	if wait, ok := a.badgeLimit.Take(nightowl.ClientKey(a.clientAddr(r)), a.clock.Now()); !ok {
		kit.WriteError(w, kit.TooMany(wait, "too many badges fetched from your address"))
		return
	}
	file := r.PathValue("file")
	name, asJSON := strings.CutSuffix(file, ".json")
	if !asJSON {
		var ok bool
		if name, ok = strings.CutSuffix(file, ".svg"); !ok {
			kit.WriteError(w, nightowl.Errorf(nightowl.ENotFound, "a component badge ends in .svg or .json"))
			return
		}
	}
	bq, err := parseBadgeQuery(r.URL.Query())
	if err != nil {
		kit.WriteError(w, err)
		return
	}
	ps, ok := a.publicStatus(w, r)
	if !ok {
		return
	}
	c, ok := findComponent(&ps, name)
	if !ok {
		kit.WriteError(w, nightowl.Errorf(nightowl.ENotFound, "no such component"))
		return
	}
	face, ok := faceOf(c, bq)
	if !ok {
		kit.WriteError(w, nightowl.Errorf(nightowl.ENotFound, "this component does not publish its response time"))
		return
	}
	if asJSON {
		// shields.io's endpoint schema.
		publicJSON(w, struct {
			SchemaVersion int    `json:"schemaVersion"`
			Label         string `json:"label"`
			Message       string `json:"message"`
			Color         string `json:"color"`
		}{1, face.Label, face.Message, face.Color})
		return
	}
	a.writeBadge(w, face.Label, face.Message, shieldsColours[face.Color])
}

// writeBadge draws a badge in the shields.io style.
func (a *api) writeBadge(w http.ResponseWriter, label, message, colour string) {
	lw, sw := textWidth(label), textWidth(message)
	d := struct {
		Label, Status, Colour string
		W, LW, SW, LX, SX     int
	}{Label: label, Status: message, Colour: colour, W: lw + sw, LW: lw, SW: sw, LX: lw / 2, SX: lw + sw/2}
	var buf bytes.Buffer
	if err := badgeTemplate.Execute(&buf, d); err != nil {
		a.log.Error("render a badge", "err", err)
		http.Error(w, "badge unavailable", http.StatusInternalServerError)
		return
	}
	publicHeaders(w, "image/svg+xml")
	// Badges are embedded in READMEs behind caching proxies: they must
	// ask again each time to show the status of the moment.
	w.Header().Set("Cache-Control", "no-cache, max-age=0")
	w.Write(buf.Bytes())
}
