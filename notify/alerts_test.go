package notify_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/clocktest"
	"github.com/nightowl/nightowl/notify"
	"github.com/nightowl/nightowl/notify/acklink"
	"github.com/nightowl/nightowl/notify/kit"
	"github.com/nightowl/nightowl/sqlite"
)

var t0 = time.Date(2026, 3, 18, 1, 0, 0, 0, time.UTC)

func openStore(t testing.TB, path string, clock *clocktest.Fake) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), sqlite.Options{
		Path: path, Now: clock.Now, Logger: slog.New(slog.DiscardHandler), FlushInterval: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// policy is the SPEC's example: chat at once, primary after 5m, secondary
// after 15m, the last step again every 30m.
func policy() notify.Policy {
	return notify.Policy{
		Routes: []notify.Route{
			{Match: map[string]string{"tier": "db"}, Escalation: "database", Degraded: true},
			{Escalation: "default"},
		},
		Escalations: map[string]*notify.Escalation{
			"default": {Steps: []notify.Step{
				{Notify: "chat"}, {After: 5 * time.Minute, Notify: "primary"}, {After: 15 * time.Minute, Notify: "secondary"},
			}, Repeat: 30 * time.Minute},
			"database": {Steps: []notify.Step{{Notify: "primary"}}},
		},
		Groups: map[string][]string{
			"chat":      {"chat[0]"},
			"primary":   {"primary[0]", "primary[1]"},
			"secondary": {"secondary[0]"},
		},
		SendResolved: true,
	}
}

type fixture struct {
	clock  *clocktest.Fake
	store  *sqlite.Store
	m      *notify.Manager
	signer *acklink.Signer
	path   string
	pol    notify.Policy
	people notify.People
}

func newFixture(t testing.TB, pol notify.Policy) *fixture {
	t.Helper()
	f := &fixture{clock: clocktest.New(t0), path: filepath.Join(t.TempDir(), "n.db"), pol: pol}
	f.store = openStore(t, f.path, f.clock)
	var err error
	if f.signer, err = acklink.New([]byte(strings.Repeat("k", 32))); err != nil {
		t.Fatal(err)
	}
	f.m = f.manager(t)
	return f
}

func (f *fixture) manager(t testing.TB) *notify.Manager {
	t.Helper()
	m, err := notify.NewManager(context.Background(), notify.ManagerOptions{
		Store: f.store, Clock: f.clock, Logger: slog.New(slog.DiscardHandler), Policy: f.pol,
		Signer: f.signer, PublicURL: "https://owl.example.com", People: f.people,
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func view(name string, labels map[string]string, st nightowl.Status) nightowl.CheckView {
	res := &nightowl.Result{Check: name, Status: st}
	if st != nightowl.StatusUp {
		res.Assertions = []nightowl.AssertionResult{
			{Name: "up", OK: false, Severity: nightowl.SeverityCritical, Message: "status == 200 (status = 503)"},
			{Name: "fast", OK: true},
		}
	}
	return nightowl.CheckView{
		Check: nightowl.Check{Name: name, Labels: labels},
		State: nightowl.State{Check: name, Status: st, Cause: "up failed"},
		Last:  res,
	}
}

func (f *fixture) observe(t *testing.T, v nightowl.CheckView) {
	t.Helper()
	if err := f.m.Observe(context.Background(), v); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) escalate(t *testing.T) {
	t.Helper()
	if _, err := f.m.Escalate(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// sent lists the queued notifications as "KIND RECEIVER", oldest first.
func (f *fixture) queued(t *testing.T) []string {
	t.Helper()
	ns, err := f.store.Notifications(context.Background(), nightowl.NotificationQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := len(ns) - 1; i >= 0; i-- {
		out = append(out, string(ns[i].Message.Kind)+" "+ns[i].Receiver)
	}
	return out
}

func (f *fixture) only(t *testing.T) nightowl.Alert {
	t.Helper()
	open := f.m.Open()
	if len(open) != 1 {
		t.Fatalf("open alerts = %d, want 1", len(open))
	}
	return open[0]
}

func wantQueued(t *testing.T, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("queued:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func TestAlertEscalatesStepByStep(t *testing.T) {
	f := newFixture(t, policy())
	web := map[string]string{"tier": "web"}
	f.observe(t, view("shop", web, nightowl.StatusDown))
	a := f.only(t)
	if a.State != nightowl.AlertFiring || a.Escalation != "default" || !a.StartsAt.Equal(t0) {
		t.Fatalf("alert = %+v", a)
	}
	if len(a.Failed) != 1 || a.Failed[0].Name != "up" {
		t.Fatalf("failed = %+v, want only the assertion that failed", a.Failed)
	}
	wantQueued(t, f.queued(t), "firing chat[0]")

	steps := []struct {
		at   time.Duration
		want []string
	}{
		{4*time.Minute + 59*time.Second, nil},
		{5 * time.Minute, []string{"firing primary[0]", "firing primary[1]"}},
		{14 * time.Minute, nil},
		{15 * time.Minute, []string{"firing secondary[0]"}},
		{44 * time.Minute, nil},
		{45 * time.Minute, []string{"repeat secondary[0]"}},
		{75 * time.Minute, []string{"repeat secondary[0]"}},
	}
	all := []string{"firing chat[0]"}
	for _, s := range steps {
		f.clock.Set(t0.Add(s.at))
		f.escalate(t)
		all = append(all, s.want...)
		wantQueued(t, f.queued(t), all...)
	}

	// Observing the same state again changes nothing.
	f.observe(t, view("shop", web, nightowl.StatusDown))
	wantQueued(t, f.queued(t), all...)

	// Acknowledged: everyone notified so far hears it, and escalation stops.
	f.clock.Set(t0.Add(80 * time.Minute))
	acked, first, err := f.m.Ack(context.Background(), a.ID, "ana")
	if err != nil {
		t.Fatal(err)
	}
	if !first || acked.State != nightowl.AlertAcknowledged || acked.AckedBy != "ana" || !acked.NextAt.IsZero() {
		t.Fatalf("acked = %+v", acked)
	}
	all = append(all, "acknowledged chat[0]", "acknowledged primary[0]", "acknowledged primary[1]", "acknowledged secondary[0]")
	wantQueued(t, f.queued(t), all...)
	f.clock.Set(t0.Add(10 * time.Hour))
	f.escalate(t)
	// A second acknowledgement is no news, and says who took it.
	again, now, err := f.m.Ack(context.Background(), a.ID, "bo")
	if err != nil {
		t.Fatal(err)
	}
	if now || again.AckedBy != "ana" || !again.AckedAt.Equal(t0.Add(80*time.Minute)) {
		t.Fatalf("second ack: acked %t, %+v", now, again)
	}
	wantQueued(t, f.queued(t), all...)

	// Recovery tells everyone who was notified.
	f.observe(t, view("shop", web, nightowl.StatusUp))
	all = append(all, "resolved chat[0]", "resolved primary[0]", "resolved primary[1]", "resolved secondary[0]")
	wantQueued(t, f.queued(t), all...)
	if open := f.m.Open(); len(open) != 0 {
		t.Fatalf("open after recovery: %+v", open)
	}
	got, err := f.store.Alert(context.Background(), a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != nightowl.AlertResolved || got.AckedBy != "ana" || !got.ResolvedAt.Equal(t0.Add(10*time.Hour)) {
		t.Fatalf("stored = %+v", got)
	}
	if _, _, err := f.m.Ack(context.Background(), a.ID, "ana"); nightowl.ErrorCode(err) != nightowl.EConflict {
		t.Fatalf("ack of a resolved alert: %v, want conflict", err)
	}
	if _, _, err := f.m.Ack(context.Background(), "nosuch", "ana"); nightowl.ErrorCode(err) != nightowl.ENotFound {
		t.Fatalf("ack of an unknown alert: %v, want not_found", err)
	}
}

func TestRepeatsMissedWhileAwayAreSentOnce(t *testing.T) {
	f := newFixture(t, policy())
	f.observe(t, view("shop", nil, nightowl.StatusDown))
	f.clock.Set(t0.Add(5 * time.Hour))
	f.escalate(t)
	wantQueued(t, f.queued(t), "firing chat[0]", "firing primary[0]", "firing primary[1]", "firing secondary[0]", "repeat secondary[0]")
	// The next repeat keeps to the grid counted from when the alert fired.
	if a := f.only(t); !a.NextAt.Equal(t0.Add(5*time.Hour + 15*time.Minute)) {
		t.Fatalf("next at %s, want 5h15m after firing", a.NextAt.Sub(t0))
	}
}

func TestResolvedWithoutSendResolved(t *testing.T) {
	pol := policy()
	pol.SendResolved = false
	f := newFixture(t, pol)
	f.observe(t, view("shop", nil, nightowl.StatusDown))
	f.observe(t, view("shop", nil, nightowl.StatusUp))
	wantQueued(t, f.queued(t), "firing chat[0]")
}

func TestDegradedAlertsOnlyWhereRouted(t *testing.T) {
	f := newFixture(t, policy())
	f.observe(t, view("shop", map[string]string{"tier": "web"}, nightowl.StatusDegraded))
	if n := len(f.m.Open()); n != 0 {
		t.Fatalf("a degraded web check opened %d alerts; its route does not ask for degraded", n)
	}
	f.observe(t, view("db1", map[string]string{"tier": "db"}, nightowl.StatusDegraded))
	a := f.only(t)
	if a.Severity != nightowl.SeverityWarning || a.Escalation != "database" {
		t.Fatalf("alert = %+v", a)
	}
	// Down, then back to degraded: one alert throughout, told nobody anew.
	f.observe(t, view("db1", map[string]string{"tier": "db"}, nightowl.StatusDown))
	f.observe(t, view("db1", map[string]string{"tier": "db"}, nightowl.StatusDegraded))
	if b := f.only(t); b.ID != a.ID {
		t.Fatalf("a second alert %s", b.ID)
	}
	wantQueued(t, f.queued(t), "firing primary[0]", "firing primary[1]")
}

func TestMaintenanceAndUnknownKeepTheAlert(t *testing.T) {
	f := newFixture(t, policy())
	f.observe(t, view("shop", nil, nightowl.StatusDown))
	f.observe(t, view("shop", nil, nightowl.StatusMaintenance))
	f.observe(t, view("shop", nil, nightowl.StatusUnknown))
	if f.only(t).State != nightowl.AlertFiring {
		t.Fatal("alert changed")
	}
	f.observe(t, view("shop", nil, nightowl.StatusPaused))
	if n := len(f.m.Open()); n != 0 {
		t.Fatal("pausing a check leaves its alert open")
	}
}

func TestRestartResumesEscalationAndReconciles(t *testing.T) {
	f := newFixture(t, policy())
	f.observe(t, view("shop", nil, nightowl.StatusDown))
	f.observe(t, view("cart", nil, nightowl.StatusDown))
	f.observe(t, view("gone", nil, nightowl.StatusDown))
	var shop nightowl.Alert
	for _, a := range f.m.Open() {
		if a.Check == "shop" {
			shop = a
		}
	}

	// A new manager on the same store, as after a crash: it finds the
	// alerts where they were.
	f.m = f.manager(t)
	if n := len(f.m.Open()); n != 3 {
		t.Fatalf("open after restart = %d, want 3", n)
	}
	f.clock.Set(t0.Add(5 * time.Minute))
	f.escalate(t)
	// cart recovered while the server was down (its state says up), and
	// gone was removed from the config.
	err := f.m.Reconcile(context.Background(), []nightowl.CheckView{
		view("shop", nil, nightowl.StatusDown), view("cart", nil, nightowl.StatusUp),
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	a := f.only(t)
	if a.ID != shop.ID || a.Escalated != 2 {
		t.Fatalf("after reconcile: %+v", a)
	}
	got := f.queued(t)
	want := []string{"firing chat[0]", "firing chat[0]", "firing chat[0]",
		"firing primary[0]", "firing primary[1]", "firing primary[0]", "firing primary[1]", "firing primary[0]", "firing primary[1]",
		"resolved chat[0]", "resolved primary[0]", "resolved primary[1]", "resolved chat[0]", "resolved primary[0]", "resolved primary[1]"}
	wantQueued(t, got, want...)
}

func TestNoRouteOpensAnAlertThatNotifiesNobody(t *testing.T) {
	pol := policy()
	pol.Routes = pol.Routes[:1] // only tier=db
	f := newFixture(t, pol)
	f.observe(t, view("shop", nil, nightowl.StatusDown))
	if a := f.only(t); a.Escalation != "" || !a.NextAt.IsZero() {
		t.Fatalf("alert = %+v", a)
	}
	wantQueued(t, f.queued(t))
}

func TestMessagesCarrySignedLinks(t *testing.T) {
	f := newFixture(t, policy())
	f.observe(t, view("shop", nil, nightowl.StatusDown))
	ns, err := f.store.Notifications(context.Background(), nightowl.NotificationQuery{})
	if err != nil || len(ns) != 1 {
		t.Fatalf("notifications = %v, %v", ns, err)
	}
	m := ns[0].Message
	if m.DashboardURL != "https://owl.example.com/admin/checks/shop" {
		t.Errorf("dashboard = %q", m.DashboardURL)
	}
	u, err := url.Parse(m.AckURL)
	if err != nil || u.Path != "/ack/"+ns[0].AlertID {
		t.Fatalf("ack url %q: %v", m.AckURL, err)
	}
	if err := f.signer.Verify(ns[0].AlertID, u.Query(), t0.Add(23*time.Hour)); err != nil {
		t.Errorf("link refused within its day: %v", err)
	}
	if err := f.signer.Verify(ns[0].AlertID, u.Query(), t0.Add(25*time.Hour)); !errors.Is(err, acklink.ErrExpired) {
		t.Errorf("link after its day: %v, want expired", err)
	}
	if err := f.signer.Verify("other", u.Query(), t0); !errors.Is(err, acklink.ErrForged) {
		t.Errorf("link for another alert: %v, want forged", err)
	}
}

// TestFleetDownAtOnce opens the alerts of many checks that fail at the same
// moment, from many goroutines as the engine's workers would, while people
// acknowledge them: one alert per check, every notification queued once.
func TestFleetDownAtOnce(t *testing.T) {
	f := newFixture(t, policy())
	const n = 200
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v := view(fmt.Sprintf("c%03d", i), nil, nightowl.StatusDown)
			f.observe(t, v)
			f.observe(t, v)
		}()
	}
	acked := make(chan int, 1)
	go func() {
		k := 0
		for _, a := range f.m.Open() {
			if _, _, err := f.m.Ack(context.Background(), a.ID, "ana"); err == nil {
				k++
			}
		}
		acked <- k
	}()
	wg.Wait()
	k := <-acked
	open := f.m.Open()
	if len(open) != n {
		t.Fatalf("open alerts = %d, want %d", len(open), n)
	}
	got := f.queued(t)
	firing, acks := 0, 0
	for _, q := range got {
		switch q {
		case "firing chat[0]":
			firing++
		case "acknowledged chat[0]":
			acks++
		}
	}
	if firing != n || acks != k || len(got) != n+k {
		t.Fatalf("queued %d firing and %d acknowledged of %d, want %d and %d", firing, acks, len(got), n, k)
	}
}

// BenchmarkFleetDown opens b.N alerts from 64 goroutines, each with one
// notification, on a real SQLite file: what a fleet going down at once
// costs. Concurrent changes share transactions and fsyncs.
func BenchmarkFleetDown(b *testing.B) {
	f := newFixture(b, policy())
	b.ResetTimer()
	var next atomic.Int64
	b.SetParallelism(32)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1)
			if err := f.m.Observe(context.Background(), view(fmt.Sprintf("c%d", i), nil, nightowl.StatusDown)); err != nil {
				b.Error(err)
			}
		}
	})
}

func TestAlertDuringMaintenanceSaysWhatWasNotExpected(t *testing.T) {
	f := newFixture(t, policy())
	v := view("shop", nil, nightowl.StatusDown)
	v.Last.Assertions = []nightowl.AssertionResult{
		{Name: "writable", Message: `body contains "read-only mode"`},
		{Name: "site_writable", Message: `body contains "this site is read-only"`},
	}
	v.Last.Maintenance = &nightowl.MaintenanceNote{Windows: []string{"march-failover"}, Unexpected: []string{"site_writable"}}
	f.observe(t, v)
	want := `during maintenance march-failover — not expected: site_writable (body contains "this site is read-only")`
	if a := f.only(t); a.Maintenance != want {
		t.Fatalf("maintenance note = %q, want %q", a.Maintenance, want)
	}
	ns, _ := f.store.Notifications(context.Background(), nightowl.NotificationQuery{})
	r, err := kit.NewRenderer(kit.Templates{})
	if err != nil {
		t.Fatal(err)
	}
	if text := r.Text(&ns[0].Message); !strings.Contains(text, want) {
		t.Fatalf("the message does not say it:\n%s", text)
	}
}

func TestNotRecoveredAfterMaintenance(t *testing.T) {
	f := newFixture(t, policy())
	ctx := context.Background()
	w := &nightowl.Window{ID: "march-failover", Name: "march-failover"}
	web := map[string]string{"tier": "web"}

	// Degraded after the window: its route does not page for degraded,
	// but not recovering after maintenance does, and critically.
	v := view("shop", web, nightowl.StatusDegraded)
	if err := f.m.NotRecovered(ctx, v, w, 0, 10*time.Minute); err != nil {
		t.Fatal(err)
	}
	a := f.only(t)
	if a.Severity != nightowl.SeverityCritical || a.NotRecovered != "march-failover" ||
		!strings.HasPrefix(a.Cause, "not recovered 10m after maintenance march-failover: ") {
		t.Fatalf("alert = %+v", a)
	}
	wantQueued(t, f.queued(t), "firing chat[0]")
	// Still degraded: stays open; at again_after, paged again.
	f.observe(t, v)
	if err := f.m.NotRecovered(ctx, v, w, 1, time.Hour); err != nil {
		t.Fatal(err)
	}
	wantQueued(t, f.queued(t), "firing chat[0]", "repeat chat[0]")
	if a := f.only(t); a.Maintenance != "not recovered 1h after maintenance march-failover" {
		t.Fatalf("note = %q", a.Maintenance)
	}
	// Acknowledged: annotated, nobody paged again.
	if _, _, err := f.m.Ack(ctx, a.ID, "ana"); err != nil {
		t.Fatal(err)
	}
	if err := f.m.NotRecovered(ctx, v, w, 2, 2*time.Hour); err != nil {
		t.Fatal(err)
	}
	wantQueued(t, f.queued(t), "firing chat[0]", "repeat chat[0]", "acknowledged chat[0]")
	f.observe(t, view("shop", web, nightowl.StatusUp))
	if n := len(f.m.Open()); n != 0 {
		t.Fatal("recovery did not resolve it")
	}
}

// TestTwoNodesShareAlerts: two nodes on one store, as in a cluster. Only
// the node that runs a check escalates its alert; an acknowledgement made
// on the other node stops that escalation; and when the check moves, the
// new owner carries the alert on and resolves it.
func TestTwoNodesShareAlerts(t *testing.T) {
	f := newFixture(t, policy())
	owner := "a"
	node := func(name string) *notify.Manager {
		m, err := notify.NewManager(context.Background(), notify.ManagerOptions{
			Store: f.store, Clock: f.clock, Logger: slog.New(slog.DiscardHandler), Policy: f.pol,
			Owns: func(string) bool { return owner == name },
		})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	a, b := node("a"), node("b")
	ctx := context.Background()
	web := map[string]string{"tier": "web"}
	if err := a.Observe(ctx, view("shop", web, nightowl.StatusDown)); err != nil {
		t.Fatal(err)
	}
	wantQueued(t, f.queued(t), "firing chat[0]")
	id := a.Open()[0].ID

	// b does not escalate a's alert, even when it knows of it.
	f.clock.Advance(5 * time.Minute)
	if err := b.Adopt(ctx, []string{"shop"}); err != nil {
		t.Fatal(err)
	}
	b.Escalate(ctx)
	wantQueued(t, f.queued(t), "firing chat[0]")
	a.Escalate(ctx)
	wantQueued(t, f.queued(t), "firing chat[0]", "firing primary[0]", "firing primary[1]")

	// Acknowledged through b: a's next step is not sent.
	acked, _, err := b.Ack(ctx, id, "ana")
	if err != nil || acked.State != nightowl.AlertAcknowledged {
		t.Fatalf("ack on the other node: %+v %v", acked, err)
	}
	f.clock.Advance(10 * time.Minute)
	a.Escalate(ctx)
	if got := f.queued(t); slices.Contains(got, "firing secondary[0]") {
		t.Fatalf("escalated after an acknowledgement on another node:\n%s", strings.Join(got, "\n"))
	}

	// The check moves to b, which resolves the alert when it recovers.
	owner = "b"
	if err := b.Adopt(ctx, []string{"shop"}); err != nil {
		t.Fatal(err)
	}
	if err := b.Observe(ctx, view("shop", web, nightowl.StatusUp)); err != nil {
		t.Fatal(err)
	}
	stored, err := f.store.Alert(ctx, id)
	if err != nil || stored.State != nightowl.AlertResolved || stored.AckedBy != "ana" {
		t.Fatalf("after b resolved it: %+v %v", stored, err)
	}
	got := f.queued(t)
	if got[len(got)-1] != "resolved primary[1]" || strings.Count(strings.Join(got, ","), "resolved") != 3 {
		t.Fatalf("resolved notifications:\n%s", strings.Join(got, "\n"))
	}
}

// clusterNodes returns two managers over f's store, as two nodes of a
// cluster; a runs every check.
func clusterNodes(t *testing.T, f *fixture) (a, b *notify.Manager) {
	t.Helper()
	node := func(name string) *notify.Manager {
		m, err := notify.NewManager(context.Background(), notify.ManagerOptions{
			Store: f.store, Clock: f.clock, Logger: slog.New(slog.DiscardHandler), Policy: f.pol,
			Owns: func(string) bool { return name == "a" },
		})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	return node("a"), node("b")
}

// kinds counts the alert's queued notifications by kind.
func (f *fixture) kinds(t *testing.T, id string) map[nightowl.MessageKind][]string {
	t.Helper()
	ns, err := f.store.Notifications(context.Background(), nightowl.NotificationQuery{AlertID: id, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	out := map[nightowl.MessageKind][]string{}
	for _, n := range ns {
		out[n.Message.Kind] = append(out[n.Message.Kind], n.Receiver)
	}
	for _, rs := range out {
		slices.Sort(rs)
	}
	return out
}

func TestTwoNodesAckAtOnce(t *testing.T) {
	f := newFixture(t, policy())
	a, b := clusterNodes(t, f)
	ctx := context.Background()
	web := map[string]string{"tier": "web"}
	for round := range 40 {
		if err := a.Observe(ctx, view("shop", web, nightowl.StatusDown)); err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(5 * time.Minute)
		if _, err := a.Escalate(ctx); err != nil {
			t.Fatal(err)
		}
		id := a.Open()[0].ID

		type result struct {
			al    nightowl.Alert
			acked bool
			err   error
		}
		results := make(chan result, 2)
		var start sync.WaitGroup
		start.Add(1)
		for _, n := range []struct {
			m  *notify.Manager
			by string
		}{{a, "ana"}, {b, "bo"}} {
			go func() {
				start.Wait()
				al, acked, err := n.m.Ack(ctx, id, n.by)
				results <- result{al, acked, err}
			}()
		}
		start.Done()
		acks := 0
		var by []string
		for range 2 {
			r := <-results
			if r.err != nil || r.al.State != nightowl.AlertAcknowledged {
				t.Fatalf("round %d: Ack = %s by %q, %v; want acknowledged", round, r.al.State, r.al.AckedBy, r.err)
			}
			if r.acked {
				acks++
			}
			by = append(by, r.al.AckedBy)
		}
		stored, err := f.store.Alert(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		// One acknowledgement, which both answers name, and one
		// message to each receiver told of the alert.
		if acks != 1 || by[0] != by[1] || by[0] != stored.AckedBy {
			t.Fatalf("round %d: %d acknowledged, by %v, stored by %q; want one, the stored one", round, acks, by, stored.AckedBy)
		}
		want := slices.Sorted(slices.Values(stored.Notified))
		if got := f.kinds(t, id)[nightowl.MessageAcknowledged]; !slices.Equal(got, want) {
			t.Fatalf("round %d: acknowledged messages to %v, want one to each of %v", round, got, want)
		}
		if err := a.Observe(ctx, view("shop", web, nightowl.StatusUp)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestAckRacesEscalation(t *testing.T) {
	f := newFixture(t, policy())
	a, b := clusterNodes(t, f)
	ctx := context.Background()
	web := map[string]string{"tier": "web"}
	for round := range 40 {
		if err := a.Observe(ctx, view("shop", web, nightowl.StatusDown)); err != nil {
			t.Fatal(err)
		}
		id := a.Open()[0].ID
		// The primary step falls due as b's user acknowledges.
		f.clock.Advance(5 * time.Minute)
		errs := make(chan error, 2)
		var start sync.WaitGroup
		start.Add(1)
		go func() {
			start.Wait()
			_, err := a.Escalate(ctx)
			errs <- err
		}()
		go func() {
			start.Wait()
			_, _, err := b.Ack(ctx, id, "bo")
			errs <- err
		}()
		start.Done()
		for range 2 {
			if err := <-errs; err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
		stored, err := f.store.Alert(ctx, id)
		if err != nil || stored.State != nightowl.AlertAcknowledged || stored.AckedBy != "bo" {
			t.Fatalf("round %d: stored %s by %q, %v; want acknowledged by bo", round, stored.State, stored.AckedBy, err)
		}
		// Whoever came first, everyone told of the alert hears of the
		// acknowledgement once, and no step follows it.
		before := f.kinds(t, id)
		if want := slices.Sorted(slices.Values(stored.Notified)); !slices.Equal(before[nightowl.MessageAcknowledged], want) {
			t.Fatalf("round %d: acknowledged messages to %v, want one to each of %v", round, before[nightowl.MessageAcknowledged], want)
		}
		f.clock.Advance(time.Hour)
		if _, err := a.Escalate(ctx); err != nil {
			t.Fatal(err)
		}
		if after := f.kinds(t, id); len(after[nightowl.MessageFiring]) != len(before[nightowl.MessageFiring]) || len(after[nightowl.MessageRepeat]) != 0 {
			t.Fatalf("round %d: escalated after the acknowledgement: %v, then %v", round, before, after)
		}
		if err := a.Observe(ctx, view("shop", web, nightowl.StatusUp)); err != nil {
			t.Fatal(err)
		}
	}
}
