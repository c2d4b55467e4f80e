package nightowl

import "time"

// PingKind is what a ping to a heartbeat check says.
type PingKind string

// The kinds of ping, after the Healthchecks.io URL convention:
// /ping/TOKEN, /start, /fail, /log, and /EXIT_CODE (0 is a success, any
// other code a failure).
const (
	PingSuccess PingKind = "success"
	PingStart   PingKind = "start"
	PingFail    PingKind = "fail"
	PingLog     PingKind = "log"
)

// MaxPingBody is how much of a ping's request body is kept.
const MaxPingBody = 100_000

// Ping is one signal from a job to its heartbeat check.
type Ping struct {
	Check string    `json:"check"`
	Time  time.Time `json:"time"`
	Kind  PingKind  `json:"kind"`
	// ExitCode is set when the job reported one (/ping/TOKEN/N).
	ExitCode *int `json:"exit_code,omitempty"`
	// RID pairs a start with the signal that ends that run (?rid=).
	RID string `json:"rid,omitempty"`
	// Duration of the run this ping ended, when a start preceded it.
	Duration *Seconds `json:"duration,omitempty"`
	Method   string   `json:"method,omitempty"`
	// Body is the first MaxPingBody bytes of the request body.
	Body      string `json:"body,omitempty"`
	Truncated bool   `json:"truncated,omitempty"`
	UserAgent string `json:"user_agent,omitempty"`
	// Remote is the address the ping came from.
	Remote string `json:"remote,omitempty"`
}

// Heartbeat is the durable state of a heartbeat check: enough to carry its
// due times, open runs and last outcome across a restart.
type Heartbeat struct {
	Check string `json:"check"`
	// Token is the secret in the check's ping URL; generated and kept here
	// when the config gives none.
	Token       string    `json:"token"`
	LastPing    time.Time `json:"last_ping,omitzero"`
	LastSuccess time.Time `json:"last_success,omitzero"`
	// Started holds the runs that have started and not yet ended, by rid
	// ("" for a start without one).
	Started      map[string]time.Time `json:"started,omitempty"`
	LastDuration *Seconds             `json:"last_duration,omitempty"`
	ExitCode     *int                 `json:"exit_code,omitempty"`
	// Failed is true when the last ending signal was a failure.
	Failed bool `json:"failed,omitempty"`
	// Since is when the check was first tracked: a heartbeat that has never
	// pinged is due one period (or schedule slot) plus grace after it.
	Since time.Time `json:"since,omitzero"`
}
