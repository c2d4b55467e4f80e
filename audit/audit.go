// Package audit records what people (and nightowl) do in the hash-chained
// audit log, and verifies the chain: Recorder is the nightowl.Auditor that
// the server and the command line record through, and Verify walks a store's
// log and names the first entry that was altered, deleted or moved.
//
// The chain is tamper-evident, not tamper-proof: someone who can write the
// database can rewrite every entry from the one they changed onwards, and
// the head, so that the chain is whole again. Only a copy of the head hash
// kept elsewhere (Verify reports it) finds that.
package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nightowl/nightowl"
)

// Options configure a Recorder. Store is required; the zero value of the
// rest is usable.
type Options struct {
	Store  nightowl.AuditStore
	Clock  nightowl.Clock // the system clock when nil
	Logger *slog.Logger   // slog.Default() when nil
}

// Recorder appends entries to the audit log of a store. It is safe for
// concurrent use.
type Recorder struct {
	store nightowl.AuditStore
	clock nightowl.Clock
	log   *slog.Logger
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
	return &Recorder{store: opts.Store, clock: opts.Clock, log: opts.Logger}, nil
}

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
	return nil
}
