// Package kit holds what the JSON API and public pages (package web) and
// the admin pages (package web/admin) share: the route with the role it
// needs, answers with errors, who a request acts for and its CSRF check,
// the bounds of a form's body, the rules for free text, and rate limits.
// Package web mounts the admin pages' routes beside its own and wraps them
// all alike, so that one table says who may do what.
package kit

import (
	"net/http"
	"time"

	"github.com/nightowl/nightowl"
)

// Route is one endpoint and the least role that may call it; Role is empty
// for a public one.
type Route struct {
	Pattern string
	Role    nightowl.Role
	Handler http.Handler
	// Long is how much longer than WriteTimeout the route may take: it
	// waits on a run (LongWrite).
	Long time.Duration
	// StepUp marks a dangerous route: a session must have given a second
	// factor within access.step_up.
	StepUp bool
	// Pending marks a route that a session still waiting for its second
	// factor (or enrolment) may use; no other route answers it.
	Pending bool
}

// WithStepUp marks a route that needs a recent second factor.
func WithStepUp(r Route) Route {
	r.StepUp = true
	return r
}

// WhilePending marks a route that a session waiting for its second factor
// may use.
func WhilePending(r Route) Route {
	r.Pending = true
	return r
}

// WithLong marks a route that waits on a run d longer than others.
func WithLong(r Route, d time.Duration) Route {
	r.Long = d
	return r
}

// WriteTimeout bounds a request from the end of its headers to the end
// of the answer. Handlers that wait on a run (a check, an action, a
// reload) move it with LongWrite.
const WriteTimeout = 30 * time.Second

// ActionWrite is how long a handler that runs an action may take to answer:
// config.MaxActionTimeout and a margin.
const ActionWrite = time.Hour + time.Minute

// LongWrite gives a handler that waits on a run d more than WriteTimeout
// to write its answer.
func LongWrite(w http.ResponseWriter, d time.Duration) {
	// An error means the writer cannot take deadlines (a test's
	// recorder): nothing to move.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(WriteTimeout + d))
}
