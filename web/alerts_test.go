package web

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/web/internal/kit"
)

// linkAlerter takes every link as valid and acknowledges every alert once.
type linkAlerter struct {
	mu    sync.Mutex
	acked map[string]string
}

func (f *linkAlerter) AlertStore() AlertReader                     { return nil }
func (f *linkAlerter) VerifyAckLink(id string, q url.Values) error { return nil }
func (f *linkAlerter) Ack(ctx context.Context, id, by string) (nightowl.Alert, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	al := nightowl.Alert{ID: id, Check: "shop", State: nightowl.AlertAcknowledged, AckedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	if prev, ok := f.acked[id]; ok {
		al.AckedBy = prev
		return al, false, nil
	}
	f.acked[id] = by
	al.AckedBy = by
	return al, true, nil
}

type stillClock struct{ t time.Time }

func (c *stillClock) Now() time.Time                         { return c.t }
func (c *stillClock) After(d time.Duration) <-chan time.Time { return make(chan time.Time) }

func postAck(h http.Handler, id, addr, by string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("POST", "/ack/"+id+"?exp=1&sig=x", strings.NewReader(url.Values{"by": {by}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.RemoteAddr = addr + ":40000"
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestAckLinkLimits(t *testing.T) {
	clock := &stillClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	t.Run("per alert", func(t *testing.T) {
		f := &linkAlerter{acked: map[string]string{}}
		h := Handler(Options{Alerter: f, Clock: clock})
		w := postAck(h, "a1", "192.0.2.1", "ana")
		if w.Code != 200 || !strings.Contains(w.Body.String(), "Acknowledged:") {
			t.Fatalf("first: %d %s", w.Code, w.Body)
		}
		w = postAck(h, "a1", "192.0.2.2", "bo")
		if w.Code != 200 || !strings.Contains(w.Body.String(), "Already acknowledged by ana (link) at 2026-01-02 03:04:05 UTC") {
			t.Fatalf("second: %d %s", w.Code, w.Body)
		}
		for i := 3; i <= ackIDBurst; i++ {
			if w := postAck(h, "a1", fmt.Sprintf("192.0.2.%d", i), "bo"); w.Code != 200 {
				t.Fatalf("post %d: %d", i, w.Code)
			}
		}
		w = postAck(h, "a1", "198.51.100.1", "bo")
		if w.Code != 429 || w.Header().Get("Retry-After") != "6" || !strings.Contains(w.Body.String(), `data-code="rate_limited"`) {
			t.Fatalf("past the alert's limit: %d %q %s", w.Code, w.Header().Get("Retry-After"), w.Body)
		}
		// Other alerts are not held up by this one.
		if w := postAck(h, "a2", "198.51.100.1", "bo"); w.Code != 200 {
			t.Fatalf("another alert: %d %s", w.Code, w.Body)
		}
		clock.t = clock.t.Add(ackIDEvery)
		if w := postAck(h, "a1", "198.51.100.1", "bo"); w.Code != 200 {
			t.Fatalf("after waiting: %d %s", w.Code, w.Body)
		}
	})
	t.Run("per address", func(t *testing.T) {
		f := &linkAlerter{acked: map[string]string{}}
		h := Handler(Options{Alerter: f, Clock: clock})
		for i := range ackAddrBurst {
			if w := postAck(h, fmt.Sprintf("b%d", i), "203.0.113.9", ""); w.Code != 200 {
				t.Fatalf("post %d: %d %s", i, w.Code, w.Body)
			}
		}
		w := postAck(h, "c1", "203.0.113.9", "")
		if w.Code != 429 || w.Header().Get("Retry-After") != "2" {
			t.Fatalf("past the address's limit: %d %q %s", w.Code, w.Header().Get("Retry-After"), w.Body)
		}
		if len(f.acked) != ackAddrBurst {
			t.Errorf("%d alerts acknowledged, want %d", len(f.acked), ackAddrBurst)
		}
		if w := postAck(h, "c1", "203.0.113.10", ""); w.Code != 200 {
			t.Fatalf("another address: %d %s", w.Code, w.Body)
		}
	})
	t.Run("per address, behind a proxy", func(t *testing.T) {
		proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
		// post comes through the proxy with the two headers, one written
		// by the proxy and the other made up by the client.
		post := func(h http.Handler, id, xff, fwd string) int {
			r := httptest.NewRequest("POST", "/ack/"+id+"?exp=1&sig=x", strings.NewReader(""))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.RemoteAddr = "10.0.0.2:40000"
			r.Header.Set("X-Forwarded-For", xff)
			r.Header.Set("Forwarded", "for="+fwd)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			return w.Code
		}
		h := Handler(Options{Alerter: &linkAlerter{acked: map[string]string{}}, Clock: clock, TrustedProxies: proxies})
		for i := range ackAddrBurst {
			if code := post(h, fmt.Sprintf("e%d", i), "203.0.113.9", fmt.Sprintf("198.51.100.%d", i+1)); code != 200 {
				t.Fatalf("post %d: %d", i, code)
			}
		}
		if code := post(h, "e-next", "203.0.113.9", "198.51.100.200"); code != 429 {
			t.Fatalf("a client naming a new address of its own in Forwarded: %d, want 429", code)
		}
		if code := post(h, "e-next", "203.0.113.10", "198.51.100.200"); code != 200 {
			t.Fatalf("another client behind the proxy: %d", code)
		}
		// A proxy that writes Forwarded: that is the header read, and
		// X-Forwarded-For is the one made up.
		h = Handler(Options{Alerter: &linkAlerter{acked: map[string]string{}}, Clock: clock, TrustedProxies: proxies, ForwardedHeader: HeaderForwarded})
		for i := range ackAddrBurst {
			if code := post(h, fmt.Sprintf("f%d", i), fmt.Sprintf("198.51.100.%d", i+1), "203.0.113.9"); code != 200 {
				t.Fatalf("Forwarded, post %d: %d", i, code)
			}
		}
		if code := post(h, "f-next", "198.51.100.200", "203.0.113.9"); code != 429 {
			t.Fatalf("Forwarded, a client naming a new address of its own in X-Forwarded-For: %d, want 429", code)
		}
	})
	t.Run("by", func(t *testing.T) {
		f := &linkAlerter{acked: map[string]string{}}
		h := Handler(Options{Alerter: f, Clock: clock})
		for _, tc := range []struct{ by, want string }{
			{"ana\x1b[31m", "control characters"},
			{"ana\u202egnp.exe", "reorder text"},
			{"a\u200bna", "plain printable text"},
			{strings.Repeat("é", 65), "at most 64"},
			{"ana\nbo", "control characters"},
		} {
			w := postAck(h, "d1", "192.0.2.50", tc.by)
			if w.Code != 400 || !strings.Contains(w.Body.String(), tc.want) || !strings.Contains(w.Body.String(), "by ") {
				t.Errorf("by %q: %d %s", tc.by, w.Code, w.Body)
			}
		}
		if len(f.acked) != 0 {
			t.Errorf("a refused name acknowledged: %v", f.acked)
		}
		if w := postAck(h, "d1", "192.0.2.50", "  "+strings.Repeat("é", 64)+" "); w.Code != 200 || f.acked["d1"] != strings.Repeat("é", 64)+" (link)" {
			t.Errorf("64 characters: %d %v", w.Code, f.acked)
		}
	})
}

// TestBucketsConcurrent: many takes at once from one key spend exactly the
// burst.
func TestBucketsConcurrent(t *testing.T) {
	b := kit.NewBuckets(10, time.Minute, 100)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var mu sync.Mutex
	ok := 0
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := "a"
			if i%2 == 1 {
				key = fmt.Sprint("other-", i) // fresh keys meanwhile
			}
			if _, took := b.Take(key, now); took && key == "a" {
				mu.Lock()
				ok++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if ok != 10 {
		t.Fatalf("%d takes of a's burst of 10", ok)
	}
}
