// Package actions runs runbook actions under guard rails: a request names
// the action, its parameters (each checked against its pattern) and a
// reason, and types the confirmation the action asks for; its preflight
// expressions over live check state must hold when it is requested and
// again just before it runs; it needs approvals from people other than the
// requester (at least one while an incident is open, with
// buddy_during_incidents); it expires; and it runs as an argv (never a
// shell) or an HTTP request, with a timeout and bounded output. Every step
// goes to the audit log. A check's on_down runs an action that needs no
// approval by itself, at most once per cooldown, never during maintenance.
//
// Docs for users: docs/actions.md.
package actions

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nightowl/nightowl"
)

// Options configure a Service.
type Options struct {
	Store  nightowl.ActionStore // required
	Clock  nightowl.Clock       // nightowl.SystemClock when nil
	Logger *slog.Logger         // slog.Default() when nil
	// Actions returns the actions configured now; Buddy whether
	// buddy_during_incidents is on.
	Actions func() []nightowl.Action
	Buddy   func() bool
	// IncidentOpen reports whether any incident is open.
	IncidentOpen func(ctx context.Context) (bool, error)
	// Preflight evaluates an action's preflight expressions against the
	// live checks and the request's parameters; it returns the first that
	// does not hold, with what it saw, or "" when all hold.
	Preflight func(a *nightowl.Action, params map[string]string) (failed string, err error)
	// InMaintenance reports whether a maintenance window is in force for
	// the check: on_down never runs then.
	InMaintenance func(check *nightowl.Check) bool
	// Audit records every step; nil records nothing.
	Audit nightowl.Auditor
	// AddEvent records an automatic run on the check's history.
	AddEvent func(ctx context.Context, e nightowl.Event) error
	// Exec runs a command or request; the real one when nil (tests swap
	// it only to count).
	Exec Executor
	// Expiry is how long a request may wait to run; DefaultExpiry when 0.
	Expiry time.Duration
}

// DefaultExpiry is how long a request may wait for approval and a run.
const DefaultExpiry = time.Hour

// Service keeps the requests and runs the actions.
type Service struct {
	opts  Options
	clock nightowl.Clock
	log   *slog.Logger
	// mu serialises the changes of requests, so that two approvals, or an
	// approval and a run, cannot cross.
	mu sync.Mutex
}

// New checks opts and returns a Service.
func New(opts Options) (*Service, error) {
	if opts.Store == nil || opts.Actions == nil || opts.Preflight == nil {
		return nil, errors.New("actions: no store, actions or preflight")
	}
	if opts.Clock == nil {
		opts.Clock = nightowl.SystemClock{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Buddy == nil {
		opts.Buddy = func() bool { return true }
	}
	if opts.IncidentOpen == nil {
		opts.IncidentOpen = func(context.Context) (bool, error) { return false, nil }
	}
	if opts.InMaintenance == nil {
		opts.InMaintenance = func(*nightowl.Check) bool { return false }
	}
	if opts.Exec == nil {
		opts.Exec = Exec{}
	}
	if opts.Expiry <= 0 {
		opts.Expiry = DefaultExpiry
	}
	return &Service{opts: opts, clock: opts.Clock, log: opts.Logger}, nil
}

// action returns the configured action with the given name.
func (s *Service) action(name string) (*nightowl.Action, error) {
	for _, a := range s.opts.Actions() {
		if a.Name == name {
			return &a, nil
		}
	}
	return nil, nightowl.Errorf(nightowl.ENotFound, "no action %q", name)
}

// Needs is how many approvals a request for a needs now: its own, or one
// while an incident is open and buddy_during_incidents is on.
func (s *Service) Needs(ctx context.Context, a *nightowl.Action) (int, error) {
	n := a.Approvals
	if n < 1 && s.opts.Buddy() {
		open, err := s.opts.IncidentOpen(ctx)
		if err != nil {
			return 0, fmt.Errorf("find open incidents: %w", err)
		}
		if open {
			n = 1
		}
	}
	return n, nil
}

// List returns the configured actions.
func (s *Service) List(ctx context.Context) ([]nightowl.ActionView, error) {
	var out []nightowl.ActionView
	for _, a := range s.opts.Actions() {
		n, err := s.Needs(ctx, &a)
		if err != nil {
			return nil, err
		}
		out = append(out, nightowl.ActionView{Action: a, Needs: n})
	}
	return out, nil
}

func (s *Service) audit(ctx context.Context, actor, action, subject, detail string) error {
	if s.opts.Audit == nil {
		return nil
	}
	return s.opts.Audit.Audit(ctx, nightowl.AuditEntry{Actor: actor, Action: action, Subject: subject, Detail: detail})
}

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

func newID() string {
	var b [5]byte
	rand.Read(b[:])
	return "r-" + idEncoding.EncodeToString(b[:])
}

// checkParams checks the parameters of a request: every declared one given
// and matching its pattern, none other.
func checkParams(a *nightowl.Action, params map[string]string) error {
	for name := range params {
		if !slices.ContainsFunc(a.Params, func(p nightowl.ActionParam) bool { return p.Name == name }) {
			return nightowl.Errorf(nightowl.EInvalid, "action %s has no parameter %q", a.Name, name)
		}
	}
	for _, p := range a.Params {
		v, ok := params[p.Name]
		if !ok {
			return nightowl.Errorf(nightowl.EInvalid, "parameter %s is required", p.Name)
		}
		re, err := regexp.Compile(p.Pattern)
		if err != nil {
			return nightowl.Errorf(nightowl.EInvalid, "parameter %s: bad pattern: %v", p.Name, err)
		}
		if !re.MatchString(v) {
			return nightowl.Errorf(nightowl.EInvalid, "parameter %s: %q does not match %s", p.Name, v, p.Pattern)
		}
	}
	return nil
}

// Request asks to run an action. It is refused when a parameter is
// missing or does not match its pattern, the confirmation is wrong, or a
// preflight does not hold.
func (s *Service) Request(ctx context.Context, name string, params map[string]string, reason, confirm, by string) (nightowl.ActionRequest, error) {
	a, err := s.action(name)
	if err != nil {
		return nightowl.ActionRequest{}, err
	}
	if strings.TrimSpace(reason) == "" {
		return nightowl.ActionRequest{}, nightowl.Errorf(nightowl.EInvalid, "say why: a reason is required")
	}
	if params == nil {
		params = map[string]string{}
	}
	if err := checkParams(a, params); err != nil {
		return nightowl.ActionRequest{}, err
	}
	if a.Confirm != "" && confirm != params[a.Confirm] {
		return nightowl.ActionRequest{}, nightowl.Errorf(nightowl.EInvalid,
			"to confirm, type the value of %s (%s) exactly", a.Confirm, params[a.Confirm])
	}
	if failed, err := s.opts.Preflight(a, params); err != nil {
		return nightowl.ActionRequest{}, err
	} else if failed != "" {
		s.audit(ctx, by, "action.request", a.Name, "refused: preflight failed: "+failed)
		return nightowl.ActionRequest{}, nightowl.Errorf(nightowl.EConflict, "preflight failed: %s", failed)
	}
	needs, err := s.Needs(ctx, a)
	if err != nil {
		return nightowl.ActionRequest{}, err
	}
	now := s.clock.Now().UTC()
	r := nightowl.ActionRequest{
		ID: newID(), Action: a.Name, Params: params, Reason: reason,
		RequestedBy: by, RequestedAt: now, ExpiresAt: now.Add(s.opts.Expiry),
		State: nightowl.RequestApproved, Needs: needs,
	}
	if needs > 0 {
		r.State = nightowl.RequestPending
	}
	// Recorded before it counts: a request the log does not have must not
	// be run.
	if err := s.audit(ctx, by, "action.request", r.ID, fmt.Sprintf("%s %s; reason: %s", a.Name, formatParams(params), reason)); err != nil {
		return r, fmt.Errorf("record the request: %w", err)
	}
	if err := s.opts.Store.SaveRequest(ctx, &r); err != nil {
		return r, err
	}
	s.log.Info("action requested", "request", r.ID, "action", a.Name, "by", by, "needs", needs)
	return r, nil
}

func formatParams(p map[string]string) string {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, k+"="+p[k])
	}
	if len(parts) == 0 {
		return "(no parameters)"
	}
	return strings.Join(parts, " ")
}

// load returns a request, expiring it first if its time is up. Called with
// s.mu held.
func (s *Service) load(ctx context.Context, id string) (nightowl.ActionRequest, error) {
	r, err := s.opts.Store.Request(ctx, id)
	if err != nil {
		return r, err
	}
	if r.State == nightowl.RequestRunning && s.clock.Now().After(r.StartedAt.Add(s.timeout(r.Action)+interruptedAfter)) {
		// A run ends by its timeout wherever it runs; one still marked
		// running long after was cut off by a crash, and its outcome
		// is unknown. Left running, it would look under way for ever.
		r.State, r.EndedAt = nightowl.RequestFailed, s.clock.Now().UTC()
		r.Error = "interrupted: nightowl stopped while it ran; what it did is unknown"
		if err := s.opts.Store.SaveRequest(ctx, &r); err != nil {
			return r, err
		}
		s.audit(ctx, "nightowl", "action.result", r.ID, "failed: "+r.Error)
		return r, nil
	}
	if !r.State.Final() && r.State != nightowl.RequestRunning && s.clock.Now().After(r.ExpiresAt) {
		r.State = nightowl.RequestExpired
		if err := s.opts.Store.SaveRequest(ctx, &r); err != nil {
			return r, err
		}
		s.audit(ctx, "nightowl", "action.expire", r.ID, r.Action)
	}
	return r, nil
}

// Get returns a request.
func (s *Service) Get(ctx context.Context, id string) (nightowl.ActionRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.load(ctx, id)
}

// Requests returns the requests q selects, expiring those whose time is up.
func (s *Service) Requests(ctx context.Context, q nightowl.ActionQuery) ([]nightowl.ActionRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rs, err := s.opts.Store.Requests(ctx, q)
	if err != nil {
		return nil, err
	}
	out := rs[:0]
	for _, r := range rs {
		r, err := s.load(ctx, r.ID)
		if err != nil {
			return nil, err
		}
		if q.Open && r.State.Final() {
			continue
		}
		out = append(out, r)
	}
	return out, nil
}

func refuseFinal(r *nightowl.ActionRequest) error {
	switch r.State {
	case nightowl.RequestExpired:
		return nightowl.Errorf(nightowl.EConflict, "request %s expired at %s", r.ID, r.ExpiresAt.Format(time.RFC3339))
	case nightowl.RequestRunning:
		return nightowl.Errorf(nightowl.EConflict, "request %s is running", r.ID)
	}
	if r.State.Final() {
		return nightowl.Errorf(nightowl.EConflict, "request %s is %s", r.ID, r.State)
	}
	return nil
}

// Approve adds by's approval. The requester can never approve their own
// request.
func (s *Service) Approve(ctx context.Context, id, by string) (nightowl.ActionRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.load(ctx, id)
	if err != nil {
		return r, err
	}
	if err := refuseFinal(&r); err != nil {
		return r, err
	}
	if by == r.RequestedBy {
		s.audit(ctx, by, "action.approve", r.ID, "refused: the requester cannot approve their own request")
		return r, nightowl.Errorf(nightowl.EForbidden, "you requested %s: someone else must approve it", r.ID)
	}
	if slices.ContainsFunc(r.Approvals, func(a nightowl.Approval) bool { return a.By == by }) {
		return r, nightowl.Errorf(nightowl.EConflict, "you have approved %s already", r.ID)
	}
	if err := s.audit(ctx, by, "action.approve", r.ID, r.Action); err != nil {
		return r, fmt.Errorf("record the approval: %w", err)
	}
	r.Approvals = append(r.Approvals, nightowl.Approval{By: by, At: s.clock.Now().UTC()})
	if len(r.Approvals) >= r.Needs {
		r.State = nightowl.RequestApproved
	}
	if err := s.opts.Store.SaveRequest(ctx, &r); err != nil {
		return r, err
	}
	return r, nil
}

// Deny ends a request: anyone with the role may say no, the requester
// included (withdrawing it).
func (s *Service) Deny(ctx context.Context, id, by, reason string) (nightowl.ActionRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.load(ctx, id)
	if err != nil {
		return r, err
	}
	if err := refuseFinal(&r); err != nil {
		return r, err
	}
	if err := s.audit(ctx, by, "action.deny", r.ID, strings.TrimSpace(r.Action+"; "+reason)); err != nil {
		return r, fmt.Errorf("record the denial: %w", err)
	}
	r.State, r.DeniedBy = nightowl.RequestDenied, by
	if reason != "" {
		r.Error = "denied: " + reason
	}
	if err := s.opts.Store.SaveRequest(ctx, &r); err != nil {
		return r, err
	}
	return r, nil
}

// Run runs an approved request, for its requester or one of its approvers:
// its preflight must hold again now, and its action must be out of its
// cooldown. It returns when the run has ended.
func (s *Service) Run(ctx context.Context, id, by string) (nightowl.ActionRequest, error) {
	s.mu.Lock()
	r, err := s.load(ctx, id)
	if err != nil {
		s.mu.Unlock()
		return r, err
	}
	if err := refuseFinal(&r); err != nil {
		s.mu.Unlock()
		return r, err
	}
	if r.State != nightowl.RequestApproved {
		s.mu.Unlock()
		return r, nightowl.Errorf(nightowl.EConflict, "request %s has %d of the %d approvals it needs", r.ID, len(r.Approvals), r.Needs)
	}
	if by != r.RequestedBy && !slices.ContainsFunc(r.Approvals, func(a nightowl.Approval) bool { return a.By == by }) {
		s.mu.Unlock()
		return r, nightowl.Errorf(nightowl.EForbidden, "only the requester or an approver may run %s", r.ID)
	}
	a, err := s.action(r.Action)
	if err != nil {
		s.mu.Unlock()
		return r, err
	}
	if err := s.needsNow(ctx, a, &r, by); err != nil {
		s.mu.Unlock()
		return r, err
	}
	r, err = s.start(ctx, a, r, by)
	s.mu.Unlock()
	if err != nil {
		return r, err
	}
	return s.finish(ctx, a, r), nil
}

// needsNow holds back an approved request that has fewer approvals than
// its action needs now: an incident opened (with buddy_during_incidents)
// or the config raised approvals since the request was made, which would
// otherwise let a request approved by nobody run during an incident. The
// request goes back to pending, needing what it needs now. Called with
// s.mu held.
func (s *Service) needsNow(ctx context.Context, a *nightowl.Action, r *nightowl.ActionRequest, by string) error {
	needs, err := s.Needs(ctx, a)
	if err != nil {
		return err
	}
	if needs <= r.Needs || len(r.Approvals) >= needs {
		return nil
	}
	noun := "approvals"
	if needs == 1 {
		noun = "approval"
	}
	why := fmt.Sprintf("it needs %d %s now (an incident is open, or the action's approvals were raised) and has %d", needs, noun, len(r.Approvals))
	r.Needs, r.State = needs, nightowl.RequestPending
	if err := s.opts.Store.SaveRequest(ctx, r); err != nil {
		return err
	}
	s.audit(ctx, by, "action.run", r.ID, "refused: "+why)
	return nightowl.Errorf(nightowl.EConflict, "request %s cannot run yet: %s", r.ID, why)
}

// start checks the cooldown and the preflight again and marks the request
// running. Called with s.mu held.
func (s *Service) start(ctx context.Context, a *nightowl.Action, r nightowl.ActionRequest, by string) (nightowl.ActionRequest, error) {
	now := s.clock.Now().UTC()
	if a.Cooldown > 0 {
		last, err := s.opts.Store.LastRun(ctx, a.Name)
		if err != nil {
			return r, err
		}
		if !last.IsZero() && now.Sub(last) < a.Cooldown {
			return r, nightowl.Errorf(nightowl.EConflict, "%s ran at %s; its cooldown lasts until %s",
				a.Name, last.UTC().Format(time.RFC3339), last.Add(a.Cooldown).UTC().Format(time.RFC3339))
		}
	}
	// Parameters are checked again: the config may have changed since the
	// request was made.
	if err := checkParams(a, r.Params); err != nil {
		return r, err
	}
	failed, err := s.opts.Preflight(a, r.Params)
	if err != nil {
		return r, err
	}
	if failed != "" {
		s.audit(ctx, by, "action.run", r.ID, "refused: preflight failed: "+failed)
		return r, nightowl.Errorf(nightowl.EConflict, "preflight failed: %s", failed)
	}
	if err := s.audit(ctx, by, "action.run", r.ID, describe(a, r.Params)); err != nil {
		return r, fmt.Errorf("record the run: %w", err)
	}
	r.State, r.RanBy, r.StartedAt = nightowl.RequestRunning, by, now
	if err := s.opts.Store.SaveRequest(ctx, &r); err != nil {
		return r, err
	}
	return r, nil
}

// interruptedAfter is how long past its timeout a run still marked running
// is taken for one that a crash cut off.
const interruptedAfter = time.Minute

// timeout is how long a run of the named action may take.
func (s *Service) timeout(name string) time.Duration {
	if a, err := s.action(name); err == nil && a.Timeout > 0 {
		return a.Timeout
	}
	return defaultTimeout
}

// defaultTimeout bounds a run of an action without a timeout of its own.
const defaultTimeout = time.Minute

// finish runs the action and records the outcome.
func (s *Service) finish(ctx context.Context, a *nightowl.Action, r nightowl.ActionRequest) nightowl.ActionRequest {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.timeout(a.Name))
	out := s.opts.Exec.Execute(rctx, PlanOf(a, r.Params))
	cancel()
	r.EndedAt = s.clock.Now().UTC()
	r.ExitCode, r.Output, r.Error = out.Code, out.Output, out.Err
	r.State = nightowl.RequestSucceeded
	if !out.OK {
		r.State = nightowl.RequestFailed
	}
	ctx = context.WithoutCancel(ctx)
	if err := s.opts.Store.SaveRequest(ctx, &r); err != nil {
		s.log.Error("record action outcome", "request", r.ID, "err", err)
	}
	detail := string(r.State)
	if r.ExitCode != nil {
		detail += fmt.Sprintf(" (exit %d)", *r.ExitCode)
	}
	if r.Error != "" {
		detail += ": " + r.Error
	}
	detail += fmt.Sprintf(" in %s", r.EndedAt.Sub(r.StartedAt).Round(time.Millisecond))
	if err := s.audit(ctx, r.RanBy, "action.result", r.ID, detail); err != nil {
		s.log.Error("record action outcome in the audit log", "request", r.ID, "err", err)
	}
	s.log.Info("action ran", "request", r.ID, "action", a.Name, "state", r.State)
	return r
}

// OnDown runs the check's on_down action, when it needs no approval, is
// out of its cooldown and no maintenance window is in force for the check;
// each automatic run, and each one held back, is an event on the check's
// history.
func (s *Service) OnDown(ctx context.Context, v nightowl.CheckView) {
	if v.Check.OnDown == "" || v.State.Status != nightowl.StatusDown {
		return
	}
	event := func(cause string) {
		if s.opts.AddEvent == nil {
			return
		}
		e := nightowl.Event{Check: v.Check.Name, Time: s.clock.Now().UTC(), Kind: EventAction, Cause: cause}
		if err := s.opts.AddEvent(ctx, e); err != nil {
			s.log.Error("record action event", "check", v.Check.Name, "err", err)
		}
	}
	a, err := s.action(v.Check.OnDown)
	if err != nil {
		event(fmt.Sprintf("on_down: %v", err))
		return
	}
	if s.opts.InMaintenance(&v.Check) {
		event(fmt.Sprintf("on_down did not run %s: the check is in maintenance", a.Name))
		return
	}
	needs, err := s.Needs(ctx, a)
	if err != nil {
		event(fmt.Sprintf("on_down did not run %s: %v", a.Name, err))
		return
	}
	if needs > 0 {
		event(fmt.Sprintf("on_down did not run %s: it needs an approval now (an incident is open)", a.Name))
		return
	}
	s.mu.Lock()
	now := s.clock.Now().UTC()
	r := nightowl.ActionRequest{
		ID: newID(), Action: a.Name, Params: map[string]string{}, Automatic: true,
		Reason: fmt.Sprintf("on_down of %s: %s", v.Check.Name, v.State.Cause), RequestedBy: "nightowl",
		RequestedAt: now, ExpiresAt: now.Add(s.opts.Expiry), State: nightowl.RequestApproved,
	}
	// Recorded before it counts, as a person's request is.
	if err := s.audit(ctx, "nightowl", "action.request", r.ID, fmt.Sprintf("%s; reason: %s", a.Name, r.Reason)); err != nil {
		s.mu.Unlock()
		event(fmt.Sprintf("on_down did not run %s: it could not be recorded in the audit log", a.Name))
		return
	}
	r, err = s.start(ctx, a, r, "nightowl")
	s.mu.Unlock()
	if err != nil {
		event(fmt.Sprintf("on_down did not run %s: %s", a.Name, nightowl.ErrorMessage(err)))
		return
	}
	r = s.finish(ctx, a, r)
	outcome := string(r.State)
	if r.ExitCode != nil {
		outcome += fmt.Sprintf(" (exit %d)", *r.ExitCode)
	}
	event(fmt.Sprintf("on_down ran %s (request %s): %s", a.Name, r.ID, outcome))
}

// EventAction is the kind of the events automatic runs leave on a check's
// history.
const EventAction = "action"
