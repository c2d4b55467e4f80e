package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/audit"
)

// RecordsSuite tests alerts and the outbox, secrets, maintenance, people,
// incidents, actions and the audit log. Each test opens a store of its own.
func RecordsSuite(t *testing.T, open Opener[Records]) {
	for _, tt := range []struct {
		name string
		run  func(t *testing.T, open Opener[Records])
	}{
		{"alerts", recordsAlerts},
		{"outbox", recordsOutbox},
		{"outbox stats", recordsOutboxStats},
		{"secret", recordsSecret},
		{"maintenance", recordsMaintenance},
		{"users", recordsUsers},
		{"access errors", recordsAccessErrors},
		{"tokens", recordsTokens},
		{"sessions", recordsSessions},
		{"second factors", recordsFactors},
		{"expired sessions", recordsExpiredSessions},
		{"delete user cascades", recordsDeleteUserCascades},
		{"contacts", recordsContacts},
		{"pages cancelled by ack", recordsUntilAck},
		{"incidents", recordsIncidents},
		{"action requests", recordsActionRequests},
		{"audit", recordsAudit},
		{"audit checkpoints", recordsAuditCheckpoints},
		{"schedule overrides", recordsOverrides},
		{"calendar feeds", recordsFeeds},
	} {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, open) })
	}
}

// closeRecords closes s as a restart would, before reopen.
func closeRecords(t *testing.T, s Records) {
	t.Helper()
	if c, ok := s.(io.Closer); ok {
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// recordsQuery is a named query of a list of records and the keys of what
// it returns, in order.
type recordsQuery[Q any, K comparable] struct {
	name string
	q    Q
	want []K
}

// recordsQueries runs each query with list and compares the keys of what it
// returns.
func recordsQueries[Q, V any, K comparable](t *testing.T, list func(Q) ([]V, error), key func(V) K, queries []recordsQuery[Q, K]) {
	t.Helper()
	for _, tt := range queries {
		t.Run(tt.name, func(t *testing.T) {
			got, err := list(tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if keys := recordsKeys(got, key); !slices.Equal(keys, tt.want) {
				t.Errorf("query %+v = %v, want %v", tt.q, keys, tt.want)
			}
		})
	}
}

// recordsKeys is the key of each record, nil for none.
func recordsKeys[V, K any](vs []V, key func(V) K) []K {
	var out []K
	for _, v := range vs {
		out = append(out, key(v))
	}
	return out
}

func recordsAlerts(t *testing.T, open Opener[Records]) {
	ctx := context.Background()
	clock := NewClock()
	t0 := clock.Now()
	s, reopen := open(t, clock)

	shop := &nightowl.Alert{
		ID: "a-shop", Check: "shop", Labels: map[string]string{"tier": "web"}, State: nightowl.AlertFiring,
		Severity: nightowl.SeverityCritical, Status: nightowl.StatusDown, Cause: "status 503",
		Failed:   []nightowl.AssertionResult{{Name: "status", Severity: nightowl.SeverityCritical, Message: "503, want 200"}},
		StartsAt: t0, Escalation: "web", NextAt: t0.Add(5 * time.Minute), Notified: []string{"primary[0]"},
	}
	old := &nightowl.Alert{ID: "a-old", Check: "shop", State: nightowl.AlertResolved, Severity: nightowl.SeverityWarning,
		Status: nightowl.StatusDegraded, Cause: "slow", StartsAt: t0.Add(-time.Hour), ResolvedAt: t0.Add(-30 * time.Minute)}
	db := &nightowl.Alert{ID: "a-db", Check: "db", State: nightowl.AlertFiring, Severity: nightowl.SeverityCritical,
		Status: nightowl.StatusDown, Cause: "refused", StartsAt: t0.Add(time.Minute)}
	for _, a := range []*nightowl.Alert{shop, old, db} {
		if err := s.SaveAlert(ctx, a, nil); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("get", func(t *testing.T) {
		got, err := s.Alert(ctx, "a-shop")
		if err != nil || !reflect.DeepEqual(got, *shop) {
			t.Fatalf("Alert = %+v, %v\nwant %+v", got, err, *shop)
		}
		if _, err := s.Alert(ctx, "a-nope"); nightowl.ErrorCode(err) != nightowl.ENotFound {
			t.Fatalf("unknown alert: %v, want not_found", err)
		}
	})

	t.Run("invalid", func(t *testing.T) {
		for _, a := range []nightowl.Alert{{Check: "shop"}, {ID: "a-x"}} {
			if err := s.SaveAlert(ctx, &a, nil); nightowl.ErrorCode(err) != nightowl.EInvalid {
				t.Errorf("SaveAlert(%+v) = %v, want invalid", a, err)
			}
		}
	})

	t.Run("update", func(t *testing.T) {
		shop.State, shop.AckedAt, shop.AckedBy, shop.NextAt = nightowl.AlertAcknowledged, t0.Add(2*time.Minute), "ana", time.Time{}
		if err := s.SaveAlert(ctx, shop, nil); err != nil {
			t.Fatal(err)
		}
		if got, err := s.Alert(ctx, "a-shop"); err != nil || !reflect.DeepEqual(got, *shop) {
			t.Fatalf("after update = %+v, %v\nwant %+v", got, err, *shop)
		}
	})

	alertID := func(a nightowl.Alert) string { return a.ID }
	recordsQueries(t, func(q nightowl.AlertQuery) ([]nightowl.Alert, error) { return s.Alerts(ctx, q) }, alertID, []recordsQuery[nightowl.AlertQuery, string]{
		{"all, newest first", nightowl.AlertQuery{}, []string{"a-db", "a-shop", "a-old"}},
		{"open", nightowl.AlertQuery{Open: true}, []string{"a-db", "a-shop"}},
		{"by check", nightowl.AlertQuery{Check: "shop"}, []string{"a-shop", "a-old"}},
		{"open by check", nightowl.AlertQuery{Open: true, Check: "shop"}, []string{"a-shop"}},
		{"limit", nightowl.AlertQuery{Limit: 2}, []string{"a-db", "a-shop"}},
		{"open ignores the limit", nightowl.AlertQuery{Open: true, Limit: 1}, []string{"a-db", "a-shop"}},
		{"none", nightowl.AlertQuery{Check: "nope"}, nil},
	})

	t.Run("compare and set", func(t *testing.T) {
		a := &nightowl.Alert{ID: "a-cas", Check: "cas", State: nightowl.AlertFiring, Severity: nightowl.SeverityCritical,
			Status: nightowl.StatusDown, StartsAt: t0.Add(-2 * time.Hour)}
		if err := s.SaveAlert(ctx, a, nil); err != nil || a.Version != 1 {
			t.Fatalf("create: %v, version %d; want version 1", err, a.Version)
		}
		again := *a
		again.Version, again.Cause = 0, "a second create"
		out := []nightowl.Notification{{Receiver: "r", Message: nightowl.Message{Kind: nightowl.MessageFiring}, CreatedAt: t0, NextAt: t0}}
		if err := s.SaveAlert(ctx, &again, out); nightowl.ErrorCode(err) != nightowl.EConflict || again.Version != 0 || out[0].ID != 0 {
			t.Errorf("a second create of a-cas: %v, version %d, notification %d; want conflict, version 0, none", err, again.Version, out[0].ID)
		}
		stale := *a
		a.State, a.AckedBy, a.AckedAt = nightowl.AlertAcknowledged, "ana", t0
		ack := []nightowl.Notification{{Receiver: "r", Message: nightowl.Message{Kind: nightowl.MessageAcknowledged}, CreatedAt: t0, NextAt: t0}}
		if err := s.SaveAlert(ctx, a, ack); err != nil || a.Version != 2 || ack[0].ID == 0 {
			t.Fatalf("acknowledge: %v, version %d, notification %d; want version 2 and one queued", err, a.Version, ack[0].ID)
		}
		stale.State, stale.ResolvedAt = nightowl.AlertResolved, t0
		res := []nightowl.Notification{{Receiver: "r", Message: nightowl.Message{Kind: nightowl.MessageResolved}, CreatedAt: t0, NextAt: t0}}
		if err := s.SaveAlert(ctx, &stale, res); nightowl.ErrorCode(err) != nightowl.EConflict || stale.Version != 1 || res[0].ID != 0 {
			t.Errorf("resolve over a stale version: %v, version %d, notification %d; want conflict, version 1, none", err, stale.Version, res[0].ID)
		}
		got, err := s.Alert(ctx, "a-cas")
		if err != nil || !reflect.DeepEqual(got, *a) {
			t.Errorf("stored = %+v, %v\nwant %+v", got, err, *a)
		}
		ns, err := s.Notifications(ctx, nightowl.NotificationQuery{AlertID: "a-cas"})
		if err != nil || len(ns) != 1 || ns[0].Message.Kind != nightowl.MessageAcknowledged {
			t.Errorf("notifications of a-cas = %+v, %v; want the acknowledgement alone", ns, err)
		}
		listed, err := s.Alerts(ctx, nightowl.AlertQuery{Check: "cas"})
		if err != nil || len(listed) != 1 || listed[0].Version != 2 {
			t.Errorf("Alerts = %+v, %v; want a-cas at version 2", listed, err)
		}
	})

	t.Run("raced writes", func(t *testing.T) {
		// Writers that all read version 1 race to acknowledge the alert:
		// exactly one wins, and only its notification is queued.
		a := &nightowl.Alert{ID: "a-race", Check: "race", State: nightowl.AlertFiring, Severity: nightowl.SeverityCritical,
			Status: nightowl.StatusDown, StartsAt: t0.Add(-3 * time.Hour)}
		if err := s.SaveAlert(ctx, a, nil); err != nil {
			t.Fatal(err)
		}
		const n = 8
		errs := make(chan error, n)
		for i := range n {
			go func() {
				c := *a
				c.State, c.AckedBy = nightowl.AlertAcknowledged, fmt.Sprintf("node%d", i)
				out := []nightowl.Notification{{Receiver: "r", Message: nightowl.Message{Kind: nightowl.MessageAcknowledged}, CreatedAt: t0, NextAt: t0}}
				errs <- s.SaveAlert(ctx, &c, out)
			}()
		}
		won, lost := 0, 0
		for range n {
			switch err := <-errs; nightowl.ErrorCode(err) {
			case "":
				won++
			case nightowl.EConflict:
				lost++
			default:
				t.Errorf("raced save: %v", err)
			}
		}
		got, err := s.Alert(ctx, "a-race")
		if won != 1 || lost != n-1 || err != nil || got.State != nightowl.AlertAcknowledged || got.Version != 2 {
			t.Errorf("%d won, %d lost; stored %s v%d by %s, %v; want one winner, acknowledged v2", won, lost, got.State, got.Version, got.AckedBy, err)
		}
		ns, err := s.Notifications(ctx, nightowl.NotificationQuery{AlertID: "a-race"})
		if err != nil || len(ns) != 1 {
			t.Errorf("%d notifications queued, %v; want 1", len(ns), err)
		}
	})

	t.Run("survive a reopen", func(t *testing.T) {
		closeRecords(t, s)
		s = reopen()
		if got, err := s.Alert(ctx, "a-shop"); err != nil || !reflect.DeepEqual(got, *shop) {
			t.Fatalf("after reopen = %+v, %v\nwant %+v", got, err, *shop)
		}
	})
}

func recordsOutbox(t *testing.T, open Opener[Records]) {
	ctx := context.Background()
	clock := NewClock()
	t0 := clock.Now()
	s, reopen := open(t, clock)

	a := &nightowl.Alert{ID: "a-1", Check: "shop", State: nightowl.AlertFiring, Status: nightowl.StatusDown, StartsAt: t0}
	message := func(kind nightowl.MessageKind, key string) nightowl.Message {
		return nightowl.Message{Kind: kind, Alert: *a, AckURL: "https://owl.example/ack/" + key, IdempotencyKey: key}
	}
	out := []nightowl.Notification{
		{Receiver: "primary[0]", Message: message(nightowl.MessageFiring, "k1"), CreatedAt: t0, NextAt: t0},
		{Receiver: "primary[1]", Message: message(nightowl.MessageFiring, "k2"), CreatedAt: t0, NextAt: t0.Add(time.Minute)},
		{Receiver: "chat", Message: message(nightowl.MessageRepeat, "k3"), CreatedAt: t0, NextAt: t0.Add(-time.Minute)},
	}
	if err := s.SaveAlert(ctx, a, out); err != nil {
		t.Fatal(err)
	}
	n1, n2, n3 := out[0], out[1], out[2]
	t.Run("written with the alert", func(t *testing.T) {
		if n1.ID <= 0 || n2.ID <= n1.ID || n3.ID <= n2.ID {
			t.Errorf("ids %d %d %d: want positive and increasing", n1.ID, n2.ID, n3.ID)
		}
		for _, n := range out {
			if n.AlertID != "a-1" || n.State != nightowl.NotificationPending {
				t.Errorf("saved notification %+v", n)
			}
		}
		got, err := s.Notifications(ctx, nightowl.NotificationQuery{AlertID: "a-1"})
		if err != nil {
			t.Fatal(err)
		}
		ids := recordsKeys(got, func(n nightowl.Notification) int64 { return n.ID })
		if !slices.Equal(ids, []int64{n3.ID, n2.ID, n1.ID}) {
			t.Fatalf("Notifications = %v, want newest first %v", ids, []int64{n3.ID, n2.ID, n1.ID})
		}
		for i, want := range []nightowl.Notification{n3, n2, n1} {
			if g := got[i]; g.Receiver != want.Receiver || !reflect.DeepEqual(g.Message, want.Message) ||
				!g.CreatedAt.Equal(want.CreatedAt) || !g.NextAt.Equal(want.NextAt) || g.Attempts != 0 {
				t.Errorf("notification %d = %+v\nwant %+v", want.ID, g, want)
			}
		}
		if got, err := s.Notifications(ctx, nightowl.NotificationQuery{AlertID: "a-2"}); err != nil || len(got) != 0 {
			t.Errorf("another alert's notifications: %v, %v", got, err)
		}
		if got, err := s.Notifications(ctx, nightowl.NotificationQuery{Limit: 1}); err != nil || len(got) != 1 || got[0].ID != n3.ID {
			t.Errorf("the newest notification: %+v, %v", got, err)
		}
	})

	// claim claims and compares what it got, whatever its order, with
	// want: the IDs claimed and the attempts each has counted.
	claim := func(t *testing.T, owner string, now time.Time, limit int, want map[int64]int) {
		t.Helper()
		got, err := s.ClaimNotifications(ctx, owner, now, limit, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		tries := map[int64]int{}
		for _, n := range got {
			tries[n.ID] = n.Attempts
			if n.State != nightowl.NotificationPending || n.AlertID != "a-1" || n.Message.IdempotencyKey == "" {
				t.Errorf("claimed %+v", n)
			}
		}
		if len(got) != len(tries) || !maps.Equal(tries, want) {
			t.Fatalf("%s claimed %v (id: attempts), want %v", owner, tries, want)
		}
	}
	steps := []struct {
		name string
		do   func(t *testing.T)
	}{
		// The one longest due goes first, though it was written last.
		{"claimed oldest first once due", func(t *testing.T) {
			claim(t, "node-a", t0, 1, map[int64]int{n3.ID: 1})
			claim(t, "node-a", t0, 10, map[int64]int{n1.ID: 1})
		}},
		{"not claimable while leased", func(t *testing.T) {
			claim(t, "node-b", t0.Add(59*time.Second), 10, map[int64]int{})
		}},
		{"claimable again when the lease ends", func(t *testing.T) {
			claim(t, "node-b", t0.Add(time.Minute), 10, map[int64]int{n1.ID: 2, n2.ID: 1, n3.ID: 2})
		}},
		{"released by their owner only", func(t *testing.T) {
			if err := s.ReleaseClaims(ctx, "node-a"); err != nil {
				t.Fatal(err)
			}
			claim(t, "node-c", t0.Add(time.Minute), 10, map[int64]int{})
			if err := s.ReleaseClaims(ctx, "node-b"); err != nil {
				t.Fatal(err)
			}
			claim(t, "node-c", t0.Add(time.Minute), 10, map[int64]int{n1.ID: 3, n2.ID: 2, n3.ID: 3})
		}},
		{"finished", func(t *testing.T) {
			sent := n1
			sent.State, sent.SentAt, sent.NextAt = nightowl.NotificationSent, t0.Add(2*time.Minute), time.Time{}
			failed := n2
			failed.State, failed.Error = nightowl.NotificationFailed, "400 Bad Request"
			retry := n3
			retry.State, retry.NextAt, retry.Error = nightowl.NotificationPending, t0.Add(10*time.Minute), "503"
			for _, n := range []*nightowl.Notification{&sent, &failed, &retry} {
				if err := s.FinishNotification(ctx, n); err != nil {
					t.Fatal(err)
				}
			}
			for _, tt := range []struct {
				state nightowl.NotificationState
				want  nightowl.Notification
			}{
				{nightowl.NotificationSent, sent},
				{nightowl.NotificationFailed, failed},
				{nightowl.NotificationPending, retry},
			} {
				got, err := s.Notifications(ctx, nightowl.NotificationQuery{State: tt.state})
				if err != nil {
					t.Fatal(err)
				}
				// Only a pending notification is due at all.
				next := tt.want.NextAt
				if tt.state != nightowl.NotificationPending {
					next = time.Time{}
				}
				if len(got) != 1 || got[0].ID != tt.want.ID || got[0].State != tt.state || got[0].Error != tt.want.Error ||
					!got[0].SentAt.Equal(tt.want.SentAt) || !got[0].NextAt.Equal(next) {
					t.Errorf("%s: %+v\nwant %+v with NextAt %v", tt.state, got, tt.want, next)
				}
			}
		}},
		{"a retry is due at its NextAt", func(t *testing.T) {
			claim(t, "node-c", t0.Add(10*time.Minute-time.Second), 10, map[int64]int{})
			claim(t, "node-c", t0.Add(10*time.Minute), 10, map[int64]int{n3.ID: 4})
		}},
		{"survive a reopen", func(t *testing.T) {
			closeRecords(t, s)
			s = reopen()
			got, err := s.Notifications(ctx, nightowl.NotificationQuery{AlertID: "a-1"})
			if err != nil || len(got) != 3 {
				t.Fatalf("after reopen: %+v, %v", got, err)
			}
			// The lease of node-c outlives the restart: its sender
			// releases it when it starts again.
			claim(t, "node-d", t0.Add(10*time.Minute), 10, map[int64]int{})
			if err := s.ReleaseClaims(ctx, "node-c"); err != nil {
				t.Fatal(err)
			}
			claim(t, "node-d", t0.Add(10*time.Minute), 10, map[int64]int{n3.ID: 5})
		}},
	}
	for _, st := range steps {
		t.Run(st.name, st.do)
	}
}

func recordsOutboxStats(t *testing.T, open Opener[Records]) {
	ctx := context.Background()
	clock := NewClock()
	t0 := clock.Now()
	s, _ := open(t, clock)

	if stats, err := s.OutboxStats(ctx); err != nil || len(stats) != 0 {
		t.Fatalf("stats of an empty outbox: %+v, %v", stats, err)
	}
	a := &nightowl.Alert{ID: "a-1", Check: "shop", State: nightowl.AlertFiring, StartsAt: t0}
	n := func(receiver string, created time.Time) nightowl.Notification {
		return nightowl.Notification{Receiver: receiver, CreatedAt: created, NextAt: created,
			Message: nightowl.Message{Kind: nightowl.MessageFiring, Alert: *a, IdempotencyKey: receiver}}
	}
	out := []nightowl.Notification{
		n("pager", t0.Add(time.Minute)), n("pager", t0), n("pager", t0.Add(-time.Hour)),
		n("chat", t0), n("mail", t0),
	}
	if err := s.SaveAlert(ctx, a, out); err != nil {
		t.Fatal(err)
	}
	finish := func(n nightowl.Notification, state nightowl.NotificationState) {
		n.State = state
		if state == nightowl.NotificationSent {
			n.SentAt = t0
		}
		if err := s.FinishNotification(ctx, &n); err != nil {
			t.Fatal(err)
		}
	}
	finish(out[2], nightowl.NotificationFailed) // the oldest pager one gave up
	finish(out[3], nightowl.NotificationFailed)
	finish(out[4], nightowl.NotificationSent)

	stats, err := s.OutboxStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []nightowl.OutboxStats{
		{Receiver: "chat", Failed: 1},
		{Receiver: "pager", Pending: 2, OldestPending: t0, Failed: 1},
	}
	if len(stats) != len(want) {
		t.Fatalf("OutboxStats = %+v\nwant %+v (a receiver with only sent notifications is left out)", stats, want)
	}
	for i := range want {
		g, w := stats[i], want[i]
		if g.Receiver != w.Receiver || g.Pending != w.Pending || g.Failed != w.Failed || !g.OldestPending.Equal(w.OldestPending) {
			t.Errorf("OutboxStats[%d] = %+v, want %+v", i, g, w)
		}
	}
}

func recordsSecret(t *testing.T, open Opener[Records]) {
	ctx := context.Background()
	s, reopen := open(t, NewClock())
	first, err := s.Secret(ctx, "ack_link_key", 32)
	if err != nil || len(first) != 32 {
		t.Fatalf("Secret = %x, %v; want 32 bytes", first, err)
	}
	other, err := s.Secret(ctx, "other", 16)
	if err != nil || len(other) != 16 {
		t.Fatalf("another secret = %x, %v; want 16 bytes", other, err)
	}
	for _, tt := range []struct {
		name string
		size int
	}{
		{"again", 32},
		{"asked with another size", 64},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Secret(ctx, "ack_link_key", tt.size)
			if err != nil || !bytes.Equal(got, first) {
				t.Fatalf("Secret = %x, %v; want the first %x", got, err, first)
			}
		})
	}
	if bytes.Equal(first[:16], other) {
		t.Fatal("two secrets are the same")
	}
	t.Run("survives a reopen", func(t *testing.T) {
		closeRecords(t, s)
		s = reopen()
		if got, err := s.Secret(ctx, "ack_link_key", 32); err != nil || !bytes.Equal(got, first) {
			t.Fatalf("after reopen: %x, %v; want %x", got, err, first)
		}
	})
}

func recordsMaintenance(t *testing.T, open Opener[Records]) {
	ctx := context.Background()
	clock := NewClock()
	t0 := clock.Now()
	s, reopen := open(t, clock)

	if ws, err := s.Windows(ctx); err != nil || len(ws) != 0 {
		t.Fatalf("windows of a new store: %+v, %v", ws, err)
	}
	byHand := nightowl.Window{
		ID: "mw-2", Name: "db upgrade", Source: "api", Start: t0, End: t0.Add(2*time.Hour + 123*time.Nanosecond),
		Checks: nightowl.Selector{Labels: map[string]string{"tier": "db"}, Names: []string{"shop"}},
		Expect: []string{"status", "latency"}, Verify: nightowl.Verify{Within: 5 * time.Minute, AgainAfter: []time.Duration{time.Hour, 24 * time.Hour}},
		Announce: true, Reason: "v16", CreatedBy: "ana", CreatedAt: t0.Add(-time.Minute),
	}
	configured := nightowl.Window{
		ID: "mw-1", Name: "nightly", Source: "config", Schedule: "0 3 * * *", Duration: nightowl.Seconds(30 * time.Minute),
		Timezone: "Europe/Paris", Checks: nightowl.Selector{Names: []string{"backup"}}, Expect: []string{nightowl.ExpectAnything},
		EndedAt: t0.Add(17 * time.Nanosecond), EndedBy: "bo",
	}
	for _, w := range []nightowl.Window{byHand, configured} {
		if err := s.SaveWindow(ctx, &w); err != nil {
			t.Fatal(err)
		}
	}
	windows := func(t *testing.T, want ...nightowl.Window) {
		t.Helper()
		got, err := s.Windows(ctx)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("Windows = %+v, %v\nwant %+v", got, err, want)
		}
	}
	t.Run("windows by id", func(t *testing.T) { windows(t, configured, byHand) })
	t.Run("a window is replaced", func(t *testing.T) {
		byHand.EndedAt, byHand.EndedBy, byHand.Verify.AgainAfter = t0.Add(time.Hour), "bo", nil
		if err := s.SaveWindow(ctx, &byHand); err != nil {
			t.Fatal(err)
		}
		windows(t, configured, byHand)
	})

	// Progress keeps nanoseconds: the runner compares EndsAt with the ends
	// it computes, and a rounded one would look like a new end.
	p2 := nightowl.MaintenanceProgress{Window: "mw-2", EndsAt: t0.Add(time.Hour), Stage: 1, Due: t0.Add(time.Hour + 5*time.Minute)}
	p1 := nightowl.MaintenanceProgress{Window: "mw-1", EndsAt: t0.Add(17 * time.Nanosecond)}
	for _, p := range []nightowl.MaintenanceProgress{p2, p1} {
		if err := s.SaveProgress(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	progress := func(t *testing.T, want ...nightowl.MaintenanceProgress) {
		t.Helper()
		got, err := s.Progress(ctx)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("Progress = %+v, %v\nwant %+v", got, err, want)
		}
	}
	t.Run("progress by window", func(t *testing.T) { progress(t, p1, p2) })
	t.Run("progress moves on", func(t *testing.T) {
		p2.Stage, p2.Due = 2, time.Time{}
		if err := s.SaveProgress(ctx, p2); err != nil {
			t.Fatal(err)
		}
		progress(t, p1, p2)
	})
	t.Run("survive a reopen", func(t *testing.T) {
		closeRecords(t, s)
		s = reopen()
		windows(t, configured, byHand)
		progress(t, p1, p2)
	})
}

func recordsUsers(t *testing.T, open Opener[Records]) {
	ctx := context.Background()
	clock := NewClock()
	t0 := clock.Now()
	s, reopen := open(t, clock)

	alice := nightowl.User{Name: "alice", Role: nightowl.RoleAdmin, PasswordHash: "$2a$04$x", CreatedAt: t0, RoleSince: t0}
	bob := nightowl.User{Name: "bob", Role: nightowl.RoleViewer, PasswordHash: "$2a$04$y", CreatedAt: t0.Add(time.Hour), RoleSince: t0.Add(time.Hour), Source: nightowl.SourceOIDC}
	for _, u := range []nightowl.User{bob, alice} {
		if err := s.SaveUser(ctx, &u); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.User(ctx, "alice")
	if err != nil || !recordsSameUser(got, alice) {
		t.Fatalf("User(alice) = %+v, %v; want %+v", got, err, alice)
	}

	// An update changes the role, when it was given, the hash and the
	// source, never when the user was made.
	bob2 := bob
	bob2.Role, bob2.PasswordHash, bob2.CreatedAt, bob2.RoleSince, bob2.Source = nightowl.RoleResponder, "$2a$04$z", t0.Add(5*time.Hour), t0.Add(4*time.Hour), ""
	if err := s.SaveUser(ctx, &bob2); err != nil {
		t.Fatal(err)
	}
	want := bob2
	want.CreatedAt = bob.CreatedAt
	if got, err := s.User(ctx, "bob"); err != nil || !recordsSameUser(got, want) {
		t.Fatalf("User(bob) after update = %+v, %v; want %+v", got, err, want)
	}

	us, err := s.Users(ctx)
	if err != nil || len(us) != 2 || us[0].Name != "alice" || us[1].Name != "bob" {
		t.Fatalf("Users = %+v, %v", us, err)
	}

	if err := s.DeleteUser(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.User(ctx, "alice"); nightowl.ErrorCode(err) != nightowl.ENotFound {
		t.Fatalf("User(alice) after delete: %v, want not_found", err)
	}

	// What was saved outlives the process.
	closeRecords(t, s)
	s = reopen()
	if got, err := s.User(ctx, "bob"); err != nil || !recordsSameUser(got, want) {
		t.Fatalf("User(bob) after reopen = %+v, %v; want %+v", got, err, want)
	}
}

func recordsAccessErrors(t *testing.T, open Opener[Records]) {
	ctx := context.Background()
	s, _ := open(t, NewClock())
	if err := s.SaveUser(ctx, &nightowl.User{Name: "alice", Role: nightowl.RoleAdmin, PasswordHash: "h"}); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveToken(ctx, &nightowl.Token{ID: "t-1", User: "alice", Role: nightowl.RoleViewer, Hash: []byte("h1")}); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveSession(ctx, &nightowl.Session{Hash: []byte("s1"), User: "alice", CSRF: "c"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		do   func() error
		code string
	}{
		{"user unknown", func() error { _, err := s.User(ctx, "zed"); return err }, nightowl.ENotFound},
		{"delete unknown user", func() error { return s.DeleteUser(ctx, "zed") }, nightowl.ENotFound},
		{"user without a name", func() error {
			return s.SaveUser(ctx, &nightowl.User{Role: nightowl.RoleAdmin})
		}, nightowl.EInvalid},
		{"user with a bad role", func() error {
			return s.SaveUser(ctx, &nightowl.User{Name: "zed", Role: "root"})
		}, nightowl.EInvalid},
		{"token unknown", func() error { _, err := s.TokenByHash(ctx, []byte("nope")); return err }, nightowl.ENotFound},
		{"delete unknown token", func() error { return s.DeleteToken(ctx, "t-nope") }, nightowl.ENotFound},
		{"touch unknown token", func() error { return s.TouchToken(ctx, "t-nope", time.Now()) }, nightowl.ENotFound},
		{"token of an unknown user", func() error {
			return s.SaveToken(ctx, &nightowl.Token{ID: "t-2", User: "zed", Role: nightowl.RoleViewer, Hash: []byte("h2")})
		}, nightowl.ENotFound},
		{"token without a hash", func() error {
			return s.SaveToken(ctx, &nightowl.Token{ID: "t-2", User: "alice", Role: nightowl.RoleViewer})
		}, nightowl.EInvalid},
		{"token hash taken", func() error {
			return s.SaveToken(ctx, &nightowl.Token{ID: "t-2", User: "alice", Role: nightowl.RoleViewer, Hash: []byte("h1")})
		}, nightowl.EConflict},
		{"token id taken", func() error {
			return s.SaveToken(ctx, &nightowl.Token{ID: "t-1", User: "alice", Role: nightowl.RoleViewer, Hash: []byte("h3")})
		}, nightowl.EConflict},
		{"session unknown", func() error { _, err := s.SessionByHash(ctx, []byte("nope")); return err }, nightowl.ENotFound},
		{"delete unknown session", func() error { return s.DeleteSession(ctx, []byte("nope")) }, nightowl.ENotFound},
		{"touch unknown session", func() error { return s.TouchSession(ctx, []byte("nope"), time.Now()) }, nightowl.ENotFound},
		{"session without a hash", func() error {
			return s.SaveSession(ctx, &nightowl.Session{User: "alice"})
		}, nightowl.EInvalid},
		{"session of an unknown user", func() error {
			return s.SaveSession(ctx, &nightowl.Session{Hash: []byte("s2"), User: "zed"})
		}, nightowl.ENotFound},
		{"session taken by another user", func() error {
			if err := s.SaveUser(ctx, &nightowl.User{Name: "bob", Role: nightowl.RoleViewer}); err != nil {
				return err
			}
			return s.SaveSession(ctx, &nightowl.Session{Hash: []byte("s1"), User: "bob"})
		}, nightowl.EConflict},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.do(); nightowl.ErrorCode(err) != tc.code {
				t.Fatalf("got %v (%s), want %s", err, nightowl.ErrorCode(err), tc.code)
			}
		})
	}
	// The refused writes changed nothing.
	if tok, err := s.TokenByHash(ctx, []byte("h1")); err != nil || tok.ID != "t-1" {
		t.Fatalf("token t-1 after conflicts: %+v, %v", tok, err)
	}
	if ts, err := s.Tokens(ctx, ""); err != nil || len(ts) != 1 {
		t.Fatalf("tokens after conflicts: %+v, %v", ts, err)
	}
	if ss, err := s.SessionByHash(ctx, []byte("s1")); err != nil || ss.User != "alice" {
		t.Fatalf("session s1 after conflicts: %+v, %v", ss, err)
	}
}

func recordsTokens(t *testing.T, open Opener[Records]) {
	ctx := context.Background()
	clock := NewClock()
	t0 := clock.Now()
	s, _ := open(t, clock)
	for _, name := range []string{"alice", "bob"} {
		if err := s.SaveUser(ctx, &nightowl.User{Name: name, Role: nightowl.RoleResponder, PasswordHash: "h"}); err != nil {
			t.Fatal(err)
		}
	}
	a1 := nightowl.Token{ID: "t-a1", Name: "ci", User: "alice", Role: nightowl.RoleViewer, Hash: []byte{1, 2, 3},
		CreatedAt: t0, ExpiresAt: t0.Add(24 * time.Hour)}
	a2 := nightowl.Token{ID: "t-a2", Name: "laptop", User: "alice", Role: nightowl.RoleResponder, Hash: []byte{4, 5, 6},
		CreatedAt: t0.Add(time.Minute), CanApprove: true}
	b1 := nightowl.Token{ID: "t-b1", Name: "grafana", User: "bob", Role: nightowl.RoleViewer, Hash: []byte{7},
		CreatedAt: t0.Add(2 * time.Minute)}
	for _, tok := range []nightowl.Token{a2, b1, a1} {
		if err := s.SaveToken(ctx, &tok); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := s.TokenByHash(ctx, a2.Hash); err != nil || !recordsSameToken(got, a2) {
		t.Fatalf("TokenByHash = %+v, %v; want %+v", got, err, a2)
	}
	got, err := s.TokenByHash(ctx, []byte{1, 2, 3})
	if err != nil || !recordsSameToken(got, a1) {
		t.Fatalf("TokenByHash = %+v, %v; want %+v", got, err, a1)
	}
	if !got.LastUsed.IsZero() {
		t.Fatalf("a token never used has LastUsed %v", got.LastUsed)
	}

	// Using a token saves it again with its last use.
	a1.LastUsed = t0.Add(time.Hour)
	if err := s.SaveToken(ctx, &a1); err != nil {
		t.Fatal(err)
	}
	if got, err := s.TokenByHash(ctx, a1.Hash); err != nil || !recordsSameToken(got, a1) {
		t.Fatalf("after use: %+v, %v; want %+v", got, err, a1)
	}
	// Or touches it.
	a1.LastUsed = t0.Add(2 * time.Hour)
	if err := s.TouchToken(ctx, a1.ID, a1.LastUsed); err != nil {
		t.Fatal(err)
	}
	if got, err := s.TokenByHash(ctx, a1.Hash); err != nil || !recordsSameToken(got, a1) {
		t.Fatalf("after a touch: %+v, %v; want %+v", got, err, a1)
	}

	tokens := func(user string) ([]nightowl.Token, error) { return s.Tokens(ctx, user) }
	recordsQueries(t, tokens, func(tok nightowl.Token) string { return tok.ID }, []recordsQuery[string, string]{
		{"tokens of alice", "alice", []string{"t-a1", "t-a2"}},
		{"tokens of bob", "bob", []string{"t-b1"}},
		{"tokens of everyone", "", []string{"t-a1", "t-a2", "t-b1"}},
		{"tokens of carol", "carol", nil},
	})

	if err := s.DeleteToken(ctx, "t-a2"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TokenByHash(ctx, a2.Hash); nightowl.ErrorCode(err) != nightowl.ENotFound {
		t.Fatalf("a deleted token is still found: %v", err)
	}
	// A touch never brings back a token deleted meanwhile.
	if err := s.TouchToken(ctx, "t-a2", t0.Add(time.Hour)); nightowl.ErrorCode(err) != nightowl.ENotFound {
		t.Fatalf("touching a deleted token: %v, want not_found", err)
	}
	if _, err := s.TokenByHash(ctx, a2.Hash); nightowl.ErrorCode(err) != nightowl.ENotFound {
		t.Fatalf("a touch brought back a deleted token: %v", err)
	}
}

func recordsSessions(t *testing.T, open Opener[Records]) {
	ctx := context.Background()
	clock := NewClock()
	t0 := clock.Now()
	s, _ := open(t, clock)
	for _, name := range []string{"alice", "bob"} {
		if err := s.SaveUser(ctx, &nightowl.User{Name: name, Role: nightowl.RoleAdmin, PasswordHash: "h"}); err != nil {
			t.Fatal(err)
		}
	}
	ss := nightowl.Session{Hash: []byte("cookie-hash"), ID: "s-1", User: "alice", CSRF: "csrf",
		CreatedAt: t0, ExpiresAt: t0.Add(12 * time.Hour), MaxUntil: t0.Add(7 * 24 * time.Hour),
		SessionInfo: nightowl.SessionInfo{Method: nightowl.SignInPassword, Address: "192.0.2.7", UserAgent: "Firefox/140",
			Pending: nightowl.SessionNeedsFactor}}
	if err := s.SaveSession(ctx, &ss); err != nil {
		t.Fatal(err)
	}
	got, err := s.SessionByHash(ctx, ss.Hash)
	if err != nil || !recordsSameSession(got, ss) {
		t.Fatalf("SessionByHash = %+v, %v; want %+v", got, err, ss)
	}
	// A second factor given: the session says when, and waits no more.
	ss.ExpiresAt, ss.FactorAt, ss.Pending = t0.Add(13*time.Hour), t0.Add(time.Minute), ""
	if err := s.SaveSession(ctx, &ss); err != nil {
		t.Fatal(err)
	}
	if got, err := s.SessionByHash(ctx, ss.Hash); err != nil || !recordsSameSession(got, ss) {
		t.Fatalf("after sliding: %+v, %v; want %+v", got, err, ss)
	}
	ss.ExpiresAt = t0.Add(14 * time.Hour)
	if err := s.TouchSession(ctx, ss.Hash, ss.ExpiresAt); err != nil {
		t.Fatal(err)
	}
	if got, err := s.SessionByHash(ctx, ss.Hash); err != nil || !recordsSameSession(got, ss) {
		t.Fatalf("after a touch: %+v, %v; want %+v", got, err, ss)
	}
	other := nightowl.Session{Hash: []byte("bob-hash"), ID: "s-2", User: "bob", CSRF: "c", CreatedAt: t0.Add(time.Second),
		ExpiresAt: t0.Add(time.Hour), MaxUntil: t0.Add(time.Hour)}
	if err := s.SaveSession(ctx, &other); err != nil {
		t.Fatal(err)
	}
	if list, err := s.Sessions(ctx, "alice"); err != nil || len(list) != 1 || !recordsSameSession(list[0], ss) {
		t.Errorf("Sessions(alice) = %+v, %v", list, err)
	}
	if list, err := s.Sessions(ctx, ""); err != nil || len(list) != 2 || list[0].ID != "s-2" {
		t.Errorf("Sessions() = %+v, %v; want bob's, the newer, first", list, err)
	}
	if err := s.DeleteSession(ctx, other.Hash); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSession(ctx, ss.Hash); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SessionByHash(ctx, ss.Hash); nightowl.ErrorCode(err) != nightowl.ENotFound {
		t.Fatalf("a deleted session is still found: %v", err)
	}
	if err := s.TouchSession(ctx, ss.Hash, t0.Add(15*time.Hour)); nightowl.ErrorCode(err) != nightowl.ENotFound {
		t.Fatalf("touching a deleted session: %v, want not_found", err)
	}

	t.Run("signed out everywhere", func(t *testing.T) {
		for _, h := range []string{"alice 1", "alice 2", "bob 1"} {
			user := h[:len(h)-2]
			if err := s.SaveSession(ctx, &nightowl.Session{Hash: []byte(h), User: user, CSRF: "c",
				CreatedAt: t0, ExpiresAt: t0.Add(time.Hour), MaxUntil: t0.Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.DeleteSessions(ctx, "alice"); err != nil {
			t.Fatal(err)
		}
		for _, h := range []string{"alice 1", "alice 2"} {
			if _, err := s.SessionByHash(ctx, []byte(h)); nightowl.ErrorCode(err) != nightowl.ENotFound {
				t.Errorf("session %q outlived signing out everywhere: %v", h, err)
			}
		}
		if _, err := s.SessionByHash(ctx, []byte("bob 1")); err != nil {
			t.Errorf("bob's session went with alice's: %v", err)
		}
	})
}

// recordsSessionPruner is what the access service uses, where a store has
// it, to delete ended sessions in bulk.
type recordsSessionPruner interface {
	DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error)
}

func recordsExpiredSessions(t *testing.T, open Opener[Records]) {
	ctx := context.Background()
	clock := NewClock()
	t0 := clock.Now()
	s, _ := open(t, clock)
	d, ok := s.(recordsSessionPruner)
	if !ok {
		t.Skip("the store cannot delete ended sessions in bulk")
	}
	if err := s.SaveUser(ctx, &nightowl.User{Name: "alice", Role: nightowl.RoleAdmin, PasswordHash: "h"}); err != nil {
		t.Fatal(err)
	}
	now := t0.Add(24 * time.Hour)
	for _, ss := range []nightowl.Session{
		{Hash: []byte("idle"), ExpiresAt: now.Add(-time.Second), MaxUntil: now.Add(time.Hour)},
		{Hash: []byte("just ended"), ExpiresAt: now, MaxUntil: now.Add(time.Hour)},
		{Hash: []byte("too old"), ExpiresAt: now.Add(time.Hour), MaxUntil: now},
		{Hash: []byte("live"), ExpiresAt: now.Add(time.Second), MaxUntil: now.Add(time.Hour)},
	} {
		ss.User, ss.CreatedAt = "alice", t0
		if err := s.SaveSession(ctx, &ss); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := d.DeleteExpiredSessions(ctx, now); err != nil || n != 3 {
		t.Fatalf("DeleteExpiredSessions = %d, %v; want 3", n, err)
	}
	if _, err := s.SessionByHash(ctx, []byte("live")); err != nil {
		t.Fatalf("the live session went: %v", err)
	}
	for _, h := range []string{"idle", "just ended", "too old"} {
		if _, err := s.SessionByHash(ctx, []byte(h)); nightowl.ErrorCode(err) != nightowl.ENotFound {
			t.Errorf("session %q is still there: %v", h, err)
		}
	}
	if n, err := d.DeleteExpiredSessions(ctx, now); err != nil || n != 0 {
		t.Fatalf("DeleteExpiredSessions again = %d, %v; want 0", n, err)
	}
}

// recordsDeleteUserCascades: a removed user's tokens and sessions go with
// them, and nobody else's.
func recordsDeleteUserCascades(t *testing.T, open Opener[Records]) {
	ctx := context.Background()
	clock := NewClock()
	t0 := clock.Now()
	s, _ := open(t, clock)
	for _, name := range []string{"alice", "bob"} {
		if err := s.SaveUser(ctx, &nightowl.User{Name: name, Role: nightowl.RoleAdmin, PasswordHash: "h"}); err != nil {
			t.Fatal(err)
		}
		if err := s.SaveToken(ctx, &nightowl.Token{ID: "t-" + name, User: name, Role: nightowl.RoleViewer,
			Hash: []byte("token " + name), CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
		if err := s.SaveSession(ctx, &nightowl.Session{Hash: []byte("session " + name), User: name, CSRF: "c",
			CreatedAt: t0, ExpiresAt: t0.Add(time.Hour), MaxUntil: t0.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteUser(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TokenByHash(ctx, []byte("token alice")); nightowl.ErrorCode(err) != nightowl.ENotFound {
		t.Errorf("alice's token outlived her: %v", err)
	}
	if _, err := s.SessionByHash(ctx, []byte("session alice")); nightowl.ErrorCode(err) != nightowl.ENotFound {
		t.Errorf("alice's session outlived her: %v", err)
	}
	if ts, err := s.Tokens(ctx, ""); err != nil || len(ts) != 1 || ts[0].User != "bob" {
		t.Errorf("tokens left: %+v, %v", ts, err)
	}
	if _, err := s.SessionByHash(ctx, []byte("session bob")); err != nil {
		t.Errorf("bob's session went with alice: %v", err)
	}
	// A user made again with the same name gets none of them back.
	if err := s.SaveUser(ctx, &nightowl.User{Name: "alice", Role: nightowl.RoleViewer, PasswordHash: "h"}); err != nil {
		t.Fatal(err)
	}
	if ts, err := s.Tokens(ctx, "alice"); err != nil || len(ts) != 0 {
		t.Errorf("the new alice has tokens: %+v, %v", ts, err)
	}
}

func recordsSameToken(a, b nightowl.Token) bool {
	return a.ID == b.ID && a.Name == b.Name && a.User == b.User && a.Role == b.Role && bytes.Equal(a.Hash, b.Hash) &&
		a.CreatedAt.Equal(b.CreatedAt) && a.ExpiresAt.Equal(b.ExpiresAt) && a.LastUsed.Equal(b.LastUsed) && a.CanApprove == b.CanApprove
}

func recordsSameSession(a, b nightowl.Session) bool {
	return bytes.Equal(a.Hash, b.Hash) && a.User == b.User && a.CSRF == b.CSRF &&
		a.CreatedAt.Equal(b.CreatedAt) && a.ExpiresAt.Equal(b.ExpiresAt) && a.MaxUntil.Equal(b.MaxUntil) &&
		a.ID == b.ID && a.Method == b.Method && a.Address == b.Address && a.UserAgent == b.UserAgent &&
		a.FactorAt.Equal(b.FactorAt) && a.Pending == b.Pending
}

func recordsSameUser(a, b nightowl.User) bool {
	return a.Name == b.Name && a.Role == b.Role && a.PasswordHash == b.PasswordHash && a.CreatedAt.Equal(b.CreatedAt) &&
		a.RoleSince.Equal(b.RoleSince) && a.Source == b.Source
}

func recordsIncidents(t *testing.T, open Opener[Records]) {
	ctx := context.Background()
	clock := NewClock()
	t0 := clock.Now()
	s, reopen := open(t, clock)

	newIncident := func(title string, at time.Time) *nightowl.Incident {
		return &nightowl.Incident{
			Title: title, State: nightowl.IncidentInvestigating, Impact: nightowl.ImpactMajor,
			Components: []string{"Website"}, CreatedAt: at, CreatedBy: "ana", UpdatedAt: at,
		}
	}

	first := newIncident("Website down", t0)
	u1 := &nightowl.IncidentUpdate{Time: t0, By: "ana", Public: true, State: nightowl.IncidentInvestigating,
		Impact: nightowl.ImpactMajor, Components: []string{"Website"}, Message: "We are looking into it."}
	if err := s.SaveIncident(ctx, first, u1); err != nil {
		t.Fatal(err)
	}
	if first.ID != "inc-1" || u1.ID == 0 || u1.IncidentID != "inc-1" {
		t.Fatalf("IDs after creating: incident %q, update %d of %q", first.ID, u1.ID, u1.IncidentID)
	}
	second := newIncident("Database slow", t0.Add(time.Hour))
	if err := s.SaveIncident(ctx, second, nil); err != nil {
		t.Fatal(err)
	}
	if second.ID != "inc-2" {
		t.Fatalf("second incident's ID = %q, want inc-2", second.ID)
	}

	t.Run("get", func(t *testing.T) {
		got, err := s.Incident(ctx, "inc-1")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, *first) {
			t.Errorf("incident = %+v\nwant %+v", got, *first)
		}
		if _, err := s.Incident(ctx, "inc-9"); nightowl.ErrorCode(err) != nightowl.ENotFound {
			t.Errorf("unknown incident: %v, want not_found", err)
		}
	})

	t.Run("update and resolve", func(t *testing.T) {
		at := t0.Add(30 * time.Minute)
		first.State, first.ResolvedAt, first.UpdatedAt = nightowl.IncidentResolved, at, at
		first.Alerts = []string{"abc"}
		first.PublishedAt = at.Add(-time.Minute)
		note := &nightowl.IncidentUpdate{Time: at, By: "bo", State: nightowl.IncidentResolved, Message: "fixed"}
		if err := s.SaveIncident(ctx, first, note); err != nil {
			t.Fatal(err)
		}
		if got, err := s.Incident(ctx, "inc-1"); err != nil || !reflect.DeepEqual(got, *first) {
			t.Errorf("after update = %+v, %v\nwant %+v", got, err, *first)
		}
		ups, err := s.Updates(ctx, "inc-1")
		if err != nil {
			t.Fatal(err)
		}
		want := []nightowl.IncidentUpdate{*u1, *note}
		if !reflect.DeepEqual(ups, want) {
			t.Errorf("updates = %+v\nwant %+v", ups, want)
		}
		if len(ups) == 2 && ups[1].Components != nil {
			t.Errorf("an update that left the components has %v", ups[1].Components)
		}
		if ups, err := s.Updates(ctx, "inc-2"); err != nil || len(ups) != 0 {
			t.Errorf("updates of an incident without any: %+v, %v", ups, err)
		}
		missing := newIncident("nowhere", t0)
		missing.ID = "inc-77"
		if err := s.SaveIncident(ctx, missing, nil); nightowl.ErrorCode(err) != nightowl.ENotFound {
			t.Errorf("updating an incident that is not there: %v, want not_found", err)
		}
	})

	t.Run("query", func(t *testing.T) {
		incidents := func(q nightowl.IncidentQuery) ([]nightowl.Incident, error) { return s.Incidents(ctx, q) }
		recordsQueries(t, incidents, func(inc nightowl.Incident) string { return inc.ID }, []recordsQuery[nightowl.IncidentQuery, string]{
			{"all, newest first", nightowl.IncidentQuery{}, []string{"inc-2", "inc-1"}},
			{"open", nightowl.IncidentQuery{Open: true}, []string{"inc-2"}},
			{"limit", nightowl.IncidentQuery{Limit: 1}, []string{"inc-2"}},
			{"resolved since", nightowl.IncidentQuery{Since: t0.Add(20 * time.Minute)}, []string{"inc-2", "inc-1"}},
			{"since", nightowl.IncidentQuery{Since: t0.Add(45 * time.Minute)}, []string{"inc-2"}},
			{"none since", nightowl.IncidentQuery{Since: t0.Add(2 * time.Hour)}, nil},
			// inc-1 has a public update and no published_at, as
			// incidents stored before publication was recorded.
			{"published", nightowl.IncidentQuery{Published: true}, []string{"inc-1"}},
			{"published and open", nightowl.IncidentQuery{Published: true, Open: true}, nil},
		})
	})

	t.Run("a change over a stale version", func(t *testing.T) {
		// Two nodes read inc-2 at once and both change it: the second
		// save is refused whole, and the first is kept.
		a, err := s.Incident(ctx, "inc-2")
		if err != nil {
			t.Fatal(err)
		}
		b := a
		b.Components = slices.Clone(a.Components)
		at := t0.Add(70 * time.Minute)
		a.State, a.UpdatedAt = nightowl.IncidentIdentified, at
		if err := s.SaveIncident(ctx, &a, &nightowl.IncidentUpdate{Time: at, By: "ana", State: a.State, Message: "found it"}); err != nil {
			t.Fatal(err)
		}
		if a.Version != b.Version+1 {
			t.Errorf("version after a change = %d, want %d", a.Version, b.Version+1)
		}
		b.PublishedAt, b.UpdatedAt = at, at
		err = s.SaveIncident(ctx, &b, &nightowl.IncidentUpdate{Time: at, By: "bo", Message: "published"})
		if nightowl.ErrorCode(err) != nightowl.EConflict {
			t.Fatalf("a change over a stale version: %v, want conflict", err)
		}
		if got, err := s.Incident(ctx, "inc-2"); err != nil || !reflect.DeepEqual(got, a) {
			t.Errorf("after the refused change = %+v, %v\nwant %+v", got, err, a)
		}
		if ups, err := s.Updates(ctx, "inc-2"); err != nil || len(ups) != 1 || ups[0].By != "ana" {
			t.Errorf("updates after the refused change: %+v, %v", ups, err)
		}
	})

	t.Run("published without a public update", func(t *testing.T) {
		// Published as it stands: a private note, and published_at.
		inc, err := s.Incident(ctx, "inc-2")
		if err != nil {
			t.Fatal(err)
		}
		at := t0.Add(80 * time.Minute)
		inc.PublishedAt, inc.UpdatedAt = at, at
		if err := s.SaveIncident(ctx, &inc, &nightowl.IncidentUpdate{Time: at, By: "bo", Message: "Published on the status page."}); err != nil {
			t.Fatal(err)
		}
		got, err := s.Incidents(ctx, nightowl.IncidentQuery{Published: true, Limit: 1})
		if err != nil || len(got) != 1 || got[0].ID != "inc-2" {
			t.Errorf("the newest published incident: %+v, %v, want inc-2", got, err)
		}
		got, err = s.Incidents(ctx, nightowl.IncidentQuery{Published: true, Open: true})
		if err != nil || len(got) != 1 || got[0].ID != "inc-2" {
			t.Errorf("the open published incidents: %+v, %v, want inc-2", got, err)
		}
	})

	t.Run("invalid", func(t *testing.T) {
		if err := s.SaveIncident(ctx, &nightowl.Incident{Title: "x"}, nil); nightowl.ErrorCode(err) != nightowl.EInvalid {
			t.Errorf("an incident without state or impact: %v, want invalid", err)
		}
	})

	t.Run("numbers survive a restart", func(t *testing.T) {
		closeRecords(t, s)
		s = reopen()
		third := newIncident("Again", t0.Add(2*time.Hour))
		if err := s.SaveIncident(ctx, third, nil); err != nil {
			t.Fatal(err)
		}
		if third.ID != "inc-3" {
			t.Errorf("after a restart the next incident is %q, want inc-3", third.ID)
		}
	})
}

func recordsActionRequests(t *testing.T, open Opener[Records]) {
	ctx := context.Background()
	clock := NewClock()
	t0 := clock.Now()
	s, reopen := open(t, clock)

	newRequest := func(id, action string, at time.Time) *nightowl.ActionRequest {
		return &nightowl.ActionRequest{
			ID: id, Action: action, Params: map[string]string{"replica": "db2"}, Reason: "restore a table",
			RequestedBy: "ana", RequestedAt: at, ExpiresAt: at.Add(time.Hour), State: nightowl.RequestPending, Needs: 1,
		}
	}
	pause := newRequest("r1", "pause-replication", t0)
	restart := newRequest("r2", "restart-mysql", t0.Add(time.Minute))
	pause2 := newRequest("r3", "pause-replication", t0.Add(2*time.Minute))
	for _, r := range []*nightowl.ActionRequest{pause, restart, pause2} {
		if err := s.SaveRequest(ctx, r); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("invalid", func(t *testing.T) {
		bad := newRequest("", "x", t0)
		if err := s.SaveRequest(ctx, bad); nightowl.ErrorCode(err) != nightowl.EInvalid {
			t.Errorf("request without an id: %v, want invalid", err)
		}
	})

	t.Run("never ran", func(t *testing.T) {
		last, err := s.LastRun(ctx, "pause-replication")
		if err != nil || !last.IsZero() {
			t.Errorf("LastRun = %v, %v; want zero", last, err)
		}
	})

	// r1 is approved and runs to the end; r2 is denied.
	exit := 0
	pause.State = nightowl.RequestApproved
	pause.Approvals = []nightowl.Approval{{By: "bo", At: t0.Add(5 * time.Minute)}}
	if err := s.SaveRequest(ctx, pause); err != nil {
		t.Fatal(err)
	}
	pause.State, pause.RanBy, pause.StartedAt = nightowl.RequestRunning, "ana", t0.Add(6*time.Minute)
	if err := s.SaveRequest(ctx, pause); err != nil {
		t.Fatal(err)
	}
	// A command's output may hold any byte, NUL included.
	pause.State, pause.EndedAt, pause.ExitCode, pause.Output = nightowl.RequestSucceeded, t0.Add(7*time.Minute), &exit, "ok\x00\n"
	if err := s.SaveRequest(ctx, pause); err != nil {
		t.Fatal(err)
	}
	restart.State, restart.DeniedBy = nightowl.RequestDenied, "bo"
	if err := s.SaveRequest(ctx, restart); err != nil {
		t.Fatal(err)
	}

	t.Run("get", func(t *testing.T) {
		got, err := s.Request(ctx, "r1")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, *pause) {
			t.Errorf("request = %+v\nwant %+v", got, *pause)
		}
		if _, err := s.Request(ctx, "r9"); nightowl.ErrorCode(err) != nightowl.ENotFound {
			t.Errorf("unknown request: %v, want not_found", err)
		}
	})

	requests := func(q nightowl.ActionQuery) ([]nightowl.ActionRequest, error) { return s.Requests(ctx, q) }
	recordsQueries(t, requests, func(r nightowl.ActionRequest) string { return r.ID }, []recordsQuery[nightowl.ActionQuery, string]{
		{"all, newest first", nightowl.ActionQuery{}, []string{"r3", "r2", "r1"}},
		{"open", nightowl.ActionQuery{Open: true}, []string{"r3"}},
		{"by action", nightowl.ActionQuery{Action: "pause-replication"}, []string{"r3", "r1"}},
		{"limit", nightowl.ActionQuery{Limit: 2}, []string{"r3", "r2"}},
		{"none", nightowl.ActionQuery{Action: "nope"}, nil},
	})

	t.Run("compare and set", func(t *testing.T) {
		r := newRequest("r4", "rotate-keys", t0.Add(3*time.Minute))
		if err := s.SaveRequest(ctx, r); err != nil || r.Version != 1 {
			t.Fatalf("create: %v, version %d; want version 1", err, r.Version)
		}
		again := newRequest("r4", "rotate-keys", t0.Add(3*time.Minute))
		if err := s.SaveRequest(ctx, again); nightowl.ErrorCode(err) != nightowl.EConflict || again.Version != 0 {
			t.Errorf("a second create of r4: %v, version %d; want conflict, version 0", err, again.Version)
		}
		stale := *r
		r.State, r.DeniedBy = nightowl.RequestDenied, "bo"
		if err := s.SaveRequest(ctx, r); err != nil || r.Version != 2 {
			t.Fatalf("deny: %v, version %d; want version 2", err, r.Version)
		}
		stale.State = nightowl.RequestApproved
		if err := s.SaveRequest(ctx, &stale); nightowl.ErrorCode(err) != nightowl.EConflict || stale.Version != 1 {
			t.Errorf("approve over a stale version: %v, version %d; want conflict, version 1", err, stale.Version)
		}
		got, err := s.Request(ctx, "r4")
		if err != nil || got.State != nightowl.RequestDenied || got.Version != 2 {
			t.Errorf("stored: %s v%d, %v; want denied v2", got.State, got.Version, err)
		}
	})

	t.Run("raced writes", func(t *testing.T) {
		// Writers that all read version 1 race to start the request:
		// exactly one wins, and the others change nothing.
		r := newRequest("r5", "rotate-keys", t0.Add(4*time.Minute))
		r.State = nightowl.RequestApproved
		if err := s.SaveRequest(ctx, r); err != nil {
			t.Fatal(err)
		}
		const n = 8
		errs := make(chan error, n)
		for i := range n {
			go func() {
				c := *r
				c.State, c.RanBy, c.StartedAt = nightowl.RequestRunning, fmt.Sprintf("node%d", i), t0.Add(5*time.Minute)
				errs <- s.SaveRequest(ctx, &c)
			}()
		}
		won, lost := 0, 0
		for range n {
			switch err := <-errs; nightowl.ErrorCode(err) {
			case "":
				won++
			case nightowl.EConflict:
				lost++
			default:
				t.Errorf("raced save: %v", err)
			}
		}
		got, err := s.Request(ctx, "r5")
		if won != 1 || lost != n-1 || err != nil || got.State != nightowl.RequestRunning || got.Version != 2 {
			t.Errorf("%d won, %d lost; stored %s v%d by %s, %v; want one winner, running v2", won, lost, got.State, got.Version, got.RanBy, err)
		}
	})

	t.Run("raced starts under a cooldown", func(t *testing.T) {
		// Approved requests of one action race to start, each over its
		// own version: one starts, the cooldown refuses the others and
		// they change nothing.
		// Several rounds, each of its own action: the later ones find
		// the store's connections open, and so truly at once.
		const n, rounds = 8, 4
		for round := range rounds {
			action := fmt.Sprintf("flush-cache-%d", round)
			var rs []*nightowl.ActionRequest
			for i := range n {
				r := newRequest(fmt.Sprintf("c%d-%d", round, i), action, t0.Add(time.Minute))
				r.State = nightowl.RequestApproved
				if err := s.SaveRequest(ctx, r); err != nil {
					t.Fatal(err)
				}
				rs = append(rs, r)
			}
			type start struct {
				last time.Time
				err  error
			}
			starts := make(chan start, n)
			ready := make(chan struct{})
			for i, r := range rs {
				go func() {
					<-ready
					c := *r
					c.State, c.RanBy, c.StartedAt = nightowl.RequestRunning, "ana", t0.Add(2*time.Minute+time.Duration(i)*time.Second)
					last, err := s.StartRequest(ctx, &c, 10*time.Minute)
					starts <- start{last, err}
				}()
			}
			close(ready)
			started, refused := 0, 0
			for range n {
				switch st := <-starts; {
				case st.err != nil:
					t.Errorf("raced start: %v", st.err)
				case st.last.IsZero():
					started++
				default:
					refused++
				}
			}
			running := 0
			for _, r := range rs {
				got, err := s.Request(ctx, r.ID)
				switch {
				case err != nil:
					t.Fatal(err)
				case got.State == nightowl.RequestRunning && got.Version == 2:
					running++
				case got.State != nightowl.RequestApproved || got.Version != 1:
					t.Errorf("%s: %s v%d; want running v2 or approved v1", r.ID, got.State, got.Version)
				}
			}
			if started != 1 || refused != n-1 || running != 1 {
				t.Errorf("round %d: %d started, %d refused, %d running; want 1, %d, 1", round, started, refused, running, n-1)
			}
		}

		// Past the cooldown another starts; a lost version is a conflict
		// even then; without a cooldown nothing is checked.
		late := newRequest("c-late", "flush-cache-0", t0.Add(time.Minute))
		late.State = nightowl.RequestApproved
		if err := s.SaveRequest(ctx, late); err != nil {
			t.Fatal(err)
		}
		stale := *late
		stale.Version = 0
		stale.State, stale.StartedAt = nightowl.RequestRunning, t0.Add(time.Hour)
		if last, err := s.StartRequest(ctx, &stale, 10*time.Minute); nightowl.ErrorCode(err) != nightowl.EConflict || !last.IsZero() || stale.Version != 0 {
			t.Errorf("a start over a stale version: %v, %v, v%d; want a conflict, v0", last, err, stale.Version)
		}
		late.State, late.StartedAt = nightowl.RequestRunning, t0.Add(time.Hour)
		if last, err := s.StartRequest(ctx, late, 10*time.Minute); err != nil || !last.IsZero() || late.Version != 2 {
			t.Errorf("a start past the cooldown: %v, %v, v%d; want started, v2", last, err, late.Version)
		}
		free := newRequest("c-free", "flush-cache-0", t0.Add(time.Minute))
		free.State, free.StartedAt = nightowl.RequestRunning, t0.Add(time.Hour)
		if last, err := s.StartRequest(ctx, free, 0); err != nil || !last.IsZero() || free.Version != 1 {
			t.Errorf("a new request started without a cooldown: %v, %v, v%d; want started, v1", last, err, free.Version)
		}
		refusedAt, err := s.StartRequest(ctx, &nightowl.ActionRequest{ID: "c-new", Action: "flush-cache-0", State: nightowl.RequestRunning,
			RequestedAt: t0.Add(time.Hour), StartedAt: t0.Add(time.Hour + time.Minute)}, 10*time.Minute)
		if err != nil || !refusedAt.Equal(t0.Add(time.Hour)) {
			t.Errorf("a new request in the cooldown: %v, %v; want refused, last run %v", refusedAt, err, t0.Add(time.Hour))
		}
		if _, err := s.Request(ctx, "c-new"); nightowl.ErrorCode(err) != nightowl.ENotFound {
			t.Errorf("a refused new request was stored: %v", err)
		}
	})

	t.Run("last run survives a reopen", func(t *testing.T) {
		closeRecords(t, s)
		s = reopen()
		last, err := s.LastRun(ctx, "pause-replication")
		if err != nil || !last.Equal(t0.Add(6*time.Minute)) {
			t.Errorf("LastRun = %v, %v; want %v", last, err, t0.Add(6*time.Minute))
		}
		if last, _ := s.LastRun(ctx, "restart-mysql"); !last.IsZero() {
			t.Errorf("LastRun of a denied request's action = %v, want zero", last)
		}
	})
}

// recordsAuditChain reads the whole log in seq order with its head.
func recordsAuditChain(t *testing.T, s nightowl.AuditStore) ([]nightowl.AuditEntry, nightowl.AuditHead) {
	t.Helper()
	var out []nightowl.AuditEntry
	head, err := s.AuditChain(context.Background(), func(e nightowl.AuditEntry) error {
		out = append(out, e)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out, head
}

// recordsCheckAuditChain fails unless entries are numbered 1 to n, each hashed
// right and following the one before, head is the last, and the audit
// package verifies the store's chain.
func recordsCheckAuditChain(t *testing.T, s nightowl.AuditStore, n int) {
	t.Helper()
	entries, head := recordsAuditChain(t, s)
	if len(entries) != n {
		t.Fatalf("%d entries, want %d", len(entries), n)
	}
	var prev []byte
	for i, e := range entries {
		if e.Seq != int64(i+1) {
			t.Fatalf("entry %d has seq %d", i+1, e.Seq)
		}
		if !bytes.Equal(e.Prev, prev) {
			t.Fatalf("entry %d: prev %x, want %x", e.Seq, e.Prev, prev)
		}
		if h := nightowl.AuditHash(e); !bytes.Equal(h, e.Hash) || len(h) != 32 {
			t.Fatalf("entry %d: hash %x, want %x", e.Seq, e.Hash, h)
		}
		prev = e.Hash
	}
	if head.Seq != int64(n) || !bytes.Equal(head.Hash, prev) {
		t.Fatalf("head %d %x, want %d %x", head.Seq, head.Hash, n, prev)
	}
	rep, err := audit.Verify(context.Background(), s)
	if err != nil || !rep.OK() || rep.Entries != int64(n) {
		t.Fatalf("audit.Verify = %v, %v; want %d entries whole", rep, err, n)
	}
}

func recordsAudit(t *testing.T, open Opener[Records]) {
	ctx := context.Background()
	clock := NewClock()
	t0 := clock.Now()
	s, reopen := open(t, clock)

	if _, head := recordsAuditChain(t, s); head.Seq != 0 || head.Hash != nil {
		t.Fatalf("empty log has head %+v", head)
	}
	local := time.FixedZone("EST", -5*3600)
	in := []nightowl.AuditEntry{
		{Actor: "ana", Action: "login", Subject: "ana", Detail: "from 192.0.2.7"},
		{Time: t0.Add(time.Minute + 123).In(local), Actor: "ana", Action: "alert.ack", Subject: "a-1", Detail: "check shop"},
		{Actor: "bob", Action: "action.request", Subject: "r-1", Detail: "pause-replication"},
		{Actor: "bob", Action: "action.approve", Subject: "r-1"},
		{Actor: "nightowl", Action: "action.run", Subject: "r-1", Detail: "exit 0\nline two"},
	}
	for i := range in {
		e := in[i]
		if err := s.AppendAudit(ctx, &e); err != nil {
			t.Fatal(err)
		}
		if e.Seq != int64(i+1) || len(e.Hash) != 32 || e.Time.Location() != time.UTC {
			t.Fatalf("appended %+v", e)
		}
		in[i] = e
	}
	if !in[0].Time.Equal(t0) || !in[1].Time.Equal(t0.Add(time.Minute+123)) {
		t.Errorf("times %v %v: a zero time is now, another is kept to the nanosecond", in[0].Time, in[1].Time)
	}
	recordsCheckAuditChain(t, s, len(in))
	entries, _ := recordsAuditChain(t, s)
	for i := range in {
		if fmt.Sprint(entries[i]) != fmt.Sprint(in[i]) {
			t.Errorf("read back %+v, appended %+v", entries[i], in[i])
		}
	}

	list := func(q nightowl.AuditQuery) ([]nightowl.AuditEntry, error) { return s.AuditEntries(ctx, q) }
	recordsQueries(t, list, func(e nightowl.AuditEntry) int64 { return e.Seq }, []recordsQuery[nightowl.AuditQuery, int64]{
		{"all, newest first", nightowl.AuditQuery{}, []int64{5, 4, 3, 2, 1}},
		{"limit", nightowl.AuditQuery{Limit: 2}, []int64{5, 4}},
		{"actor", nightowl.AuditQuery{Actor: "ana"}, []int64{2, 1}},
		{"action prefix", nightowl.AuditQuery{Action: "action."}, []int64{5, 4, 3}},
		{"whole action", nightowl.AuditQuery{Action: "login"}, []int64{1}},
		{"prefix is exact, not a pattern", nightowl.AuditQuery{Action: "ACTION%"}, nil},
		{"since", nightowl.AuditQuery{Since: t0.Add(time.Second)}, []int64{2}},
		{"since, to the nanosecond", nightowl.AuditQuery{Since: t0.Add(time.Minute + 124)}, nil},
		{"both", nightowl.AuditQuery{Actor: "bob", Action: "action.app"}, []int64{4}},
	})

	t.Run("invalid", func(t *testing.T) {
		if err := s.AppendAudit(ctx, &nightowl.AuditEntry{Action: "login"}); nightowl.ErrorCode(err) != nightowl.EInvalid {
			t.Errorf("an entry without an actor: %v", err)
		}
	})

	t.Run("a walk stops where fn says", func(t *testing.T) {
		stop := errors.New("enough")
		var seen int
		_, err := s.AuditChain(ctx, func(nightowl.AuditEntry) error {
			seen++
			if seen == 2 {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) || seen != 2 {
			t.Errorf("AuditChain = %v after %d entries, want fn's error after 2", err, seen)
		}
	})

	// Durable, and the chain goes on after a restart.
	t.Run("goes on after a reopen", func(t *testing.T) {
		closeRecords(t, s)
		s = reopen()
		if err := s.AppendAudit(ctx, &nightowl.AuditEntry{Actor: "ana", Action: "logout"}); err != nil {
			t.Fatal(err)
		}
		recordsCheckAuditChain(t, s, len(in)+1)
	})
}

func recordsAuditCheckpoints(t *testing.T, open Opener[Records]) {
	ctx := context.Background()
	clock := NewClock()
	s, reopen := open(t, clock)

	if head, err := s.AuditHead(ctx); err != nil || head.Seq != 0 {
		t.Fatalf("head of an empty log: %+v, %v", head, err)
	}
	if cps, err := s.AuditCheckpoints(ctx, 0); err != nil || len(cps) != 0 {
		t.Fatalf("checkpoints of an empty log: %+v, %v", cps, err)
	}
	var last nightowl.AuditEntry
	for range 3 {
		last = nightowl.AuditEntry{Actor: "ana", Action: "login"}
		if err := s.AppendAudit(ctx, &last); err != nil {
			t.Fatal(err)
		}
	}
	head, err := s.AuditHead(ctx)
	if err != nil || head.Seq != 3 || !bytes.Equal(head.Hash, last.Hash) {
		t.Fatalf("head %+v, %v; want 3 and the last entry's hash", head, err)
	}
	at := clock.Now().Add(123).In(time.FixedZone("EST", -5*3600))
	cp := func(seq int64, sig string) nightowl.AuditCheckpoint {
		return nightowl.AuditCheckpoint{Seq: seq, Hash: bytes.Repeat([]byte{byte(seq)}, 32), Time: at, KeyID: "k1", Sig: []byte(sig)}
	}
	for _, c := range []nightowl.AuditCheckpoint{cp(1, "one"), cp(3, "three"), cp(3, "another node's")} {
		if err := s.AddAuditCheckpoint(ctx, c); err != nil {
			t.Fatalf("add %d: %v", c.Seq, err)
		}
	}
	if err := s.AddAuditCheckpoint(ctx, nightowl.AuditCheckpoint{Seq: 4}); nightowl.ErrorCode(err) != nightowl.EInvalid {
		t.Errorf("an unsigned checkpoint: %v", err)
	}
	check := func(s Records) {
		t.Helper()
		cps, err := s.AuditCheckpoints(ctx, 0)
		if err != nil || len(cps) != 2 {
			t.Fatalf("checkpoints %+v, %v", cps, err)
		}
		if c := cps[0]; c.Seq != 3 || string(c.Sig) != "three" || !c.Time.Equal(at) || c.Time.Location() != time.UTC ||
			c.KeyID != "k1" || !bytes.Equal(c.Hash, bytes.Repeat([]byte{3}, 32)) {
			t.Errorf("newest %+v: the first of seq 3 stays, its time to the nanosecond in UTC", c)
		}
		if one, err := s.AuditCheckpoints(ctx, 1); err != nil || len(one) != 1 || one[0].Seq != 3 {
			t.Errorf("limit 1: %+v, %v", one, err)
		}
	}
	check(s)
	closeRecords(t, s)
	check(reopen())
}
