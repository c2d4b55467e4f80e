package audit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/nightowl/nightowl"
)

// Kinds of Problem.
const (
	Altered   = "altered"      // an entry's hash does not match its contents
	Missing   = "missing"      // entries were deleted from the middle or start
	Moved     = "out-of-order" // an entry is not where the chain put it
	Truncated = "truncated"    // the newest entries were deleted
	Extended  = "extended"     // entries beyond the head were added outside nightowl
	NoHead    = "no-head"      // the head was deleted
	// With checkpoints (VerifyOptions.PublicKeys):
	BadCheckpoint = "bad-checkpoint" // a checkpoint's signature does not verify
	Cut           = "cut"            // entries a checkpoint signed are gone
	Rewritten     = "rewritten"      // an entry differs from its signed checkpoint
	NoCheckpoint  = "no-checkpoint"  // the log has entries but no checkpoint
	// With VerifyOptions.ExpectHead:
	NotExpected = "unexpected-head" // the chain lacks the expected hash
)

// VerifyOptions add what is kept outside the database to what Verify
// checks.
type VerifyOptions struct {
	// PublicKeys verify the signed checkpoints: each must be signed by
	// one of them, and each checkpointed entry must still be in the chain
	// with the hash it had. Checkpoints are not checked when empty.
	PublicKeys []ed25519.PublicKey
	// ExpectHead is a head hash recorded earlier, outside nightowl: the
	// chain must contain it, at or before its head.
	ExpectHead []byte
}

// Problem is the first thing wrong with a chain.
type Problem struct {
	Kind string
	// Seq is the entry it names: the first one altered, missing or out of
	// order, or for Truncated the last one the head says there was.
	Seq     int64
	Message string
}

// Report is the outcome of Verify.
type Report struct {
	// Entries counts the entries that verified, in order, before any
	// problem.
	Entries int64
	// Head is the head of the log as the store keeps it. When the chain
	// is whole its hash is the newest entry's: kept outside nightowl, it
	// shows later whether the log was rewritten wholesale.
	Head nightowl.AuditHead
	// Checkpoints counts the signed checkpoints that verified, and
	// Signed is the newest one's seq: entries after it are covered by no
	// checkpoint yet. Unchecked counts the checkpoints kept but not
	// checked, for want of a public key.
	Checkpoints int
	Signed      int64
	Unchecked   int
	// Problem is nil when the chain is whole.
	Problem *Problem
}

// OK reports whether the chain is whole.
func (r Report) OK() bool { return r.Problem == nil }

// String says what the report found, in one line: "ok: 42 entries, head
// 3f…", or the problem.
func (r Report) String() string {
	if r.Problem != nil {
		return r.Problem.Message
	}
	out := fmt.Sprintf("ok: %d entries, head %s", r.Entries, HeadHex(r.Head))
	switch {
	case r.Checkpoints > 0 && r.Signed < r.Head.Seq:
		out += fmt.Sprintf("; %d signed checkpoints, the newest at %d: entries %d to %d are not signed yet", r.Checkpoints, r.Signed, r.Signed+1, r.Head.Seq)
	case r.Checkpoints > 0:
		out += fmt.Sprintf("; %d signed checkpoints, the newest at the head", r.Checkpoints)
	case r.Unchecked > 0:
		out += fmt.Sprintf("; %d checkpoints not checked: no public key", r.Unchecked)
	}
	return out
}

// HeadHex is the hash of the head in hex; "none" for an empty log.
func HeadHex(h nightowl.AuditHead) string {
	if len(h.Hash) == 0 {
		return "none"
	}
	return hex.EncodeToString(h.Hash)
}

// moveWindow bounds how far from where it stands Verify looks for the seq
// an entry was hashed with, to tell a moved entry from an altered one.
const moveWindow = 1024

// errStop ends the walk at the first problem.
var errStop = errors.New("stop")

// Verify walks the store's log in seq order, recomputing every entry's hash
// and checking that each follows the one before, and that the newest agrees
// with the head. It reports the first problem, naming the entry; the error
// is for a store that could not be read.
func Verify(ctx context.Context, store nightowl.AuditStore) (Report, error) {
	return VerifyWith(ctx, store, VerifyOptions{})
}

// VerifyWith is Verify that also checks the signed checkpoints against
// opts.PublicKeys and the chain against opts.ExpectHead.
func VerifyWith(ctx context.Context, store nightowl.AuditStore, opts VerifyOptions) (Report, error) {
	var rep Report
	var last nightowl.AuditEntry // Seq 0 and no hash before the first
	problem := func(kind string, seq int64, format string, args ...any) error {
		rep.Problem = &Problem{Kind: kind, Seq: seq, Message: fmt.Sprintf(format, args...)}
		return errStop
	}
	cps, err := store.AuditCheckpoints(ctx, 0)
	if err != nil {
		return rep, err
	}
	// signed: the checkpoints by seq, once each signature verified.
	signed := map[int64]nightowl.AuditCheckpoint{}
	if len(opts.PublicKeys) == 0 {
		rep.Unchecked = len(cps)
		cps = nil
	}
	for _, c := range cps {
		if !signedByOneOf(opts.PublicKeys, c) {
			problem(BadCheckpoint, c.Seq, "the checkpoint of entry %d (signed at %s by key %s) does not verify with the public key: it was forged or altered, or signed with another key", c.Seq, stamp(c.Time), c.KeyID)
			return rep, nil
		}
		signed[c.Seq] = c
		rep.Checkpoints++
		rep.Signed = max(rep.Signed, c.Seq)
	}
	var expected int64 // the seq of the entry with opts.ExpectHead
	head, err := store.AuditChain(ctx, func(e nightowl.AuditEntry) error {
		if !bytes.Equal(nightowl.AuditHash(e), e.Hash) {
			if orig, ok := hashedAs(e); ok {
				return problem(Moved, e.Seq, "entry %d is out of order: it holds the entry that was number %d (entries were swapped or renumbered)", e.Seq, orig)
			}
			return problem(Altered, e.Seq, "entry %d was altered (its hash does not match its contents)", e.Seq)
		}
		if want := last.Seq + 1; e.Seq != want {
			switch {
			case last.Seq == 0 && e.Seq == 2:
				return problem(Missing, 1, "entry 1 is missing (deleted): the chain starts at 2")
			case last.Seq == 0 && e.Seq > 2:
				return problem(Missing, 1, "entries 1 to %d are missing (deleted): the chain starts at %d", e.Seq-1, e.Seq)
			case e.Seq == want+1:
				return problem(Missing, want, "entry %d is missing (deleted): the chain goes from %d to %d", want, last.Seq, e.Seq)
			case e.Seq > want:
				return problem(Missing, want, "entries %d to %d are missing (deleted): the chain goes from %d to %d", want, e.Seq-1, last.Seq, e.Seq)
			default: // a store that does not give entries in seq order
				return problem(Moved, e.Seq, "entry %d is out of order: it comes after entry %d", e.Seq, last.Seq)
			}
		}
		if !bytes.Equal(e.Prev, last.Hash) {
			if last.Seq == 0 {
				return problem(Moved, e.Seq, "entry %d is out of order: it is first, but follows an entry before it (the entries before were deleted and the rest renumbered)", e.Seq)
			}
			return problem(Moved, e.Seq, "entry %d is out of order: it does not follow entry %d (entries were swapped or renumbered, or entry %d was rewritten with a new hash)", e.Seq, last.Seq, last.Seq)
		}
		if c, ok := signed[e.Seq]; ok && !bytes.Equal(c.Hash, e.Hash) {
			return problem(Rewritten, e.Seq, "entry %d is not the one signed at %s: the log was rewritten from there or before (the checkpoint has hash %s, the entry %s)", e.Seq, stamp(c.Time), short(c.Hash), short(e.Hash))
		}
		if len(opts.ExpectHead) > 0 && expected == 0 && bytes.Equal(e.Hash, opts.ExpectHead) {
			expected = e.Seq
		}
		last = e
		rep.Entries++
		return nil
	})
	rep.Head = head
	if errors.Is(err, errStop) {
		return rep, nil
	}
	if err != nil {
		return rep, err
	}
	switch {
	case head.Seq == 0 && last.Seq > 0:
		problem(NoHead, last.Seq, "the log's head was deleted: it ends at %d, but whether entries after it were deleted too cannot be told", last.Seq)
	case head.Seq > last.Seq:
		problem(Truncated, head.Seq, "the newest entries were deleted: the log ends at %d but its head says %d", last.Seq, head.Seq)
	case head.Seq < last.Seq:
		problem(Extended, head.Seq+1, "entries %d to %d were added outside nightowl: the log ends at %d but its head says %d", head.Seq+1, last.Seq, last.Seq, head.Seq)
	case !bytes.Equal(head.Hash, last.Hash):
		problem(Altered, last.Seq, "entry %d was altered (it was rewritten with a new hash: the head has the old one)", last.Seq)
	case rep.Signed > last.Seq:
		c := signed[rep.Signed]
		problem(Cut, last.Seq+1, "entries %d to %d were cut: the log ends at %d, but the checkpoint signed at %s says it reached %d", last.Seq+1, rep.Signed, last.Seq, stamp(c.Time), rep.Signed)
	case len(opts.PublicKeys) > 0 && rep.Checkpoints == 0 && last.Seq > 0:
		problem(NoCheckpoint, last.Seq, "the log has %d entries but no signed checkpoint: the checkpoints were deleted, or no server has run with audit.signing_key since the log began", last.Seq)
	case len(opts.ExpectHead) > 0 && (expected == 0 || expected > head.Seq):
		problem(NotExpected, last.Seq, "the log does not hold the expected head %s at or before its head %d: it was cut before that entry, or rewritten", short(opts.ExpectHead), head.Seq)
	}
	return rep, nil
}

func signedByOneOf(keys []ed25519.PublicKey, c nightowl.AuditCheckpoint) bool {
	for _, k := range keys {
		if VerifyCheckpoint(k, c) {
			return true
		}
	}
	return false
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// short is a hash as people compare it at a glance: its first 8 bytes.
func short(h []byte) string {
	if len(h) > 8 {
		h = h[:8]
	}
	return hex.EncodeToString(h) + "…"
}

// hashedAs finds the seq, near its own, with which an entry's contents hash
// to its hash: an entry that moved, rather than one that was edited.
func hashedAs(e nightowl.AuditEntry) (int64, bool) {
	at := e.Seq
	for d := int64(1); d <= moveWindow; d++ {
		for _, seq := range []int64{at - d, at + d} {
			if seq < 1 {
				continue
			}
			e.Seq = seq
			if bytes.Equal(nightowl.AuditHash(e), e.Hash) {
				return seq, true
			}
		}
	}
	return 0, false
}
