package web

import (
	"context"
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/statuspage"
)

// fakePublisher serves a fixed page and check badges.
type fakePublisher struct {
	ps     PublicStatus
	badges map[string]nightowl.Status
}

func (f *fakePublisher) PublicStatus(context.Context) (PublicStatus, error) { return f.ps, nil }
func (f *fakePublisher) Badge(name string) (nightowl.Status, bool) {
	st, ok := f.badges[name]
	return st, ok
}

var pageDay = time.Date(2026, 3, 17, 0, 0, 0, 0, time.UTC)

// testPage has two components: Website with uptime windows and an
// incident on its last day but one, Database with response times shown.
func testPage() PublicStatus {
	days := func(resp bool) []PublicDay {
		out := make([]PublicDay, 90)
		for i := range out {
			out[i].Date = pageDay.AddDate(0, 0, i-89)
			if i >= 80 {
				out[i].Runs, out[i].Failures = 100, int64(89-i)
				if resp {
					out[i].Response = statuspage.Response{P50: 0.1 + float64(i-80)/100, P95: 0.3 + float64(i-80)/100, Runs: 100}
				}
			}
		}
		return out
	}
	web := PublicComponent{Name: "Website", Status: nightowl.ComponentOperational, Days: days(false), Uptime: 99.5,
		Windows: []statuspage.Window{{Period: "24h", Runs: 1000, Failures: 1}, {Period: "7d", Runs: 700, Failures: 7},
			{Period: "30d", Runs: 900, Failures: 45}, {Period: "90d", Runs: 1000, Failures: 45}}}
	web.Days[88].Incidents = []string{"Slow checkout"}
	db := PublicComponent{Name: "Main Database", Status: nightowl.ComponentDegraded, Days: days(true), Uptime: -1,
		ShowResponseTime: true, Response: statuspage.Response{P50: 0.25, P95: 0.5, Runs: 10},
		Windows: []statuspage.Window{{Period: "24h"}, {Period: "7d"}, {Period: "30d"}, {Period: "90d"}}}
	return PublicStatus{Title: "Example Status", UpdatedAt: pageDay.Add(12 * time.Hour), Overall: nightowl.ComponentDegraded,
		Indicator: "minor", Description: "Degraded Performance", Components: []PublicComponent{web, db}}
}

func getPublic(h http.Handler, path, addr string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("GET", path, nil)
	if addr != "" {
		r.RemoteAddr = addr
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// TestStatusPageUptime: the page shows each component's uptime windows,
// and its 90 bars can each be reached by keyboard and say their day, uptime
// and incidents; the response chart shows for the component that asks for
// it only, as an SVG drawn on the server; the page has no inline style or
// script, which its CSP would refuse.
func TestStatusPageUptime(t *testing.T) {
	h := Handler(Options{Publisher: &fakePublisher{ps: testPage()}, Clock: &stillClock{t: pageDay}})
	w := getPublic(h, "/", "")
	if w.Code != 200 {
		t.Fatalf("GET /: %d %s", w.Code, w.Body)
	}
	body := w.Body.String()
	csp := w.Header().Get("Content-Security-Policy")
	if strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP %q", csp)
	}
	for _, bad := range []string{"<script", " style=", "<style", " on"} {
		if bad == " on" {
			if regexp.MustCompile(`\son[a-z]+=`).MatchString(body) {
				t.Errorf("the page has an inline event handler")
			}
			continue
		}
		if strings.Contains(body, bad) {
			t.Errorf("the page has %q, which its CSP refuses", bad)
		}
	}
	for _, want := range []string{"24h</span> <strong>99.90%", "7d</span> <strong>99.00%", "30d</span> <strong>95.00%",
		"90d</span> <strong>95.50%", "24h</span> <strong>no data"} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	bar := regexp.MustCompile(`<li class="bar [a-z]+" tabindex="0" aria-describedby="(tip-[a-z0-9-]+)"><span class="tip" role="tooltip" id="(tip-[a-z0-9-]+)">([^<]*)</span></li>`)
	bars := bar.FindAllStringSubmatch(body, -1)
	if len(bars) != 2*90 || strings.Count(body, `class="bar `) != 2*90 {
		t.Fatalf("%d focusable bars with a tooltip (of %d), want 180", len(bars), strings.Count(body, `class="bar `))
	}
	ids := map[string]bool{}
	for _, b := range bars {
		if b[1] != b[2] || ids[b[1]] {
			t.Errorf("bar described by %q, its tooltip is %q (unique ids: %t)", b[1], b[2], !ids[b[1]])
		}
		ids[b[1]] = true
	}
	for i, want := range map[int]string{
		0:       "Dec 18: no data, no incidents",
		88:      "Mar 16: 99.00% uptime, incident: Slow checkout",
		89:      "Mar 17: 100.00% uptime, no incidents",
		90 + 89: "Mar 17: 100.00% uptime, median response 190 ms, no incidents",
	} {
		if got := bars[i][3]; got != want {
			t.Errorf("bar %d says %q, want %q", i, got, want)
		}
	}
	if bars[90][1] != "tip-main-database-0" {
		t.Errorf("Database's first bar is %q", bars[90][1])
	}

	// The chart: once, in Database's entry, well-formed SVG with a line
	// for the median and one for the 95th percentile.
	if n := strings.Count(body, `data-testid="response-chart"`); n != 1 {
		t.Fatalf("%d response charts, want 1 (Database's)", n)
	}
	if strings.Index(body, `data-testid="response-chart"`) < strings.Index(body, "Main Database") {
		t.Errorf("the chart is not in Database's entry")
	}
	svg := body[strings.Index(body, `<svg class="chart"`):]
	svg = svg[:strings.Index(svg, "</svg>")+len("</svg>")]
	var doc struct {
		Title string `xml:"title"`
		Lines []struct {
			Class  string `xml:"class,attr"`
			Points string `xml:"points,attr"`
		} `xml:"polyline"`
	}
	if err := xml.Unmarshal([]byte(svg), &doc); err != nil {
		t.Fatalf("the chart is not well-formed: %v\n%s", err, svg)
	}
	if len(doc.Lines) != 2 || doc.Lines[0].Class != "p95" || doc.Lines[1].Class != "p50" ||
		len(strings.Fields(doc.Lines[1].Points)) != 10 {
		t.Errorf("chart lines: %+v", doc.Lines)
	}
	if !strings.Contains(doc.Title, "Last 24 hours: median 250 ms, 95th percentile 500 ms") {
		t.Errorf("chart title %q", doc.Title)
	}

	t.Run("no chart unless asked for", func(t *testing.T) {
		ps := testPage()
		ps.Components[1].ShowResponseTime = false
		h := Handler(Options{Publisher: &fakePublisher{ps: ps}, Clock: &stillClock{t: pageDay}})
		if body := getPublic(h, "/", "").Body.String(); strings.Contains(body, "response-chart") || strings.Contains(body, "<svg") {
			t.Errorf("a chart without show_response_time")
		}
	})
	t.Run("asked for, nothing recorded", func(t *testing.T) {
		ps := testPage()
		for i := range ps.Components[1].Days {
			ps.Components[1].Days[i].Response = statuspage.Response{}
		}
		h := Handler(Options{Publisher: &fakePublisher{ps: ps}, Clock: &stillClock{t: pageDay}})
		body := getPublic(h, "/", "").Body.String()
		if !strings.Contains(body, "No response times recorded") || strings.Contains(body, "<svg") {
			t.Errorf("an empty chart: %s", body[strings.Index(body, "Main Database"):])
		}
	})
}

// TestEmbed: the embeddable status says the page's overall status on one
// line, may be framed by any site (it has no buttons), runs no script, and
// its link opens the status page in the whole window; every other page
// still refuses frames.
func TestEmbed(t *testing.T) {
	ps := testPage()
	ps.URL = "https://status.example.com"
	h := Handler(Options{Publisher: &fakePublisher{ps: ps}, Clock: &stillClock{t: pageDay}})
	w := getPublic(h, "/embed", "")
	if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("GET /embed: %d %s", w.Code, w.Body)
	}
	csp := w.Header().Get("Content-Security-Policy")
	if !strings.Contains(csp, "frame-ancestors *") || !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script") {
		t.Errorf("the embed's CSP %q", csp)
	}
	if w.Header().Get("X-Frame-Options") != "" {
		t.Errorf("the embed says X-Frame-Options %q: no site could frame it", w.Header().Get("X-Frame-Options"))
	}
	body := w.Body.String()
	for _, want := range []string{`class="overall status-degraded_performance"`, "Degraded Performance", "Example Status",
		`href="https://status.example.com/"`, `target="_top"`, `/static/embed.css`} {
		if !strings.Contains(body, want) {
			t.Errorf("the embed lacks %s:\n%s", want, body)
		}
	}
	if strings.Contains(body, "<script") || strings.Contains(body, " style=") || strings.Contains(body, "Website") {
		t.Errorf("the embed has a script, an inline style or more than the overall status:\n%s", body)
	}
	if css := getPublic(h, "/static/embed.css", ""); css.Code != 200 || !strings.Contains(css.Body.String(), ".dot") {
		t.Errorf("GET /static/embed.css: %d", css.Code)
	}
	if page := getPublic(h, "/", ""); !strings.Contains(page.Header().Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Errorf("the status page may be framed: %q", page.Header().Get("Content-Security-Policy"))
	}
}
