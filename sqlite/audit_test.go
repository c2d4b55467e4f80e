package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/clocktest"
)

// chain reads the whole log in seq order with its head.
func chain(t *testing.T, s *Store) ([]nightowl.AuditEntry, nightowl.AuditHead) {
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

// checkChain fails unless entries are numbered 1 to n, each hashed right
// and following the one before, and head is the last.
func checkChain(t *testing.T, entries []nightowl.AuditEntry, head nightowl.AuditHead, n int) {
	t.Helper()
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
}

func TestAuditAppendAndRead(t *testing.T) {
	ctx := context.Background()
	clock := clocktest.New(t0)
	path := dbPath(t)
	s := openTest(t, path, clock, Options{})

	if _, head := chain(t, s); head.Seq != 0 || head.Hash != nil {
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
	entries, head := chain(t, s)
	checkChain(t, entries, head, len(in))
	for i := range in {
		if fmt.Sprint(entries[i]) != fmt.Sprint(in[i]) {
			t.Errorf("read back %+v, appended %+v", entries[i], in[i])
		}
	}

	for _, tc := range []struct {
		name string
		q    nightowl.AuditQuery
		want []int64
	}{
		{"all, newest first", nightowl.AuditQuery{}, []int64{5, 4, 3, 2, 1}},
		{"limit", nightowl.AuditQuery{Limit: 2}, []int64{5, 4}},
		{"actor", nightowl.AuditQuery{Actor: "ana"}, []int64{2, 1}},
		{"action prefix", nightowl.AuditQuery{Action: "action."}, []int64{5, 4, 3}},
		{"whole action", nightowl.AuditQuery{Action: "login"}, []int64{1}},
		{"prefix is exact, not a pattern", nightowl.AuditQuery{Action: "ACTION%"}, nil},
		{"since", nightowl.AuditQuery{Since: t0.Add(time.Second)}, []int64{2}},
		{"both", nightowl.AuditQuery{Actor: "bob", Action: "action.app"}, []int64{4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.AuditEntries(ctx, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			var seqs []int64
			for _, e := range got {
				seqs = append(seqs, e.Seq)
			}
			if fmt.Sprint(seqs) != fmt.Sprint(tc.want) {
				t.Errorf("seqs %v, want %v", seqs, tc.want)
			}
		})
	}

	if err := s.AppendAudit(ctx, &nightowl.AuditEntry{Action: "login"}); nightowl.ErrorCode(err) != nightowl.EInvalid {
		t.Errorf("an entry without an actor: %v", err)
	}

	// Durable, and the chain goes on after a restart.
	s.Close()
	s = openTest(t, path, clock, Options{})
	if err := s.AppendAudit(ctx, &nightowl.AuditEntry{Actor: "ana", Action: "logout"}); err != nil {
		t.Fatal(err)
	}
	entries, head = chain(t, s)
	checkChain(t, entries, head, len(in)+1)
}

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
	entries, head := chain(t, server)
	checkChain(t, entries, head, each*workers)
}
