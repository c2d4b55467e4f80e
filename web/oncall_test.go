package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
)

// feedOncall serves one calendar for one secret, and counts the lookups.
type feedOncall struct {
	Oncall
	secret  string
	lookups []string
}

func (f *feedOncall) Calendar(_ context.Context, secret string) ([]byte, error) {
	f.lookups = append(f.lookups, secret)
	if secret != f.secret {
		return nil, nightowl.Errorf(nightowl.ENotFound, "no such calendar feed")
	}
	return []byte("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"), nil
}

func fetchFeed(h http.Handler, path, addr string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("GET", path, nil)
	r.RemoteAddr = addr + ":40000"
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// TestCalendarFeedRoute: the feed is served as text/calendar to whoever has
// its address, without credentials; a wrong secret is 404 without echoing
// it; an address that does not end in .ics is not looked up; fetches are
// limited per client address, before any lookup.
func TestCalendarFeedRoute(t *testing.T) {
	clock := &stillClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	f := &feedOncall{secret: "s3cret"}
	h := Handler(Options{Oncall: f, Clock: clock})
	if w := fetchFeed(h, "/calendar/s3cret.ics", "192.0.2.1"); w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/calendar") ||
		!strings.HasPrefix(w.Body.String(), "BEGIN:VCALENDAR") {
		t.Fatalf("the feed: %d %q %s", w.Code, w.Header().Get("Content-Type"), w.Body)
	}
	if w := fetchFeed(h, "/calendar/guess.ics", "192.0.2.1"); w.Code != 404 || strings.Contains(w.Body.String(), "guess") {
		t.Errorf("a wrong secret: %d %s", w.Code, w.Body)
	}
	f.lookups = nil
	if w := fetchFeed(h, "/calendar/s3cret", "192.0.2.1"); w.Code != 404 || len(f.lookups) != 0 {
		t.Errorf("without .ics: %d, %d lookups", w.Code, len(f.lookups))
	}
	for i := 3; i < feedAddrBurst; i++ {
		if w := fetchFeed(h, "/calendar/guess.ics", "192.0.2.1"); w.Code != 404 {
			t.Fatalf("fetch %d: %d", i, w.Code)
		}
	}
	f.lookups = nil
	if w := fetchFeed(h, "/calendar/s3cret.ics", "192.0.2.1"); w.Code != http.StatusTooManyRequests || len(f.lookups) != 0 {
		t.Errorf("past the limit: %d, %d lookups", w.Code, len(f.lookups))
	}
	if w := fetchFeed(h, "/calendar/s3cret.ics", "192.0.2.2"); w.Code != 200 {
		t.Errorf("another address: %d", w.Code)
	}
}
