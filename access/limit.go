package access

import (
	"fmt"
	"sync"
	"time"

	"github.com/nightowl/nightowl"
)

// limiter counts failed sign-ins per account and client address, and per
// address, in memory: a restart forgets them, which costs an attacker a
// restart of the server per few guesses.
//
// A run of failures belongs to an account and the address it came from (an
// IPv4 address, an IPv6 /64; see nightowl.ClientKey): after MaxAccountFailures
// failures in a row at one account from one address, each further attempt
// at it from there must wait a delay after the last, growing from
// FirstDelay to MaxDelay. A guesser slows only themself: the account's
// owner, from any address that has not failed, signs in at once however
// long strangers keep guessing. An address, once it has failed
// MaxAddressFailures times (at any accounts), waits for the end of the
// window that began with its first failure.
//
// Nothing holds for an account across addresses. A guesser with N
// addresses gets at most MaxAddressFailures guesses per FailureWindow from
// each, 80 an hour, at one account or spread over many: 80×N an hour in
// all, each costing the server one bcrypt comparison at the configured
// cost (about 0.3s of one core at DefaultBcryptCost), which bounds the
// rate however many addresses there are. A delay per account applied only
// to addresses that have failed would cut that to about one guess per
// fresh address, but it would hold up an owner who mistyped once for as
// long as strangers keep guessing, the lockout this is built to avoid; long
// passwords (MinPassword) are what keep a distributed guesser out.
type limiter struct {
	mu      sync.Mutex
	runs    map[runKey]failures
	addrs   map[string]failures
	sweptAt time.Time
}

// runKey is an account and the address its failures came from.
type runKey struct{ account, addr string }

// failures counts the failures in the window that began with the first,
// and when the last was.
type failures struct {
	n     int
	since time.Time
	last  time.Time
}

func newLimiter() *limiter {
	return &limiter{runs: make(map[runKey]failures), addrs: make(map[string]failures)}
}

// accountDelay is how long after its last failure a run of n failures in
// a row at an account from one address waits before the next attempt.
func accountDelay(n int) time.Duration {
	if n < MaxAccountFailures {
		return 0
	}
	d := FirstDelay
	for i := MaxAccountFailures; i < n && d < MaxDelay; i++ {
		d *= 2
	}
	return min(d, MaxDelay)
}

// begin starts a sign-in to account (none when "") from addr. It counts the
// attempt as a failure at once, so that many attempts at the same time
// cannot all pass before the first has failed; succeeded takes it back.
// When the account must wait for this address, or the address's count is
// full, it refuses and says until when.
func (l *limiter) begin(account, addr string, now time.Time) (retry time.Time, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.sweptAt) >= FailureWindow {
		sweep(l.runs, now, runFrom)
		sweep(l.addrs, now, addrFrom)
		l.sweptAt = now
	}
	key := runKey{account, addr}
	run, ad := current(l.runs, key, now, runFrom), current(l.addrs, addr, now, addrFrom)
	if account != "" {
		if r := run.last.Add(accountDelay(run.n)); run.n > 0 && r.After(now) {
			retry = r
		}
	}
	if ad.n >= MaxAddressFailures {
		if r := ad.since.Add(FailureWindow); r.After(retry) {
			retry = r
		}
	}
	if !retry.IsZero() {
		return retry, false
	}
	if account != "" {
		l.runs[key] = run.add(now)
	}
	l.addrs[addr] = ad.add(now)
	return time.Time{}, true
}

// succeeded takes back the failure that begin counted, and ends the
// account's run from that address; runs from other addresses, which may
// be strangers', go on.
func (l *limiter) succeeded(account, addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.runs, runKey{account, addr})
	if f, ok := l.addrs[addr]; ok && f.n > 0 {
		f.n--
		l.addrs[addr] = f
	}
}

// current returns the failures of key that still count at now.
func current[K comparable](m map[K]failures, key K, now time.Time, from func(failures) time.Time) failures {
	f := m[key]
	if f.n > 0 && now.Sub(from(f)) >= FailureWindow {
		return failures{}
	}
	return f
}

// A run of failures is forgotten a window after its last failure; an
// address's count a window after its first.
func runFrom(f failures) time.Time  { return f.last }
func addrFrom(f failures) time.Time { return f.since }

func (f failures) add(now time.Time) failures {
	if f.n == 0 {
		f.since = now
	}
	f.n++
	f.last = now
	return f
}

// sweep forgets the counts that no longer count, so that the maps hold
// only the last window's worth of names and addresses.
func sweep[K comparable](m map[K]failures, now time.Time, from func(failures) time.Time) {
	for k, f := range m {
		if now.Sub(from(f)) >= FailureWindow {
			delete(m, k)
		}
	}
}

// rateLimited refuses a sign-in attempt made too soon, saying when to try
// again in words a person reads.
func rateLimited(after time.Duration) error {
	var when string
	switch {
	case after <= time.Second:
		when = "in 1 second"
	case after < time.Minute:
		when = fmt.Sprintf("in %d seconds", int((after+time.Second-1)/time.Second))
	case after <= time.Minute:
		when = "in 1 minute"
	default:
		when = fmt.Sprintf("in %d minutes", int((after+time.Minute-1)/time.Minute))
	}
	return nightowl.RateLimited(after, "too many failed sign-ins: try again %s", when)
}
