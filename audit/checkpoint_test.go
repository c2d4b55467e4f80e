package audit_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/audit"
	"github.com/nightowl/nightowl/internal/clocktest"
	"github.com/nightowl/nightowl/sqlite"
)

// signedLogOf makes a store at path with n entries, signing a checkpoint
// after every batch of size entries, and returns the key's public half.
func signedLogOf(t *testing.T, path string, n, batch int) *audit.Signer {
	t.Helper()
	keyFile := filepath.Join(t.TempDir(), "audit.key")
	if _, err := audit.GenerateKeyFile(keyFile); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := audit.ParseSigningKey(data)
	if err != nil {
		t.Fatal(err)
	}
	s := open(t, path)
	clock := clocktest.New(t0)
	rec, err := audit.New(audit.Options{Store: s, Clock: clock, Logger: slog.New(slog.DiscardHandler), Signer: signer})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= n; i++ {
		clock.Advance(time.Second)
		if err := rec.Audit(context.Background(), nightowl.AuditEntry{Actor: "ana", Action: "alert.ack", Subject: fmt.Sprint("a-", i)}); err != nil {
			t.Fatal(err)
		}
		if i%batch == 0 {
			if _, ok, err := rec.Checkpoint(context.Background()); err != nil || !ok {
				t.Fatalf("checkpoint after %d: %t %v", i, ok, err)
			}
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return signer
}

func verifyWith(t *testing.T, path string, opts audit.VerifyOptions) audit.Report {
	t.Helper()
	rep, err := audit.VerifyWith(context.Background(), open(t, path), opts)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestCheckpoints(t *testing.T) {
	t.Run("whole", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "nightowl.db")
		signer := signedLogOf(t, path, 10, 3)
		rep := verifyWith(t, path, audit.VerifyOptions{PublicKeys: []ed25519.PublicKey{signer.Public()}, ExpectHead: nil})
		if !rep.OK() || rep.Checkpoints != 3 || rep.Signed != 9 || !strings.Contains(rep.String(), "entries 10 to 10 are not signed yet") {
			t.Fatalf("%+v: %s", rep, rep)
		}
		if rep := verify(t, path); !rep.OK() || rep.Unchecked != 3 {
			t.Fatalf("without a key: %+v", rep)
		}
	})
	t.Run("tail cut and head moved back", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "nightowl.db")
		signer := signedLogOf(t, path, 10, 3)
		var hash7 []byte
		db, _ := sql.Open("sqlite", path)
		db.QueryRow(`SELECT hash FROM audit_log WHERE seq = 7`).Scan(&hash7)
		db.Close()
		tamper(t, path, `DELETE FROM audit_log WHERE seq > 7`, fmt.Sprintf(`UPDATE audit_head SET seq = 7, hash = x'%x'`, hash7))
		if rep := verify(t, path); !rep.OK() {
			t.Fatalf("the chain alone should look whole: %s", rep)
		}
		rep := verifyWith(t, path, audit.VerifyOptions{PublicKeys: []ed25519.PublicKey{signer.Public()}})
		if rep.OK() || rep.Problem.Kind != audit.Cut || rep.Problem.Seq != 8 || !strings.Contains(rep.String(), "entries 8 to 9 were cut") {
			t.Fatalf("%+v", rep.Problem)
		}
	})
	t.Run("whole chain rewritten", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "nightowl.db")
		signer := signedLogOf(t, path, 4, 2)
		for seq := int64(1); seq <= 4; seq++ {
			rewrite(t, path, seq, func(e *nightowl.AuditEntry) { e.Actor = "mallory" })
		}
		if rep := verify(t, path); !rep.OK() {
			t.Fatalf("the chain alone should look whole: %s", rep)
		}
		rep := verifyWith(t, path, audit.VerifyOptions{PublicKeys: []ed25519.PublicKey{signer.Public()}})
		if rep.OK() || rep.Problem.Kind != audit.Rewritten || rep.Problem.Seq != 2 {
			t.Fatalf("%+v", rep.Problem)
		}
	})
	t.Run("forged checkpoint", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "nightowl.db")
		signer := signedLogOf(t, path, 4, 2)
		tamper(t, path, `DROP TRIGGER audit_checkpoints_no_update`, `UPDATE audit_checkpoints SET seq = 3 WHERE seq = 4`)
		rep := verifyWith(t, path, audit.VerifyOptions{PublicKeys: []ed25519.PublicKey{signer.Public()}})
		if rep.OK() || rep.Problem.Kind != audit.BadCheckpoint {
			t.Fatalf("%+v", rep.Problem)
		}
		other, _, _ := ed25519.GenerateKey(nil)
		path2 := filepath.Join(t.TempDir(), "nightowl.db")
		signedLogOf(t, path2, 2, 2)
		if rep := verifyWith(t, path2, audit.VerifyOptions{PublicKeys: []ed25519.PublicKey{other}}); rep.OK() || rep.Problem.Kind != audit.BadCheckpoint {
			t.Fatalf("another key: %+v", rep.Problem)
		}
	})
	t.Run("checkpoints deleted", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "nightowl.db")
		signer := signedLogOf(t, path, 4, 2)
		tamper(t, path, `DROP TRIGGER audit_checkpoints_no_delete`, `DELETE FROM audit_checkpoints`)
		rep := verifyWith(t, path, audit.VerifyOptions{PublicKeys: []ed25519.PublicKey{signer.Public()}})
		if rep.OK() || rep.Problem.Kind != audit.NoCheckpoint {
			t.Fatalf("%+v", rep.Problem)
		}
	})
	t.Run("expect head", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "nightowl.db")
		logOf(t, path, 5)
		var hash3, hash5 []byte
		db, _ := sql.Open("sqlite", path)
		db.QueryRow(`SELECT hash FROM audit_log WHERE seq = 3`).Scan(&hash3)
		db.QueryRow(`SELECT hash FROM audit_log WHERE seq = 5`).Scan(&hash5)
		db.Close()
		for _, h := range [][]byte{hash3, hash5} {
			if rep := verifyWith(t, path, audit.VerifyOptions{ExpectHead: h}); !rep.OK() {
				t.Fatalf("a hash in the chain: %s", rep)
			}
		}
		tamper(t, path, `DELETE FROM audit_log WHERE seq > 3`, fmt.Sprintf(`UPDATE audit_head SET seq = 3, hash = x'%x'`, hash3))
		rep := verifyWith(t, path, audit.VerifyOptions{ExpectHead: hash5})
		if rep.OK() || rep.Problem.Kind != audit.NotExpected {
			t.Fatalf("a hash cut off: %+v", rep.Problem)
		}
		stale := bytes.Repeat([]byte{7}, 32)
		if rep := verifyWith(t, path, audit.VerifyOptions{ExpectHead: stale}); rep.OK() {
			t.Fatal("a hash never in the chain passed")
		}
	})
}

// rewrite rewrites entry seq with edit applied, chained to the entry before
// as it is now and hashed anew, and the head with it when seq is the
// newest: a wholesale rewrite, done one entry at a time from the first.
func rewrite(t *testing.T, path string, seq int64, edit func(*nightowl.AuditEntry)) {
	t.Helper()
	tamper(t, path)
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var e nightowl.AuditEntry
	var at int64
	if err := db.QueryRow(`SELECT seq, time, actor, action, subject, detail FROM audit_log WHERE seq = ?`, seq).
		Scan(&e.Seq, &at, &e.Actor, &e.Action, &e.Subject, &e.Detail); err != nil {
		t.Fatal(err)
	}
	e.Time = time.Unix(0, at)
	if seq > 1 {
		if err := db.QueryRow(`SELECT hash FROM audit_log WHERE seq = ?`, seq-1).Scan(&e.Prev); err != nil {
			t.Fatal(err)
		}
	}
	edit(&e)
	e.Hash = nightowl.AuditHash(e)
	if _, err := db.Exec(`UPDATE audit_log SET actor = ?, prev = ?, hash = ? WHERE seq = ?`, e.Actor, orEmpty(e.Prev), e.Hash, seq); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE audit_head SET hash = ? WHERE seq = ?`, e.Hash, seq); err != nil {
		t.Fatal(err)
	}
}

func orEmpty(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// FuzzParseKeys: no key file makes the parsers panic, and whatever
// ParseSigningKey accepts signs checkpoints that its public half verifies.
func FuzzParseKeys(f *testing.F) {
	dir := f.TempDir()
	if _, err := audit.GenerateKeyFile(filepath.Join(dir, "k")); err != nil {
		f.Fatal(err)
	}
	good, _ := os.ReadFile(filepath.Join(dir, "k"))
	s, _ := audit.ParseSigningKey(good)
	for _, seed := range [][]byte{good, audit.PublicKeyPEM(s.Public()), nil, []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		audit.ParsePublicKey(data)
		s, err := audit.ParseSigningKey(data)
		if err != nil {
			return
		}
		c := s.Sign(nightowl.AuditHead{Seq: 1, Hash: bytes.Repeat([]byte{1}, 32)}, t0)
		if !audit.VerifyCheckpoint(s.Public(), c) {
			t.Fatal("a checkpoint does not verify with its own key")
		}
	})
}

// signingRecorder opens a store at path and a recorder that signs with a
// new key.
func signingRecorder(t *testing.T, path string) (*sqlite.Store, *audit.Recorder, *audit.Signer) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	signer := audit.NewSigner(priv)
	s := open(t, path)
	return s, recorderOf(t, s, signer), signer
}

func recorderOf(t *testing.T, s *sqlite.Store, signer *audit.Signer) *audit.Recorder {
	t.Helper()
	rec, err := audit.New(audit.Options{Store: s, Clock: clocktest.New(t0), Logger: slog.New(slog.DiscardHandler), Signer: signer})
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

func appendN(t *testing.T, rec *audit.Recorder, n int) {
	t.Helper()
	for i := range n {
		if err := rec.Audit(context.Background(), nightowl.AuditEntry{Actor: "ana", Action: "alert.ack", Subject: fmt.Sprint("a-", i)}); err != nil {
			t.Fatal(err)
		}
	}
}

func wantRefused(t *testing.T, rec *audit.Recorder, refused int64) {
	t.Helper()
	c, ok, err := rec.Checkpoint(context.Background())
	if ok || !errors.Is(err, audit.ErrHeadRefused) {
		t.Fatalf("signed %+v, %t, %v; want a refusal", c, ok, err)
	}
	if rec.Refused() != refused {
		t.Fatalf("refused %d times, want %d", rec.Refused(), refused)
	}
}

func wantSigned(t *testing.T, rec *audit.Recorder, seq int64) {
	t.Helper()
	c, ok, err := rec.Checkpoint(context.Background())
	if !ok || err != nil || c.Seq != seq {
		t.Fatalf("checkpoint %+v, %t, %v; want one of %d", c, ok, err, seq)
	}
}

func hashOf(t *testing.T, path string, seq int64) []byte {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var h []byte
	if err := db.QueryRow(`SELECT hash FROM audit_log WHERE seq = ?`, seq).Scan(&h); err != nil {
		t.Fatal(err)
	}
	return h
}

// TestCheckpointRefusesTampering: the server does not sign a head that
// does not continue the log it signed, whatever was done to the stored
// checkpoints, and a stored checkpoint that does not verify does not stop
// it signing.
func TestCheckpointRefusesTampering(t *testing.T) {
	cut := func(t *testing.T, path string, to int64) {
		tamper(t, path, `DROP TRIGGER audit_checkpoints_no_delete`,
			fmt.Sprintf(`DELETE FROM audit_log WHERE seq > %d`, to),
			fmt.Sprintf(`DELETE FROM audit_checkpoints WHERE seq > %d`, to),
			fmt.Sprintf(`UPDATE audit_head SET seq = %d, hash = x'%x'`, to, hashOf(t, path, to)))
	}
	t.Run("tail cut with its checkpoints", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "nightowl.db")
		_, rec, _ := signingRecorder(t, path)
		appendN(t, rec, 3)
		wantSigned(t, rec, 3)
		appendN(t, rec, 3)
		wantSigned(t, rec, 6)
		cut(t, path, 4)
		wantRefused(t, rec, 1)
		appendN(t, rec, 4) // the head is above the signed seq again
		wantRefused(t, rec, 2)
	})
	t.Run("chain rewritten and every checkpoint deleted", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "nightowl.db")
		_, rec, _ := signingRecorder(t, path)
		appendN(t, rec, 4)
		wantSigned(t, rec, 4)
		for seq := int64(1); seq <= 4; seq++ {
			rewrite(t, path, seq, func(e *nightowl.AuditEntry) { e.Actor = "mallory" })
		}
		tamper(t, path, `DROP TRIGGER audit_checkpoints_no_delete`, `DELETE FROM audit_checkpoints`)
		wantRefused(t, rec, 1)
		appendN(t, rec, 1)
		wantRefused(t, rec, 2)
	})
	t.Run("a checkpoint with a huge seq", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "nightowl.db")
		s, rec, signer := signingRecorder(t, path)
		appendN(t, rec, 2)
		wantSigned(t, rec, 2)
		tamper(t, path, fmt.Sprintf(`INSERT INTO audit_checkpoints (seq, hash, time, key_id, sig) VALUES (1000000000, x'%x', 0, '%s', x'%x')`,
			bytes.Repeat([]byte{1}, 32), signer.KeyID(), bytes.Repeat([]byte{2}, 64)))
		appendN(t, rec, 1)
		wantSigned(t, rec, 3)
		// So does a server started now.
		appendN(t, rec, 1)
		wantSigned(t, recorderOf(t, s, signer), 4)
	})
	t.Run("a server started after the tail was cut", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "nightowl.db")
		s, rec, signer := signingRecorder(t, path)
		appendN(t, rec, 3)
		wantSigned(t, rec, 3)
		appendN(t, rec, 3)
		wantSigned(t, rec, 6)
		tamper(t, path, `DELETE FROM audit_log WHERE seq > 4`,
			fmt.Sprintf(`UPDATE audit_head SET seq = 4, hash = x'%x'`, hashOf(t, path, 4)))
		wantRefused(t, recorderOf(t, s, signer), 1)
	})
	t.Run("the head of another node", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "nightowl.db")
		s, rec, signer := signingRecorder(t, path)
		other := recorderOf(t, s, signer)
		appendN(t, rec, 2)
		wantSigned(t, rec, 2)
		appendN(t, other, 2)
		wantSigned(t, other, 4)
		if _, ok, err := rec.Checkpoint(context.Background()); ok || err != nil {
			t.Fatalf("signed the head another node signed: %t %v", ok, err)
		}
		appendN(t, other, 1)
		wantSigned(t, rec, 5)
	})
}
