package audit_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/audit"
)

// chainStore is an audit log held in memory, as a tamperer left it: the
// entries in the order the store gives them, the head and the checkpoints.
type chainStore struct {
	nightowl.AuditStore
	entries []nightowl.AuditEntry
	head    nightowl.AuditHead
	cps     []nightowl.AuditCheckpoint
}

func (s *chainStore) AuditChain(_ context.Context, fn func(nightowl.AuditEntry) error) (nightowl.AuditHead, error) {
	for _, e := range s.entries {
		if err := fn(e); err != nil {
			return s.head, err
		}
	}
	return s.head, nil
}

func (s *chainStore) AuditCheckpoints(context.Context, int) ([]nightowl.AuditCheckpoint, error) {
	return s.cps, nil
}

// genuineChain is a log of n entries as nightowl appends them.
func genuineChain(n int) ([]nightowl.AuditEntry, nightowl.AuditHead) {
	var out []nightowl.AuditEntry
	var prev []byte
	for i := 1; i <= n; i++ {
		e := nightowl.AuditEntry{Seq: int64(i), Time: t0.Add(time.Duration(i) * time.Second), Actor: "ana", Action: "alert.ack", Subject: fmt.Sprint("a-", i), Prev: prev}
		e.Hash = nightowl.AuditHash(e)
		out = append(out, e)
		prev = e.Hash
	}
	if n == 0 {
		return nil, nightowl.AuditHead{}
	}
	return out, nightowl.AuditHead{Seq: int64(n), Hash: prev}
}

// wellFormed is what a whole chain is, written as plainly as possible: the
// entries 1 to n in order, each hashing to its hash and naming the one
// before, and the head naming the last.
func wellFormed(entries []nightowl.AuditEntry, head nightowl.AuditHead) bool {
	var prev []byte
	for i, e := range entries {
		if e.Seq != int64(i+1) || !bytes.Equal(nightowl.AuditHash(e), e.Hash) || !bytes.Equal(e.Prev, prev) {
			return false
		}
		prev = e.Hash
	}
	return head.Seq == int64(len(entries)) && bytes.Equal(head.Hash, prev)
}

// FuzzVerifyChain: whatever a tamperer does to a log (edit an entry, with
// or without recomputing its hash and those after it, delete, swap or
// renumber entries, move or drop the head), the verifier passes exactly the
// well-formed chains; with a checkpoint signed at the genuine head, exactly
// the genuine log. A problem is always named.
func FuzzVerifyChain(f *testing.F) {
	f.Add(uint8(5), []byte{}, false)
	f.Add(uint8(5), []byte{}, true)
	f.Add(uint8(0), []byte{}, true)
	f.Add(uint8(7), []byte{0, 3, 'x'}, false)           // edit entry 4
	f.Add(uint8(7), []byte{1, 3, 'x', 6, 2, 'y'}, true) // rewrite from entry 3
	f.Add(uint8(7), []byte{2, 6, 0, 4, 5, 0}, false)    // cut the last entry, move the head back
	f.Add(uint8(7), []byte{3, 1, 2}, false)             // swap
	f.Add(uint8(9), []byte{5, 4, 1, 2, 0, 0}, true)     // renumber, delete the first
	_, priv, _ := ed25519.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{1}, 64)))
	signer := audit.NewSigner(priv)
	f.Fuzz(func(t *testing.T, n uint8, ops []byte, signed bool) {
		genuine, ghead := genuineChain(int(n % 20))
		s := &chainStore{entries: append([]nightowl.AuditEntry(nil), genuine...), head: ghead}
		for ; len(ops) >= 3; ops = ops[3:] {
			op, a, b := ops[0]%7, int(ops[1]), ops[2]
			if len(s.entries) == 0 {
				break
			}
			i, j := a%len(s.entries), int(b)%len(s.entries)
			e := &s.entries[i]
			switch op {
			case 0: // edit, keeping the hash
				e.Subject += string(rune(b))
			case 1: // edit and hash again
				e.Detail += string(rune(b))
				e.Hash = nightowl.AuditHash(*e)
			case 2:
				s.entries = append(s.entries[:i:i], s.entries[i+1:]...)
			case 3:
				s.entries[i], s.entries[j] = s.entries[j], s.entries[i]
			case 4: // the head names another entry, or none
				if b%2 == 0 {
					s.head = nightowl.AuditHead{Seq: e.Seq, Hash: e.Hash}
				} else {
					s.head = nightowl.AuditHead{}
				}
			case 5:
				e.Seq = int64(b)
			case 6: // rewrite from i on, as someone who knows the format would
				e.Detail += string(rune(b))
				var prev []byte
				if i > 0 {
					prev = s.entries[i-1].Hash
				}
				for k := i; k < len(s.entries); k++ {
					s.entries[k].Prev = prev
					s.entries[k].Hash = nightowl.AuditHash(s.entries[k])
					prev = s.entries[k].Hash
				}
				last := s.entries[len(s.entries)-1]
				s.head = nightowl.AuditHead{Seq: last.Seq, Hash: last.Hash}
			}
		}
		var opts audit.VerifyOptions
		if signed && len(genuine) > 0 {
			s.cps = []nightowl.AuditCheckpoint{signer.Sign(ghead, t0)}
			opts.PublicKeys = []ed25519.PublicKey{signer.Public()}
		}
		rep, err := audit.VerifyWith(context.Background(), s, opts)
		if err != nil {
			t.Fatal(err)
		}
		want := wellFormed(s.entries, s.head)
		if opts.PublicKeys != nil {
			want = reflect.DeepEqual(s.entries, genuine) && reflect.DeepEqual(s.head, ghead)
		}
		if rep.OK() != want {
			t.Fatalf("verified %v, want %v: %s", rep.OK(), want, rep)
		}
		if rep.OK() && rep.Entries != int64(len(s.entries)) {
			t.Fatalf("%d entries of %d verified", rep.Entries, len(s.entries))
		}
		if !rep.OK() && (rep.Problem.Kind == "" || rep.Problem.Message == "") {
			t.Fatalf("an unnamed problem: %+v", rep.Problem)
		}
	})
}
