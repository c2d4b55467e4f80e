package web

import (
	"bytes"
	"context"
	"embed"
	"encoding/xml"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/statuspage"
	"github.com/nightowl/nightowl/web/internal/kit"
)

// The public status page, its feed, its Statuspage-compatible JSON and the
// badges are built from PublicStatus alone, which holds nothing that is not
// meant for the public: names, statuses, uptime figures, public incident
// updates and announced maintenance. Targets, DSNs, error text, causes and
// private notes never reach it, so no template can leak them.

// The public pages show a statuspage.Page; these names are web's for it.
type (
	PublicStatus      = statuspage.Page
	PublicComponent   = statuspage.Component
	PublicDay         = statuspage.Day
	PublicIncident    = statuspage.Incident
	PublicUpdate      = statuspage.Update
	PublicMaintenance = statuspage.Maintenance
)

// Publisher builds what the public pages show.
type Publisher interface {
	PublicStatus(ctx context.Context) (PublicStatus, error)
	// Badge returns a check's status for its badge; false for no such
	// check.
	Badge(name string) (nightowl.Status, bool)
}

//go:embed templates/*.html static/*
var assets embed.FS

var pageTemplates = template.Must(template.New("").Funcs(template.FuncMap{
	"utc":      func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
	"day":      func(t time.Time) string { return t.UTC().Format("Jan 2") },
	"iso":      func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"words":    func(s string) string { return strings.ReplaceAll(s, "_", " ") },
	"pct":      func(f float64) string { return fmt.Sprintf("%.2f%%", f) },
	"dayClass": dayClass,
	"dayText":  dayText,
	"cid":      kit.ComponentID,
	"chart":    chart,
}).ParseFS(assets, "templates/*.html"))

func dayClass(d PublicDay) string { return kit.DayClass(d.Uptime()) }

// dayText is what a day's bar says on hover and focus: its date, its
// uptime and the published incidents open on it.
func dayText(d PublicDay) string {
	var b strings.Builder
	b.WriteString(d.Date.UTC().Format("Jan 2"))
	if u := d.Uptime(); u < 0 {
		b.WriteString(": no data")
	} else {
		fmt.Fprintf(&b, ": %.2f%% uptime", u)
	}
	if d.Response.Runs > 0 {
		fmt.Fprintf(&b, ", median response %s", millis(d.Response.P50))
	}
	switch len(d.Incidents) {
	case 0:
		b.WriteString(", no incidents")
	case 1:
		b.WriteString(", incident: " + d.Incidents[0])
	default:
		b.WriteString(", incidents: " + strings.Join(d.Incidents, "; "))
	}
	return b.String()
}

// millis shows seconds as whole milliseconds.
func millis(s float64) string { return fmt.Sprintf("%.0f ms", s*1000) }

// responseChart is a component's response-time chart, drawn on the server
// as an inline SVG: one polyline per run of days with data, for the median
// and the 95th percentile.
type responseChart struct {
	W, H    int
	Lines   []chartLine
	Summary string
}

type chartLine struct{ Class, Points string }

// The chart's drawing box; the SVG scales it to the page's width.
const chartW, chartH = 900, 100

// chart draws c's response times over its days; nil when the component
// does not show them.
func chart(c PublicComponent) *responseChart {
	if !c.ShowResponseTime {
		return nil
	}
	rc := &responseChart{W: chartW, H: chartH, Summary: "No response times recorded in the last 90 days."}
	top := 0.0
	for _, d := range c.Days {
		top = max(top, d.Response.P95, d.Response.P50)
	}
	if top <= 0 {
		return rc
	}
	n := len(c.Days)
	x := func(i int) float64 {
		if n < 2 {
			return 0
		}
		return float64(i) * chartW / float64(n-1)
	}
	y := func(v float64) float64 { return chartH - v/top*(chartH-4) - 2 }
	for _, line := range []struct {
		class string
		of    func(statuspage.Response) float64
	}{{"p95", func(r statuspage.Response) float64 { return r.P95 }}, {"p50", func(r statuspage.Response) float64 { return r.P50 }}} {
		var pts [][2]float64
		flush := func() {
			if len(pts) == 1 {
				// A lone day is a short dash, so that it shows.
				pts = append(pts, [2]float64{pts[0][0] + chartW/float64(2*max(n, 2)), pts[0][1]})
			}
			if len(pts) > 0 {
				s := make([]string, len(pts))
				for i, p := range pts {
					s[i] = fmt.Sprintf("%.1f,%.1f", p[0], p[1])
				}
				rc.Lines = append(rc.Lines, chartLine{Class: line.class, Points: strings.Join(s, " ")})
			}
			pts = nil
		}
		for i, d := range c.Days {
			if d.Response.Runs == 0 {
				flush()
				continue
			}
			pts = append(pts, [2]float64{x(i), y(line.of(d.Response))})
		}
		flush()
	}
	rc.Summary = fmt.Sprintf("Response time over the last 90 days, daily median (green) and 95th percentile (amber), up to %s.", millis(top))
	if c.Response.Runs > 0 {
		rc.Summary += fmt.Sprintf(" Last 24 hours: median %s, 95th percentile %s.", millis(c.Response.P50), millis(c.Response.P95))
	}
	return rc
}

func (a *api) publicRoutes() []Route {
	if a.pub == nil {
		return nil
	}
	f := func(pattern string, h http.HandlerFunc) Route {
		return Route{Pattern: pattern, Role: public, Handler: h}
	}
	return []Route{
		f("GET /{$}", a.statusPage),
		f("GET /history.atom", a.historyFeed),
		f("GET /api/v2/summary.json", a.summaryJSON),
		f("GET /api/v2/status.json", a.statusJSON),
		f("GET /badge/{check}", a.badge),
		f("GET /badge/component/{file}", a.componentBadge),
		f("GET /embed", a.embed),
		{Pattern: "GET /static/", Role: public, Handler: http.FileServerFS(assets)},
	}
}

func (a *api) publicStatus(w http.ResponseWriter, r *http.Request) (PublicStatus, bool) {
	ps, err := a.pub.PublicStatus(r.Context())
	if err != nil {
		// The detail is for the log: the public gets nothing of it.
		a.log.Error("build the public status", "err", err)
		http.Error(w, "the status page is unavailable; try again shortly", http.StatusServiceUnavailable)
		return ps, false
	}
	return ps, true
}

func publicHeaders(w http.ResponseWriter, contentType string) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Cache-Control", "public, max-age=30")
	w.Header().Set("X-Content-Type-Options", "nosniff")
}

func (a *api) statusPage(w http.ResponseWriter, r *http.Request) {
	ps, ok := a.publicStatus(w, r)
	if !ok {
		return
	}
	var buf bytes.Buffer
	if err := pageTemplates.ExecuteTemplate(&buf, "status.html", ps); err != nil {
		a.log.Error("render the status page", "err", err)
		http.Error(w, "the status page is unavailable; try again shortly", http.StatusInternalServerError)
		return
	}
	publicHeaders(w, "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'")
	w.Write(buf.Bytes())
}

// embed is the page's overall status on one line, for another site to put
// in an iframe: it has no buttons, so unlike every other page it may be
// framed anywhere; its one link opens the status page in the whole window.
func (a *api) embed(w http.ResponseWriter, r *http.Request) {
	ps, ok := a.publicStatus(w, r)
	if !ok {
		return
	}
	var buf bytes.Buffer
	if err := pageTemplates.ExecuteTemplate(&buf, "embed.html", ps); err != nil {
		a.log.Error("render the embedded status", "err", err)
		http.Error(w, "the status is unavailable; try again shortly", http.StatusInternalServerError)
		return
	}
	publicHeaders(w, "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; frame-ancestors *")
	w.Write(buf.Bytes())
}

// Statuspage's shapes, so that tools that read a Statuspage page read this
// one.
type spPage struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	URL       string    `json:"url"`
	TimeZone  string    `json:"time_zone"`
	UpdatedAt time.Time `json:"updated_at"`
}

type spStatus struct {
	Indicator   string `json:"indicator"`
	Description string `json:"description"`
}

type spComponent struct {
	ID                 string                   `json:"id"`
	Name               string                   `json:"name"`
	Status             nightowl.ComponentStatus `json:"status"`
	CreatedAt          time.Time                `json:"created_at"`
	UpdatedAt          time.Time                `json:"updated_at"`
	Position           int                      `json:"position"`
	Description        *string                  `json:"description"`
	Showcase           bool                     `json:"showcase"`
	StartDate          *string                  `json:"start_date"`
	GroupID            *string                  `json:"group_id"`
	PageID             string                   `json:"page_id"`
	Group              bool                     `json:"group"`
	OnlyShowIfDegraded bool                     `json:"only_show_if_degraded"`
}

type spUpdate struct {
	ID                 string       `json:"id"`
	Status             string       `json:"status"`
	Body               string       `json:"body"`
	IncidentID         string       `json:"incident_id"`
	CreatedAt          time.Time    `json:"created_at"`
	UpdatedAt          time.Time    `json:"updated_at"`
	DisplayAt          time.Time    `json:"display_at"`
	AffectedComponents []spAffected `json:"affected_components"`
}

type spAffected struct {
	Code      string `json:"code"`
	Name      string `json:"name"`
	NewStatus string `json:"new_status"`
}

type spIncident struct {
	ID              string        `json:"id"`
	Name            string        `json:"name"`
	Status          string        `json:"status"`
	CreatedAt       time.Time     `json:"created_at"`
	UpdatedAt       time.Time     `json:"updated_at"`
	MonitoringAt    *time.Time    `json:"monitoring_at"`
	ResolvedAt      *time.Time    `json:"resolved_at"`
	Impact          string        `json:"impact"`
	Shortlink       string        `json:"shortlink"`
	StartedAt       time.Time     `json:"started_at"`
	PageID          string        `json:"page_id"`
	IncidentUpdates []spUpdate    `json:"incident_updates"`
	Components      []spComponent `json:"components"`
}

type spMaintenance struct {
	ID              string        `json:"id"`
	Name            string        `json:"name"`
	Status          string        `json:"status"`
	CreatedAt       time.Time     `json:"created_at"`
	UpdatedAt       time.Time     `json:"updated_at"`
	MonitoringAt    *time.Time    `json:"monitoring_at"`
	ResolvedAt      *time.Time    `json:"resolved_at"`
	Impact          string        `json:"impact"`
	Shortlink       string        `json:"shortlink"`
	StartedAt       time.Time     `json:"started_at"`
	PageID          string        `json:"page_id"`
	IncidentUpdates []spUpdate    `json:"incident_updates"`
	Components      []spComponent `json:"components"`
	ScheduledFor    time.Time     `json:"scheduled_for"`
	ScheduledUntil  time.Time     `json:"scheduled_until"`
}

// pageID is the page's ID in the Statuspage shapes: one page per server.
const pageID = "nightowl"

func spPageOf(ps *PublicStatus) spPage {
	return spPage{ID: pageID, Name: ps.Title, URL: ps.URL, TimeZone: "Etc/UTC", UpdatedAt: ps.UpdatedAt.UTC()}
}

func spComponentsOf(ps *PublicStatus, names []string) []spComponent {
	out := []spComponent{}
	for i, c := range ps.Components {
		if names != nil && !contains(names, c.Name) {
			continue
		}
		var desc *string
		if c.Description != "" {
			d := c.Description
			desc = &d
		}
		out = append(out, spComponent{ID: kit.ComponentID(c.Name), Name: c.Name, Status: c.Status,
			CreatedAt: ps.UpdatedAt.UTC(), UpdatedAt: ps.UpdatedAt.UTC(), Position: i + 1, Description: desc, Showcase: true, PageID: pageID})
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func spIncidentOf(ps *PublicStatus, inc PublicIncident) spIncident {
	out := spIncident{ID: inc.ID, Name: inc.Title, Status: string(inc.State), CreatedAt: inc.PublishedAt.UTC(),
		UpdatedAt: inc.UpdatedAt.UTC(), Impact: string(inc.Impact), StartedAt: inc.PublishedAt.UTC(), PageID: pageID,
		IncidentUpdates: []spUpdate{}, Components: spComponentsOf(ps, inc.Components)}
	if ps.URL != "" {
		out.Shortlink = ps.URL + "/#incident-" + inc.ID
	}
	if !inc.ResolvedAt.IsZero() {
		t := inc.ResolvedAt.UTC()
		out.ResolvedAt = &t
	}
	for _, u := range inc.Updates {
		if u.State == nightowl.IncidentMonitoring && out.MonitoringAt == nil {
			t := u.Time.UTC()
			out.MonitoringAt = &t
		}
		out.IncidentUpdates = append(out.IncidentUpdates, spUpdate{ID: fmt.Sprintf("%s-%d", inc.ID, u.ID),
			Status: string(u.State), Body: u.Message, IncidentID: inc.ID, CreatedAt: u.Time.UTC(), UpdatedAt: u.Time.UTC(),
			DisplayAt: u.Time.UTC(), AffectedComponents: []spAffected{}})
	}
	return out
}

func (a *api) statusJSON(w http.ResponseWriter, r *http.Request) {
	ps, ok := a.publicStatus(w, r)
	if !ok {
		return
	}
	publicJSON(w, map[string]any{"page": spPageOf(&ps), "status": spStatus{ps.Indicator, ps.Description}})
}

func (a *api) summaryJSON(w http.ResponseWriter, r *http.Request) {
	ps, ok := a.publicStatus(w, r)
	if !ok {
		return
	}
	incidents := []spIncident{}
	for _, inc := range ps.Incidents {
		incidents = append(incidents, spIncidentOf(&ps, inc))
	}
	maint := []spMaintenance{}
	for _, m := range ps.Maintenance {
		status := "scheduled"
		if m.Active {
			status = "in_progress"
		}
		maint = append(maint, spMaintenance{ID: m.ID, Name: m.Name, Status: status, CreatedAt: m.From.UTC(),
			UpdatedAt: m.From.UTC(), Impact: "maintenance", StartedAt: m.From.UTC(), PageID: pageID,
			IncidentUpdates: []spUpdate{}, Components: spComponentsOf(&ps, m.Components),
			ScheduledFor: m.From.UTC(), ScheduledUntil: m.Until.UTC()})
	}
	publicJSON(w, map[string]any{
		"page": spPageOf(&ps), "components": spComponentsOf(&ps, nil), "incidents": incidents,
		"scheduled_maintenances": maint, "status": spStatus{ps.Indicator, ps.Description},
	})
}

func publicJSON(w http.ResponseWriter, v any) {
	publicHeaders(w, "application/json")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	kit.WriteJSONBody(w, http.StatusOK, v)
}

// The Atom feed of incidents, newest first, each with its public updates.
type atomFeed struct {
	XMLName xml.Name    `xml:"http://www.w3.org/2005/Atom feed"`
	Title   string      `xml:"title"`
	ID      string      `xml:"id"`
	Updated string      `xml:"updated"`
	Link    []atomLink  `xml:"link"`
	Entries []atomEntry `xml:"entry"`
}

type atomLink struct {
	Href string `xml:"href,attr"`
	Rel  string `xml:"rel,attr,omitempty"`
}

type atomEntry struct {
	Title     string    `xml:"title"`
	ID        string    `xml:"id"`
	Updated   string    `xml:"updated"`
	Published string    `xml:"published"`
	Link      *atomLink `xml:"link,omitempty"`
	Content   atomText  `xml:"content"`
}

type atomText struct {
	Type string `xml:"type,attr"`
	Body string `xml:",chardata"`
}

func (a *api) historyFeed(w http.ResponseWriter, r *http.Request) {
	ps, ok := a.publicStatus(w, r)
	if !ok {
		return
	}
	base := ps.URL
	feed := atomFeed{Title: ps.Title + " — incident history", ID: "tag:nightowl," + pageID + ":history",
		Updated: ps.UpdatedAt.UTC().Format(time.RFC3339)}
	if base != "" {
		feed.Link = []atomLink{{Href: base + "/"}, {Href: base + "/history.atom", Rel: "self"}}
	}
	for _, inc := range append(append([]PublicIncident{}, ps.Incidents...), ps.History...) {
		var text strings.Builder
		fmt.Fprintf(&text, "%s (impact: %s). Affected: %s.\n", words(string(inc.State)), inc.Impact, strings.Join(inc.Components, ", "))
		for _, u := range inc.Updates {
			fmt.Fprintf(&text, "\n%s — %s: %s\n", u.Time.UTC().Format("2006-01-02 15:04 UTC"), words(string(u.State)), u.Message)
		}
		e := atomEntry{Title: inc.Title, ID: "tag:nightowl," + pageID + ":incident:" + inc.ID,
			Updated: inc.UpdatedAt.UTC().Format(time.RFC3339), Published: inc.PublishedAt.UTC().Format(time.RFC3339),
			Content: atomText{Type: "text", Body: text.String()}}
		if base != "" {
			e.Link = &atomLink{Href: base + "/#incident-" + inc.ID}
		}
		feed.Entries = append(feed.Entries, e)
	}
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	enc := xml.NewEncoder(&buf)
	enc.Indent("", "  ")
	if err := enc.Encode(feed); err != nil {
		a.log.Error("render the history feed", "err", err)
		http.Error(w, "the feed is unavailable", http.StatusInternalServerError)
		return
	}
	publicHeaders(w, "application/atom+xml; charset=utf-8")
	w.Write(buf.Bytes())
}

func words(s string) string { return strings.ReplaceAll(s, "_", " ") }

// badgeColours are shields.io's.
var badgeColours = map[nightowl.Status]string{
	nightowl.StatusUp: "#4c1", nightowl.StatusDegraded: "#dfb317", nightowl.StatusDown: "#e05d44",
	nightowl.StatusMaintenance: "#007ec6", nightowl.StatusUnknown: "#9f9f9f", nightowl.StatusPaused: "#9f9f9f",
}

var badgeTemplate = template.Must(template.New("badge").Parse(`<svg xmlns="http://www.w3.org/2000/svg" width="{{.W}}" height="20" role="img" aria-label="{{.Label}}: {{.Status}}">
<title>{{.Label}}: {{.Status}}</title>
<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>
<clipPath id="r"><rect width="{{.W}}" height="20" rx="3" fill="#fff"/></clipPath>
<g clip-path="url(#r)"><rect width="{{.LW}}" height="20" fill="#555"/><rect x="{{.LW}}" width="{{.SW}}" height="20" fill="{{.Colour}}"/><rect width="{{.W}}" height="20" fill="url(#s)"/></g>
<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11">
<text x="{{.LX}}" y="14">{{.Label}}</text><text x="{{.SX}}" y="14">{{.Status}}</text></g>
</svg>
`))

// textWidth estimates the width of s in 11px Verdana, which badges use.
func textWidth(s string) int { return 7*len([]rune(s)) + 10 }

func (a *api) badge(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimSuffix(r.PathValue("check"), ".svg")
	st, ok := a.pub.Badge(name)
	if !ok {
		http.Error(w, "no such check", http.StatusNotFound)
		return
	}
	a.writeBadge(w, name, string(st), badgeColours[st])
}
