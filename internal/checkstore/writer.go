package checkstore

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/nightowl/nightowl"
)

// What both stores' writer goroutines share besides the queue: how work and
// events reach them, and how they say what they could not write. One
// goroutine per store owns its writes, so that a status change is never
// written before a flush that holds an older state of its check.

// Defaults of the options both stores take.
const (
	DefaultResultsPerCheck = 100
	DefaultPingsPerCheck   = 100
	DefaultFlushInterval   = time.Second
	DefaultHourlyRetention = 90 * 24 * time.Hour
	DefaultDailyRetention  = 400 * 24 * time.Hour
	// DefaultEventRetention is as long as daily rollups.
	DefaultEventRetention = 400 * 24 * time.Hour
)

// BatchWriter writes each part of a batch, within one transaction of a
// store's.
type BatchWriter interface {
	States(map[string]nightowl.State) error
	Results([]nightowl.Result) error
	Rollups(map[Key]*Agg) error
	Pings([]nightowl.Ping) error
	Heartbeats(map[string]nightowl.Heartbeat) error
}

// Write writes b with w, part by part, in the same order in both stores;
// an error says which part failed.
func (b *Batch) Write(w BatchWriter) error {
	if err := w.States(b.States); err != nil {
		return fmt.Errorf("write states: %w", err)
	}
	if err := w.Results(b.Results); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	if err := w.Rollups(b.Aggs); err != nil {
		return fmt.Errorf("write rollups: %w", err)
	}
	if err := w.Pings(b.Pings); err != nil {
		return fmt.Errorf("write pings: %w", err)
	}
	if err := w.Heartbeats(b.Heartbeats); err != nil {
		return fmt.Errorf("write heartbeats: %w", err)
	}
	return nil
}

// MaxEvents bounds how many events share one transaction.
const MaxEvents = 1000

// Op is a piece of work for the writer goroutine.
type Op struct {
	fn   func() error
	done chan error
}

// Run runs the work, on the writer goroutine, and answers its caller.
func (o Op) Run() { o.done <- o.fn() }

// Do hands fn to the writer goroutine on ops and waits for it. done is
// closed once the writer has stopped; Do then returns closed.
func Do(ctx context.Context, ops chan<- Op, done <-chan struct{}, closed error, fn func() error) error {
	o := Op{fn: fn, done: make(chan error, 1)}
	select {
	case ops <- o:
	case <-done:
		return closed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-o.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Gather returns first and every other request already waiting on ch, up
// to max: requests that arrive together share one transaction.
func Gather[T any](first T, ch <-chan T, max int) []T {
	reqs := []T{first}
	for len(reqs) < max {
		select {
		case r := <-ch:
			reqs = append(reqs, r)
		default:
			return reqs
		}
	}
	return reqs
}

// CheckEvent is the check an event passes before it is added; a zero
// e.Time becomes now, and every time is kept in UTC.
func CheckEvent(e *nightowl.Event, now func() time.Time) error {
	if e.Check == "" {
		return nightowl.Errorf(nightowl.EInvalid, "event has no check")
	}
	if e.Time.IsZero() {
		e.Time = now()
	}
	e.Time = e.Time.UTC()
	return nil
}

// EventReq is an event on its way to the writer goroutine, which sets its
// ID before it answers.
type EventReq struct {
	ctx  context.Context
	E    nightowl.Event
	done chan error
}

// Answer tells the caller how writing the event went.
func (r *EventReq) Answer(err error) { r.done <- err }

// SendEvent hands e to the writer goroutine on ch and returns it with its
// ID once it is written. done and closed are as for Do. ctx bounds the wait
// for the writer to take e; once taken, SendEvent waits for the writer's
// answer, which the writer gives in bounded time (the postgres writer
// within ctx's deadline, see EventsContext): a caller that gave up on an
// event the writer then committed would keep it to write again, and the
// event would be recorded twice.
func SendEvent(ctx context.Context, ch chan<- *EventReq, done <-chan struct{}, closed error, e nightowl.Event) (nightowl.Event, error) {
	r := &EventReq{ctx: ctx, E: e, done: make(chan error, 1)}
	select {
	case ch <- r:
	case <-done:
		return e, fmt.Errorf("add event of %s: %w", e.Check, closed)
	case <-ctx.Done():
		return e, ctx.Err()
	}
	if err := <-r.done; err != nil {
		return e, fmt.Errorf("add event of %s: %w", e.Check, err)
	}
	return r.E, nil
}

// EventsContext returns the context to write reqs in: it ends at the
// earliest of their callers' deadlines, and after limit at the latest, so
// that every caller has its answer in the time it gave.
func EventsContext(reqs []*EventReq, limit time.Duration) (context.Context, context.CancelFunc) {
	end := time.Now().Add(limit)
	for _, r := range reqs {
		if d, ok := r.ctx.Deadline(); ok && d.Before(end) {
			end = d
		}
	}
	return context.WithDeadline(context.Background(), end)
}

// TakeEvents returns first and every other event already waiting on ch,
// up to MaxEvents, but for those whose caller has given up, which it
// answers. When a whole fleet changes status at once the engine's workers
// all record an event at the same moment; a commit each, in turn, would
// keep them waiting.
func TakeEvents(first *EventReq, ch <-chan *EventReq) []*EventReq {
	reqs := Gather(first, ch, MaxEvents)
	live := reqs[:0]
	for _, r := range reqs {
		if err := r.ctx.Err(); err != nil {
			r.Answer(err)
			continue
		}
		live = append(live, r)
	}
	return live
}

// Refusals remembers when each check's heartbeat state was last refused
// because another check holds its token. The tracker saves a check's state
// with every ping: once a minute is enough to be noticed.
type Refusals map[string]time.Time

// Due reports whether a refusal of check's state is to be logged now, and
// if so remembers that it was.
func (r Refusals) Due(check string, now time.Time) bool {
	if at, ok := r[check]; ok && now.Sub(at) < time.Minute {
		return false
	}
	r[check] = now
	return true
}

// LogRefused says that a check's heartbeat state was not saved because
// holder has its token. The token is a secret: the log names the checks,
// not it.
func LogRefused(log *slog.Logger, store, check, holder string) {
	log.Error(store+": heartbeat state not saved: another check holds its token; give one of them another token, or forget the other if it is gone",
		"check", check, "token_holder", holder)
}
