package notify_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
)

// TestGroupBy: thirty alerts of one route, with the same value of its
// group_by label, opened within its group_wait: one message, from the
// first, listing the other twenty-nine; five resolve, and one update
// after the wait tells it; escalation and acknowledgement act on the
// group; another value of the label is another group; the group's alert
// stays open while any of its alerts fires, and resolves with the last.
func TestGroupBy(t *testing.T) {
	pol := policy()
	last := &pol.Routes[len(pol.Routes)-1]
	last.GroupBy, last.GroupWait, last.GroupInterval = []string{"site"}, 30*time.Second, 2*time.Minute
	f := newFixture(t, pol)
	ctx := context.Background()
	site := map[string]string{"site": "math"}
	name := func(i int) string { return fmt.Sprintf("web-%02d", i) }
	f.observe(t, view("other", map[string]string{"site": "blog"}, nightowl.StatusDown))
	for i := 1; i <= 30; i++ {
		f.clock.Set(t0.Add(time.Duration(i) * 500 * time.Millisecond))
		f.observe(t, view(name(i), site, nightowl.StatusDown))
	}
	f.clock.Set(t0.Add(29 * time.Second))
	f.escalate(t)
	wantQueued(t, f.queued(t))
	f.clock.Set(t0.Add(31 * time.Second))
	f.escalate(t)
	// One message for each group: math's and blog's.
	wantQueued(t, f.queued(t), "firing chat[0]", "firing chat[0]")
	ns, err := f.store.Notifications(ctx, nightowl.NotificationQuery{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var lead nightowl.Alert
	for _, n := range ns {
		if n.Message.Alert.Check == name(1) {
			lead = n.Message.Alert
		}
	}
	if !lead.Leader || lead.Group == "" || len(lead.Grouped) != 29 || lead.Grouped[0] != name(2) {
		t.Fatalf("the group's message: leader %v, group %q, %d grouped", lead.Leader, lead.Group, len(lead.Grouped))
	}

	// Five resolve: one update, after the wait.
	f.clock.Set(t0.Add(time.Minute))
	for i := 26; i <= 30; i++ {
		f.observe(t, view(name(i), site, nightowl.StatusUp))
	}
	f.clock.Set(t0.Add(time.Minute + 29*time.Second))
	f.escalate(t)
	wantQueued(t, f.queued(t), "firing chat[0]", "firing chat[0]")
	f.clock.Set(t0.Add(time.Minute + 30*time.Second))
	f.escalate(t)
	wantQueued(t, f.queued(t), "firing chat[0]", "firing chat[0]", "update chat[0]")
	ns, _ = f.store.Notifications(ctx, nightowl.NotificationQuery{Limit: 1})
	if g := ns[0].Message.Alert.Grouped; len(g) != 24 {
		t.Errorf("the update lists %d still firing with the leader, want 24", len(g))
	}

	// The group escalates as one: primary hears of it once, at 5m.
	f.clock.Set(t0.Add(5*time.Minute + time.Second))
	f.escalate(t)
	wantQueued(t, f.queued(t), "firing chat[0]", "firing chat[0]", "update chat[0]",
		"firing primary[0]", "firing primary[1]", "firing primary[0]", "firing primary[1]")

	// One of the group acknowledged alone: only it.
	var leadID, secondID string
	for _, a := range f.m.Open() {
		switch a.Check {
		case name(1):
			leadID = a.ID
		case name(2):
			secondID = a.ID
		}
	}
	if _, _, err := f.m.Ack(ctx, secondID, "bo"); err != nil {
		t.Fatal(err)
	}
	for _, a := range f.m.Open() {
		if want := a.Check == name(2); (a.State == nightowl.AlertAcknowledged) != want {
			t.Errorf("after %s alone was acknowledged, %s is %s", name(2), a.Check, a.State)
		}
	}

	// Acknowledging the leader acknowledges the group.
	if _, _, err := f.m.Ack(ctx, leadID, "ana"); err != nil {
		t.Fatal(err)
	}
	for _, a := range f.m.Open() {
		if a.Group == lead.Group && a.State != nightowl.AlertAcknowledged {
			t.Errorf("%s in the acknowledged group: %s", a.Check, a.State)
		}
		if a.Check == "other" && a.State != nightowl.AlertFiring {
			t.Errorf("the other group's alert was acknowledged too")
		}
	}

	// The leader's check recovers first: the group's alert stays open
	// until the last of the others does.
	f.observe(t, view(name(1), site, nightowl.StatusUp))
	for i := 2; i <= 24; i++ {
		f.observe(t, view(name(i), site, nightowl.StatusUp))
	}
	if a, err := f.store.Alert(ctx, leadID); err != nil || a.State != nightowl.AlertAcknowledged || !a.LeaderUp {
		t.Fatalf("the group's alert with one of it still firing: %+v, %v", a, err)
	}
	f.observe(t, view(name(25), site, nightowl.StatusUp))
	if a, err := f.store.Alert(ctx, leadID); err != nil || a.State != nightowl.AlertResolved {
		t.Fatalf("the group's alert once every one recovered: %+v, %v", a, err)
	}
}

// TestGroupLeaderUnderRace: the checks of a group that fail at the same
// moment, observed at once, make one leader between them, not one each.
func TestGroupLeaderUnderRace(t *testing.T) {
	pol := policy()
	last := &pol.Routes[len(pol.Routes)-1]
	last.GroupBy, last.GroupWait = []string{"site"}, 30*time.Second
	f := newFixture(t, pol)
	site := map[string]string{"site": "math"}
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Go(func() {
			if err := f.m.Observe(context.Background(), view(fmt.Sprintf("web-%02d", i), site, nightowl.StatusDown)); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	leaders, group := 0, ""
	for _, a := range f.m.Open() {
		if a.Leader {
			leaders++
		}
		if group == "" {
			group = a.Group
		} else if a.Group != group {
			t.Errorf("alert of %s is in group %q, another in %q", a.Check, a.Group, group)
		}
	}
	if leaders != 1 {
		t.Errorf("%d leaders for one group of 20 checks failing at once", leaders)
	}
}
