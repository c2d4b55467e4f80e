package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/nightowl/nightowl"
)

// switchSite answers 200 or 503 as the test says.
func switchSite(t *testing.T) (*httptest.Server, *atomic.Bool) {
	t.Helper()
	var down atomic.Bool
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, "ok")
	}))
	t.Cleanup(s.Close)
	return s, &down
}

// hook is a webhook receiver that keeps what it was sent.
type hook struct {
	mu   sync.Mutex
	got  []hookMessage
	keys map[string]int
	srv  *httptest.Server
}

type hookMessage struct {
	Key string
	nightowl.Message
}

func newHook(t *testing.T) *hook {
	t.Helper()
	h := &hook{keys: map[string]int{}}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m nightowl.Message
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		h.mu.Lock()
		key := r.Header.Get("Idempotency-Key")
		h.keys[key]++
		h.got = append(h.got, hookMessage{Key: key, Message: m})
		h.mu.Unlock()
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hook) kinds() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, m := range h.got {
		out = append(out, string(m.Kind))
	}
	return out
}

func (h *hook) last() hookMessage {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.got[len(h.got)-1]
}

func postForm(t *testing.T, u string, form url.Values) (int, string) {
	t.Helper()
	resp, err := http.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func get(t *testing.T, tok, u string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestAlertingEndToEnd drives an alert through its whole life over real
// HTTP: a check goes down, a webhook hears of it with an acknowledgement
// link, a forged link is refused, the real one acknowledges it, and the
// recovery is sent to everyone notified.
func TestAlertingEndToEnd(t *testing.T) {
	t.Parallel()
	s, down := switchSite(t)
	h := newHook(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "nightowl.yaml")
	writeConfig(t, cfg, fmt.Sprintf(`server: {public_url: "http://owl.invalid"}
storage: {sqlite: test.db}
defaults: {interval: 1s, timeout: 1s, fail_after: 2}
checks:
  - name: shop
    labels: {tier: web}
    http: {url: "%s/"}
notify:
  receivers:
    ops: [{webhook: {url: "%s/hook"}}]
  routes: [{escalation: ops}]
  escalations:
    ops: {steps: [{notify: ops}]}
`, s.URL, h.srv.URL))
	a := startApp(t, cfg)
	admin := adminToken(t, a)
	base := "http://" + a.Addr()

	down.Store(true)
	waitFor(t, "the firing notification", func() bool { return len(h.kinds()) >= 1 })
	fired := h.last()
	if fired.Kind != nightowl.MessageFiring || fired.Alert.Check != "shop" || fired.Key == "" {
		t.Fatalf("first message: %+v", fired)
	}
	if len(fired.Alert.Failed) == 0 || !strings.Contains(fired.Alert.Failed[0].Message, "503") {
		t.Errorf("the message does not say what failed: %+v", fired.Alert.Failed)
	}
	id := fired.Alert.ID

	var list struct{ Alerts []nightowl.Alert }
	if code := getJSON(t, admin, "GET", base+"/api/v1/alerts?state=open", &list); code != 200 || len(list.Alerts) != 1 || list.Alerts[0].ID != id {
		t.Fatalf("open alerts: %d %+v", code, list)
	}

	// The link points at public_url; the test reaches the same path here.
	link, err := url.Parse(fired.AckURL)
	if err != nil || link.Host != "owl.invalid" {
		t.Fatalf("ack url %q", fired.AckURL)
	}
	ackURL := base + link.Path + "?" + link.RawQuery
	forged := link.Query()
	forged.Set("sig", strings.Repeat("A", 43))
	if code, body := get(t, admin, base+link.Path+"?"+forged.Encode()); code != 403 || !strings.Contains(body, "not valid") {
		t.Errorf("forged link: %d %s", code, body)
	}
	if code, body := postForm(t, base+link.Path+"?"+forged.Encode(), nil); code != 403 {
		t.Errorf("forged link POST: %d %s", code, body)
	}
	other := base + "/ack/someotheralert?" + link.RawQuery
	if code, _ := postForm(t, other, nil); code != 403 {
		t.Errorf("a link used for another alert: %d", code)
	}
	// Opening the link does not acknowledge: a mail scanner may open it.
	if code, body := get(t, admin, ackURL); code != 200 || !strings.Contains(body, "<button") || !strings.Contains(body, "shop") {
		t.Fatalf("ack page: %d %s", code, body)
	}
	var one struct{ Alert nightowl.Alert }
	getJSON(t, admin, "GET", base+"/api/v1/alerts/"+id, &one)
	if one.Alert.State != nightowl.AlertFiring {
		t.Fatalf("opening the link changed the alert: %+v", one.Alert)
	}
	if code, body := postForm(t, ackURL, url.Values{"by": {"ana"}}); code != 200 || !strings.Contains(body, "Acknowledged") {
		t.Fatalf("ack by link: %d %s", code, body)
	}
	waitFor(t, "the acknowledgement notification", func() bool { return len(h.kinds()) >= 2 })
	if m := h.last(); m.Kind != nightowl.MessageAcknowledged || m.Alert.AckedBy != "ana (link)" {
		t.Fatalf("second message: %+v", m)
	}
	// Acknowledging again through the API is no news.
	if code := getJSON(t, admin, "POST", base+"/api/v1/alerts/"+id+"/ack", &one); code != 200 || one.Alert.AckedBy != "ana (link)" {
		t.Fatalf("second ack: %d %+v", code, one.Alert)
	}

	down.Store(false)
	waitFor(t, "the resolved notification", func() bool { return len(h.kinds()) >= 3 })
	if m := h.last(); m.Kind != nightowl.MessageResolved {
		t.Fatalf("third message: %+v", m)
	}
	if got := strings.Join(h.kinds(), " "); got != "firing acknowledged resolved" {
		t.Errorf("messages: %s", got)
	}
	for k, n := range h.keys {
		if n != 1 {
			t.Errorf("key %s sent %d times", k, n)
		}
	}

	var detail struct {
		Alert         nightowl.Alert
		Notifications []struct{ Receiver, Kind, State string }
	}
	getJSON(t, admin, "GET", base+"/api/v1/alerts/"+id, &detail)
	if detail.Alert.State != nightowl.AlertResolved || len(detail.Notifications) != 3 {
		t.Fatalf("alert detail: %+v", detail)
	}
	waitFor(t, "every notification recorded as sent", func() bool {
		getJSON(t, admin, "GET", base+"/api/v1/alerts/"+id, &detail)
		for _, n := range detail.Notifications {
			if n.State != "sent" || n.Receiver != "ops[0]" {
				return false
			}
		}
		return true
	})
	if code, body := postForm(t, ackURL, nil); code != 409 || !strings.Contains(body, "resolved") {
		t.Errorf("ack of a resolved alert by link: %d %s", code, body)
	}

	_, metrics := get(t, admin, base+"/metrics")
	for _, want := range []string{
		`nightowl_notifications_sent_total{kind="webhook",receiver="ops[0]"} 3`,
		`nightowl_outbox_pending{receiver="ops[0]"} 0`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	var errBody struct{ Error struct{ Code string } }
	if code := getJSON(t, admin, "POST", base+"/api/v1/alerts/nosuch/ack", &errBody); code != 404 || errBody.Error.Code != "not_found" {
		t.Errorf("ack of an unknown alert: %d %+v", code, errBody)
	}
	if code := getJSON(t, admin, "GET", base+"/api/v1/alerts?state=bogus", &errBody); code != 400 || errBody.Error.Code != "invalid" {
		t.Errorf("bad state: %d %+v", code, errBody)
	}
}

// TestReloadNotify: a reload with a broken notify section is refused whole;
// one that adds a receiver group sends the next alert there, and removing a
// check resolves its alert.
func TestReloadNotify(t *testing.T) {
	t.Parallel()
	s, down := switchSite(t)
	first, second := newHook(t), newHook(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "nightowl.yaml")
	body := func(notify string, withShop bool) string {
		checks := fmt.Sprintf("  - name: cart\n    http: {url: \"%s/\"}\n", s.URL)
		if withShop {
			checks += fmt.Sprintf("  - name: shop\n    http: {url: \"%s/\"}\n", s.URL)
		}
		return "storage: {sqlite: test.db}\ndefaults: {interval: 1s, timeout: 1s, fail_after: 1}\nchecks:\n" + checks + notify
	}
	one := fmt.Sprintf(`notify:
  receivers: {a: [{webhook: {url: "%s"}}]}
  routes: [{escalation: e}]
  escalations: {e: {steps: [{notify: a}]}}
`, first.srv.URL)
	writeConfig(t, cfg, body(one, true))
	a := startApp(t, cfg)
	admin := adminToken(t, a)
	base := "http://" + a.Addr()

	writeConfig(t, cfg, body(`notify:
  receivers: {a: [{webhook: {url: "x"}}]}
  routes: [{escalation: nope}]
`, true))
	var errBody struct {
		Error struct {
			Code    string
			Details []string
		}
	}
	if code := getJSON(t, admin, "POST", base+"/api/v1/reload", &errBody); code != 400 || len(errBody.Error.Details) < 2 {
		t.Fatalf("bad notify reload: %d %+v", code, errBody)
	}

	two := fmt.Sprintf(`notify:
  receivers: {a: [{webhook: {url: "%s"}}], b: [{webhook: {url: "%s"}}]}
  routes: [{escalation: e}]
  escalations: {e: {steps: [{notify: a}, {notify: b}]}}
`, first.srv.URL, second.srv.URL)
	writeConfig(t, cfg, body(two, true))
	if code := getJSON(t, admin, "POST", base+"/api/v1/reload", nil); code != 200 {
		t.Fatalf("reload: %d", code)
	}
	down.Store(true)
	waitFor(t, "both groups paged", func() bool { return len(first.kinds()) >= 2 && len(second.kinds()) >= 2 })

	// shop leaves the config: its alert resolves and both groups hear.
	writeConfig(t, cfg, body(two, false))
	if code := getJSON(t, admin, "POST", base+"/api/v1/reload", nil); code != 200 {
		t.Fatalf("reload: %d", code)
	}
	waitFor(t, "shop's alert resolved", func() bool {
		var list struct{ Alerts []nightowl.Alert }
		getJSON(t, admin, "GET", base+"/api/v1/alerts?check=shop", &list)
		return len(list.Alerts) == 1 && list.Alerts[0].State == nightowl.AlertResolved
	})
	waitFor(t, "the resolved messages", func() bool {
		return strings.Count(strings.Join(first.kinds(), " "), "resolved") == 1 &&
			strings.Count(strings.Join(second.kinds(), " "), "resolved") == 1
	})
}

// TestAckLinkFlood: a valid acknowledgement link posted 500 times
// acknowledges once, writes one audit entry, tells the later posts who
// acknowledged, and is slowed down with 429s.
func TestAckLinkFlood(t *testing.T) {
	t.Parallel()
	s, down := switchSite(t)
	h := newHook(t)
	cfg := filepath.Join(t.TempDir(), "nightowl.yaml")
	writeConfig(t, cfg, fmt.Sprintf(`server: {public_url: "http://owl.invalid"}
storage: {sqlite: test.db}
defaults: {interval: 1s, timeout: 1s, fail_after: 1}
checks:
  - name: shop
    http: {url: "%s/"}
notify:
  receivers:
    ops: [{webhook: {url: "%s/hook"}}]
  routes: [{escalation: ops}]
  escalations:
    ops: {steps: [{notify: ops}]}
`, s.URL, h.srv.URL))
	a := startApp(t, cfg)
	base := "http://" + a.Addr()
	down.Store(true)
	waitFor(t, "the firing notification", func() bool { return len(h.kinds()) >= 1 })
	link, err := url.Parse(h.last().AckURL)
	if err != nil {
		t.Fatal(err)
	}
	ackURL := base + link.Path + "?" + link.RawQuery

	codes := map[int]int{}
	already := 0
	for i := range 500 {
		resp, err := http.PostForm(ackURL, url.Values{"by": {fmt.Sprintf("caller %d", i)}})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		codes[resp.StatusCode]++
		body := string(b)
		switch {
		case i == 0 && (resp.StatusCode != 200 || !strings.Contains(body, "Acknowledged:")):
			t.Fatalf("first post: %d %s", resp.StatusCode, body)
		case resp.StatusCode == 200 && i > 0:
			if !strings.Contains(body, "Already acknowledged by caller 0 (link)") {
				t.Fatalf("post %d: %s", i, body)
			}
			already++
		case resp.StatusCode == 429:
			if resp.Header.Get("Retry-After") == "" || !strings.Contains(body, `data-code="rate_limited"`) {
				t.Fatalf("post %d refused without Retry-After or code: %v %s", i, resp.Header, body)
			}
		case i > 0:
			t.Fatalf("post %d: %d %s", i, resp.StatusCode, body)
		}
	}
	if codes[429] < 450 || already == 0 {
		t.Errorf("answers: %v (%d already acknowledged)", codes, already)
	}
	entries, err := a.store.AuditEntries(context.Background(), nightowl.AuditQuery{Action: "alert.ack", Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Actor != "caller 0 (link)" {
		t.Fatalf("audit entries for 500 posts: %+v", entries)
	}
	waitFor(t, "the acknowledgement notification", func() bool { return len(h.kinds()) >= 2 })
	if got := strings.Join(h.kinds(), " "); got != "firing acknowledged" {
		t.Errorf("messages: %s", got)
	}
}
