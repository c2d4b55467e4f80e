package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/notify/kit"
	"github.com/prometheus/client_golang/prometheus"
)

// Target is a receiver the sender can deliver to.
type Target struct {
	Kind     string // the receiver's kind, such as "slack", for metrics
	Notifier nightowl.Notifier
}

// SenderOptions configure a Sender. The zero value of every field but Store
// and Targets is usable.
type SenderOptions struct {
	Store  nightowl.AlertStore // required
	Clock  nightowl.Clock      // nightowl.SystemClock when nil
	Logger *slog.Logger        // slog.Default() when nil
	// Owner names this node in the outbox's leases; "local" when empty.
	Owner string
	// Targets returns the receiver with the given ID, or false when no
	// receiver has it (any more).
	Targets func(id string) (Target, bool)
	// GiveUpAfter is how long a notification is retried before it is
	// marked failed; DefaultGiveUpAfter when zero.
	GiveUpAfter time.Duration
	// Timeout bounds one attempt; DefaultSendTimeout when zero.
	Timeout time.Duration
	// Concurrency is how many notifications are sent at once;
	// DefaultSendConcurrency when zero.
	Concurrency int
	// Poll is how often the outbox is looked at when nothing wakes the
	// sender; DefaultPoll when zero.
	Poll    time.Duration
	Metrics *Metrics // nil records nothing
}

// Defaults of SenderOptions.
const (
	DefaultGiveUpAfter     = 24 * time.Hour
	DefaultSendTimeout     = 30 * time.Second
	DefaultSendConcurrency = 8
	DefaultPoll            = time.Second
	// The first retry comes after minBackoff, each later one after twice
	// as long as the one before, up to maxBackoff; each is jittered down
	// by up to half so that retries of a receiver that came back do not
	// all arrive at once.
	minBackoff = 5 * time.Second
	maxBackoff = 10 * time.Minute
	// maxRetryAfter caps how long a receiver's Retry-After can hold a
	// notification back.
	maxRetryAfter = time.Hour
	// leaseMargin is how long past its timeout an attempt keeps its lease.
	leaseMargin = 10 * time.Second
	// busyWait is how long a send waits for its receiver when half the
	// senders are already waiting for that receiver to answer: enough for
	// a receiver that answers to finish one, far less than leaseMargin.
	busyWait = time.Second
)

// Sender delivers the outbox: it claims due notifications, sends each with
// a timeout, and records whether it was sent, failed for good, or is to be
// retried. It runs apart from the checks, which it never holds up.
type Sender struct {
	opts        SenderOptions
	giveUpAfter atomic.Int64 // a reload may change it
	wake        chan struct{}

	// busy is, per receiver, the sends waiting for its answer: at most
	// half the senders, so that a receiver that takes requests and never
	// answers cannot hold them all while the others wait.
	busyMu sync.Mutex
	busy   map[string]*sends
}

// sends are the sends to one receiver under way.
type sends struct {
	tokens chan struct{} // one per send under way
	mu     sync.Mutex
	starts []time.Time // when each began
}

// NewSender checks opts and returns a Sender.
func NewSender(opts SenderOptions) (*Sender, error) {
	if opts.Store == nil || opts.Targets == nil {
		return nil, errors.New("notification sender: no store or targets")
	}
	if opts.Clock == nil {
		opts.Clock = nightowl.SystemClock{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Owner == "" {
		opts.Owner = "local"
	}
	if opts.GiveUpAfter <= 0 {
		opts.GiveUpAfter = DefaultGiveUpAfter
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultSendTimeout
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultSendConcurrency
	}
	if opts.Poll <= 0 {
		opts.Poll = DefaultPoll
	}
	s := &Sender{opts: opts, wake: make(chan struct{}, 1), busy: map[string]*sends{}}
	s.giveUpAfter.Store(int64(opts.GiveUpAfter))
	return s, nil
}

// SetGiveUpAfter changes how long notifications are retried, as a reload
// does; DefaultGiveUpAfter when d is not positive.
func (s *Sender) SetGiveUpAfter(d time.Duration) {
	if d <= 0 {
		d = DefaultGiveUpAfter
	}
	s.giveUpAfter.Store(int64(d))
}

// Wake tells the sender that notifications were queued.
func (s *Sender) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run sends until ctx ends, and waits for the sends under way. What this
// node had claimed before it restarted is released first: it is not being
// sent by anyone.
func (s *Sender) Run(ctx context.Context) {
	rctx, cancel := context.WithTimeout(ctx, storeTimeout)
	if err := s.opts.Store.ReleaseClaims(rctx, s.opts.Owner); err != nil {
		s.opts.Logger.Error("release notification claims", "err", err)
	}
	cancel()
	// A channel rather than errgroup.SetLimit: pass counts the free
	// senders before it claims, so that it never claims more than it can
	// start at once, and waits for a free one as long as ctx lasts; an
	// errgroup can neither hold a slot without starting its goroutine nor
	// give up waiting for one when ctx ends.
	sem := make(chan struct{}, s.opts.Concurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		n := s.pass(ctx, sem, &wg)
		if n > 0 {
			// A full claim may have left more behind.
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-s.opts.Clock.After(s.opts.Poll):
		}
	}
}

// pass claims what free senders can take and starts sending it; it returns
// how many it claimed.
func (s *Sender) pass(ctx context.Context, sem chan struct{}, wg *sync.WaitGroup) int {
	free := 0
	// Wait for at least one free sender, then take as many as are free.
	select {
	case sem <- struct{}{}:
		free = 1
	case <-ctx.Done():
		return 0
	}
fill:
	for free < cap(sem) {
		select {
		case sem <- struct{}{}:
			free++
		default:
			break fill
		}
	}
	now := s.opts.Clock.Now()
	cctx, cancel := context.WithTimeout(ctx, storeTimeout)
	claimed, err := s.opts.Store.ClaimNotifications(cctx, s.opts.Owner, now, free, s.opts.Timeout+leaseMargin)
	cancel()
	if err != nil && ctx.Err() == nil {
		s.opts.Logger.Error("claim notifications", "err", err)
	}
	for i := len(claimed); i < free; i++ {
		<-sem
	}
	for i := range claimed {
		n := claimed[i]
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			s.send(ctx, &n)
		}()
	}
	return len(claimed)
}

// SendDue sends every notification due now, one at a time, and returns how
// many it tried: Run's work without its loop, for tests on a fake clock.
func (s *Sender) SendDue(ctx context.Context) int {
	total := 0
	for {
		claimed, err := s.opts.Store.ClaimNotifications(ctx, s.opts.Owner, s.opts.Clock.Now(), 100, s.opts.Timeout+leaseMargin)
		if err != nil || len(claimed) == 0 {
			return total
		}
		for i := range claimed {
			s.send(ctx, &claimed[i])
		}
		total += len(claimed)
	}
}

func (s *Sender) send(ctx context.Context, n *nightowl.Notification) {
	log := s.opts.Logger.With("notification", n.ID, "alert", n.AlertID, "receiver", n.Receiver)
	t, ok := s.opts.Targets(n.Receiver)
	var retry bool
	var err error
	if !ok {
		err = fmt.Errorf("receiver %s is no longer configured", n.Receiver)
	} else if release, busy := s.take(n.Receiver); busy != nil {
		// Tried again once a send to it has ended, as if it had
		// asked to wait: it is not answering the ones it has.
		retry, err = true, busy
	} else {
		n.Message.IdempotencyKey = IdempotencyKey(n)
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.Timeout)
		start := s.opts.Clock.Now()
		retry, err = t.Notifier.Notify(sctx, &n.Message)
		cancel()
		release()
		s.opts.Metrics.observe(n.Receiver, t.Kind, s.opts.Clock.Now().Sub(start))
	}
	now := s.opts.Clock.Now()
	switch {
	case err == nil:
		n.State, n.SentAt, n.Error = nightowl.NotificationSent, now, ""
		s.opts.Metrics.outcome("sent", n.Receiver, t.Kind)
		log.Debug("notification sent", "kind", n.Message.Kind)
	case retry && now.Add(s.delay(n, err)).Before(n.CreatedAt.Add(time.Duration(s.giveUpAfter.Load()))):
		d := s.delay(n, err)
		n.State, n.NextAt, n.Error = nightowl.NotificationPending, now.Add(d), err.Error()
		s.opts.Metrics.outcome("retry", n.Receiver, t.Kind)
		level := slog.LevelWarn
		if errors.Is(err, errBusy) {
			level = slog.LevelDebug // its sends that time out say why
		}
		log.Log(ctx, level, "notification not delivered; will retry", "attempt", n.Attempts, "retry_in", d.Round(time.Second), "err", err)
	default:
		n.State, n.Error = nightowl.NotificationFailed, err.Error()
		if retry {
			n.Error = "gave up after " + time.Duration(s.giveUpAfter.Load()).String() + ": " + n.Error
		}
		s.opts.Metrics.outcome("failed", n.Receiver, t.Kind)
		log.Error("notification failed", "attempts", n.Attempts, "err", n.Error)
	}
	// Recorded even when ctx has ended: the send happened, and a record
	// lost now is a duplicate later.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
	defer cancel()
	if ferr := s.opts.Store.FinishNotification(fctx, n); ferr != nil {
		log.Error("record notification outcome", "err", ferr)
	}
}

// errBusy is why a send did not start: its receiver has not answered the
// sends it has.
var errBusy = errors.New("receiver busy")

// take starts a send to receiver, waiting up to busyWait while half the
// senders wait for its answer. Then it returns a kit.RetryAfterError: try once
// the first of those sends has ended.
func (s *Sender) take(receiver string) (release func(), busy error) {
	s.busyMu.Lock()
	r := s.busy[receiver]
	if r == nil {
		r = &sends{tokens: make(chan struct{}, max(1, s.opts.Concurrency/2))}
		s.busy[receiver] = r
	}
	s.busyMu.Unlock()
	select {
	case r.tokens <- struct{}{}:
	default:
		select {
		case r.tokens <- struct{}{}:
		case <-s.opts.Clock.After(busyWait):
			// The first of them ends within its timeout.
			wait := busyWait
			r.mu.Lock()
			if len(r.starts) > 0 {
				first := slices.MinFunc(r.starts, time.Time.Compare)
				wait = max(first.Add(s.opts.Timeout).Sub(s.opts.Clock.Now()), busyWait)
			}
			r.mu.Unlock()
			return nil, &kit.RetryAfterError{After: wait,
				Err: fmt.Errorf("%w: %d sends to it wait for an answer", errBusy, cap(r.tokens))}
		}
	}
	start := s.opts.Clock.Now()
	r.mu.Lock()
	r.starts = append(r.starts, start)
	r.mu.Unlock()
	return func() {
		r.mu.Lock()
		if i := slices.IndexFunc(r.starts, start.Equal); i >= 0 {
			r.starts = slices.Delete(r.starts, i, i+1)
		}
		r.mu.Unlock()
		<-r.tokens
	}, nil
}

// IdempotencyKey is the same for every attempt at one notification and
// differs between notifications, also between two messages about one alert
// to one receiver.
func IdempotencyKey(n *nightowl.Notification) string {
	return n.AlertID + "-" + strconv.FormatInt(n.ID, 10)
}

// delay is how long to wait before retrying n after err: what the receiver
// asked for, or an exponential backoff with jitter.
func (s *Sender) delay(n *nightowl.Notification, err error) time.Duration {
	if d := kit.RetryAfter(err); d > 0 {
		return min(d, maxRetryAfter)
	}
	d := minBackoff
	for i := 1; i < n.Attempts && d < maxBackoff; i++ {
		d *= 2
	}
	d = min(d, maxBackoff)
	// Deterministic per attempt, so that delay can be asked twice.
	r := rand.New(rand.NewPCG(uint64(n.ID), uint64(n.Attempts)))
	return d/2 + time.Duration(r.Int64N(int64(d/2)+1))
}

// Metrics are the sender's measurements, by receiver.
type Metrics struct {
	Sent, Failed, Retries *prometheus.CounterVec
	Duration              *prometheus.HistogramVec
}

// NewMetrics creates the sender's metrics and registers them on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	labels := []string{"receiver", "kind"}
	m := &Metrics{
		Sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nightowl_notifications_sent_total",
			Help: "Notifications the receiver took.",
		}, labels),
		Failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nightowl_notifications_failed_total",
			Help: "Notifications given up on: refused for good, or still failing after give_up_after.",
		}, labels),
		Retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nightowl_notifications_retries_total",
			Help: "Failed attempts that will be retried.",
		}, labels),
		Duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "nightowl_notification_send_seconds",
			Help:    "How long an attempt to send took.",
			Buckets: []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, labels),
	}
	if reg != nil {
		reg.MustRegister(m.Sent, m.Failed, m.Retries, m.Duration)
	}
	return m
}

// outcome counts an attempt that ended as sent, failed or retry.
func (m *Metrics) outcome(what, receiver, kind string) {
	if m == nil {
		return
	}
	c := map[string]*prometheus.CounterVec{"sent": m.Sent, "failed": m.Failed, "retry": m.Retries}[what]
	c.WithLabelValues(receiver, kind).Inc()
}

func (m *Metrics) observe(receiver, kind string, d time.Duration) {
	if m != nil {
		m.Duration.WithLabelValues(receiver, kind).Observe(d.Seconds())
	}
}

// OutboxCollector exports the outbox's depth and the age of its oldest
// pending notification per receiver, read from the store at scrape time.
type OutboxCollector struct {
	Store nightowl.AlertStore
	Clock nightowl.Clock
	// Receivers lists the configured receivers, which are reported even
	// when nothing waits for them: a series that appears only when there
	// is trouble is hard to alert on.
	Receivers func() []string
}

var (
	descPending = prometheus.NewDesc("nightowl_outbox_pending",
		"Notifications waiting to be sent or retried.", []string{"receiver"}, nil)
	descOldest = prometheus.NewDesc("nightowl_outbox_oldest_pending_seconds",
		"Age of the oldest notification waiting to be sent; 0 when none is.", []string{"receiver"}, nil)
	descFailedNow = prometheus.NewDesc("nightowl_outbox_failed",
		"Notifications given up on that the store still keeps.", []string{"receiver"}, nil)
)

// Describe implements prometheus.Collector.
func (c OutboxCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descPending
	ch <- descOldest
	ch <- descFailedNow
}

// Collect implements prometheus.Collector.
func (c OutboxCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	stats, err := c.Store.OutboxStats(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(descPending, err)
		return
	}
	now := c.Clock.Now()
	seen := make(map[string]bool, len(stats))
	for _, o := range stats {
		seen[o.Receiver] = true
	}
	if c.Receivers != nil {
		for _, id := range c.Receivers() {
			if !seen[id] {
				stats = append(stats, nightowl.OutboxStats{Receiver: id})
			}
		}
	}
	for _, o := range stats {
		age := 0.0
		if !o.OldestPending.IsZero() {
			age = max(0, now.Sub(o.OldestPending).Seconds())
		}
		ch <- prometheus.MustNewConstMetric(descPending, prometheus.GaugeValue, float64(o.Pending), o.Receiver)
		ch <- prometheus.MustNewConstMetric(descOldest, prometheus.GaugeValue, age, o.Receiver)
		ch <- prometheus.MustNewConstMetric(descFailedNow, prometheus.GaugeValue, float64(o.Failed), o.Receiver)
	}
}
