// Package audit records what people (and nightowl) do in the hash-chained
// audit log, and verifies the chain: Recorder is the nightowl.Auditor that
// the server and the command line record through, and Verify walks a store's
// log and names the first entry that was altered, deleted or moved.
//
// The chain is tamper-evident, not tamper-proof: someone who can write the
// database can rewrite every entry from the one they changed onwards, and
// the head, so that the chain is whole again. Signed checkpoints
// (checkpoint.go), made with a key kept outside the database, and a copy of
// the head hash kept elsewhere (Verify's ExpectHead) find that.
package audit

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nightowl/nightowl"
)

// Options configure a Recorder. Store is required; the zero value of the
// rest is usable.
type Options struct {
	Store  nightowl.AuditStore
	Clock  nightowl.Clock // the system clock when nil
	Logger *slog.Logger   // slog.Default() when nil
	// Signer signs checkpoints of the log's head; none are made when nil.
	Signer *Signer
	// CheckpointEvery is how often Run looks for entries that other
	// processes (nodes, the command line) appended, to sign them;
	// DefaultCheckpointEvery when zero.
	CheckpointEvery time.Duration
}

// DefaultCheckpointEvery is how often the server signs a head that moved
// without it.
const DefaultCheckpointEvery = time.Minute

// batchWait is how long Run waits after an append before it signs the
// head, so that entries appended together share a checkpoint.
const batchWait = time.Second

// Recorder appends entries to the audit log of a store, and signs
// checkpoints of its head. It is safe for concurrent use.
type Recorder struct {
	store  nightowl.AuditStore
	clock  nightowl.Clock
	log    *slog.Logger
	every  time.Duration
	signer atomic.Pointer[Signer]
	// appended wakes Run after an append; unsigned says that this
	// recorder appended since it last signed.
	appended chan struct{}
	unsigned atomic.Bool
	// signing serialises Checkpoint and guards anchor: the newest
	// checkpoint this recorder signed, or found in the store signed
	// with its key (loaded once per signer, when anchored is false).
	// Only a head that continues the chain through it is signed.
	signing  sync.Mutex
	anchor   nightowl.AuditCheckpoint
	anchored bool
	// refused counts heads refused because they do not continue the
	// anchor (see Refused).
	refused atomic.Int64
}

var _ nightowl.Auditor = (*Recorder)(nil)

// New returns a Recorder over opts.Store.
func New(opts Options) (*Recorder, error) {
	if opts.Store == nil {
		return nil, errors.New("audit: no store")
	}
	if opts.Clock == nil {
		opts.Clock = nightowl.SystemClock{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.CheckpointEvery <= 0 {
		opts.CheckpointEvery = DefaultCheckpointEvery
	}
	r := &Recorder{store: opts.Store, clock: opts.Clock, log: opts.Logger, every: opts.CheckpointEvery,
		appended: make(chan struct{}, 1)}
	r.signer.Store(opts.Signer)
	return r, nil
}

// SetSigner changes the key that signs checkpoints from now on; nil stops
// signing.
func (r *Recorder) SetSigner(s *Signer) {
	r.signing.Lock()
	defer r.signing.Unlock()
	if old := r.signer.Load(); old == nil || s == nil || old.KeyID() != s.KeyID() {
		// Another key trusts other checkpoints.
		r.anchor, r.anchored = nightowl.AuditCheckpoint{}, false
	}
	r.signer.Store(s)
}

// Refused returns how many times this recorder refused to sign the head
// because it does not continue the log it signed before: the log was cut
// or rewritten in the store.
func (r *Recorder) Refused() int64 { return r.refused.Load() }

// ErrHeadRefused is wrapped by Checkpoint's error when it refuses to sign
// a head that does not continue the log it signed before.
var ErrHeadRefused = errors.New("audit: the head does not continue the signed log")

// writeTimeout bounds an append that no longer waits for its caller.
const writeTimeout = 10 * time.Second

// Audit appends e, with Time set to now when zero, and returns once it is on
// disk. What it records has already happened (or is about to), so the
// append does not end when ctx does, only its deadline of writeTimeout: a
// client that hangs up after acknowledging an alert must not leave the
// acknowledgement unrecorded. A failure is logged as well as returned.
func (r *Recorder) Audit(ctx context.Context, e nightowl.AuditEntry) error {
	if e.Actor == "" || e.Action == "" {
		return nightowl.Errorf(nightowl.EInvalid, "an audit entry needs an actor and an action")
	}
	if e.Time.IsZero() {
		e.Time = r.clock.Now()
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
	defer cancel()
	if err := r.store.AppendAudit(ctx, &e); err != nil {
		r.log.Error("audit: could not record", "action", e.Action, "actor", e.Actor, "subject", e.Subject, "err", err)
		return fmt.Errorf("record %s by %s in the audit log: %w", e.Action, e.Actor, err)
	}
	r.unsigned.Store(true)
	select {
	case r.appended <- struct{}{}:
	default:
	}
	return nil
}

// CheckpointOwn signs the head, as Checkpoint does, only when this recorder
// appended since it last signed: a command that only read the log (audit
// list, audit verify) signs nothing, least of all a head someone else
// left.
func (r *Recorder) CheckpointOwn(ctx context.Context) error {
	if !r.unsigned.Load() {
		return nil
	}
	_, _, err := r.Checkpoint(ctx)
	return err
}

// Run signs the head of the log shortly after appends (one checkpoint for
// entries appended together) and every CheckpointEvery (for entries that
// other nodes or the command line appended), until ctx ends. Its caller
// owns it and waits for it.
func (r *Recorder) Run(ctx context.Context) {
	r.checkpointLogged(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.appended:
			select {
			case <-ctx.Done():
				return
			case <-r.clock.After(batchWait):
			}
		case <-r.clock.After(r.every):
		}
		r.checkpointLogged(ctx)
	}
}

func (r *Recorder) checkpointLogged(ctx context.Context) {
	// A refusal is logged where it is made.
	if _, _, err := r.Checkpoint(ctx); err != nil && !errors.Is(err, ErrHeadRefused) {
		r.log.Error("audit: could not sign a checkpoint", "err", err)
	}
}

// Checkpoint signs the head of the log and keeps the checkpoint, unless
// the head has a checkpoint already or there is no signer; ok says whether
// it made one. Each checkpoint is logged at info level, whole, for a log
// collector outside nightowl to keep.
//
// It signs only a head that continues the log it signed last (or, after a
// start, the newest stored checkpoint whose signature verifies with its
// key): the head's seq has not gone down, and the entries from that
// checkpoint to the head chain together with the hashes signed. Anything
// else (the tail cut, the chain rewritten, the checkpoints deleted) is
// refused with an error that wraps ErrHeadRefused, counted in Refused and
// logged at error level, and stays refused until the log is repaired: a
// signature must never vouch for a log someone changed. A stored
// checkpoint that does not verify with the key is ignored, and logged.
func (r *Recorder) Checkpoint(ctx context.Context) (c nightowl.AuditCheckpoint, ok bool, err error) {
	signer := r.signer.Load()
	if signer == nil {
		return c, false, nil
	}
	r.signing.Lock()
	defer r.signing.Unlock()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
	defer cancel()
	if !r.anchored {
		if err := r.loadAnchor(ctx, signer); err != nil {
			return c, false, err
		}
	}
	head, err := r.store.AuditHead(ctx)
	if err != nil || head.Seq == 0 {
		return c, false, err
	}
	if head.Seq == r.anchor.Seq && bytes.Equal(head.Hash, r.anchor.Hash) {
		return c, false, nil
	}
	if err := r.continues(ctx, head, r.anchor); err != nil {
		return c, false, err
	}
	// Another node may have signed this head, or a newer one.
	last, err := r.store.AuditCheckpoints(ctx, 1)
	if err != nil {
		return c, false, err
	}
	if len(last) > 0 && last[0].Seq > r.anchor.Seq && r.trusted(signer, last[0]) {
		if last[0].Seq > head.Seq {
			return c, false, r.refuse(fmt.Errorf("the head went back to entry %d, below entry %d, signed at %s",
				head.Seq, last[0].Seq, last[0].Time.Format(time.RFC3339)))
		}
		if err := r.continues(ctx, head, last[0]); err != nil {
			return c, false, err
		}
		r.anchor = last[0]
		if last[0].Seq == head.Seq {
			return c, false, nil
		}
	}
	r.unsigned.Store(false)
	c = signer.Sign(head, r.clock.Now())
	if err := r.store.AddAuditCheckpoint(ctx, c); err != nil {
		r.unsigned.Store(true)
		return c, false, err
	}
	r.anchor = c
	r.log.Info("audit checkpoint", "seq", c.Seq, "hash", hex.EncodeToString(c.Hash),
		"time", c.Time.Format(time.RFC3339Nano), "key_id", c.KeyID, "sig", hex.EncodeToString(c.Sig))
	return c, true, nil
}

// anchorPage is how many stored checkpoints loadAnchor reads first.
const anchorPage = 64

// loadAnchor takes the newest stored checkpoint that verifies with the
// signer's key as the anchor; those above it that do not verify are
// logged and ignored.
func (r *Recorder) loadAnchor(ctx context.Context, signer *Signer) error {
	for _, limit := range []int{anchorPage, 0} {
		cs, err := r.store.AuditCheckpoints(ctx, limit)
		if err != nil {
			return err
		}
		for _, c := range cs {
			if r.trusted(signer, c) {
				r.anchor, r.anchored = c, true
				break
			}
		}
		if r.anchored || len(cs) < anchorPage || limit == 0 {
			break
		}
	}
	r.anchored = true
	return nil
}

// continues says whether head continues the log through the checkpoint
// from: head is at or above it, and the entries from it to the head
// chain, each hashing to what it carries, down to from's entry with
// from's hash. A zero from (nothing signed yet) is continued by any head.
func (r *Recorder) continues(ctx context.Context, head nightowl.AuditHead, from nightowl.AuditCheckpoint) error {
	if from.Seq == 0 {
		return nil
	}
	signed := fmt.Sprintf("entry %d, signed at %s", from.Seq, from.Time.Format(time.RFC3339))
	if head.Seq < from.Seq {
		return r.refuse(fmt.Errorf("the head went back to entry %d, below %s", head.Seq, signed))
	}
	es, err := r.store.AuditEntries(ctx, nightowl.AuditQuery{Limit: int(head.Seq-from.Seq) + 1})
	if err != nil {
		return err
	}
	next := head.Hash
	for i, e := range es {
		want := head.Seq - int64(i)
		if e.Seq != want || !bytes.Equal(e.Hash, next) || !bytes.Equal(nightowl.AuditHash(e), e.Hash) {
			return r.refuse(fmt.Errorf("entry %d does not chain from the head (entry %d) down to %s", want, head.Seq, signed))
		}
		if e.Seq == from.Seq {
			if !bytes.Equal(e.Hash, from.Hash) {
				return r.refuse(fmt.Errorf("%s, no longer has the hash signed", signed))
			}
			return nil
		}
		next = e.Prev
	}
	return r.refuse(fmt.Errorf("the log no longer reaches from the head (entry %d) down to %s", head.Seq, signed))
}

// trusted says whether c verifies with the signer's key. One that claims
// the key but does not verify was forged or altered, and is logged at
// error level; one of another key (signed before the key changed) is
// neither trusted nor suspect.
func (r *Recorder) trusted(signer *Signer, c nightowl.AuditCheckpoint) bool {
	if VerifyCheckpoint(signer.Public(), c) {
		return true
	}
	if c.KeyID == signer.KeyID() {
		r.log.Error("audit: a stored checkpoint does not verify with the signing key; ignored", "seq", c.Seq, "key_id", c.KeyID)
	}
	return false
}

func (r *Recorder) refuse(err error) error {
	r.refused.Add(1)
	err = fmt.Errorf("%w: %w; nothing is signed until the log is repaired (see nightowl audit verify)", ErrHeadRefused, err)
	r.log.Error("audit: refused to sign a checkpoint", "err", err)
	return err
}
