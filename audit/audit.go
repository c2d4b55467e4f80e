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
	// signing serialises Checkpoint; signed is the seq last signed.
	signing sync.Mutex
	signed  int64
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
func (r *Recorder) SetSigner(s *Signer) { r.signer.Store(s) }

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
	if _, _, err := r.Checkpoint(ctx); err != nil {
		r.log.Error("audit: could not sign a checkpoint", "err", err)
	}
}

// Checkpoint signs the head of the log and keeps the checkpoint, unless
// the head has a checkpoint already or there is no signer; ok says whether
// it made one. Each checkpoint is logged at info level, whole, for a log
// collector outside nightowl to keep.
func (r *Recorder) Checkpoint(ctx context.Context) (c nightowl.AuditCheckpoint, ok bool, err error) {
	signer := r.signer.Load()
	if signer == nil {
		return c, false, nil
	}
	r.signing.Lock()
	defer r.signing.Unlock()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
	defer cancel()
	head, err := r.store.AuditHead(ctx)
	if err != nil || head.Seq == 0 || head.Seq == r.signed {
		return c, false, err
	}
	last, err := r.store.AuditCheckpoints(ctx, 1)
	if err != nil {
		return c, false, err
	}
	if len(last) > 0 && last[0].Seq >= head.Seq {
		r.signed = head.Seq
		return c, false, nil
	}
	r.unsigned.Store(false)
	c = signer.Sign(head, r.clock.Now())
	if err := r.store.AddAuditCheckpoint(ctx, c); err != nil {
		r.unsigned.Store(true)
		return c, false, err
	}
	r.signed = head.Seq
	r.log.Info("audit checkpoint", "seq", c.Seq, "hash", hex.EncodeToString(c.Hash),
		"time", c.Time.Format(time.RFC3339Nano), "key_id", c.KeyID, "sig", hex.EncodeToString(c.Sig))
	return c, true, nil
}
