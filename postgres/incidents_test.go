package postgres

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/testdb"
)

// TestIncidentsOpenedRaced opens incidents from several goroutines of two
// nodes at once: each gets its own number, and the numbers run from 1
// without gaps.
func TestIncidentsOpenedRaced(t *testing.T) {
	ctx := context.Background()
	dsn := testdb.PostgresSchema(t)
	nodes := []*recordsNode{recordsOpen(t, dsn, Options{}), recordsOpen(t, dsn, Options{})}
	const workers, each = 8, 5
	at := time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
	var mu sync.Mutex
	var ids []string
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		s := nodes[w%2]
		wg.Go(func() {
			for i := range each {
				inc := &nightowl.Incident{Title: fmt.Sprintf("outage %d.%d", w, i), State: nightowl.IncidentInvestigating,
					Impact: nightowl.ImpactMinor, CreatedAt: at, UpdatedAt: at}
				u := &nightowl.IncidentUpdate{Time: at, By: "ana", Message: "looking"}
				if err := s.SaveIncident(ctx, inc, u); err != nil {
					errs <- err
					continue
				}
				mu.Lock()
				ids = append(ids, inc.ID)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var want []string
	for i := range workers * each {
		want = append(want, fmt.Sprint("inc-", i+1))
	}
	slices.Sort(ids)
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		t.Fatalf("ids given: %v\nwant each of %v once", ids, want)
	}
	list, err := nodes[0].Incidents(ctx, nightowl.IncidentQuery{Limit: 1000})
	if err != nil || len(list) != workers*each {
		t.Fatalf("Incidents = %d, %v; want %d", len(list), err, workers*each)
	}
}
