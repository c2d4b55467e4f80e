package notify_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
)

func blockedView(name, root string) nightowl.CheckView {
	v := view(name, map[string]string{"tier": "worker"}, nightowl.StatusBlocked)
	v.State.BlockedBy, v.State.Cause = root, "blocked: "+root+" is down"
	return v
}

// TestBlockedChecksJoinTheRootsAlert: a blocked check opens no alert; it
// is listed on its root cause's alert, and those notified hear of the
// checks that joined in one update after the wait, at most one per
// interval; the root's resolution names them; a check no longer blocked
// leaves the list.
func TestBlockedChecksJoinTheRootsAlert(t *testing.T) {
	// redis matches the last route, which sets no group_wait: its alert
	// is told at once, and updates wait 30s, then come at most every 5m.
	f := newFixture(t, policy())
	ctx := context.Background()

	// One worker is blocked before the root's alert fires: the alert
	// lists it from the start.
	f.observe(t, blockedView("worker-0", "redis"))
	if open := f.m.Open(); len(open) != 0 {
		t.Fatalf("a blocked check opened an alert: %+v", open)
	}
	f.observe(t, view("redis", nil, nightowl.StatusDown))
	a := f.only(t)
	if !slices.Equal(a.Blocked, []string{"worker-0"}) {
		t.Fatalf("blocked on the new alert: %v", a.Blocked)
	}
	wantQueued(t, f.queued(t), "firing chat[0]")

	// Ten workers join within seconds: one update, the wait after the
	// first.
	for i := 1; i <= 10; i++ {
		f.clock.Set(t0.Add(time.Duration(i) * time.Second))
		f.observe(t, blockedView("worker-"+string(rune('0'+i%10))+string(rune('a'+i)), "redis"))
	}
	if n := len(f.m.Open()); n != 1 {
		t.Fatalf("%d open alerts, want only redis's", n)
	}
	f.clock.Set(t0.Add(30 * time.Second))
	f.escalate(t)
	wantQueued(t, f.queued(t), "firing chat[0]")
	f.clock.Set(t0.Add(31 * time.Second))
	f.escalate(t)
	wantQueued(t, f.queued(t), "firing chat[0]", "update chat[0]")
	a = f.only(t)
	if len(a.Blocked) != 11 || !a.UpdateAt.IsZero() {
		t.Fatalf("after the update: blocked %v, update at %v", a.Blocked, a.UpdateAt)
	}
	ns, err := f.store.Notifications(ctx, nightowl.NotificationQuery{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if got := ns[0].Message; got.Kind != nightowl.MessageUpdate || len(got.Alert.Blocked) != 11 || !got.Alert.UpdateAt.IsZero() {
		t.Fatalf("update message: %+v", got)
	}

	// Another joins a minute later: told no sooner than five minutes
	// after the last update; the escalation step due before then goes
	// out on its own time, and the receivers it adds hear of every
	// blocked check in it.
	f.clock.Set(t0.Add(2 * time.Minute))
	f.observe(t, blockedView("worker-late", "redis"))
	f.clock.Set(t0.Add(5*time.Minute + 30*time.Second))
	f.escalate(t)
	wantQueued(t, f.queued(t), "firing chat[0]", "update chat[0]", "firing primary[0]", "firing primary[1]")
	f.clock.Set(t0.Add(5*time.Minute + 31*time.Second))
	f.escalate(t)
	wantQueued(t, f.queued(t), "firing chat[0]", "update chat[0]", "firing primary[0]", "firing primary[1]",
		"update chat[0]", "update primary[0]", "update primary[1]")

	// worker-0 recovers on its own: it leaves the list, and nobody is told.
	f.observe(t, view("worker-0", map[string]string{"tier": "worker"}, nightowl.StatusUp))
	if a = f.only(t); slices.Contains(a.Blocked, "worker-0") || len(a.Blocked) != 11 {
		t.Fatalf("after worker-0 recovered: blocked %v", a.Blocked)
	}

	// The root recovers: its resolution lists those still blocked.
	f.clock.Set(t0.Add(7 * time.Minute))
	f.observe(t, view("redis", nil, nightowl.StatusUp))
	ns, err = f.store.Notifications(ctx, nightowl.NotificationQuery{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if got := ns[0].Message; got.Kind != nightowl.MessageResolved || len(got.Alert.Blocked) != 11 {
		t.Fatalf("resolved message: %+v", got)
	}
}

// TestGroupWaitHoldsTheFirstPage: with the route's group_wait, a new
// alert's first message waits for it, and lists every check blocked by
// then, with no update after; an alert that resolves within the wait is
// told to nobody.
func TestGroupWaitHoldsTheFirstPage(t *testing.T) {
	pol := policy()
	last := &pol.Routes[len(pol.Routes)-1]
	last.GroupWait = 20 * time.Second
	f := newFixture(t, pol)
	f.observe(t, view("redis", nil, nightowl.StatusDown))
	for i := 1; i <= 3; i++ {
		f.clock.Set(t0.Add(time.Duration(i) * time.Second))
		f.observe(t, blockedView("worker-"+string(rune('0'+i)), "redis"))
	}
	f.clock.Set(t0.Add(19 * time.Second))
	f.escalate(t)
	wantQueued(t, f.queued(t))
	f.clock.Set(t0.Add(20 * time.Second))
	f.escalate(t)
	wantQueued(t, f.queued(t), "firing chat[0]")
	ns, err := f.store.Notifications(context.Background(), nightowl.NotificationQuery{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if b := ns[0].Message.Alert.Blocked; len(b) != 3 {
		t.Errorf("the first page lists %v blocked", b)
	}
	f.clock.Set(t0.Add(time.Hour))
	f.escalate(t)
	wantQueued(t, f.queued(t), "firing chat[0]", "firing primary[0]", "firing primary[1]", "firing secondary[0]", "repeat secondary[0]")

	// A check that goes down and back within the wait: nobody hears.
	f.observe(t, view("flaky", nil, nightowl.StatusDown))
	f.clock.Set(t0.Add(time.Hour + 10*time.Second))
	f.escalate(t)
	f.observe(t, view("flaky", nil, nightowl.StatusUp))
	f.clock.Set(t0.Add(time.Hour + time.Minute))
	f.escalate(t)
	if n := len(f.queued(t)); n != 5 {
		t.Errorf("%d notifications, want the 5 of redis's alert: flaky was told; %v", n, f.queued(t))
	}
}

// TestBlockedSurvivesARestart: a manager started afresh learns which
// checks are blocked from the views Reconcile hands it, and lists them.
func TestBlockedSurvivesARestart(t *testing.T) {
	f := newFixture(t, policy())
	f.observe(t, view("redis", nil, nightowl.StatusDown))
	f.m = f.manager(t)
	views := []nightowl.CheckView{view("redis", nil, nightowl.StatusDown), blockedView("worker-1", "redis")}
	if err := f.m.Reconcile(context.Background(), views, nil); err != nil {
		t.Fatal(err)
	}
	if a := f.only(t); !slices.Equal(a.Blocked, []string{"worker-1"}) {
		t.Fatalf("blocked after a restart: %v", a.Blocked)
	}
}

// TestFlappingAlert: a flapping check has one alert, which a change
// underneath does not touch, and which resolves when the check settles up;
// a check that was down already keeps its alert, now flapping, and nobody
// is told again.
func TestFlappingAlert(t *testing.T) {
	f := newFixture(t, policy())
	flap := func(name string) nightowl.CheckView {
		v := view(name, nil, nightowl.StatusFlapping)
		v.State.Underlying, v.State.Cause = nightowl.StatusDown, "flapping: 6 status changes in 15m; now down: up failed"
		return v
	}
	f.observe(t, flap("wobbly"))
	a := f.only(t)
	if a.Status != nightowl.StatusFlapping || a.Cause != "flapping: 6 status changes in 15m; now down: up failed" {
		t.Fatalf("alert of a flapping check: %+v", a)
	}
	f.observe(t, flap("wobbly"))
	wantQueued(t, f.queued(t), "firing chat[0]")
	f.observe(t, view("wobbly", nil, nightowl.StatusUp))
	wantQueued(t, f.queued(t), "firing chat[0]", "resolved chat[0]")

	f.observe(t, view("steady-down", nil, nightowl.StatusDown))
	f.observe(t, flap("steady-down"))
	if a := f.only(t); a.Status != nightowl.StatusFlapping {
		t.Errorf("a down check's alert once it flaps: %+v", a)
	}
	wantQueued(t, f.queued(t), "firing chat[0]", "resolved chat[0]", "firing chat[0]")
}
