package postgres

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/audit"
	"github.com/nightowl/nightowl/internal/testdb"
)

// recordsSQL connects to dsn as someone with the database's password
// would, to do behind nightowl's back what the tests need.
func recordsSQL(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// recordsAppend appends n entries.
func recordsAppend(t *testing.T, s *recordsNode, n int) {
	t.Helper()
	for i := range n {
		e := nightowl.AuditEntry{Actor: "ana", Action: "alert.ack", Subject: fmt.Sprint("a-", i+1)}
		if err := s.AppendAudit(context.Background(), &e); err != nil {
			t.Fatal(err)
		}
	}
}

// TestAuditTampered: rows edited, deleted or moved with SQL are found by
// verifying the chain, which names the first entry concerned.
func TestAuditTampered(t *testing.T) {
	for _, tc := range []struct {
		name   string
		sql    []string
		kind   string
		seq    int64
		reason string
	}{
		{"edited", []string{`UPDATE audit_log SET detail = 'nothing to see' WHERE seq = 2`}, audit.Altered, 2, "altered"},
		{"deleted", []string{`DELETE FROM audit_log WHERE seq = 2`}, audit.Missing, 2, "missing"},
		{"reordered", []string{
			`UPDATE audit_log SET seq = -2 WHERE seq = 2`,
			`UPDATE audit_log SET seq = 2 WHERE seq = 3`,
			`UPDATE audit_log SET seq = 3 WHERE seq = -2`,
		}, audit.Moved, 2, "out of order"},
		{"newest deleted", []string{`DELETE FROM audit_log WHERE seq = 4`}, audit.Truncated, 4, "newest entries were deleted"},
		{"head deleted", []string{`DELETE FROM audit_head`}, audit.NoHead, 4, "head was deleted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			dsn := testdb.PostgresSchema(t)
			s := recordsOpen(t, dsn, Options{})
			recordsAppend(t, s, 4)
			if rep, err := audit.Verify(ctx, s); err != nil || !rep.OK() {
				t.Fatalf("before tampering: %v, %v", rep, err)
			}
			conn := recordsSQL(t, dsn)
			if _, err := conn.Exec(ctx, `ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_edit`); err != nil {
				t.Fatal(err)
			}
			for _, q := range tc.sql {
				if _, err := conn.Exec(ctx, q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			rep, err := audit.Verify(ctx, s)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Problem == nil || rep.Problem.Kind != tc.kind || rep.Problem.Seq != tc.seq ||
				!strings.Contains(rep.Problem.Message, tc.reason) {
				t.Fatalf("Verify = %+v, want %s at %d", rep.Problem, tc.kind, tc.seq)
			}
		})
	}
}

// TestAuditAppendOnly: the triggers refuse to edit or delete a row, and
// after the newest rows are deleted anyway the next entry follows the
// head, leaving the gap to be found rather than filling it.
func TestAuditAppendOnly(t *testing.T) {
	ctx := context.Background()
	dsn := testdb.PostgresSchema(t)
	s := recordsOpen(t, dsn, Options{})
	recordsAppend(t, s, 3)
	conn := recordsSQL(t, dsn)
	for _, q := range []string{
		`UPDATE audit_log SET detail = 'x' WHERE seq = 2`,
		`DELETE FROM audit_log WHERE seq = 3`,
		`TRUNCATE audit_log`,
	} {
		if _, err := conn.Exec(ctx, q); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: %v, want it refused", q, err)
		}
	}
	if _, err := conn.Exec(ctx, `ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_edit`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `DELETE FROM audit_log WHERE seq = 3`); err != nil {
		t.Fatal(err)
	}
	e := nightowl.AuditEntry{Actor: "ana", Action: "logout"}
	if err := s.AppendAudit(ctx, &e); err != nil {
		t.Fatal(err)
	}
	if e.Seq != 4 {
		t.Errorf("appended as %d after the newest was deleted, want 4: the gap must stay", e.Seq)
	}
	if rep, err := audit.Verify(ctx, s); err != nil || rep.Problem == nil || rep.Problem.Kind != audit.Missing || rep.Problem.Seq != 3 {
		t.Errorf("Verify = %v, %v; want entry 3 missing", rep, err)
	}
}

// TestAuditAppendsRaced appends from several goroutines of two nodes at
// once: the entries still form one chain, numbered without gaps.
func TestAuditAppendsRaced(t *testing.T) {
	ctx := context.Background()
	dsn := testdb.PostgresSchema(t)
	nodes := []*recordsNode{recordsOpen(t, dsn, Options{}), recordsOpen(t, dsn, Options{})}
	const workers, each = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		s := nodes[w%2]
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
	for i, s := range nodes {
		rep, err := audit.Verify(ctx, s)
		if err != nil || !rep.OK() || rep.Entries != workers*each || rep.Head.Seq != workers*each {
			t.Errorf("node %d: Verify = %v, %v; want %d entries whole", i, rep, err, workers*each)
		}
	}
}
