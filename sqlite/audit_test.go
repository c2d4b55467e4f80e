package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/audit"
	"github.com/nightowl/nightowl/internal/clocktest"
)

// TestAuditAppendOnly: the triggers refuse to edit or delete a row, and
// after the newest rows are deleted anyway the next entry follows the
// head, leaving the gap to be found rather than filling it.
func TestAuditAppendOnly(t *testing.T) {
	ctx := context.Background()
	clock := clocktest.New(t0)
	path := dbPath(t)
	s := openTest(t, path, clock, Options{})
	for i := range 3 {
		if err := s.AppendAudit(ctx, &nightowl.AuditEntry{Actor: "ana", Action: "alert.ack", Subject: fmt.Sprint("a-", i)}); err != nil {
			t.Fatal(err)
		}
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{`UPDATE audit_log SET detail = 'x' WHERE seq = 2`, `DELETE FROM audit_log WHERE seq = 3`} {
		if _, err := db.Exec(q); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: %v, want it refused", q, err)
		}
	}
	if _, err := db.Exec(`DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE seq = 3`); err != nil {
		t.Fatal(err)
	}
	e := nightowl.AuditEntry{Actor: "ana", Action: "logout"}
	if err := s.AppendAudit(ctx, &e); err != nil {
		t.Fatal(err)
	}
	if e.Seq != 4 {
		t.Errorf("appended as %d after the newest was deleted, want 4: the gap must stay", e.Seq)
	}
}

// TestAuditConcurrentAppends appends from many goroutines and from two
// stores on the same file, as the server and the CLI do: the entries form
// one chain, numbered without gaps.
func TestAuditConcurrentAppends(t *testing.T) {
	ctx := context.Background()
	clock := clocktest.New(t0)
	path := dbPath(t)
	server := openTest(t, path, clock, Options{})
	cli := openTest(t, path, clock, Options{})
	const each, workers = 20, 8
	var wg sync.WaitGroup
	errs := make(chan error, each*workers)
	for w := range workers {
		s := server
		if w%2 == 1 {
			s = cli
		}
		wg.Go(func() {
			for i := range each {
				e := nightowl.AuditEntry{Actor: fmt.Sprint("worker-", w), Action: "alert.ack", Subject: fmt.Sprint(i)}
				if err := s.AppendAudit(ctx, &e); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	rep, err := audit.Verify(ctx, server)
	if err != nil || !rep.OK() || rep.Entries != each*workers || rep.Head.Seq != each*workers {
		t.Fatalf("Verify = %v, %v; want %d entries whole", rep, err, each*workers)
	}
}
