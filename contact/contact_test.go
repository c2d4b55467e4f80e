package contact_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/contact"
	"github.com/nightowl/nightowl/internal/clocktest"
	"github.com/nightowl/nightowl/notify"
	"github.com/nightowl/nightowl/notify/kit"
	"github.com/nightowl/nightowl/notify/webhook"
	"github.com/nightowl/nightowl/sqlite"
)

// inbox is an HTTP server that keeps the JSON messages posted to it, by
// path.
type inbox struct {
	srv    *httptest.Server
	mu     sync.Mutex
	got    map[string][]map[string]any
	status int
}

func newInbox(t *testing.T) *inbox {
	in := &inbox{got: map[string][]map[string]any{}, status: http.StatusOK}
	in.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var m map[string]any
		json.Unmarshal(body, &m)
		in.mu.Lock()
		in.got[r.URL.Path] = append(in.got[r.URL.Path], m)
		status := in.status
		in.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(in.srv.Close)
	return in
}

func (in *inbox) last(t *testing.T, path string) map[string]any {
	t.Helper()
	in.mu.Lock()
	defer in.mu.Unlock()
	list := in.got[path]
	if len(list) == 0 {
		t.Fatalf("nothing posted to %s", path)
	}
	return list[len(list)-1]
}

var codeRE = regexp.MustCompile(`code is ([0-9]{6})`)

func code(t *testing.T, m map[string]any) string {
	t.Helper()
	text, _ := m["text"].(string)
	c := codeRE.FindStringSubmatch(text)
	if c == nil {
		t.Fatalf("no code in %q", text)
	}
	return c[1]
}

type fixture struct {
	svc   *contact.Service
	store *sqlite.Store
	clock *clocktest.Fake
	in    *inbox
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{clock: clocktest.New(time.Date(2026, 3, 18, 1, 0, 0, 0, time.UTC)), in: newInbox(t)}
	var err error
	f.store, err = sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(t.TempDir(), "n.db"), Logger: slog.New(slog.DiscardHandler), FlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.store.Close() })
	for _, u := range []string{"ana", "bo"} {
		if err := f.store.SaveUser(ctx, &nightowl.User{Name: u, Role: nightowl.RoleResponder, PasswordHash: "h"}); err != nil {
			t.Fatal(err)
		}
	}
	hook := &webhook.Config{}
	gateway := &webhook.Config{URL: f.in.srv.URL + "/sms"}
	kinds := map[string]*contact.Kind{
		"hook":  {Name: "hook", Label: "Webhook", Receiver: "webhook", Spec: hook},
		"phone": {Name: "phone", Label: "Phone (SMS)", Receiver: "webhook", Spec: gateway, Pattern: regexp.MustCompile(`^\+[0-9]{8,15}$`)},
	}
	f.svc, err = contact.New(contact.Options{Store: f.store, Kinds: func() map[string]*contact.Kind { return kinds },
		Deps: func() kit.Deps { return kit.Deps{} }, Clock: f.clock, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestVerifiedByTestMessage(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c, err := f.svc.Add(ctx, "ana", "hook", f.in.srv.URL+"/ana", "laptop")
	if err != nil {
		t.Fatal(err)
	}
	if c.Verified() || c.User != "ana" || c.Label != "laptop" {
		t.Fatalf("added %+v", c)
	}
	msg := f.in.last(t, "/ana")
	if msg["kind"] != "test" || msg["title"] != kit.TestTitle {
		t.Errorf("test message %v", msg)
	}
	good := code(t, msg)
	// Not paged before it is verified.
	if r, err := f.svc.Reach(ctx, "ana"); err != nil || len(r) != 0 {
		t.Errorf("Reach before verifying = %v, %v", r, err)
	}
	if _, _, ok := f.svc.Target(notify.ContactPrefix + c.ID); ok {
		t.Error("an unverified method is a target")
	}
	// Another person cannot verify it, nor see it.
	if _, err := f.svc.Verify(ctx, "bo", c.ID, good); nightowl.ErrorCode(err) != nightowl.ENotFound {
		t.Errorf("bo verifying ana's method: %v", err)
	}
	wrong := "000000"
	if wrong == good {
		wrong = "111111"
	}
	if _, err := f.svc.Verify(ctx, "ana", c.ID, wrong); nightowl.ErrorCode(err) != nightowl.EInvalid || !strings.Contains(err.Error(), "4 tries left") {
		t.Errorf("a wrong code: %v", err)
	}
	v, err := f.svc.Verify(ctx, "ana", c.ID, good)
	if err != nil || !v.Verified() {
		t.Fatalf("Verify = %+v, %v", v, err)
	}
	r, err := f.svc.Reach(ctx, "ana")
	if err != nil || len(r) != 1 || r[0] != (notify.Reach{Receiver: notify.ContactPrefix + c.ID}) {
		t.Errorf("Reach = %+v, %v", r, err)
	}
	// The sender's target posts there.
	kind, n, ok := f.svc.Target(notify.ContactPrefix + c.ID)
	if !ok || kind != "contact/hook" {
		t.Fatalf("Target = %q, %v", kind, ok)
	}
	page := nightowl.Message{Kind: nightowl.MessageFiring, Alert: nightowl.Alert{ID: "a1", Check: "shop", OnCall: []string{"ana (primary)"}}}
	if _, err := n.Notify(ctx, &page); err != nil {
		t.Fatal(err)
	}
	if got := f.in.last(t, "/ana"); got["kind"] != "firing" || !strings.Contains(got["text"].(string), "On call: ana (primary)") {
		t.Errorf("page %v", got)
	}
}

func TestCodeExpiresAndTriesRunOut(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c, err := f.svc.Add(ctx, "ana", "hook", f.in.srv.URL+"/a", "")
	if err != nil {
		t.Fatal(err)
	}
	good := code(t, f.in.last(t, "/a"))
	f.clock.Advance(contact.CodeTTL)
	if _, err := f.svc.Verify(ctx, "ana", c.ID, good); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("an expired code: %v", err)
	}
	if _, err := f.svc.SendTest(ctx, "ana", c.ID); err != nil {
		t.Fatal(err)
	}
	// A test message again at once is refused.
	if _, err := f.svc.SendTest(ctx, "ana", c.ID); nightowl.ErrorCode(err) != nightowl.ERateLimited {
		t.Errorf("a second test message at once: %v", err)
	}
	good = code(t, f.in.last(t, "/a"))
	for range contact.MaxTries {
		f.svc.Verify(ctx, "ana", c.ID, "x")
	}
	if _, err := f.svc.Verify(ctx, "ana", c.ID, good); err == nil || !strings.Contains(err.Error(), "send a new test message") {
		t.Errorf("the right code after %d wrong ones: %v", contact.MaxTries, err)
	}
}

func TestBadAddresses(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, tt := range []struct{ kind, address, want string }{
		{"hook", "not a url", "address:"},
		{"hook", "", "address: required"},
		{"phone", "12345", "address: not a valid Phone (SMS) address"},
		{"fax", "1", `kind: unknown contact kind "fax" (one of hook, phone)`},
		{"hook", "http://x/\x00", "control characters"},
	} {
		if _, err := f.svc.Add(ctx, "ana", tt.kind, tt.address, ""); nightowl.ErrorCode(err) != nightowl.EInvalid || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Add(%s, %q) = %v, want %q", tt.kind, tt.address, err, tt.want)
		}
	}
	if ms, _ := f.svc.Methods(ctx, "ana"); len(ms) != 0 {
		t.Errorf("bad addresses were kept: %+v", ms)
	}
	// A test message the receiver refuses: the method is kept, and the
	// error says why.
	f.in.status = http.StatusNotFound
	c, err := f.svc.Add(ctx, "ana", "hook", f.in.srv.URL+"/gone", "")
	if err == nil || !strings.Contains(err.Error(), "test message failed") || c.ID == "" {
		t.Errorf("a refused test message: %+v, %v", c, err)
	}
}

// TestRulesAndGateway: "push at once, SMS after 5 minutes"; the SMS goes
// to the gateway with the phone number in the message.
func TestRulesAndGateway(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	verify := func(kind, address, path string) nightowl.ContactMethod {
		c, err := f.svc.Add(ctx, "ana", kind, address, "")
		if err != nil {
			t.Fatal(err)
		}
		if c, err = f.svc.Verify(ctx, "ana", c.ID, code(t, f.in.last(t, path))); err != nil {
			t.Fatal(err)
		}
		return c
	}
	push := verify("hook", f.in.srv.URL+"/push", "/push")
	sms := verify("phone", "+4915112345678", "/sms")
	if to := f.in.last(t, "/sms")["to"]; to != "+4915112345678" {
		t.Errorf("the gateway's test message is to %v", to)
	}
	if err := f.svc.SetRules(ctx, "ana", []nightowl.NotificationRule{{Contact: push.ID}, {Contact: sms.ID, After: 5 * time.Minute}}); err != nil {
		t.Fatal(err)
	}
	r, err := f.svc.Reach(ctx, "ana")
	want := []notify.Reach{{Receiver: notify.ContactPrefix + push.ID}, {Receiver: notify.ContactPrefix + sms.ID, After: 5 * time.Minute}}
	if err != nil || len(r) != 2 || r[0] != want[0] || r[1] != want[1] {
		t.Errorf("Reach = %+v, %v; want %+v", r, err, want)
	}
	for _, bad := range [][]nightowl.NotificationRule{
		{{Contact: "c-nope"}},
		{{Contact: push.ID, After: -time.Second}},
		{{Contact: push.ID, After: 25 * time.Hour}},
	} {
		if err := f.svc.SetRules(ctx, "ana", bad); nightowl.ErrorCode(err) != nightowl.EInvalid {
			t.Errorf("SetRules(%+v) = %v, want invalid", bad, err)
		}
	}
	// bo cannot name ana's method in his rules.
	if err := f.svc.SetRules(ctx, "bo", []nightowl.NotificationRule{{Contact: push.ID}}); nightowl.ErrorCode(err) != nightowl.EInvalid {
		t.Errorf("bo's rule naming ana's method: %v", err)
	}
	if err := f.svc.Delete(ctx, "ana", sms.ID); err != nil {
		t.Fatal(err)
	}
	if r, _ := f.svc.Reach(ctx, "ana"); len(r) != 1 {
		t.Errorf("after deleting the SMS: %+v", r)
	}
}

func TestTestMessagesPerHour(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for i := range contact.TestsPerHour {
		if _, err := f.svc.Add(ctx, "ana", "hook", f.in.srv.URL+"/x", ""); err != nil {
			t.Fatalf("test message %d: %v", i+1, err)
		}
	}
	if _, err := f.svc.Add(ctx, "ana", "hook", f.in.srv.URL+"/x", ""); nightowl.ErrorCode(err) != nightowl.ERateLimited {
		t.Errorf("one test message more than allowed in an hour: %v", err)
	}
	// bo is not held back by ana.
	if _, err := f.svc.Add(ctx, "bo", "hook", f.in.srv.URL+"/x", ""); err != nil {
		t.Error(err)
	}
	f.clock.Advance(time.Hour)
	if _, err := f.svc.Add(ctx, "ana", "hook", f.in.srv.URL+"/x", ""); err != nil {
		t.Errorf("an hour later: %v", err)
	}
}
