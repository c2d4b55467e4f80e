package engine

import (
	"context"
	"maps"
	"sync"
	"time"

	"github.com/nightowl/nightowl"
)

// failing reports whether a check in status s fails in its own right: the
// kind of upstream trouble that blocks the checks depending on it. A check
// in maintenance fails only as its window expects, which blocks nothing.
func failing(s nightowl.Status) bool {
	return s == nightowl.StatusDown || s == nightowl.StatusDegraded
}

// eachUpstream walks the checks upstream of c (through depends_on,
// directly or through others), each once, depth-first in the order the
// checks name them. pre is called on a check before the checks it depends
// on, post after them; either may be nil, and a walk stops as soon as one
// returns true.
func (e *Engine) eachUpstream(c *nightowl.Check, pre, post func(u *run) bool) {
	seen := map[string]bool{c.Name: true}
	var walk func(names []string) bool
	walk = func(names []string) bool {
		for _, name := range names {
			if seen[name] {
				continue
			}
			seen[name] = true
			e.mu.Lock()
			u := e.checks[name]
			e.mu.Unlock()
			if u == nil {
				continue
			}
			if (pre != nil && pre(u)) || walk(u.check.DependsOn) || (post != nil && post(u)) {
				return true
			}
		}
		return false
	}
	walk(c.DependsOn)
}

// rootCause returns the check upstream of c that fails in its own right,
// the first found; "" when none does. A blocked check upstream is passed
// through: what blocks it is further up.
func (e *Engine) rootCause(c *nightowl.Check) string {
	root := ""
	e.eachUpstream(c, func(u *run) bool {
		u.mu.Lock()
		st := u.state.Status
		u.mu.Unlock()
		if failing(st) {
			root = u.check.Name
		}
		return root != ""
	}, nil)
	return root
}

// verifyUpstream runs now the checks upstream of c that have not run since
// at, before c is judged failing in its own right: of thirty checks behind
// one router that fail together, the first to fail finds the router down,
// rather than each paging before the router's own run comes. The runs are
// RunNow's, so thirty checks that ask at once cause one run of the router.
// Each is run after the checks it depends on, which decide whether it
// fails in its own right. Heartbeats upstream are taken as they stand; so
// are checks another node runs.
func (e *Engine) verifyUpstream(c *nightowl.Check, at time.Time) {
	e.eachUpstream(c, nil, func(u *run) bool {
		u.mu.Lock()
		last := u.state.LastRun
		u.mu.Unlock()
		name := u.check.Name
		if u.check.Passive || u.check.Paused || !last.Before(at) || (e.opts.Owns != nil && !e.opts.Owns(name)) {
			return false
		}
		ctx, cancel := context.WithTimeout(context.Background(), u.check.Timeout+EventTimeout)
		e.RunNow(ctx, name)
		cancel()
		return false
	})
}

// upstreamCause is the root cause of a failure of r's check that res may
// bring: "" when res does not fail, the check depends on nothing, or
// nothing upstream fails. When res would make the check fail and nothing
// upstream fails as far as this node knows, the upstream checks are run
// first.
func (e *Engine) upstreamCause(r *run, res *nightowl.Result) string {
	if len(r.check.DependsOn) == 0 || !failing(res.Status) {
		return ""
	}
	if root := e.rootCause(&r.check); root != "" {
		return root
	}
	r.mu.Lock()
	_, ev := Apply(judged(r.state), &r.check, res)
	r.mu.Unlock()
	if ev == nil || !failing(ev.To) {
		return ""
	}
	e.verifyUpstream(&r.check, res.Start)
	return e.rootCause(&r.check)
}

// releaseDependents runs again, at once, the checks that name as their
// root cause the check whose status just changed to st, once it no longer
// fails: those still failing then fail in their own right. A heartbeat
// cannot be run: its last result is judged again.
func (e *Engine) releaseDependents(name string, st nightowl.Status) {
	if failing(st) || st == nightowl.StatusBlocked {
		return
	}
	e.mu.Lock()
	if !e.upstream[name] {
		// Nothing depends on it: nothing it can release. (A root
		// cause is always some check's upstream.)
		e.mu.Unlock()
		return
	}
	var blocked []*run
	for _, r := range e.dependents {
		if r.removed.Load() || (e.opts.Owns != nil && !e.opts.Owns(r.check.Name)) {
			continue
		}
		r.mu.Lock()
		if r.state.Status == nightowl.StatusBlocked && r.state.BlockedBy == name {
			blocked = append(blocked, r)
		}
		r.mu.Unlock()
	}
	stopping, ctx := e.stopping, e.runCtx
	e.mu.Unlock()
	if ctx == nil {
		ctx = context.Background()
	}
	if len(blocked) == 0 || stopping {
		return
	}
	e.rechecks.Add(1)
	go func() {
		defer e.rechecks.Done()
		sem := make(chan struct{}, min(len(blocked), 16))
		var wg sync.WaitGroup
		for _, r := range blocked {
			if r.check.Passive {
				// Waits out its grace: not one of the sixteen.
				wg.Go(func() { e.recheck(ctx, r) })
				continue
			}
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				e.recheck(ctx, r)
			})
		}
		wg.Wait()
	}()
}

// recheck judges a blocked check again now that its root cause recovered.
// A heartbeat cannot be run: it gets its grace to report (the job that
// needed the root may take that long to come back), and is then judged on
// its last report, unless a new one came meanwhile.
func (e *Engine) recheck(ctx context.Context, r *run) {
	if !r.check.Passive {
		ctx, cancel := context.WithTimeout(ctx, r.check.Timeout+EventTimeout)
		defer cancel()
		e.RunNow(context.WithoutCancel(ctx), r.check.Name)
		return
	}
	r.mu.Lock()
	before := r.last
	r.mu.Unlock()
	if r.check.Grace > 0 {
		select {
		case <-e.clock.After(r.check.Grace):
		case <-ctx.Done():
			return
		}
	}
	r.mu.Lock()
	last, blocked := r.last, r.state.Status == nightowl.StatusBlocked
	r.mu.Unlock()
	if last == nil || last != before || !blocked {
		// It reported meanwhile, and was judged on that.
		return
	}
	res := *last
	res.Start, res.Due = e.clock.Now(), e.clock.Now()
	res.Facts = maps.Clone(last.Facts)
	e.record(r, &res)
}
