package postgres

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/testdb"
)

// TestClaimsRaced claims from several goroutines of two nodes at once:
// every notification is claimed, by one of them, once.
func TestClaimsRaced(t *testing.T) {
	ctx := context.Background()
	dsn := testdb.PostgresSchema(t)
	nodes := []*recordsNode{recordsOpen(t, dsn, Options{}), recordsOpen(t, dsn, Options{})}
	t0 := time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
	const total = 300
	a := &nightowl.Alert{ID: "a-1", Check: "shop", State: nightowl.AlertFiring, StartsAt: t0}
	out := make([]nightowl.Notification, total)
	for i := range out {
		out[i] = nightowl.Notification{Receiver: fmt.Sprint("r", i%3), CreatedAt: t0, NextAt: t0.Add(time.Duration(i%7) * time.Second),
			Message: nightowl.Message{Kind: nightowl.MessageFiring, Alert: *a, IdempotencyKey: fmt.Sprint(i)}}
	}
	if err := nodes[0].SaveAlert(ctx, a, out); err != nil {
		t.Fatal(err)
	}

	const workers = 8
	var mu sync.Mutex
	claimedBy := map[int64][]string{}
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		owner := fmt.Sprint("node-", w%2)
		s := nodes[w%2]
		wg.Go(func() {
			for {
				got, err := s.ClaimNotifications(ctx, owner, t0.Add(time.Minute), 7, time.Hour)
				if err != nil {
					errs <- err
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, n := range got {
					claimedBy[n.ID] = append(claimedBy[n.ID], owner)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(claimedBy) != total {
		t.Errorf("%d notifications claimed, want %d", len(claimedBy), total)
	}
	for id, owners := range claimedBy {
		if len(owners) != 1 {
			t.Errorf("notification %d claimed %d times, by %v", id, len(owners), owners)
		}
	}
	ns, err := nodes[1].Notifications(ctx, nightowl.NotificationQuery{Limit: 2 * total})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range ns {
		if n.Attempts != 1 {
			t.Errorf("notification %d counts %d attempts, want 1", n.ID, n.Attempts)
		}
	}
}

// TestSecretRaced: nodes that make the same secret at once all get one.
func TestSecretRaced(t *testing.T) {
	ctx := context.Background()
	dsn := testdb.PostgresSchema(t)
	nodes := []*recordsNode{recordsOpen(t, dsn, Options{}), recordsOpen(t, dsn, Options{})}
	const workers = 8
	got := make([][]byte, workers)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		s := nodes[w%2]
		wg.Go(func() {
			v, err := s.Secret(ctx, "ack_link_key", 32)
			if err != nil {
				errs <- err
			}
			got[w] = v
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for w := range got {
		if len(got[w]) != 32 || !bytes.Equal(got[w], got[0]) {
			t.Fatalf("worker %d got secret %x, worker 0 %x", w, got[w], got[0])
		}
	}
}
