package audit_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/audit"
	"github.com/nightowl/nightowl/internal/clocktest"
	"github.com/nightowl/nightowl/sqlite"
)

var t0 = time.Date(2026, 3, 17, 22, 0, 0, 0, time.UTC)

func open(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), sqlite.Options{Path: path, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// logOf makes a store at path with n entries, recorded a second apart, and
// closes it.
func logOf(t *testing.T, path string, n int) {
	t.Helper()
	s := open(t, path)
	clock := clocktest.New(t0)
	rec, err := audit.New(audit.Options{Store: s, Clock: clock, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= n; i++ {
		clock.Advance(time.Second)
		err := rec.Audit(context.Background(), nightowl.AuditEntry{
			Actor: []string{"ana", "bob"}[i%2], Action: "alert.ack", Subject: fmt.Sprint("a-", i), Detail: fmt.Sprint("check shop-", i),
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func verify(t *testing.T, path string) audit.Report {
	t.Helper()
	rep, err := audit.Verify(context.Background(), open(t, path))
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// tamper runs SQL on the file as someone with access to it would, past the
// triggers that refuse edits by mistake.
func tamper(t *testing.T, path string, queries ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	queries = append([]string{`DROP TRIGGER IF EXISTS audit_log_no_update`, `DROP TRIGGER IF EXISTS audit_log_no_delete`}, queries...)
	for _, q := range queries {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// rehash rewrites entry seq with edit applied and its hash recomputed, as
// someone who knows how the chain is made would; withHead rewrites the head
// too when seq is the newest.
func rehash(t *testing.T, path string, seq int64, edit func(*nightowl.AuditEntry), withHead bool) {
	t.Helper()
	tamper(t, path)
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var e nightowl.AuditEntry
	var at int64
	if err := db.QueryRow(`SELECT seq, time, actor, action, subject, detail, prev FROM audit_log WHERE seq = ?`, seq).
		Scan(&e.Seq, &at, &e.Actor, &e.Action, &e.Subject, &e.Detail, &e.Prev); err != nil {
		t.Fatal(err)
	}
	e.Time = time.Unix(0, at)
	if len(e.Prev) == 0 {
		e.Prev = nil
	}
	edit(&e)
	e.Hash = nightowl.AuditHash(e)
	if _, err := db.Exec(`UPDATE audit_log SET actor = ?, action = ?, subject = ?, detail = ?, hash = ? WHERE seq = ?`,
		e.Actor, e.Action, e.Subject, e.Detail, e.Hash, seq); err != nil {
		t.Fatal(err)
	}
	if withHead {
		if _, err := db.Exec(`UPDATE audit_head SET hash = ? WHERE seq = ?`, e.Hash, seq); err != nil {
			t.Fatal(err)
		}
	}
}

func TestVerifyWholeChain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nightowl.db")
	if rep := verify(t, path); !rep.OK() || rep.Entries != 0 || rep.String() != "ok: 0 entries, head none" {
		t.Fatalf("empty log: %+v %s", rep, rep)
	}
	logOf(t, path, 10)
	rep := verify(t, path)
	if !rep.OK() || rep.Entries != 10 || rep.Head.Seq != 10 || len(rep.Head.Hash) != 32 {
		t.Fatalf("whole chain: %+v", rep)
	}
	if want := fmt.Sprintf("ok: 10 entries, head %x", rep.Head.Hash); rep.String() != want {
		t.Errorf("report %q, want %q", rep, want)
	}
}

// TestVerifyFindsTampering edits the file with plain SQL in every way the
// chain must catch, and expects the first bad entry named.
func TestVerifyFindsTampering(t *testing.T) {
	for _, tc := range []struct {
		name    string
		tamper  func(t *testing.T, path string)
		kind    string
		seq     int64
		message string
	}{
		{
			name:    "one row's detail edited",
			tamper:  func(t *testing.T, p string) { tamper(t, p, `UPDATE audit_log SET detail = 'check cart' WHERE seq = 4`) },
			kind:    audit.Altered,
			seq:     4,
			message: "entry 4 was altered (its hash does not match its contents)",
		},
		{
			name: "one row's time edited",
			tamper: func(t *testing.T, p string) {
				tamper(t, p, `UPDATE audit_log SET time = time - 3600000000000 WHERE seq = 7`)
			},
			kind:    audit.Altered,
			seq:     7,
			message: "entry 7 was altered",
		},
		{
			name:    "the hash of a row edited",
			tamper:  func(t *testing.T, p string) { tamper(t, p, `UPDATE audit_log SET hash = zeroblob(32) WHERE seq = 2`) },
			kind:    audit.Altered,
			seq:     2,
			message: "entry 2 was altered",
		},
		{
			name:    "a middle row deleted",
			tamper:  func(t *testing.T, p string) { tamper(t, p, `DELETE FROM audit_log WHERE seq = 4`) },
			kind:    audit.Missing,
			seq:     4,
			message: "entry 4 is missing (deleted): the chain goes from 3 to 5",
		},
		{
			name:    "several middle rows deleted",
			tamper:  func(t *testing.T, p string) { tamper(t, p, `DELETE FROM audit_log WHERE seq BETWEEN 4 AND 6`) },
			kind:    audit.Missing,
			seq:     4,
			message: "entries 4 to 6 are missing (deleted): the chain goes from 3 to 7",
		},
		{
			name:    "the first row deleted",
			tamper:  func(t *testing.T, p string) { tamper(t, p, `DELETE FROM audit_log WHERE seq = 1`) },
			kind:    audit.Missing,
			seq:     1,
			message: "entry 1 is missing (deleted): the chain starts at 2",
		},
		{
			name:    "the last row deleted",
			tamper:  func(t *testing.T, p string) { tamper(t, p, `DELETE FROM audit_log WHERE seq = 10`) },
			kind:    audit.Truncated,
			seq:     10,
			message: "the newest entries were deleted: the log ends at 9 but its head says 10",
		},
		{
			name: "two rows' contents swapped",
			tamper: func(t *testing.T, p string) {
				tamper(t, p,
					`UPDATE audit_log SET seq = -1 WHERE seq = 5`,
					`UPDATE audit_log SET seq = 5 WHERE seq = 6`,
					`UPDATE audit_log SET seq = 6 WHERE seq = -1`)
			},
			kind:    audit.Moved,
			seq:     5,
			message: "entry 5 is out of order: it holds the entry that was number 6 (entries were swapped or renumbered)",
		},
		{
			name: "a row deleted and the rest renumbered to close the gap",
			tamper: func(t *testing.T, p string) {
				tamper(t, p, `DELETE FROM audit_log WHERE seq = 4`)
				for seq := 5; seq <= 10; seq++ {
					tamper(t, p, fmt.Sprintf(`UPDATE audit_log SET seq = %d WHERE seq = %d`, seq-1, seq))
				}
				tamper(t, p, `UPDATE audit_head SET seq = 9, hash = (SELECT hash FROM audit_log WHERE seq = 9)`)
			},
			kind:    audit.Moved,
			seq:     4,
			message: "entry 4 is out of order: it holds the entry that was number 5",
		},
		{
			name: "a row edited and its hash recomputed",
			tamper: func(t *testing.T, p string) {
				rehash(t, p, 4, func(e *nightowl.AuditEntry) { e.Actor = "mallory" }, false)
			},
			kind:    audit.Moved,
			seq:     5,
			message: "entry 5 is out of order: it does not follow entry 4 (entries were swapped or renumbered, or entry 4 was rewritten with a new hash)",
		},
		{
			name: "the newest row edited and its hash recomputed",
			tamper: func(t *testing.T, p string) {
				rehash(t, p, 10, func(e *nightowl.AuditEntry) { e.Detail = "nothing" }, false)
			},
			kind:    audit.Altered,
			seq:     10,
			message: "entry 10 was altered (it was rewritten with a new hash: the head has the old one)",
		},
		{
			name:    "the head deleted",
			tamper:  func(t *testing.T, p string) { tamper(t, p, `DELETE FROM audit_head`) },
			kind:    audit.NoHead,
			seq:     10,
			message: "the log's head was deleted",
		},
		{
			name: "an entry appended outside nightowl",
			tamper: func(t *testing.T, p string) {
				tamper(t, p, `INSERT INTO audit_log (seq, time, actor, action, subject, detail, prev, hash)
					SELECT 11, time, actor, action, subject, detail, hash, hash FROM audit_log WHERE seq = 10`)
				rehash(t, p, 11, func(*nightowl.AuditEntry) {}, false)
			},
			kind:    audit.Extended,
			seq:     11,
			message: "entries 11 to 11 were added outside nightowl: the log ends at 11 but its head says 10",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "nightowl.db")
			logOf(t, path, 10)
			tc.tamper(t, path)
			rep := verify(t, path)
			if rep.OK() {
				t.Fatalf("verified: %s", rep)
			}
			if rep.Problem.Kind != tc.kind || rep.Problem.Seq != tc.seq || !strings.HasPrefix(rep.Problem.Message, tc.message) {
				t.Errorf("problem %+v\nwant %s at %d: %s", *rep.Problem, tc.kind, tc.seq, tc.message)
			}
		})
	}
}

// TestWholesaleRewrite shows the limit: whoever rewrites every entry from
// the edited one on, and the head, makes a chain that verifies. Only the
// head hash kept elsewhere tells.
func TestWholesaleRewrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nightowl.db")
	logOf(t, path, 3)
	kept := verify(t, path).Head
	rehash(t, path, 3, func(e *nightowl.AuditEntry) { e.Actor = "mallory" }, true)
	rep := verify(t, path)
	if !rep.OK() {
		t.Fatalf("a consistent rewrite: %s", rep)
	}
	if bytes.Equal(rep.Head.Hash, kept.Hash) {
		t.Fatal("the head hash is the same after the rewrite")
	}
}

// TestConcurrentRecording records from many goroutines at once: the log
// stays one valid chain.
func TestConcurrentRecording(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nightowl.db")
	s := open(t, path)
	rec, err := audit.New(audit.Options{Store: s, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := range 10 {
		wg.Go(func() {
			for i := range 10 {
				if err := rec.Audit(t.Context(), nightowl.AuditEntry{Actor: fmt.Sprint("w", w), Action: "alert.ack", Subject: fmt.Sprint(i)}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	rep, err := audit.Verify(t.Context(), s)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Entries != 100 {
		t.Fatalf("after concurrent recording: %+v %s", rep, rep)
	}
}

func TestRecorder(t *testing.T) {
	if _, err := audit.New(audit.Options{}); err == nil {
		t.Error("a recorder without a store")
	}
	s := open(t, filepath.Join(t.TempDir(), "nightowl.db"))
	clock := clocktest.New(t0)
	rec, err := audit.New(audit.Options{Store: s, Clock: clock, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := rec.Audit(t.Context(), nightowl.AuditEntry{Action: "login"}); nightowl.ErrorCode(err) != nightowl.EInvalid {
		t.Errorf("no actor: %v", err)
	}
	// What happened is recorded even when the caller has gone.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := rec.Audit(ctx, nightowl.AuditEntry{Actor: "ana", Action: "alert.ack", Subject: "a-1"}); err != nil {
		t.Fatalf("with the caller's context ended: %v", err)
	}
	got, err := s.AuditEntries(t.Context(), nightowl.AuditQuery{})
	if err != nil || len(got) != 1 || !got[0].Time.Equal(t0) || got[0].Actor != "ana" {
		t.Fatalf("recorded %+v, %v", got, err)
	}
	s.Close()
	if err := rec.Audit(t.Context(), nightowl.AuditEntry{Actor: "ana", Action: "logout"}); err == nil ||
		!strings.Contains(err.Error(), "record logout by ana in the audit log") {
		t.Errorf("a closed store: %v", err)
	}
}
