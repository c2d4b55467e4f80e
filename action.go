package nightowl

import (
	"context"
	"time"
)

// Action is a named runbook operation people (or a check's on_down) can
// run, under guard rails: parameters checked by pattern, preflight
// conditions over live check state, approvals by other people, typed
// confirmation, a cooldown and a timeout.
type Action struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Run is the argv to run, each element a template in which
	// {{param}} is replaced by the parameter's value. It never goes
	// through a shell.
	Run []string `json:"run,omitempty"`
	// HTTP is the request to send instead; its URL, header values and
	// body are templates like Run's elements.
	HTTP   *ActionHTTP   `json:"http,omitempty"`
	Params []ActionParam `json:"params,omitempty"`
	// Preflight lists expressions that must all hold, at request time and
	// again just before running.
	Preflight []string `json:"preflight,omitempty"`
	// Approvals is how many people besides the requester must approve.
	Approvals int `json:"approvals"`
	// Confirm names the parameter whose value the requester must type
	// again; empty for none.
	Confirm  string        `json:"confirm,omitempty"`
	Cooldown time.Duration `json:"-"`
	Timeout  time.Duration `json:"-"`
}

// ActionHTTP is the request an HTTP action sends.
type ActionHTTP struct {
	URL     string            `json:"url"`
	Method  string            `json:"method"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    string            `json:"body,omitempty"`
}

// ActionParam is a parameter of an action. Every value must match Pattern
// (anchored), which keeps anything but what the runbook expects out of the
// command.
type ActionParam struct {
	Name        string `json:"name"`
	Pattern     string `json:"pattern"`
	Description string `json:"description,omitempty"`
}

// RequestState is where an action request is in its life.
type RequestState string

const (
	RequestPending   RequestState = "pending"   // waiting for approvals
	RequestApproved  RequestState = "approved"  // may run
	RequestDenied    RequestState = "denied"    // someone said no
	RequestExpired   RequestState = "expired"   // nobody ran it in time
	RequestRunning   RequestState = "running"   // under way
	RequestSucceeded RequestState = "succeeded" // ran, exit code 0 or a 2xx
	RequestFailed    RequestState = "failed"    // ran and failed (a preflight that fails at run time refuses the run and leaves the request approved)
)

// Final reports whether nothing more can happen to a request in state s.
func (s RequestState) Final() bool {
	switch s {
	case RequestDenied, RequestExpired, RequestSucceeded, RequestFailed:
		return true
	}
	return false
}

// Approval is one person's yes.
type Approval struct {
	By string    `json:"by"`
	At time.Time `json:"at"`
}

// ActionRequest is one request to run an action, from the request to its
// outcome.
type ActionRequest struct {
	ID     string            `json:"id"`
	Action string            `json:"action"`
	Params map[string]string `json:"params,omitempty"`
	Reason string            `json:"reason"`
	// Automatic marks a run that a check's on_down started.
	Automatic   bool         `json:"automatic,omitempty"`
	RequestedBy string       `json:"requested_by"`
	RequestedAt time.Time    `json:"requested_at"`
	ExpiresAt   time.Time    `json:"expires_at"`
	State       RequestState `json:"state"`
	// Needs is how many approvals the request needed when it was made.
	Needs     int        `json:"needs"`
	Approvals []Approval `json:"approvals,omitempty"`
	DeniedBy  string     `json:"denied_by,omitempty"`
	DeniedAt  time.Time  `json:"denied_at,omitzero"`
	RanBy     string     `json:"ran_by,omitempty"`
	StartedAt time.Time  `json:"started_at,omitzero"`
	EndedAt   time.Time  `json:"ended_at,omitzero"`
	// Plan is what the request runs, as it was when it was requested:
	// what approvers approve. A run whose plan the config has changed
	// since goes back to pending. Header values are hidden.
	Plan *ActionPlan `json:"plan,omitempty"`
	// PlanHash is the SHA-256 of Plan, in hex, as the audit log names it.
	PlanHash string `json:"plan_hash,omitempty"`
	// Seen is what the preflight judged when the request was made: each
	// check it read, with the time of the result.
	Seen []CheckSeen `json:"seen,omitempty"`
	// ExitCode is the command's exit code, or the HTTP status.
	ExitCode *int `json:"exit_code,omitempty"`
	// Output is the command's output (stdout and stderr) or the HTTP
	// answer's body, cut to a bound.
	Output string `json:"output,omitempty"`
	// Error says why it failed or was refused: a failing preflight with
	// what it saw, a timeout.
	Error string `json:"error,omitempty"`
	// Version counts the writes of the request. Every change is written
	// over the version it was read at, so that of two nodes acting on a
	// request at once exactly one wins.
	Version int64 `json:"version"`
}

// ActionQuery selects action requests, newest first.
type ActionQuery struct {
	Action string
	Open   bool // pending and approved only
	Limit  int
}

// ActionStore keeps action requests.
type ActionStore interface {
	// SaveRequest creates or updates a request, durably, as a
	// compare-and-set: it writes only when the stored request still has
	// r.Version (0 for one not yet stored), and then moves r.Version on by
	// one. When another write came first it changes nothing and returns an
	// EConflict error.
	SaveRequest(ctx context.Context, r *ActionRequest) error
	// StartRequest saves r, which the caller has moved to running with
	// its StartedAt, as SaveRequest does, but only when no other request
	// of r.Action started within cooldown before r.StartedAt; otherwise
	// it writes nothing and returns when the latest of those started.
	// The check and the write are one step, so of runs of one action
	// started at once, on any nodes, at most one per cooldown starts.
	StartRequest(ctx context.Context, r *ActionRequest, cooldown time.Duration) (last time.Time, err error)
	Request(ctx context.Context, id string) (ActionRequest, error)
	Requests(ctx context.Context, q ActionQuery) ([]ActionRequest, error)
	// LastRun returns when the action last started running; zero when
	// never.
	LastRun(ctx context.Context, action string) (time.Time, error)
}

// ActionPlan is exactly what a request runs: the argv, or the HTTP request,
// with its parameters filled in. Approvers see it before they approve.
type ActionPlan struct {
	Run  []string    `json:"run,omitempty"`
	HTTP *ActionHTTP `json:"http,omitempty"`
	// Preflight is the action's preflight expressions.
	Preflight []string `json:"preflight,omitempty"`
}

// CheckSeen is a check a preflight read: its status and when the result
// it judged was taken. At is zero when the check had no result.
type CheckSeen struct {
	Check  string    `json:"check"`
	Status Status    `json:"status"`
	At     time.Time `json:"at,omitzero"`
	// Age is how old the result was when it was judged.
	Age Seconds `json:"age"`
}

// ActionView is an action with the approvals a request for it needs now.
type ActionView struct {
	Action
	Needs int `json:"needs"`
}
