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
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
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
	// newest results of the checks and the request's parameters; it
	// returns the first that does not hold, with what it saw, or "" when
	// all hold, and the checks it read.
	Preflight func(ctx context.Context, a *nightowl.Action, params map[string]string) (failed string, seen []nightowl.CheckSeen, err error)
	// MayApprove says why user may not approve a request made at the
	// given time, or "" when they may; nil lets everyone with the role.
	MayApprove func(ctx context.Context, user string, requested time.Time) (why string, err error)
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

// Service keeps the requests and runs the actions. It holds no lock of its
// own: every change of a request is a compare-and-set in the store, so that
// of two changes at once, here or on another node, exactly one wins, and
// the other is judged again against what won.
type Service struct {
	opts  Options
	clock nightowl.Clock
	log   *slog.Logger
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
	if opts.MayApprove == nil {
		opts.MayApprove = func(context.Context, string, time.Time) (string, error) { return "", nil }
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
	if at, ok := nightowl.StepUpFrom(ctx); ok && actor != "nightowl" {
		// The second factor a dangerous button asked for, and how fresh.
		detail += fmt.Sprintf("; step-up %s ago", s.clock.Now().Sub(at).Round(time.Second))
	}
	return s.opts.Audit.Audit(ctx, nightowl.AuditEntry{Actor: actor, Action: action, Subject: subject, Detail: detail})
}

// newID returns a random request ID.
func newID() string { return nightowl.NewID("r-", 5) }

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
// preflight does not hold. The request keeps the plan as it is now, which
// is what its approvers approve.
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
	plan, err := Snapshot(a, params)
	if err != nil {
		return nightowl.ActionRequest{}, err
	}
	failed, seen, err := s.opts.Preflight(ctx, a, params)
	if err != nil {
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
		Plan: &plan, PlanHash: PlanHash(plan), Seen: seen,
	}
	if needs > 0 {
		r.State = nightowl.RequestPending
	}
	// Recorded before it counts: a request the log does not have must not
	// be run. A new ID cannot lose a compare-and-set.
	if err := s.audit(ctx, by, "action.request", r.ID, fmt.Sprintf("%s %s; reason: %s; plan %s", a.Name, formatParams(params), reason, r.PlanHash)); err != nil {
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

// casTries bounds how often a change is judged again after it lost to
// another write of the request: each loss means the request moved on, and
// a handful of people acting on one request at once is the most there is.
const casTries = 8

// change reads a request, lets judge change it, and writes it over the
// version it read, with save (the store's SaveRequest when nil). When
// another write came first, it reads the request again and judges anew, so
// that what wins is always judged against the stored request; a refusal
// after such a loss says it happened meanwhile. judge returns whether to
// write r, and the error to give the caller (a refusal, or one that goes
// with a write, such as sending a request back to pending); a refusal
// writes nothing. A save that the store refuses outright (a storeRefusal)
// is not tried again. wrote reports whether a write won.
func (s *Service) change(ctx context.Context, id string, judge func(r *nightowl.ActionRequest) (write bool, err error), save func(r *nightowl.ActionRequest) error) (r nightowl.ActionRequest, wrote bool, err error) {
	if save == nil {
		save = func(r *nightowl.ActionRequest) error { return s.opts.Store.SaveRequest(ctx, r) }
	}
	lost := false
	for try := 1; ; try++ {
		r, err = s.load(ctx, id)
		if err != nil {
			return r, false, err
		}
		read := r
		write, jerr := judge(&r)
		if !write {
			if lost && nightowl.ErrorCode(jerr) == nightowl.EConflict {
				jerr = nightowl.Errorf(nightowl.EConflict, "%s meanwhile", nightowl.ErrorMessage(jerr))
			}
			return read, false, jerr
		}
		err = save(&r)
		var refused storeRefusal
		if errors.As(err, &refused) {
			return read, false, refused.error
		}
		if nightowl.ErrorCode(err) == nightowl.EConflict {
			if try < casTries {
				lost = true
				continue
			}
			return read, false, nightowl.Errorf(nightowl.EConflict, "request %s keeps changing: try again", id)
		}
		if err != nil {
			return read, false, err
		}
		return r, true, jerr
	}
}

// storeRefusal is the error of a save that the store refused for a reason
// of its own, such as a cooldown, rather than because the request changed.
type storeRefusal struct{ error }

// load returns a request, ending it first if its time is up: expired, or
// a run that a crash cut off. Ending it is a compare-and-set like every
// change; only the writer that wins records it.
func (s *Service) load(ctx context.Context, id string) (nightowl.ActionRequest, error) {
	for try := 1; ; try++ {
		r, err := s.opts.Store.Request(ctx, id)
		if err != nil {
			return r, err
		}
		now := s.clock.Now().UTC()
		var actor, action, detail string
		switch {
		case r.State == nightowl.RequestRunning && now.After(r.StartedAt.Add(s.timeout(r.Action)+interruptedAfter)):
			// A run ends by its timeout wherever it runs; one still
			// marked running long after was cut off by a crash, and its
			// outcome is unknown. Left running, it would look under way
			// for ever.
			r.State, r.EndedAt = nightowl.RequestFailed, now
			r.Error = "interrupted: nightowl stopped while it ran; what it did is unknown"
			actor, action, detail = "nightowl", "action.result", "failed: "+r.Error
		case !r.State.Final() && r.State != nightowl.RequestRunning && now.After(r.ExpiresAt):
			r.State = nightowl.RequestExpired
			actor, action, detail = "nightowl", "action.expire", r.Action
		default:
			return r, nil
		}
		err = s.opts.Store.SaveRequest(ctx, &r)
		if nightowl.ErrorCode(err) == nightowl.EConflict && try < casTries {
			continue // another writer ended it, or changed it: read it again
		}
		if err != nil {
			return r, err
		}
		s.audit(ctx, actor, action, r.ID, detail)
		return r, nil
	}
}

// Get returns a request.
func (s *Service) Get(ctx context.Context, id string) (nightowl.ActionRequest, error) {
	return s.load(ctx, id)
}

// Requests returns the requests q selects, expiring those whose time is up.
func (s *Service) Requests(ctx context.Context, q nightowl.ActionQuery) ([]nightowl.ActionRequest, error) {
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

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// refuseFinal refuses to change a request that has ended or is running,
// saying who ended it and when.
func refuseFinal(r *nightowl.ActionRequest) error {
	switch r.State {
	case nightowl.RequestDenied:
		return nightowl.Errorf(nightowl.EConflict, "request %s was denied by %s at %s", r.ID, r.DeniedBy, stamp(r.DeniedAt))
	case nightowl.RequestExpired:
		return nightowl.Errorf(nightowl.EConflict, "request %s expired at %s", r.ID, stamp(r.ExpiresAt))
	case nightowl.RequestRunning:
		return nightowl.Errorf(nightowl.EConflict, "request %s is running: %s started it at %s", r.ID, r.RanBy, stamp(r.StartedAt))
	case nightowl.RequestSucceeded, nightowl.RequestFailed:
		if r.RanBy == "" {
			return nightowl.Errorf(nightowl.EConflict, "request %s is %s", r.ID, r.State)
		}
		return nightowl.Errorf(nightowl.EConflict, "request %s has run: %s started it at %s and it %s", r.ID, r.RanBy, stamp(r.StartedAt), r.State)
	}
	return nil
}

func approvedBy(r *nightowl.ActionRequest, by string) bool {
	return slices.ContainsFunc(r.Approvals, func(a nightowl.Approval) bool { return a.By == by })
}

// Approve adds by's approval. The requester can never approve their own
// request, nor can an account made, or given its role, after the request.
// Approvals of one request at once all count: each is added to what the
// others stored.
//
// The approval is recorded before it counts, so that a run never rests on
// an approval the log lacks; it is judged once before that, so that a
// refusal leaves no approval in the log. One that then does not count
// (the request was denied, or its plan changed, meanwhile) is recorded as
// withdrawn.
func (s *Service) Approve(ctx context.Context, id, by string) (nightowl.ActionRequest, error) {
	r, err := s.load(ctx, id)
	if err != nil {
		return r, err
	}
	hash := r.PlanHash
	var refused string
	judge := func(r *nightowl.ActionRequest) (bool, error) {
		refused = ""
		if err := refuseFinal(r); err != nil {
			return false, err
		}
		if r.PlanHash != hash {
			// The approval recorded names the plan it approves.
			return false, nightowl.Errorf(nightowl.EConflict, "the plan of %s changed: look at it again before you approve", r.ID)
		}
		if by == r.RequestedBy {
			refused = "the requester cannot approve their own request"
			return false, nightowl.Errorf(nightowl.EForbidden, "you requested %s: someone else must approve it", r.ID)
		}
		if approvedBy(r, by) {
			return false, nightowl.Errorf(nightowl.EConflict, "you have approved %s already", r.ID)
		}
		why, err := s.opts.MayApprove(ctx, by, r.RequestedAt)
		if err != nil {
			return false, err
		}
		if why != "" {
			refused = why
			return false, nightowl.Errorf(nightowl.EForbidden, "your approval of %s cannot count: %s", r.ID, why)
		}
		r.Approvals = append(r.Approvals, nightowl.Approval{By: by, At: s.clock.Now().UTC()})
		if len(r.Approvals) >= r.Needs {
			r.State = nightowl.RequestApproved
		}
		return true, nil
	}
	probe := r
	if _, err := judge(&probe); err != nil {
		if refused != "" {
			s.audit(ctx, by, "action.approve", r.ID, "refused: "+refused)
		}
		return r, err
	}
	if err := s.audit(ctx, by, "action.approve", r.ID, fmt.Sprintf("%s; plan %s", r.Action, hash)); err != nil {
		return r, fmt.Errorf("record the approval: %w", err)
	}
	r, _, err = s.change(ctx, id, judge, nil)
	if err != nil {
		if aerr := s.audit(ctx, by, "action.approve", id, "withdrawn: "+nightowl.ErrorMessage(err)); aerr != nil {
			s.log.Error("record a withdrawn approval in the audit log", "request", id, "by", by, "err", aerr)
		}
		return r, err
	}
	return r, nil
}

// Deny ends a request: anyone with the role may say no, the requester
// included (withdrawing it).
func (s *Service) Deny(ctx context.Context, id, by, reason string) (nightowl.ActionRequest, error) {
	r, _, err := s.change(ctx, id, func(r *nightowl.ActionRequest) (bool, error) {
		if err := refuseFinal(r); err != nil {
			return false, err
		}
		r.State, r.DeniedBy, r.DeniedAt = nightowl.RequestDenied, by, s.clock.Now().UTC()
		if reason != "" {
			r.Error = "denied: " + reason
		}
		return true, nil
	}, nil)
	if err != nil {
		return r, err
	}
	// Recorded once it has happened; the denial stands even if the log
	// cannot take it, since it only stops a run.
	if err := s.audit(ctx, by, "action.deny", r.ID, strings.TrimSpace(r.Action+"; "+reason)); err != nil {
		s.log.Error("record a denial in the audit log", "request", r.ID, "by", by, "err", err)
	}
	return r, nil
}

// Run runs an approved request, for its requester or one of its approvers:
// its plan must be the one approved, its preflight must hold again now, and
// its action must be out of its cooldown. The run is claimed in the store
// (approved to running, with the action's cooldown, in one step) before
// anything starts, so that of many runs at once, on any nodes, of one
// request or of several for one action, exactly one runs. A refused run
// writes nothing, and the refusal is recorded once. It returns when the
// run has ended.
func (s *Service) Run(ctx context.Context, id, by string) (nightowl.ActionRequest, error) {
	var a *nightowl.Action
	var audit func()
	var refused error // to record once it stands
	r, wrote, err := s.change(ctx, id, func(r *nightowl.ActionRequest) (bool, error) {
		audit, refused = nil, nil
		if err := refuseFinal(r); err != nil {
			return false, err
		}
		if r.State != nightowl.RequestApproved {
			return false, nightowl.Errorf(nightowl.EConflict, "request %s has %d of the %d approvals it needs", r.ID, len(r.Approvals), r.Needs)
		}
		if by != r.RequestedBy && !approvedBy(r, by) {
			return false, nightowl.Errorf(nightowl.EForbidden, "only the requester or an approver may run %s", r.ID)
		}
		var err error
		if a, err = s.action(r.Action); err != nil {
			return false, err
		}
		if write, err := s.backToPending(ctx, a, r, by, &audit); write || err != nil {
			return write, err
		}
		if refused, err = s.mayStart(ctx, a, r); err != nil {
			return false, err
		} else if refused != nil {
			return false, refused
		}
		r.State, r.RanBy, r.StartedAt = nightowl.RequestRunning, by, s.clock.Now().UTC()
		return true, nil
	}, func(r *nightowl.ActionRequest) error {
		err := s.claim(ctx, a, r)
		var sr storeRefusal
		if errors.As(err, &sr) {
			refused = sr.error
		}
		return err
	})
	switch {
	case wrote && audit != nil:
		audit() // sent back to pending: the refusal is recorded once it stands
	case !wrote && refused != nil:
		s.audit(ctx, by, "action.run", id, "refused: "+nightowl.ErrorMessage(refused))
	}
	if err != nil {
		return r, err
	}
	return s.started(ctx, a, r, by)
}

// backToPending sends an approved request back to pending when the
// approvals it has no longer cover it: the plan it would run now is not the
// one approved (a reload changed the action), or its action needs more
// approvals now (an incident opened with buddy_during_incidents, or the
// config raised them), which would otherwise let a request approved by
// nobody run during an incident. It sets *audit to record the refusal once
// the change has been written.
func (s *Service) backToPending(ctx context.Context, a *nightowl.Action, r *nightowl.ActionRequest, by string, audit *func()) (bool, error) {
	plan, err := Snapshot(a, r.Params)
	if err != nil {
		return false, err
	}
	var why string
	if hash := PlanHash(plan); hash != r.PlanHash {
		why = fmt.Sprintf("its plan changed since it was requested (now %s, approved %s): it needs its approvals again", hash, r.PlanHash)
		if r.PlanHash == "" {
			why = fmt.Sprintf("it was requested without a plan on record (now %s): it needs its approvals again", hash)
		}
		r.Plan, r.PlanHash, r.Approvals = &plan, hash, nil
		r.State = nightowl.RequestPending
		if r.Needs == 0 {
			// Nobody approves it: the requester runs the new plan on
			// purpose, with a second run.
			r.State = nightowl.RequestApproved
		}
	} else {
		needs, err := s.Needs(ctx, a)
		if err != nil {
			return false, err
		}
		if needs <= r.Needs || len(r.Approvals) >= needs {
			return false, nil
		}
		noun := "approvals"
		if needs == 1 {
			noun = "approval"
		}
		why = fmt.Sprintf("it needs %d %s now (an incident is open, or the action's approvals were raised) and has %d", needs, noun, len(r.Approvals))
		r.Needs, r.State = needs, nightowl.RequestPending
	}
	id := r.ID
	*audit = func() { s.audit(ctx, by, "action.run", id, "refused: "+why) }
	return true, nightowl.Errorf(nightowl.EConflict, "request %s cannot run yet: %s", r.ID, why)
}

// mayStart checks the parameters and the preflight of r again, just
// before it runs; it returns why r may not run, or an error when that could
// not be judged. Parameters are checked again since the config may have
// changed since the request was made.
func (s *Service) mayStart(ctx context.Context, a *nightowl.Action, r *nightowl.ActionRequest) (refused, err error) {
	if err := checkParams(a, r.Params); err != nil {
		return err, nil
	}
	failed, _, err := s.opts.Preflight(ctx, a, r.Params)
	if err != nil {
		return nil, err
	}
	if failed != "" {
		return nightowl.Errorf(nightowl.EConflict, "preflight failed: %s", failed), nil
	}
	return nil, nil
}

// claim writes r, moved to running, together with its action's cooldown:
// a storeRefusal when another run of the action started within it. Any
// other change of r is written as it is.
func (s *Service) claim(ctx context.Context, a *nightowl.Action, r *nightowl.ActionRequest) error {
	if r.State != nightowl.RequestRunning {
		return s.opts.Store.SaveRequest(ctx, r)
	}
	last, err := s.opts.Store.StartRequest(ctx, r, a.Cooldown)
	if err != nil {
		return err
	}
	if !last.IsZero() {
		return storeRefusal{nightowl.Errorf(nightowl.EConflict, "%s ran at %s; its cooldown lasts until %s",
			a.Name, stamp(last), stamp(last.Add(a.Cooldown)))}
	}
	return nil
}

// started records a run this node has claimed, runs it and records the
// outcome. A run the audit log cannot take does not happen: the request
// fails without running.
func (s *Service) started(ctx context.Context, a *nightowl.Action, r nightowl.ActionRequest, by string) (nightowl.ActionRequest, error) {
	if err := s.audit(ctx, by, "action.run", r.ID, describe(a, r.Params)+"; plan "+r.PlanHash); err != nil {
		r.Error = "not run: it could not be recorded in the audit log"
		s.end(ctx, r, Outcome{Err: r.Error})
		return r, fmt.Errorf("record the run: %w", err)
	}
	return s.finish(ctx, a, r), nil
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

// recordTimeout bounds the writes that record how a run ended.
const recordTimeout = 30 * time.Second

// finish runs the action and records the outcome.
func (s *Service) finish(ctx context.Context, a *nightowl.Action, r nightowl.ActionRequest) nightowl.ActionRequest {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.timeout(a.Name))
	plan, err := PlanOf(a, r.Params)
	out := Outcome{Err: "not run: " + nightowl.ErrorMessage(err)}
	if err == nil {
		out = s.opts.Exec.Execute(rctx, plan)
	}
	cancel()
	// The outcome is recorded even when the caller has gone, within a
	// deadline of its own: a hung database must not hold this for ever.
	ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	r = s.end(ctx, r, out)
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

// end writes the outcome of the run this node claimed. It is written over
// whatever the request became meanwhile only if that is still this run, or
// the "interrupted" another node gave it when it seemed cut off.
func (s *Service) end(ctx context.Context, r nightowl.ActionRequest, out Outcome) nightowl.ActionRequest {
	apply := func(r *nightowl.ActionRequest) {
		r.EndedAt = s.clock.Now().UTC()
		r.ExitCode, r.Output, r.Error = out.Code, out.Output, out.Err
		r.State = nightowl.RequestSucceeded
		if !out.OK {
			r.State = nightowl.RequestFailed
		}
	}
	mine := r
	apply(&r)
	for try := 1; ; try++ {
		err := s.opts.Store.SaveRequest(ctx, &r)
		if nightowl.ErrorCode(err) != nightowl.EConflict || try == casTries {
			if err != nil {
				s.log.Error("record action outcome", "request", r.ID, "err", err)
			}
			return r
		}
		cur, err := s.opts.Store.Request(ctx, r.ID)
		if err != nil || !cur.StartedAt.Equal(mine.StartedAt) || cur.RanBy != mine.RanBy ||
			cur.State != nightowl.RequestRunning && cur.State != nightowl.RequestFailed {
			s.log.Error("record action outcome: the request changed meanwhile", "request", r.ID, "err", err)
			return r
		}
		r = cur
		apply(&r)
	}
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
	plan, err := Snapshot(a, map[string]string{})
	if err != nil {
		event(fmt.Sprintf("on_down did not run %s: %s", a.Name, nightowl.ErrorMessage(err)))
		return
	}
	now := s.clock.Now().UTC()
	r := nightowl.ActionRequest{
		ID: newID(), Action: a.Name, Params: map[string]string{}, Automatic: true,
		Reason: fmt.Sprintf("on_down of %s: %s", v.Check.Name, v.State.Cause), RequestedBy: "nightowl",
		RequestedAt: now, ExpiresAt: now.Add(s.opts.Expiry), State: nightowl.RequestApproved,
		Plan: &plan, PlanHash: PlanHash(plan),
	}
	// Recorded before it counts, as a person's request is.
	if err := s.audit(ctx, "nightowl", "action.request", r.ID, fmt.Sprintf("%s; reason: %s; plan %s", a.Name, r.Reason, r.PlanHash)); err != nil {
		event(fmt.Sprintf("on_down did not run %s: it could not be recorded in the audit log", a.Name))
		return
	}
	refused, err := s.mayStart(ctx, a, &r)
	if err == nil && refused == nil {
		// Created running, with the cooldown: a new request cannot lose
		// its compare-and-set, but another run may have taken the
		// cooldown.
		r.State, r.RanBy, r.StartedAt = nightowl.RequestRunning, "nightowl", s.clock.Now().UTC()
		err = s.claim(ctx, a, &r)
		var sr storeRefusal
		if errors.As(err, &sr) {
			refused, err = sr.error, nil
		}
	}
	if refused != nil {
		s.audit(ctx, "nightowl", "action.run", r.ID, "refused: "+nightowl.ErrorMessage(refused))
		err = refused
	}
	if err != nil {
		event(fmt.Sprintf("on_down did not run %s: %s", a.Name, nightowl.ErrorMessage(err)))
		return
	}
	r, err = s.started(ctx, a, r, "nightowl")
	if err != nil {
		event(fmt.Sprintf("on_down did not run %s: %s", a.Name, nightowl.ErrorMessage(err)))
		return
	}
	outcome := string(r.State)
	if r.ExitCode != nil {
		outcome += fmt.Sprintf(" (exit %d)", *r.ExitCode)
	}
	event(fmt.Sprintf("on_down ran %s (request %s): %s", a.Name, r.ID, outcome))
}

// EventAction is the kind of the events automatic runs leave on a check's
// history.
const EventAction = "action"
