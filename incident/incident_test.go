package incident_test

import (
	"context"
	"flag"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/actions"
	"github.com/nightowl/nightowl/incident"
	"github.com/nightowl/nightowl/internal/clocktest"
	"github.com/nightowl/nightowl/sqlite"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

var t0 = time.Date(2026, 3, 17, 22, 0, 0, 0, time.UTC)

var components = []nightowl.Component{
	{Name: "Website", Checks: nightowl.Selector{Labels: map[string]string{"tier": "web"}}},
	{Name: "Database", Checks: nightowl.Selector{Names: []string{"math-db"}}},
}

func view(name, tier string, st nightowl.Status) nightowl.CheckView {
	return nightowl.CheckView{
		Check: nightowl.Check{Name: name, Labels: map[string]string{"tier": tier}},
		State: nightowl.State{Check: name, Status: st},
	}
}

// fixture is a service on a real SQLite store and a fake clock.
type fixture struct {
	svc      *incident.Service
	store    *sqlite.Store
	clock    *clocktest.Fake
	views    []nightowl.CheckView
	autoOpen bool
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{clock: clocktest.New(t0.Add(-time.Hour)), autoOpen: true, views: []nightowl.CheckView{
		view("shop", "web", nightowl.StatusUp), view("cart", "web", nightowl.StatusUp), view("math-db", "db", nightowl.StatusUp),
	}}
	var err error
	f.store, err = sqlite.Open(context.Background(), sqlite.Options{
		Path: filepath.Join(t.TempDir(), "nightowl.db"), Now: f.clock.Now,
		Logger: slog.New(slog.DiscardHandler), FlushInterval: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.store.Close() })
	f.svc, err = incident.New(incident.Options{
		Store: f.store, Clock: f.clock, Logger: slog.New(slog.DiscardHandler),
		Components: func() []nightowl.Component { return components },
		Checks:     func() []nightowl.CheckView { return f.views },
		AutoOpen:   func() bool { return f.autoOpen },
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// at sets the clock.
func (f *fixture) at(t *testing.T, h, m, s int) time.Time {
	t.Helper()
	at := time.Date(2026, 3, 17, h, m, s, 0, time.UTC)
	f.clock.Set(at)
	return at
}

func (f *fixture) event(t *testing.T, e nightowl.Event) {
	t.Helper()
	if _, err := f.store.AddEvent(context.Background(), e); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) request(t *testing.T, r nightowl.ActionRequest) {
	t.Helper()
	if err := f.store.SaveRequest(context.Background(), &r); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) saveAlert(t *testing.T, a *nightowl.Alert, receivers ...string) []nightowl.Notification {
	t.Helper()
	var out []nightowl.Notification
	for _, r := range receivers {
		kind := nightowl.MessageFiring
		switch a.State {
		case nightowl.AlertAcknowledged:
			kind = nightowl.MessageAcknowledged
		case nightowl.AlertResolved:
			kind = nightowl.MessageResolved
		}
		now := f.clock.Now()
		out = append(out, nightowl.Notification{Receiver: r, CreatedAt: now, NextAt: now,
			Message: nightowl.Message{Kind: kind, Alert: *a}})
	}
	if err := f.store.SaveAlert(context.Background(), a, out); err != nil {
		t.Fatal(err)
	}
	return out
}

// deliver sends every due notification, failing those to the receivers in
// fail with the error given.
func (f *fixture) deliver(t *testing.T, fail map[string]string) {
	t.Helper()
	ctx := context.Background()
	now := f.clock.Now()
	ns, err := f.store.ClaimNotifications(ctx, "test", now, 100, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for i := range ns {
		n := &ns[i]
		if msg, ok := fail[n.Receiver]; ok {
			n.State, n.Error = nightowl.NotificationFailed, msg
		} else {
			n.State, n.SentAt = nightowl.NotificationSent, now
		}
		if err := f.store.FinishNotification(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
}

// story plays an outage of the shop from the first failure to the
// resolution: an automatic incident, an acknowledgement, a public update, a
// private note, maintenance on the database, and noise before and after
// that the timeline must leave out.
func story(t *testing.T, f *fixture) string {
	t.Helper()
	ctx := context.Background()
	f.event(t, nightowl.Event{Check: "shop", Time: f.at(t, 21, 30, 0), Kind: "maintenance", Cause: "maintenance nightly-vacuum ended"})
	f.event(t, nightowl.Event{Check: "shop", Time: f.at(t, 21, 58, 10), Kind: nightowl.EventStatus,
		From: nightowl.StatusUp, To: nightowl.StatusDown, Cause: "http_ok failed: status < 400 (status = 503)"})
	// The shop's on_down action ran as it went down.
	f.event(t, nightowl.Event{Check: "shop", Time: f.at(t, 21, 58, 10), Kind: actions.EventAction,
		Cause: "on_down ran restart-shop (request r-auto): succeeded (exit 0)"})
	fired := f.at(t, 21, 59, 0)
	a := &nightowl.Alert{ID: "k3vq7mzt", Check: "shop", Labels: map[string]string{"tier": "web"},
		State: nightowl.AlertFiring, Severity: nightowl.SeverityCritical, Status: nightowl.StatusDown,
		Cause: "http_ok failed: status < 400 (status = 503)", StartsAt: fired, Blocked: []string{"cart", "checkout"}}
	f.saveAlert(t, a, "primary[1]", "sms[1]")
	inc, ok, err := f.svc.OnAlert(ctx, *a)
	if err != nil || !ok {
		t.Fatalf("auto-open: %v %v", ok, err)
	}
	f.at(t, 21, 59, 2)
	f.deliver(t, map[string]string{"sms[1]": "400 Bad Request: invalid number"})

	acked := *a
	acked.State, acked.AckedAt, acked.AckedBy = nightowl.AlertAcknowledged, f.at(t, 22, 5, 0), "ana"
	f.saveAlert(t, &acked, "primary[1]")
	f.at(t, 22, 5, 1)
	f.deliver(t, nil)

	f.at(t, 22, 6, 0)
	if _, _, err := f.svc.Update(ctx, inc.ID, nightowl.IncidentUpdate{State: nightowl.IncidentIdentified, Public: true, By: "ana",
		Message: "The shop's database ran out of connections;\nwe are raising the limit."}); err != nil {
		t.Fatal(err)
	}
	f.at(t, 22, 8, 0)
	if _, _, err := f.svc.Update(ctx, "1", nightowl.IncidentUpdate{Components: []string{"website", "Database"}, By: "bo",
		Message: "Raising max_connections to 500 on math-db; restarting it."}); err != nil {
		t.Fatal(err)
	}
	f.event(t, nightowl.Event{Check: "math-db", Time: f.at(t, 22, 9, 0), Kind: "maintenance", Cause: "maintenance db-restart started by bo: expects connected"})
	// A run by hand during the incident is on the timeline, with who
	// approved it; an automatic one is there through its event, and one
	// that never ran is not.
	zero := 0
	f.request(t, nightowl.ActionRequest{ID: "r-kill", Action: "kill-idle-connections", Params: map[string]string{"db": "math-db", "older": "5m"},
		Reason: "connections\nleft by the old pool", RequestedBy: "ana", RequestedAt: f.at(t, 22, 9, 30), State: nightowl.RequestSucceeded,
		Needs: 1, Approvals: []nightowl.Approval{{By: "cy", At: f.at(t, 22, 9, 50)}}, RanBy: "cy",
		StartedAt: f.at(t, 22, 10, 0), EndedAt: f.at(t, 22, 10, 2), ExitCode: &zero})
	f.request(t, nightowl.ActionRequest{ID: "r-auto", Action: "restart-shop", Automatic: true, RequestedBy: "nightowl",
		RequestedAt: f.at(t, 21, 58, 10), State: nightowl.RequestSucceeded, RanBy: "nightowl", StartedAt: f.at(t, 21, 58, 10)})
	f.request(t, nightowl.ActionRequest{ID: "r-denied", Action: "restart-shop", RequestedBy: "bo", RequestedAt: f.at(t, 22, 11, 0),
		State: nightowl.RequestDenied, DeniedBy: "ana"})
	f.event(t, nightowl.Event{Check: "math-db", Time: f.at(t, 22, 12, 0), Kind: "maintenance", Cause: "maintenance db-restart ended"})
	f.event(t, nightowl.Event{Check: "shop", Time: f.at(t, 22, 15, 0), Kind: nightowl.EventStatus,
		From: nightowl.StatusDown, To: nightowl.StatusUp})
	resolved := acked
	resolved.State, resolved.ResolvedAt = nightowl.AlertResolved, f.clock.Now()
	f.saveAlert(t, &resolved)
	f.at(t, 22, 20, 0)
	if _, _, err := f.svc.Update(ctx, inc.ID, nightowl.IncidentUpdate{State: nightowl.IncidentMonitoring, Impact: nightowl.ImpactMinor,
		Public: true, By: "ana", Message: "The shop is answering again; we are watching it."}); err != nil {
		t.Fatal(err)
	}
	f.at(t, 22, 30, 0)
	if _, err := f.svc.Resolve(ctx, inc.ID, "", "ana"); err != nil {
		t.Fatal(err)
	}
	f.event(t, nightowl.Event{Check: "shop", Time: f.at(t, 22, 31, 0), Kind: nightowl.EventStatus,
		From: nightowl.StatusUp, To: nightowl.StatusDown, Cause: "after the incident"})
	f.request(t, nightowl.ActionRequest{ID: "r-after", Action: "restart-shop", Reason: "after the incident", RequestedBy: "bo",
		RequestedAt: f.at(t, 22, 32, 0), State: nightowl.RequestSucceeded, RanBy: "bo", StartedAt: f.at(t, 22, 32, 0)})
	f.at(t, 23, 0, 0)
	return inc.ID
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs; got:\n%s", path, got)
	}
}

func TestPostmortem(t *testing.T) {
	ctx := context.Background()
	t.Run("resolved", func(t *testing.T) {
		f := newFixture(t)
		id := story(t, f)
		md, err := f.svc.Postmortem(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		golden(t, "postmortem-resolved", md)
	})
	t.Run("ongoing", func(t *testing.T) {
		f := newFixture(t)
		f.at(t, 22, 40, 0)
		inc, err := f.svc.Open(ctx, "Reports are slow | sometimes", "", nil, "Some reports take minutes to load.", true, "bo")
		if err != nil {
			t.Fatal(err)
		}
		f.at(t, 23, 0, 30)
		md, err := f.svc.Postmortem(ctx, inc.ID)
		if err != nil {
			t.Fatal(err)
		}
		golden(t, "postmortem-ongoing", md)
	})
	t.Run("unknown", func(t *testing.T) {
		f := newFixture(t)
		if _, err := f.svc.Postmortem(ctx, "inc-4"); nightowl.ErrorCode(err) != nightowl.ENotFound {
			t.Errorf("postmortem of an unknown incident: %v, want not_found", err)
		}
	})
}

func TestTimeline(t *testing.T) {
	f := newFixture(t)
	id := story(t, f)
	tl, err := f.svc.Timeline(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for i, e := range tl {
		kinds = append(kinds, e.Kind)
		if e.Time.Location() != time.UTC {
			t.Errorf("entry %d is in %v, not UTC", i, e.Time.Location())
		}
		if i > 0 && e.Time.Before(tl[i-1].Time) {
			t.Errorf("entry %d (%s) comes before entry %d", i, e.Time, i-1)
		}
		if e.Public != (e.Kind == incident.KindUpdate) {
			t.Errorf("entry %d (%s %q): public = %v", i, e.Kind, e.Text, e.Public)
		}
		if strings.Contains(e.Text, "after the incident") || strings.Contains(e.Text, "nightly-vacuum") {
			t.Errorf("entry %d is outside the window: %s %s", i, e.Time, e.Text)
		}
	}
	want := []string{"status", "action", "alert", "notification", "note", "notification", "acknowledgement", "notification",
		"update", "note", "maintenance", "action", "maintenance", "status", "alert", "update", "update"}
	if !reflect.DeepEqual(kinds, want) {
		t.Errorf("kinds = %v\nwant    %v", kinds, want)
	}
	if incident.KindAction != actions.EventAction {
		t.Errorf("KindAction = %q, but on_down's events are of kind %q", incident.KindAction, actions.EventAction)
	}
	var runs []nightowl.TimelineEntry
	for _, e := range tl {
		if e.Kind == incident.KindAction {
			runs = append(runs, e)
		}
	}
	wantRuns := []nightowl.TimelineEntry{
		{Time: time.Date(2026, 3, 17, 21, 58, 10, 0, time.UTC), Kind: "action", Check: "shop",
			Text: "on_down ran restart-shop (request r-auto): succeeded (exit 0)"},
		{Time: time.Date(2026, 3, 17, 22, 10, 0, 0, time.UTC), Kind: "action", By: "cy",
			Text: "Action kill-idle-connections db=math-db older=5m (request r-kill) run by cy, requested by ana, approved by cy: succeeded (exit 0); reason: connections left by the old pool"},
	}
	if !reflect.DeepEqual(runs, wantRuns) {
		t.Errorf("action entries:\n%+v\nwant\n%+v", runs, wantRuns)
	}
}

func TestOpenUpdateResolve(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	inc, err := f.svc.Open(ctx, "  Checkout fails  ", nightowl.ImpactCritical, []string{"website"}, "", true, "ana")
	if err != nil {
		t.Fatal(err)
	}
	if inc.ID != "inc-1" || inc.Title != "Checkout fails" || inc.State != nightowl.IncidentInvestigating ||
		!reflect.DeepEqual(inc.Components, []string{"Website"}) || inc.CreatedBy != "ana" {
		t.Fatalf("opened %+v", inc)
	}
	_, ups, err := f.svc.Get(ctx, "INC-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(ups) != 1 || ups[0].Public {
		t.Errorf("an opening without a message is public: %+v", ups)
	}

	errTests := []struct {
		name string
		do   func() error
		code string
	}{
		{"no title", func() error {
			_, err := f.svc.Open(ctx, " ", "", nil, "", true, "ana")
			return err
		}, nightowl.EInvalid},
		{"bad impact", func() error {
			_, err := f.svc.Open(ctx, "x", "huge", nil, "", true, "ana")
			return err
		}, nightowl.EInvalid},
		{"unknown component", func() error {
			_, err := f.svc.Open(ctx, "x", "", []string{"Websight"}, "", true, "ana")
			return err
		}, nightowl.EInvalid},
		{"update without a message", func() error {
			_, _, err := f.svc.Update(ctx, "inc-1", nightowl.IncidentUpdate{State: nightowl.IncidentIdentified, By: "ana"})
			return err
		}, nightowl.EInvalid},
		{"bad state", func() error {
			_, _, err := f.svc.Update(ctx, "inc-1", nightowl.IncidentUpdate{State: "fixed", Message: "m", By: "ana"})
			return err
		}, nightowl.EInvalid},
		{"unknown incident", func() error {
			_, _, err := f.svc.Update(ctx, "inc-9", nightowl.IncidentUpdate{Message: "m", By: "ana"})
			return err
		}, nightowl.ENotFound},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.do(); nightowl.ErrorCode(err) != tt.code {
				t.Errorf("error %v, want %s", err, tt.code)
			}
		})
	}

	t.Run("resolve, again, reopen", func(t *testing.T) {
		f.clock.Advance(time.Hour)
		res, err := f.svc.Resolve(ctx, "1", "", "bo")
		if err != nil {
			t.Fatal(err)
		}
		if res.State != nightowl.IncidentResolved || !res.ResolvedAt.Equal(f.clock.Now()) {
			t.Errorf("resolved: %+v", res)
		}
		if _, err := f.svc.Resolve(ctx, "1", "", "bo"); nightowl.ErrorCode(err) != nightowl.EConflict {
			t.Errorf("resolving twice: %v, want conflict", err)
		}
		// A note on a resolved incident, for the postmortem, leaves it
		// resolved.
		noted, _, err := f.svc.Update(ctx, "1", nightowl.IncidentUpdate{Message: "root cause found", By: "bo"})
		if err != nil || noted.State != nightowl.IncidentResolved {
			t.Errorf("a note after resolution: %+v %v", noted, err)
		}
		again, u, err := f.svc.Update(ctx, "1", nightowl.IncidentUpdate{State: nightowl.IncidentInvestigating, Impact: nightowl.ImpactCritical,
			Message: "It is back.", Public: true, By: "bo"})
		if err != nil {
			t.Fatal(err)
		}
		if again.State != nightowl.IncidentInvestigating || !again.ResolvedAt.IsZero() {
			t.Errorf("reopened: %+v", again)
		}
		if u.Impact != "" || u.State != nightowl.IncidentInvestigating {
			t.Errorf("the update records the impact it did not change: %+v", u)
		}
	})
}

func TestAutoOpen(t *testing.T) {
	ctx := context.Background()
	alert := func(id, check, tier string, sev nightowl.Severity) nightowl.Alert {
		return nightowl.Alert{ID: id, Check: check, Labels: map[string]string{"tier": tier}, State: nightowl.AlertFiring,
			Severity: sev, Status: nightowl.StatusDown, StartsAt: t0}
	}
	t.Run("off", func(t *testing.T) {
		f := newFixture(t)
		f.autoOpen = false
		if _, ok, err := f.svc.OnAlert(ctx, alert("a1", "shop", "web", nightowl.SeverityCritical)); ok || err != nil {
			t.Errorf("opened with auto_open off: %v %v", ok, err)
		}
	})
	t.Run("warning or no component", func(t *testing.T) {
		f := newFixture(t)
		for _, a := range []nightowl.Alert{alert("a1", "shop", "web", nightowl.SeverityWarning), alert("a2", "lonely", "batch", nightowl.SeverityCritical)} {
			if _, ok, err := f.svc.OnAlert(ctx, a); ok || err != nil {
				t.Errorf("alert %s: opened %v %v", a.ID, ok, err)
			}
		}
	})
	t.Run("opens, then joins", func(t *testing.T) {
		f := newFixture(t)
		inc, ok, err := f.svc.OnAlert(ctx, alert("a1", "shop", "web", nightowl.SeverityCritical))
		if err != nil || !ok {
			t.Fatal(ok, err)
		}
		if inc.Title != "Website down: shop" || inc.CreatedBy != "nightowl" || inc.Impact != nightowl.ImpactMajor ||
			!reflect.DeepEqual(inc.Alerts, []string{"a1"}) || !reflect.DeepEqual(inc.Components, []string{"Website"}) {
			t.Errorf("opened %+v", inc)
		}
		_, ups, _ := f.svc.Get(ctx, inc.ID)
		if len(ups) != 1 || ups[0].Public || !strings.Contains(ups[0].Message, "Alert a1 fired on shop") {
			t.Errorf("first update: %+v", ups)
		}
		// Another check of the same component joins it; one of another
		// component opens its own.
		joined, _, err := f.svc.OnAlert(ctx, alert("a2", "cart", "web", nightowl.SeverityCritical))
		if err != nil || joined.ID != inc.ID || !reflect.DeepEqual(joined.Alerts, []string{"a1", "a2"}) {
			t.Errorf("second alert went to %+v %v", joined, err)
		}
		if again, _, _ := f.svc.OnAlert(ctx, alert("a2", "cart", "web", nightowl.SeverityCritical)); len(again.Alerts) != 2 {
			t.Errorf("the same alert twice: %v", again.Alerts)
		}
		db, _, err := f.svc.OnAlert(ctx, alert("a3", "math-db", "db", nightowl.SeverityCritical))
		if err != nil || db.ID == inc.ID || db.Title != "Database down: math-db" {
			t.Errorf("database alert went to %+v %v", db, err)
		}
	})
}

func TestComponentStatuses(t *testing.T) {
	up, down, degraded, maint := nightowl.StatusUp, nightowl.StatusDown, nightowl.StatusDegraded, nightowl.StatusMaintenance
	paused := view("cart", "web", nightowl.StatusPaused)
	tests := []struct {
		name  string
		views []nightowl.CheckView
		web   nightowl.ComponentStatus
	}{
		{"all up", []nightowl.CheckView{view("shop", "web", up), view("cart", "web", up)}, nightowl.ComponentOperational},
		{"one down", []nightowl.CheckView{view("shop", "web", down), view("cart", "web", up)}, nightowl.ComponentPartialOutage},
		{"all down", []nightowl.CheckView{view("shop", "web", down), view("cart", "web", down)}, nightowl.ComponentMajorOutage},
		{"down beside maintenance", []nightowl.CheckView{view("shop", "web", down), view("cart", "web", maint)}, nightowl.ComponentPartialOutage},
		{"degraded", []nightowl.CheckView{view("shop", "web", degraded), view("cart", "web", maint)}, nightowl.ComponentDegraded},
		{"maintenance", []nightowl.CheckView{view("shop", "web", maint), view("cart", "web", up)}, nightowl.ComponentUnderMaintenance},
		{"paused left out", []nightowl.CheckView{view("shop", "web", down), paused}, nightowl.ComponentMajorOutage},
		{"unknown is not down", []nightowl.CheckView{view("shop", "web", down), view("cart", "web", nightowl.StatusUnknown)}, nightowl.ComponentPartialOutage},
		{"no checks", nil, nightowl.ComponentOperational},
		{"flapping counts as degraded", []nightowl.CheckView{view("shop", "web", nightowl.StatusFlapping), view("cart", "web", up)}, nightowl.ComponentDegraded},
		{"blocked counts as down", []nightowl.CheckView{view("shop", "web", nightowl.StatusBlocked), view("cart", "web", up)}, nightowl.ComponentPartialOutage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			views := append(tt.views, view("math-db", "db", down))
			got := incident.ComponentStatuses(components, views)
			want := map[string]nightowl.ComponentStatus{"Website": tt.web, "Database": nightowl.ComponentMajorOutage}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("statuses = %v, want %v", got, want)
			}
		})
	}
}

// TestAffectedBy: a component whose checks are blocked by another
// component's check is affected by that component, and by nothing else.
func TestAffectedBy(t *testing.T) {
	shop := view("shop", "web", nightowl.StatusBlocked)
	shop.State.BlockedBy = "math-db"
	cart := view("cart", "web", nightowl.StatusBlocked)
	cart.State.BlockedBy = "cart-api" // in no component
	views := []nightowl.CheckView{shop, cart, view("math-db", "db", nightowl.StatusDown), view("cart-api", "api", nightowl.StatusDown)}
	got := incident.AffectedBy(components, views)
	if want := map[string][]string{"Website": {"Database"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("affected by = %v, want %v", got, want)
	}
}

// TestPublication: an incident is on the status page from its first public
// update or from being published, and from nothing else: not a private
// first message, not an auto-opened one, not resolving it.
func TestPublication(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	published := func(id string) time.Time {
		t.Helper()
		inc, _, err := f.svc.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		list, err := f.svc.List(ctx, nightowl.IncidentQuery{})
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range list {
			if l.ID == id && !l.PublishedAt.Equal(inc.PublishedAt) {
				t.Errorf("%s: List says published at %v, Get %v", id, l.PublishedAt, inc.PublishedAt)
			}
		}
		return inc.PublishedAt
	}

	at := f.at(t, 22, 0, 0)
	pub, err := f.svc.Open(ctx, "Checkout fails", "", []string{"Website"}, "We are looking into it.", true, "ops")
	if err != nil {
		t.Fatal(err)
	}
	if got := published(pub.ID); !got.Equal(at) {
		t.Errorf("opened with a public message: published at %v, want %v", got, at)
	}

	private, err := f.svc.Open(ctx, "PRIVATE: card key leaked", "", []string{"Website"}, "Rotate it.", false, "ops")
	if err != nil {
		t.Fatal(err)
	}
	silent, err := f.svc.Open(ctx, "No message", "", nil, "", true, "ops")
	if err != nil {
		t.Fatal(err)
	}
	auto, ok, err := f.svc.OnAlert(ctx, nightowl.Alert{ID: "a1", Check: "math-db", Severity: nightowl.SeverityCritical,
		State: nightowl.AlertFiring, Status: nightowl.StatusDown, StartsAt: at})
	if err != nil || !ok {
		t.Fatalf("auto-open: %v %v", ok, err)
	}
	for _, id := range []string{private.ID, silent.ID, auto.ID} {
		if got := published(id); !got.IsZero() {
			t.Errorf("%s is published at %v", id, got)
		}
	}

	// A private note publishes nothing; a public update does.
	f.at(t, 22, 5, 0)
	if _, _, err := f.svc.Update(ctx, private.ID, nightowl.IncidentUpdate{Message: "Still private.", By: "ops"}); err != nil {
		t.Fatal(err)
	}
	if got := published(private.ID); !got.IsZero() {
		t.Errorf("a private note published %s at %v", private.ID, got)
	}
	at = f.at(t, 22, 10, 0)
	if _, _, err := f.svc.Update(ctx, private.ID, nightowl.IncidentUpdate{Message: "Checkout fails for some.", Public: true, By: "ops"}); err != nil {
		t.Fatal(err)
	}
	if got := published(private.ID); !got.Equal(at) {
		t.Errorf("after a public update: published at %v, want %v", got, at)
	}

	// Resolving an unpublished incident leaves it so, with a private note.
	if _, err := f.svc.Resolve(ctx, silent.ID, "", "ops"); err != nil {
		t.Fatal(err)
	}
	if got := published(silent.ID); !got.IsZero() {
		t.Errorf("resolving published %s at %v", silent.ID, got)
	}
	if _, ups, _ := f.svc.Get(ctx, silent.ID); ups[len(ups)-1].Public {
		t.Errorf("the resolution of an unpublished incident is public: %+v", ups[len(ups)-1])
	}

	// Publishing without a message: on the page as it stands, and a note
	// says who did it.
	at = f.at(t, 22, 15, 0)
	if _, _, err := f.svc.Publish(ctx, auto.ID, strings.Repeat("x", 201), "", "ops"); nightowl.ErrorCode(err) != nightowl.EInvalid {
		t.Errorf("publishing under a title too long: %v", err)
	}
	inc, u, err := f.svc.Publish(ctx, auto.ID, " Database errors ", "", "ops")
	if err != nil {
		t.Fatal(err)
	}
	if !inc.PublishedAt.Equal(at) || inc.Title != "Database errors" || u.Public || u.By != "ops" ||
		u.Message != `Published on the status page as "Database errors"; it was "Database down: math-db".` {
		t.Errorf("publish: %+v %+v", inc, u)
	}
	if got := published(auto.ID); !got.Equal(at) {
		t.Errorf("published at %v, want %v", got, at)
	}
	if _, _, err := f.svc.Publish(ctx, auto.ID, "", "Again.", "ops"); nightowl.ErrorCode(err) != nightowl.EConflict {
		t.Errorf("publishing twice: %v", err)
	}
	if _, _, err := f.svc.Publish(ctx, "inc-99", "", "", "ops"); nightowl.ErrorCode(err) != nightowl.ENotFound {
		t.Errorf("publishing no incident: %v", err)
	}
	// With a message: a public update.
	if _, u, err := f.svc.Publish(ctx, silent.ID, "", "It was brief.", "ops"); err != nil || !u.Public || u.Message != "It was brief." {
		t.Errorf("publish with a message: %+v %v", u, err)
	}

	// An incident stored before publication was recorded is published
	// from its first public update.
	old := nightowl.Incident{Title: "Old", State: nightowl.IncidentInvestigating, Impact: nightowl.ImpactMinor,
		CreatedAt: t0, UpdatedAt: t0}
	first := t0.Add(time.Minute)
	if err := f.store.SaveIncident(ctx, &old, &nightowl.IncidentUpdate{Time: t0, By: "ops", Message: "note"}); err != nil {
		t.Fatal(err)
	}
	if err := f.store.SaveIncident(ctx, &old, &nightowl.IncidentUpdate{Time: first, By: "ops", Public: true, Message: "public"}); err != nil {
		t.Fatal(err)
	}
	if got := published(old.ID); !got.Equal(first) {
		t.Errorf("a stored incident with a public update: published at %v, want %v", got, first)
	}
}

// racingStore is a store on which another node changes an incident right
// after this one read it: the first read of an incident runs meanwhile.
type racingStore struct {
	incident.Store
	meanwhile func()
}

func (s *racingStore) Incident(ctx context.Context, id string) (nightowl.Incident, error) {
	inc, err := s.Store.Incident(ctx, id)
	if f := s.meanwhile; f != nil {
		s.meanwhile = nil
		f()
	}
	return inc, err
}

func (s *racingStore) Incidents(ctx context.Context, q nightowl.IncidentQuery) ([]nightowl.Incident, error) {
	list, err := s.Store.Incidents(ctx, q)
	if f := s.meanwhile; f != nil {
		s.meanwhile = nil
		f()
	}
	return list, err
}

// TestTwoNodesChangeOneIncident: two services on one store, as two nodes
// on one database. A change made to an incident that the other node
// changed since it was read is refused with a conflict, not written over
// the other's; an alert that joins such an incident reads it again.
func TestTwoNodesChangeOneIncident(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	racing := &racingStore{Store: f.store}
	nodeA, err := incident.New(incident.Options{Store: racing, Clock: f.clock, Logger: slog.New(slog.DiscardHandler),
		Components: func() []nightowl.Component { return components }, AutoOpen: func() bool { return true }})
	if err != nil {
		t.Fatal(err)
	}
	nodeB := f.svc
	f.at(t, 22, 0, 0)
	inc, err := nodeB.Open(ctx, "Checkout fails", "", []string{"Website"}, "Looking.", false, "ana")
	if err != nil {
		t.Fatal(err)
	}

	// A publishes while B marks it identified.
	racing.meanwhile = func() {
		if _, _, err := nodeB.Update(ctx, inc.ID, nightowl.IncidentUpdate{State: nightowl.IncidentIdentified, Message: "Found it.", By: "ana"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := nodeA.Publish(ctx, inc.ID, "", "", "bo"); nightowl.ErrorCode(err) != nightowl.EConflict {
		t.Fatalf("publishing over a change made meanwhile: %v, want conflict", err)
	}
	got, ups, err := nodeB.Get(ctx, inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != nightowl.IncidentIdentified || got.Published() || len(ups) != 2 {
		t.Fatalf("after the refused publication: %+v, %d updates", got, len(ups))
	}
	// Tried again, it is published, and B's change stays.
	if got, _, err = nodeA.Publish(ctx, inc.ID, "", "", "bo"); err != nil || !got.Published() || got.State != nightowl.IncidentIdentified {
		t.Fatalf("publishing again: %+v %v", got, err)
	}

	// An alert joins the incident while B changes its impact.
	racing.meanwhile = func() {
		if _, _, err := nodeB.Update(ctx, inc.ID, nightowl.IncidentUpdate{Impact: nightowl.ImpactCritical, Message: "Worse.", By: "ana"}); err != nil {
			t.Fatal(err)
		}
	}
	joined, ok, err := nodeA.OnAlert(ctx, nightowl.Alert{ID: "a9", Check: "shop", Labels: map[string]string{"tier": "web"},
		Severity: nightowl.SeverityCritical, State: nightowl.AlertFiring, Status: nightowl.StatusDown, StartsAt: f.clock.Now()})
	if err != nil || !ok || joined.ID != inc.ID {
		t.Fatalf("the alert joins: %+v %v %v", joined, ok, err)
	}
	got, _, _ = nodeB.Get(ctx, inc.ID)
	if got.Impact != nightowl.ImpactCritical || !reflect.DeepEqual(got.Alerts, []string{"a9"}) || !got.Published() {
		t.Errorf("after the alert joined: %+v", got)
	}
}
