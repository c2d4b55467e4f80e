package heartbeat

import (
	"context"
	"encoding/base64"
	"reflect"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/clocktest"
)

// newNode is a tracker on one node of a cluster: its tokens are derived
// from key, and its store is the one the nodes share.
func newNode(t *testing.T, at time.Time, store *memStore, key []byte) *harness {
	t.Helper()
	h := &harness{
		t: t, clk: clocktest.New(at), store: store,
		reports: make(chan report, 10000), last: map[string]report{},
	}
	tr, err := New(Options{Clock: h.clk, Store: store, Logger: quietLog,
		TokenFor: func(check string) string { return DeriveToken(key, check) },
		Report:   func(check string, at time.Time, f nightowl.Facts) { h.reports <- report{check, at, f} }})
	if err != nil {
		t.Fatal(err)
	}
	h.tr = tr
	return h
}

func TestDerivedTokens(t *testing.T) {
	key, other := []byte("0123456789abcdef0123456789abcdef"), []byte("another key, another cluster....")
	t.Run("128 bits, written like generated ones, one per check and key", func(t *testing.T) {
		a := DeriveToken(key, "backup")
		raw, err := base64.RawURLEncoding.DecodeString(a)
		if err != nil || len(raw) != 16 || len(a) != 22 {
			t.Fatalf("DeriveToken = %q (%d bytes, %v)", a, len(raw), err)
		}
		if DeriveToken(key, "backup") != a {
			t.Error("the same check and key gave two tokens")
		}
		if DeriveToken(key, "backup2") == a || DeriveToken(other, "backup") == a {
			t.Error("another check or another key gave the same token")
		}
	})
	t.Run("every node gives the same URL, across restarts", func(t *testing.T) {
		checks := []Check{{Name: "backup", Spec: period(time.Hour, 0)}, {Name: "etl", Spec: period(time.Hour, 0)}}
		n1 := newNode(t, t0, newMemStore(), key)
		n2 := newNode(t, t0, newMemStore(), key) // nothing stored yet where it looks
		for _, n := range []*harness{n1, n2} {
			if err := n.tr.SetChecks(checks, nil); err != nil {
				t.Fatal(err)
			}
		}
		for _, c := range checks {
			t1, _ := n1.tr.Token(c.Name)
			t2, _ := n2.tr.Token(c.Name)
			if t1 != DeriveToken(key, c.Name) || t2 != t1 {
				t.Errorf("%s: tokens %q and %q, want both %q", c.Name, t1, t2, DeriveToken(key, c.Name))
			}
			if n1.store.beats[c.Name].Token != t1 {
				t.Errorf("%s: derived token not saved", c.Name)
			}
			if got, ok := n2.tr.CheckFor(t1); !ok || got != c.Name {
				t.Errorf("CheckFor(%s's token) = %q, %v", c.Name, got, ok)
			}
		}
	})
	t.Run("configured and stored tokens win", func(t *testing.T) {
		n := newNode(t, t0, newMemStore(), key)
		err := n.tr.SetChecks([]Check{
			{Name: "configured", Spec: withToken(period(time.Hour, 0), "from-config-token-cccc")},
			{Name: "stored", Spec: period(time.Hour, 0)},
		}, []nightowl.Heartbeat{{Check: "stored", Token: "handed-out-before-dddd", Since: t0}})
		if err != nil {
			t.Fatal(err)
		}
		for name, want := range map[string]string{"configured": "from-config-token-cccc", "stored": "handed-out-before-dddd"} {
			if got, _ := n.tr.Token(name); got != want {
				t.Errorf("token of %s = %q, want %q", name, got, want)
			}
		}
	})
	t.Run("a derived token taken by another check is refused, unnamed", func(t *testing.T) {
		n := newNode(t, t0, newMemStore(), key)
		taken := DeriveToken(key, "b")
		err := n.tr.SetChecks([]Check{
			{Name: "a", Spec: withToken(period(time.Hour, 0), taken)},
			{Name: "b", Spec: period(time.Hour, 0)},
		}, nil)
		if err == nil || strings.Contains(err.Error(), taken) {
			t.Fatalf("SetChecks = %v, want an error that does not name the token", err)
		}
		if _, ok := n.tr.Token("a"); ok {
			t.Error("a refused set of checks was applied")
		}
	})
}

// TestAdopt: a node taking a heartbeat check over carries on from what the
// last owner stored (last ping and success, open runs, due time), not from
// its own stale view, and reports nothing until told to.
func TestAdopt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		key := []byte("0123456789abcdef0123456789abcdef")
		store := newMemStore()
		checks := func() []Check { return []Check{{Name: "job", Spec: period(time.Hour, 10*time.Minute)}} }
		owner, other := newNode(t, t0, store, key), newNode(t, t0, store, key)
		owner.start(checks(), nil)
		other.start(checks(), nil)
		owner.next("job")
		other.next("job")
		token, _ := owner.tr.Token("job")

		at := func(d time.Duration) {
			owner.clk.Set(t0.Add(d))
			other.clk.Set(t0.Add(d))
		}
		at(50 * time.Minute)
		owner.ping(token, nightowl.PingStart, "r1", nil)
		at(55 * time.Minute)
		owner.ping(token, nightowl.PingSuccess, "r1", code(0))
		at(100 * time.Minute)
		owner.ping(token, nightowl.PingStart, "r2", nil)
		// The other node never saw a ping: by its own count the job is
		// overdue (due at 60m, grace 10m). That report is what the engine
		// drops, as the node does not hold the check.
		if r := other.next("job"); r.facts["overdue"] != true {
			t.Fatalf("the other node's stale view: %v", r.facts)
		}

		// Adopting reports nothing: the node reports the check once its
		// lease is in force.
		stored, _ := store.Heartbeats(context.Background())
		other.tr.Adopt(stored, []string{"job"})
		want, _ := owner.tr.Facts("job")
		if got, _ := other.tr.Facts("job"); !reflect.DeepEqual(got, want) {
			t.Errorf("facts after adopting: %v, want the owner's %v", got, want)
		}
		if got, _ := other.tr.Due("job"); !got.Equal(t0.Add(115 * time.Minute)) {
			t.Errorf("due after adopting: %s, want an hour after the owner's last success", got)
		}
		other.quiet("job")

		// The run the owner saw start ends on the new one.
		at(103 * time.Minute)
		if p := other.ping(token, nightowl.PingSuccess, "r2", nil); p.Duration == nil || time.Duration(*p.Duration) != 3*time.Minute {
			t.Errorf("the run started on the last owner ended with duration %v", p.Duration)
		}
		if r := other.next("job"); r.facts["overdue"] != false || r.facts["running"] != false {
			t.Errorf("after the success: %v", r.facts)
		}

		// What the node saw after the stored state is kept.
		// stored is from before the success at 103m: adopting it again
		// (the periodic refresh racing a takeover) must not undo it.
		other.tr.Adopt(stored, []string{"job"})
		if got, _ := other.tr.Due("job"); !got.Equal(t0.Add(163 * time.Minute)) {
			t.Errorf("due = %s, want an hour after the success at 103m", got)
		}
		if f, _ := other.tr.Facts("job"); f["running"] != false || f["exit_code"] != nil {
			t.Errorf("facts = %v", f)
		}

		// No stored state keeps the node's own, and saves it.
		empty := newMemStore()
		n := newNode(t, t0, empty, key)
		n.start(checks(), []nightowl.Heartbeat{{Check: "job", Since: t0.Add(-time.Minute)}})
		n.next("job")
		delete(empty.beats, "job")
		n.clk.Set(t0.Add(30 * time.Minute))
		n.tr.Adopt(nil, []string{"job"})
		if got, _ := n.tr.Due("job"); !got.Equal(t0.Add(59 * time.Minute)) {
			t.Errorf("due = %s, want an hour after the tracking start", got)
		}
		if h, ok := empty.beats["job"]; !ok || !h.Since.Equal(t0.Add(-time.Minute)) {
			t.Errorf("state not saved: %+v", h)
		}
		n.quiet("job")
	})
}
