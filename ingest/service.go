package ingest

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/nightowl/nightowl"
)

// Integration is one entry of the config's integrations section: a tool
// that sends alerts to /api/v1/integrations/NAME.
type Integration struct {
	Name   string
	Format string // a key of Formats
	// Token is the secret the tool sends; never logged or shown.
	Token string
	// Labels are added to every alert of the integration, over the
	// sender's labels of the same name.
	Labels map[string]string
	// Rate bounds the requests the integration may make.
	Rate Rate
	// ResolveAfter resolves an alert that was neither sent again nor
	// resolved for this long; 0 never.
	ResolveAfter time.Duration
}

// Rate is a number of requests per period: N at once, then one every
// Per/N.
type Rate struct {
	N   int
	Per time.Duration
}

// DefaultRate is the rate of an integration that names none: Alertmanager
// sends one request per group and group_interval, so that even a large
// outage of many groups takes a few seconds at this rate.
var DefaultRate = Rate{N: 20, Per: time.Second}

func (r Rate) String() string {
	unit := map[time.Duration]string{time.Second: "s", time.Minute: "m", time.Hour: "h"}[r.Per]
	return fmt.Sprintf("%d/%s", r.N, unit)
}

// Options configure a Service.
type Options struct {
	// Observe hands the alert manager the state of an alert's synthetic
	// check (notify.Manager.Observe); required.
	Observe func(ctx context.Context, v nightowl.CheckView) error
	// Open returns the open alerts this node holds (notify.Manager.Open).
	Open func() []nightowl.Alert
	// Local, when set, says whether this node handles an integration's
	// alerts now (in a cluster, the one node that owns Group(name));
	// Forward then hands a request to the node that does, and an error
	// there leaves it to this node. Both nil outside a cluster.
	Local   func(integration string) bool
	Forward func(ctx context.Context, r Request) (Receipt, error)
	Clock   nightowl.Clock // nightowl.SystemClock when nil
	Logger  *slog.Logger   // slog.Default() when nil
}

// Request is one request to an integration's URL.
type Request struct {
	Integration string
	Token       string
	Body        []byte
	// Forwarded: another node of the cluster passed it on; it is taken
	// here, never passed on again.
	Forwarded bool
}

// Receipt says what a request brought: how many of its alerts fire and
// how many resolved.
type Receipt struct {
	Firing   int `json:"firing"`
	Resolved int `json:"resolved"`
}

// Service takes the alerts of the configured integrations.
type Service struct {
	opts  Options
	clock nightowl.Clock
	log   *slog.Logger

	mu           sync.Mutex
	integrations map[string]*entry
	// seen is when each open ingested alert was last sent firing, for
	// resolve_after: in memory, and started afresh at the first sweep
	// that finds an alert it does not know (after a start, or a
	// takeover), which only ever delays a resolution.
	seen map[string]time.Time
}

type entry struct {
	Integration
	digest [sha256.Size]byte
	bucket bucket
}

// New returns a Service over opts, with no integrations until
// SetIntegrations.
func New(opts Options) (*Service, error) {
	if opts.Observe == nil {
		return nil, nightowl.Errorf(nightowl.EInvalid, "ingest: no Observe")
	}
	if opts.Clock == nil {
		opts.Clock = nightowl.SystemClock{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Open == nil {
		opts.Open = func() []nightowl.Alert { return nil }
	}
	return &Service{opts: opts, clock: opts.Clock, log: opts.Logger,
		integrations: map[string]*entry{}, seen: map[string]time.Time{}}, nil
}

// SetIntegrations replaces the integrations, as a start or a reload does.
// An integration whose rate is unchanged keeps its bucket.
func (s *Service) SetIntegrations(list []Integration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := make(map[string]*entry, len(list))
	for _, in := range list {
		if in.Rate.N <= 0 || in.Rate.Per <= 0 {
			in.Rate = DefaultRate
		}
		e := &entry{Integration: in, digest: sha256.Sum256([]byte(in.Token))}
		if old := s.integrations[in.Name]; old != nil && old.Rate == in.Rate {
			e.bucket = old.bucket
		} else {
			e.bucket = bucket{tokens: float64(in.Rate.N), at: s.clock.Now()}
		}
		next[in.Name] = e
	}
	s.integrations = next
}

// Configured reports whether check is the synthetic check of an alert of
// an integration in the config: while it is, its alert stays open until
// the sender resolves it (or resolve_after does).
func (s *Service) Configured(check string) bool {
	name, _, ok := Split(check)
	if !ok {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.integrations[name] != nil
}

// Receive takes one request: it finds the integration (ENotFound),
// checks the token in constant time (EUnauthorized), spends one of the
// integration's requests (ERateLimited, with when to try again), reads
// the body in the integration's format (EInvalid, naming the field), and
// hands each alert to the alert manager. It returns once every alert is
// stored: a request that fails half-way may be sent again whole, since
// an alert told twice is still one alert.
func (s *Service) Receive(ctx context.Context, r Request) (Receipt, error) {
	in, err := s.admit(r)
	if err != nil {
		return Receipt{}, err
	}
	alerts, err := Formats[in.Format](r.Body)
	if err != nil {
		return Receipt{}, err
	}
	if !r.Forwarded && s.opts.Local != nil && s.opts.Forward != nil && !s.opts.Local(in.Name) {
		rc, err := s.opts.Forward(ctx, r)
		if err == nil {
			return rc, nil
		}
		s.log.Warn("forward integration alerts to the node that handles them; taking them here", "integration", in.Name, "err", err)
	}
	var rc Receipt
	for _, a := range alerts {
		v := s.view(&in, a)
		if err := s.opts.Observe(ctx, v); err != nil {
			return rc, fmt.Errorf("record alert %s of integration %s: %w", a.Key, in.Name, err)
		}
		s.mu.Lock()
		if a.Firing {
			s.seen[v.Check.Name] = s.clock.Now()
			rc.Firing++
		} else {
			delete(s.seen, v.Check.Name)
			rc.Resolved++
		}
		s.mu.Unlock()
	}
	return rc, nil
}

// admit checks the integration, its token and its rate, and returns a
// copy of the integration.
func (s *Service) admit(r Request) (Integration, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.integrations[r.Integration]
	if e == nil {
		return Integration{}, nightowl.Errorf(nightowl.ENotFound, "no integration named %q", r.Integration)
	}
	// Digests of equal length: the time taken tells nothing of the
	// token's length either.
	got := sha256.Sum256([]byte(r.Token))
	if r.Token == "" || subtle.ConstantTimeCompare(got[:], e.digest[:]) != 1 {
		return Integration{}, nightowl.Errorf(nightowl.EUnauthorized,
			"integration %s: missing or wrong token (send it as Authorization: Bearer TOKEN, or ?token=TOKEN)", r.Integration)
	}
	if wait, ok := e.bucket.take(e.Rate, s.clock.Now()); !ok {
		secs := int((wait + time.Second - 1) / time.Second)
		return Integration{}, nightowl.RateLimited(wait, "integration %s sends more than %s: try again in %d seconds", r.Integration, e.Rate, max(secs, 1))
	}
	in := e.Integration
	in.Labels = maps.Clone(in.Labels)
	return in, nil
}

// view is the state of the synthetic check of alert a of in.
func (s *Service) view(in *Integration, a Alert) nightowl.CheckView {
	labels := maps.Clone(a.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	maps.Copy(labels, in.Labels)
	labels[LabelIntegration] = in.Name
	name := CheckName(in.Name, a.Key)
	st := nightowl.State{Check: name, Status: nightowl.StatusUp, Since: s.clock.Now().UTC()}
	if a.Firing {
		st.Status, st.Cause = a.Severity.Status(), a.Title
	}
	return nightowl.CheckView{Check: nightowl.Check{Name: name, Type: "integration", Labels: labels}, State: st}
}

// Views returns the synthetic checks of the open ingested alerts that
// this node holds, for what shows components' status: one in trouble as
// long as its alert is open.
func (s *Service) Views() []nightowl.CheckView {
	var out []nightowl.CheckView
	for _, a := range s.opts.Open() {
		if _, _, ok := Split(a.Check); !ok {
			continue
		}
		out = append(out, nightowl.CheckView{
			Check: nightowl.Check{Name: a.Check, Type: "integration", Labels: a.Labels},
			State: nightowl.State{Check: a.Check, Status: a.Status, Since: a.StartsAt, Cause: a.Cause},
		})
	}
	return out
}

// Sweep resolves the open ingested alerts that this node handles and that
// were not sent again within their integration's resolve_after.
func (s *Service) Sweep(ctx context.Context) error {
	now := s.clock.Now()
	var due []nightowl.CheckView
	s.mu.Lock()
	open := map[string]bool{}
	for _, a := range s.opts.Open() {
		name, _, ok := Split(a.Check)
		if !ok {
			continue
		}
		open[a.Check] = true
		e := s.integrations[name]
		if e == nil || e.ResolveAfter <= 0 || (s.opts.Local != nil && !s.opts.Local(name)) {
			continue
		}
		last, ok := s.seen[a.Check]
		if !ok {
			s.seen[a.Check] = now
			continue
		}
		if now.Sub(last) >= e.ResolveAfter {
			due = append(due, nightowl.CheckView{
				Check: nightowl.Check{Name: a.Check, Type: "integration", Labels: a.Labels},
				State: nightowl.State{Check: a.Check, Status: nightowl.StatusUp, Since: now.UTC(),
					Cause: "not sent again for " + nightowl.FormatDuration(e.ResolveAfter)},
			})
		}
	}
	for c := range s.seen {
		if !open[c] {
			delete(s.seen, c)
		}
	}
	s.mu.Unlock()
	var firstErr error
	for _, v := range due {
		if err := s.opts.Observe(ctx, v); err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		s.log.Info("ingested alert resolved: not sent again in time", "check", v.Check.Name)
		s.mu.Lock()
		delete(s.seen, v.Check.Name)
		s.mu.Unlock()
	}
	return firstErr
}

// SweepEvery is how often Run sweeps.
const SweepEvery = 15 * time.Second

// Run sweeps every SweepEvery until ctx ends.
func (s *Service) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.clock.After(SweepEvery):
			if err := s.Sweep(ctx); err != nil {
				s.log.Error("resolve ingested alerts not sent again", "err", err)
			}
		}
	}
}

// bucket is a token bucket of one integration.
type bucket struct {
	tokens float64
	at     time.Time
}

func (b *bucket) take(r Rate, now time.Time) (time.Duration, bool) {
	every := r.Per / time.Duration(r.N)
	if d := now.Sub(b.at); d > 0 {
		b.tokens = min(float64(r.N), b.tokens+float64(d)/float64(every))
	}
	b.at = now
	if b.tokens < 1 {
		return time.Duration((1 - b.tokens) * float64(every)), false
	}
	b.tokens--
	return 0, true
}

// ParseRate reads a rate such as 10/s, 600/m or 1000/h.
func ParseRate(s string) (Rate, error) {
	n, unit, ok := strings.Cut(s, "/")
	per := map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour}[unit]
	var count int
	if _, err := fmt.Sscanf(n, "%d", &count); !ok || err != nil || per == 0 || count < 1 || fmt.Sprint(count) != n {
		return Rate{}, fmt.Errorf("must be a number of requests per s, m or h, such as 10/s, not %q", s)
	}
	return Rate{N: count, Per: per}, nil
}
