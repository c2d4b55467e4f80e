// Package nightowl holds the domain of the nightowl monitor: checks, results,
// statuses, events and the interfaces that the rest of the program implements
// (Prober, Store). It imports no driver; probe/, sqlite/, web/ and the others
// import it, and only app/ and cmd/ know every package.
package nightowl

import (
	"context"
	"encoding/json"
	"math"
	"sort"
	"time"
)

// Status is the health of a check as people see it.
type Status string

const (
	StatusUp          Status = "up"
	StatusDegraded    Status = "degraded"
	StatusDown        Status = "down"
	StatusMaintenance Status = "maintenance"
	StatusUnknown     Status = "unknown"
	StatusPaused      Status = "paused"
	// StatusBlocked is a failing check that something it depends on
	// (State.BlockedBy) explains: it opens no alert of its own.
	StatusBlocked Status = "blocked"
	// StatusFlapping is a check whose status changed too often of late
	// (Check.Flap): one alert says so, and what its results say meanwhile
	// is State.Underlying.
	StatusFlapping Status = "flapping"
)

// Rank orders statuses worst first: a lower rank is more urgent. Lists meant
// for people (status, dashboard) sort by it.
func (s Status) Rank() int {
	switch s {
	case StatusDown:
		return 0
	case StatusDegraded:
		return 1
	case StatusFlapping:
		return 2
	case StatusBlocked:
		return 3
	case StatusMaintenance:
		return 4
	case StatusUnknown:
		return 5
	case StatusUp:
		return 6
	case StatusPaused:
		return 7
	}
	return 8
}

// Valid reports whether s is one of the known statuses.
func (s Status) Valid() bool { return s.Rank() < 8 }

// Severity of an assertion.
type Severity string

const (
	SeverityCritical Severity = "critical"
	SeverityWarning  Severity = "warning"
)

// Facts are the typed values a probe observed, keyed by the names that
// assertions use (the SPEC's table of facts per check type).
type Facts map[string]any

// AssertionResult is the outcome of one assertion on one result.
type AssertionResult struct {
	Name     string   `json:"name"`
	Severity Severity `json:"severity"`
	OK       bool     `json:"ok"`
	// Message says why it failed, with the values observed; empty when OK.
	Message string `json:"message,omitempty"`
}

// Seconds is a duration that reads and writes as a number of seconds, as
// facts and the API present durations.
type Seconds time.Duration

// MarshalJSON writes the duration as fractional seconds.
func (s Seconds) MarshalJSON() ([]byte, error) {
	return json.Marshal(math.Round(time.Duration(s).Seconds()*1e6) / 1e6)
}

// UnmarshalJSON reads fractional seconds.
func (s *Seconds) UnmarshalJSON(b []byte) error {
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*s = Seconds(time.Duration(f * float64(time.Second)))
	return nil
}

// Result is one run of a check.
type Result struct {
	Check string    `json:"check"`
	Due   time.Time `json:"due"`   // when the scheduler wanted it to start
	Start time.Time `json:"start"` // when it started
	// OK is true when the probe itself succeeded (it connected, got an
	// answer); assertions are judged separately.
	OK       bool    `json:"ok"`
	Duration Seconds `json:"duration"`
	Error    string  `json:"error,omitempty"`
	Facts    Facts   `json:"facts,omitempty"`
	// Assertions holds the outcome of every assertion of the check.
	Assertions []AssertionResult `json:"assertions,omitempty"`
	// Status is what this single result says: up, degraded or down, or
	// maintenance when it failed only in ways the maintenance windows in
	// force expect. Thresholds turn a sequence of them into the check's
	// status.
	Status Status `json:"status"`
	// Maintenance names the windows in force for the check when it ran,
	// and what failed that none of them expects; nil outside windows.
	Maintenance *MaintenanceNote `json:"maintenance,omitempty"`
}

// Judge sets r.Status from the probe outcome and assertion results: down when
// the probe failed or a critical assertion failed, degraded when only
// warnings failed, up otherwise.
func (r *Result) Judge() {
	if !r.OK {
		r.Status = StatusDown
		return
	}
	r.Status = StatusUp
	for _, a := range r.Assertions {
		if a.OK {
			continue
		}
		if a.Severity == SeverityWarning {
			r.Status = StatusDegraded
			continue
		}
		r.Status = StatusDown
		return
	}
}

// Failed returns the results of the assertions that did not hold.
func (r *Result) Failed() []AssertionResult {
	var out []AssertionResult
	for _, a := range r.Assertions {
		if !a.OK {
			out = append(out, a)
		}
	}
	return out
}

// Prober runs one check once. It honours ctx's deadline and returns a
// Result with every fact it could gather even when it fails half way. It
// leaves Check, Due, Start, Assertions and Status to the caller. It should
// not panic; should it all the same, the engine turns the panic into a
// failed result, so that no probe needs a recover of its own.
type Prober interface {
	Probe(ctx context.Context) Result
}

// Assertion is a compiled, named boolean expression over facts.
type Assertion interface {
	Name() string
	Severity() Severity
	Source() string
	Eval(f Facts) AssertionResult
}

// Check is a configured, ready-to-run check.
type Check struct {
	Name         string            `json:"name"`
	Type         string            `json:"type"`
	Labels       map[string]string `json:"labels,omitempty"`
	Interval     time.Duration     `json:"-"`
	Timeout      time.Duration     `json:"-"`
	FailAfter    int               `json:"fail_after"`
	RecoverAfter int               `json:"recover_after"`
	Paused       bool              `json:"paused,omitempty"`
	// Passive checks (heartbeats) are not run by the scheduler: results
	// are submitted to the engine as signals arrive or deadlines pass.
	Passive bool `json:"passive,omitempty"`
	// OnDown names an action to run when the check goes down, if it needs
	// no approval; empty for none.
	OnDown string `json:"on_down,omitempty"`
	// DependsOn names the checks this one needs: while one of them, or
	// one they need in turn, is down, this check's failure is blocked.
	DependsOn []string `json:"depends_on,omitempty"`
	// Flap says when the check is flapping: its status changed more than
	// Flap.Changes times within Flap.Window. Zero Changes never.
	Flap Flap `json:"-"`
	// Grace is, for a passive check, how long it may go without a report:
	// one blocked while what it depends on was down gets this long after
	// that recovers to report before it is judged again.
	Grace      time.Duration `json:"-"`
	Assertions []Assertion   `json:"-"`
	Prober     Prober        `json:"-"`
	// Fingerprint changes whenever anything that affects how the check runs
	// changes; a reload keeps the schedule and state of checks whose
	// fingerprint is unchanged.
	Fingerprint string `json:"-"`
}

// Flap is when a check is flapping.
type Flap struct {
	Changes int
	Window  time.Duration
}

// State is the current, thresholded state of a check.
type State struct {
	Check  string    `json:"check"`
	Status Status    `json:"status"`
	Since  time.Time `json:"since"` // when Status began
	// Pending is the status the recent results point to but that has not yet
	// met its threshold; empty when it agrees with Status.
	Pending Status `json:"pending,omitempty"`
	// Streak counts consecutive results whose status is Pending.
	Streak  int       `json:"streak,omitempty"`
	LastRun time.Time `json:"last_run,omitzero"`
	Cause   string    `json:"cause,omitempty"`
	// BlockedBy names, while Status is blocked, the failing check upstream
	// that explains this one's failure: the root cause.
	BlockedBy string `json:"blocked_by,omitempty"`
	// Underlying is, while Status is flapping, the status the check's
	// results point to, with its thresholds: what it settles on.
	Underlying Status `json:"underlying,omitempty"`
	Runs       int64  `json:"runs"`
	Fails      int64  `json:"failures"`
}

// CheckView is a check with its current state and last result.
type CheckView struct {
	Check Check
	State State
	Last  *Result
}

// SortWorstFirst orders checks by status, worst first, then by name: what
// needs a person comes first.
func SortWorstFirst(v []CheckView) {
	sort.SliceStable(v, func(i, j int) bool {
		ri, rj := v[i].State.Status.Rank(), v[j].State.Status.Rank()
		if ri != rj {
			return ri < rj
		}
		return v[i].Check.Name < v[j].Check.Name
	})
}

// Event is something that happened to a check, such as a status change.
type Event struct {
	ID    int64     `json:"id"`
	Check string    `json:"check"`
	Time  time.Time `json:"time"`
	Kind  string    `json:"kind"` // "status" for status changes
	From  Status    `json:"from,omitempty"`
	To    Status    `json:"to,omitempty"`
	Cause string    `json:"cause"`
}

// EventStatus is the kind of event recorded when a check's status changes.
const EventStatus = "status"

// Rollup summarises the runs of a check over an hour or a day.
type Rollup struct {
	Check    string    `json:"check"`
	Period   Period    `json:"period"`
	Start    time.Time `json:"start"`
	Runs     int64     `json:"runs"`
	Failures int64     `json:"failures"`
	P50      float64   `json:"p50"` // seconds
	P95      float64   `json:"p95"`
	Max      float64   `json:"max"`
}

// Period of a rollup.
type Period string

const (
	Hourly Period = "hour"
	Daily  Period = "day"
)

// Store keeps what nightowl must remember across restarts. Implementations
// batch writes: SaveResult returns once the result is queued, and Flush
// waits until everything queued is durable.
type Store interface {
	// SaveResult queues a result: it is kept in the check's bounded list of
	// recent results and counted in its hourly and daily rollups.
	SaveResult(r Result)
	// CountResult counts a result in the rollups only, without keeping it
	// among the recent results (heartbeats keep their pings instead).
	CountResult(r Result)
	// SaveState queues the current state of a check.
	SaveState(s State)
	// AddEvent records an event durably before it returns, together with
	// the check's latest queued state: after a crash, a check's state is
	// never older than its last recorded status change.
	AddEvent(ctx context.Context, e Event) (Event, error)
	// Flush makes everything queued so far durable.
	Flush(ctx context.Context) error

	States(ctx context.Context) ([]State, error)
	Results(ctx context.Context, check string, limit int) ([]Result, error)
	Events(ctx context.Context, check string, limit int) ([]Event, error)
	Rollups(ctx context.Context, check string, p Period, since time.Time) ([]Rollup, error)
	// SavePing queues a heartbeat ping for the check's bounded list of
	// recent pings; like results, pings are written in batches.
	SavePing(p Ping)
	// SaveHeartbeat queues the durable state of a heartbeat check (its
	// token, last signals and open runs); only the latest per check is
	// written.
	SaveHeartbeat(h Heartbeat)
	// Pings returns a check's recent pings, newest first.
	Pings(ctx context.Context, check string, limit int) ([]Ping, error)
	// Heartbeats returns the stored state of every heartbeat check.
	Heartbeats(ctx context.Context) ([]Heartbeat, error)

	// Forget removes every trace of checks that are no longer configured.
	Forget(ctx context.Context, checks []string) error
	Close() error
}

// Clock tells the time and waits. Production code uses SystemClock; tests use
// a fake that they advance by hand.
type Clock interface {
	Now() time.Time
	// After returns a channel that receives once d has passed.
	After(d time.Duration) <-chan time.Time
}

// SystemClock is the real clock.
type SystemClock struct{}

func (SystemClock) Now() time.Time                         { return time.Now() }
func (SystemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
