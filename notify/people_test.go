package notify_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/notify"
)

// people is a fake directory: who is on call in each schedule (changing
// at a time), and each user's contact methods.
type people struct {
	onCall func(schedule string, t time.Time) string
	reach  map[string][]notify.Reach
	err    error
}

func (p *people) OnCall(_ context.Context, schedule string, t time.Time) (string, error) {
	if p.err != nil {
		return "", p.err
	}
	return p.onCall(schedule, t), nil
}

func (p *people) Reach(_ context.Context, user string) ([]notify.Reach, error) {
	return p.reach[user], nil
}

func peoplePolicy() notify.Policy {
	return notify.Policy{
		Routes: []notify.Route{{Escalation: "oncall"}},
		Escalations: map[string]*notify.Escalation{"oncall": {Steps: []notify.Step{
			{Schedule: "primary"}, {After: 10 * time.Minute, Schedule: "secondary"}, {After: 20 * time.Minute, User: "cy"},
			{After: 30 * time.Minute, Notify: "chat"},
		}}},
		Groups:       map[string][]string{"chat": {"chat[0]"}},
		SendResolved: true,
	}
}

func anaAndBo() *people {
	return &people{
		onCall: func(schedule string, t time.Time) string {
			switch schedule {
			case "primary":
				return "ana"
			case "secondary":
				return "bo"
			}
			return ""
		},
		reach: map[string][]notify.Reach{
			// Push at once, SMS after 5 minutes if nobody acknowledged.
			"ana": {{Receiver: "contact:ana-push"}, {Receiver: "contact:ana-sms", After: 5 * time.Minute}},
			"bo":  {{Receiver: "contact:bo-hook"}},
			"cy":  {{Receiver: "contact:cy-mail"}},
		},
	}
}

// pending lists the pending notifications as "KIND RECEIVER @ +DUE".
func (f *fixture) pending(t *testing.T) map[string]nightowl.Notification {
	t.Helper()
	ns, err := f.store.Notifications(context.Background(), nightowl.NotificationQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]nightowl.Notification{}
	for _, n := range ns {
		out[string(n.Message.Kind)+" "+n.Receiver] = n
	}
	return out
}

func TestPagesWhoIsOnCall(t *testing.T) {
	f := newFixtureWith(t, peoplePolicy(), anaAndBo())
	f.observe(t, view("shop", nil, nightowl.StatusDown))
	// The first step pages ana, on call in primary, by her own rules:
	// push now, SMS in five minutes unless acknowledged.
	wantQueued(t, f.queued(t), "firing contact:ana-push", "firing contact:ana-sms")
	ns := f.pending(t)
	if sms := ns["firing contact:ana-sms"]; !sms.NextAt.Equal(t0.Add(5*time.Minute)) || !sms.UntilAck {
		t.Errorf("the SMS: %+v, want due at +5m and cancelled by an ack", sms)
	}
	push := ns["firing contact:ana-push"]
	if !push.NextAt.Equal(t0) || !push.UntilAck {
		t.Errorf("the push: %+v", push)
	}
	// The message names who is on call and how to acknowledge.
	if m := push.Message; strings.Join(m.Alert.OnCall, ",") != "ana (primary)" || m.AckURL == "" {
		t.Errorf("message: on call %v, ack %q", m.Alert.OnCall, m.AckURL)
	}
	a := f.only(t)
	if len(a.Steps) != 1 || a.Steps[0].User != "ana" || a.Steps[0].Target != "schedule primary" || a.Steps[0].Contacts != 2 {
		t.Errorf("steps = %+v", a.Steps)
	}

	// Nobody acknowledges: the secondary after the step's delay.
	f.clock.Set(t0.Add(10 * time.Minute))
	f.escalate(t)
	wantQueued(t, f.queued(t), "firing contact:ana-push", "firing contact:ana-sms", "firing contact:bo-hook")
	if m := f.pending(t)["firing contact:bo-hook"].Message; strings.Join(m.Alert.OnCall, ",") != "ana (primary),bo (secondary)" {
		t.Errorf("bo's page names %v", m.Alert.OnCall)
	}

	// Acknowledged before cy's step: the escalation stops, those paged
	// first hear it, and nothing else goes.
	f.clock.Set(t0.Add(12 * time.Minute))
	if _, _, err := f.m.Ack(context.Background(), a.ID, "bo"); err != nil {
		t.Fatal(err)
	}
	f.clock.Set(t0.Add(time.Hour))
	f.escalate(t)
	wantQueued(t, f.queued(t), "firing contact:ana-push", "firing contact:ana-sms", "firing contact:bo-hook",
		"acknowledged contact:ana-push", "acknowledged contact:bo-hook")
	// ana's SMS, not yet due, was cancelled by the ack.
	if st := f.pending(t)["firing contact:ana-sms"].State; st != nightowl.NotificationCancelled {
		t.Errorf("ana's SMS after the ack is %q, want cancelled", st)
	}
	f.observe(t, view("shop", nil, nightowl.StatusUp))
	q := f.queued(t)
	wantQueued(t, q[len(q)-2:], "resolved contact:ana-push", "resolved contact:bo-hook")
}

func newFixtureWith(t *testing.T, pol notify.Policy, p notify.People) *fixture {
	f := newFixture(t, pol)
	f.people = p
	f.m = f.manager(t)
	return f
}

// TestNobodyOnCallFallsThrough: a step that reaches nobody is recorded and
// the next step is taken at once, not at its own time.
func TestNobodyOnCallFallsThrough(t *testing.T) {
	p := anaAndBo()
	p.onCall = func(schedule string, _ time.Time) string {
		if schedule == "secondary" {
			return "bo"
		}
		return "" // a gap in primary
	}
	f := newFixtureWith(t, peoplePolicy(), p)
	f.observe(t, view("shop", nil, nightowl.StatusDown))
	wantQueued(t, f.queued(t), "firing contact:bo-hook")
	a := f.only(t)
	if len(a.Steps) != 2 || a.Steps[0].Note != "nobody is on call in primary" || a.Steps[0].User != "" || a.Steps[1].User != "bo" {
		t.Fatalf("steps = %+v", a.Steps)
	}
	if !a.NextAt.Equal(t0.Add(20 * time.Minute)) {
		t.Errorf("next step at %v, want cy's at +20m", a.NextAt.Sub(t0))
	}

	// cy has no verified contact method: the chat step follows at once.
	delete(p.reach, "cy")
	f.clock.Set(t0.Add(20 * time.Minute))
	f.escalate(t)
	wantQueued(t, f.queued(t), "firing contact:bo-hook", "firing chat[0]")
	a = f.only(t)
	if n := len(a.Steps); n != 4 || a.Steps[2].Note != "cy has no verified contact method" || a.Steps[3].Target != "receivers chat" {
		t.Errorf("steps = %+v", a.Steps)
	}
	// Every message names who is on call, the chat's too.
	if m := f.pending(t)["firing chat[0]"].Message; strings.Join(m.Alert.OnCall, ",") != "bo (secondary)" {
		t.Errorf("the chat's message names %v", m.Alert.OnCall)
	}
}

// TestDirectoryDown: when who is on call cannot be told, the step says so
// and falls through; the escalation goes on.
func TestDirectoryDown(t *testing.T) {
	p := anaAndBo()
	p.err = errors.New("store unreachable")
	pol := peoplePolicy()
	pol.Escalations["oncall"].Steps = []notify.Step{{Schedule: "primary"}, {After: time.Minute, Notify: "chat"}}
	f := newFixtureWith(t, pol, p)
	f.observe(t, view("shop", nil, nightowl.StatusDown))
	wantQueued(t, f.queued(t), "firing chat[0]")
	if a := f.only(t); !strings.HasPrefix(a.Steps[0].Note, "could not tell who is on call") {
		t.Errorf("steps = %+v", a.Steps)
	}
}
