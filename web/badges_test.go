package web

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
)

// TestComponentBadges: a component's badge, by name or by its ID, for its
// status, its uptime over each period and its response time, as an SVG
// that parses and as shields.io's endpoint JSON; check badges keep their
// path; bad queries and unknown components get an error with a code.
func TestComponentBadges(t *testing.T) {
	pub := &fakePublisher{ps: testPage(), badges: map[string]nightowl.Status{"shop": nightowl.StatusDown, "component": nightowl.StatusUp}}
	h := Handler(Options{Publisher: pub, Clock: &stillClock{t: pageDay}})
	for _, tc := range []struct {
		path                  string
		label, message, color string
	}{
		{"/badge/component/Website", "Website", "operational", "brightgreen"},
		{"/badge/component/Main%20Database", "Main Database", "degraded performance", "yellow"},
		{"/badge/component/main-database", "Main Database", "degraded performance", "yellow"},
		{"/badge/component/Website?metric=status", "Website", "operational", "brightgreen"},
		{"/badge/component/Website?metric=uptime", "uptime 30d", "95%", "yellow"},
		{"/badge/component/Website?metric=uptime&period=24h", "uptime 24h", "99.9%", "brightgreen"},
		{"/badge/component/Website?metric=uptime&period=7d", "uptime 7d", "99%", "green"},
		{"/badge/component/Website?metric=uptime&period=90d&cacheSeconds=300", "uptime 90d", "95.5%", "yellow"},
		{"/badge/component/main-database?metric=uptime&period=7d", "uptime 7d", "no data", "lightgrey"},
		{"/badge/component/main-database?metric=response", "response time", "250 ms", "brightgreen"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			svgPath := strings.Replace(tc.path, "?", ".svg?", 1)
			jsonPath := strings.Replace(tc.path, "?", ".json?", 1)
			if !strings.Contains(tc.path, "?") {
				svgPath, jsonPath = tc.path+".svg", tc.path+".json"
			}
			w := getPublic(h, svgPath, "")
			if w.Code != 200 || w.Header().Get("Content-Type") != "image/svg+xml" {
				t.Fatalf("GET %s: %d %s %s", svgPath, w.Code, w.Header().Get("Content-Type"), w.Body)
			}
			var svg struct {
				XMLName xml.Name
				Title   string   `xml:"title"`
				Texts   []string `xml:"g>text"`
			}
			if err := xml.Unmarshal(w.Body.Bytes(), &svg); err != nil {
				t.Fatalf("the SVG does not parse: %v\n%s", err, w.Body)
			}
			if svg.XMLName.Local != "svg" || svg.Title != tc.label+": "+tc.message ||
				len(svg.Texts) != 2 || svg.Texts[0] != tc.label || svg.Texts[1] != tc.message ||
				!strings.Contains(w.Body.String(), `fill="`+shieldsColours[tc.color]+`"`) {
				t.Errorf("SVG %+v, want %q %q %s", svg, tc.label, tc.message, tc.color)
			}

			w = getPublic(h, jsonPath, "")
			if w.Code != 200 || w.Header().Get("Content-Type") != "application/json" ||
				w.Header().Get("Access-Control-Allow-Origin") != "*" {
				t.Fatalf("GET %s: %d %v %s", jsonPath, w.Code, w.Header(), w.Body)
			}
			// shields.io's endpoint schema: exactly these keys, with
			// schemaVersion 1 and strings for the rest.
			var raw map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &raw); err != nil {
				t.Fatal(err)
			}
			want := map[string]any{"schemaVersion": float64(1), "label": tc.label, "message": tc.message, "color": tc.color}
			if fmt.Sprint(raw) != fmt.Sprint(want) {
				t.Errorf("JSON %v, want %v", raw, want)
			}
		})
	}

	t.Run("a name with markup is escaped", func(t *testing.T) {
		ps := testPage()
		ps.Components[0].Name = `R&D <"lab">`
		h := Handler(Options{Publisher: &fakePublisher{ps: ps}, Clock: &stillClock{t: pageDay}})
		w := getPublic(h, "/badge/component/"+url.PathEscape(ps.Components[0].Name)+".svg", "")
		var svg struct {
			Texts []string `xml:"g>text"`
		}
		if err := xml.Unmarshal(w.Body.Bytes(), &svg); err != nil || w.Code != 200 || len(svg.Texts) != 2 || svg.Texts[0] != ps.Components[0].Name {
			t.Errorf("GET: %d %v %+v\n%s", w.Code, err, svg, w.Body)
		}
	})

	t.Run("check badges keep their path", func(t *testing.T) {
		for path, want := range map[string]string{"/badge/shop.svg": "down", "/badge/shop": "down", "/badge/component.svg": "up"} {
			w := getPublic(h, path, "")
			if w.Code != 200 || !strings.Contains(w.Body.String(), ">"+want+"</text>") {
				t.Errorf("GET %s: %d %s", path, w.Code, w.Body)
			}
		}
	})

	for _, tc := range []struct {
		path   string
		status int
		code   string
	}{
		{"/badge/component/Nosuch.svg", 404, "not_found"},
		{"/badge/component/Website.png", 404, "not_found"},
		{"/badge/component/Website.svg?metric=speed", 400, "invalid"},
		{"/badge/component/Website.json?metric=uptime&period=1y", 400, "invalid"},
		{"/badge/component/Website.json?metric=status&period=7d", 400, "invalid"},
		{"/badge/component/Website.json?metric=uptime&metric=status", 400, "invalid"},
		// Website does not publish its response time.
		{"/badge/component/Website.json?metric=response", 404, "not_found"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			w := getPublic(h, tc.path, "")
			var e struct {
				Error struct{ Code, Message string }
			}
			json.Unmarshal(w.Body.Bytes(), &e)
			if w.Code != tc.status || e.Error.Code != tc.code || e.Error.Message == "" {
				t.Errorf("GET %s: %d %s, want %d %s", tc.path, w.Code, w.Body, tc.status, tc.code)
			}
		})
	}
}

// TestComponentBadgeLimit: one address gets its burst of badges, then 429
// with Retry-After; another address is not held back; time refills.
func TestComponentBadgeLimit(t *testing.T) {
	clock := &stillClock{t: pageDay}
	h := Handler(Options{Publisher: &fakePublisher{ps: testPage()}, Clock: clock})
	for i := range badgeAddrBurst {
		if w := getPublic(h, "/badge/component/Website.json", "192.0.2.1:1000"); w.Code != 200 {
			t.Fatalf("badge %d: %d %s", i, w.Code, w.Body)
		}
	}
	w := getPublic(h, "/badge/component/Website.svg", "192.0.2.1:1000")
	if w.Code != 429 || w.Header().Get("Retry-After") == "" {
		t.Fatalf("past the burst: %d %v %s", w.Code, w.Header(), w.Body)
	}
	if w := getPublic(h, "/badge/component/Website.svg", "192.0.2.2:1000"); w.Code != 200 {
		t.Errorf("another address: %d", w.Code)
	}
	clock.t = clock.t.Add(time.Second)
	if w := getPublic(h, "/badge/component/Website.svg", "192.0.2.1:1000"); w.Code != 200 {
		t.Errorf("after a second: %d", w.Code)
	}
}

// FuzzBadgeQuery: whatever the query, parsing never panics, and what it
// accepts is a known metric, with a known period for uptime only; what it
// refuses is invalid input, with a message short enough to echo.
func FuzzBadgeQuery(f *testing.F) {
	for _, seed := range []string{"", "metric=status", "metric=uptime", "metric=uptime&period=24h", "metric=uptime&period=90d",
		"metric=response", "metric=uptime&period=1y", "metric=a&metric=b", "period=7d", "metric=%ff%fe", "cacheSeconds=300&metric=uptime"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		bq, err := parseBadgeQuery(q)
		if err != nil {
			if nightowl.ErrorCode(err) != nightowl.EInvalid || len(err.Error()) > 200 {
				t.Fatalf("%q: %v", raw, err)
			}
			return
		}
		switch bq.Metric {
		case metricStatus, metricResponse:
			if bq.Period != "" {
				t.Fatalf("%q: a period for %s", raw, bq.Metric)
			}
		case metricUptime:
			if w, ok := testPage().Components[0].Window(bq.Period); !ok || w.Period != bq.Period {
				t.Fatalf("%q: unknown period %q", raw, bq.Period)
			}
		default:
			t.Fatalf("%q: metric %q", raw, bq.Metric)
		}
	})
}
