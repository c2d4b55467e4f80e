package crashtest

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/notify"
)

// Report is what a run found: what the store says was owed, what the
// receivers got, and every way the two disagree.
type Report struct {
	Seed   uint64
	Checks int
	Kills  int
	// KillsInFlight counts the kills that fell while a receiver held a
	// request it had recorded and not yet answered; KillsAimed those the
	// harness aimed at such a request (the rest fell at a random moment);
	// KillsStarting those that fell before the server answered /healthz.
	KillsInFlight, KillsAimed, KillsStarting int
	Downs                                    int // times the flapper turned a check down
	Acks                                     int // alerts the harness acknowledged through the API

	Alerts        int                          // in the store, all resolved when Settled
	Notifications int                          // in the store
	ByKind        map[nightowl.MessageKind]int // stored notifications by kind
	Received      int                          // requests the receivers took (answered 2xx)
	Refused       int                          // requests the flaky receiver refused, each a retry
	Duplicates    int                          // Received minus the distinct keys taken
	// MaxDuplicatesPerKill is the most duplicates one killed process
	// left behind; at most Concurrency.
	MaxDuplicatesPerKill int
	Concurrency          int // the sender's concurrency

	// What went wrong; every list is empty in a good run.
	Lost        []string // stored notifications no receiver took
	Unknown     []string // keys taken that the store does not have
	Mismatched  []string // keys taken by the wrong receiver or with the wrong kind
	Unsent      []string // stored notifications not in state sent
	Missing     []string // alert changes without the notification they owe
	Open        []string // alerts still open at the end
	Unexplained []string // duplicates a kill cannot explain
	Settled     bool     // the last run sent everything and resolved every alert
	Outstanding string   // what the last run was still waiting for, unless Settled
	StopErr     string   // how the last, graceful stop went wrong

	// StaleFires lists the alerts that opened while their check's site had
	// answered 200 for a whole second before, and StaleResolves those that
	// resolved while it had answered 503 for a whole second: no run could
	// have told the server so, only a check state restored from before a
	// kill. Not lost notifications, but false news that receivers got.
	StaleFires, StaleResolves []string
	// ReconcileFires and ReconcileResolves count the alerts the servers
	// opened and resolved as they started, from the check states they
	// restored, before any check ran.
	ReconcileFires, ReconcileResolves int
	// Contradicted lists those of them that go against the last status
	// change the store had durably recorded for the check.
	Contradicted []string

	// ServerErrors counts the server's ERROR log lines, by message.
	ServerErrors map[string]int
	LogPath      string // where the servers wrote their output

	Build, Churn, Settle, Elapsed time.Duration
}

// Problems lists what broke a guarantee; none in a good run.
func (r *Report) Problems() []string {
	var p []string
	add := func(what string, items []string) {
		if len(items) > 0 {
			p = append(p, fmt.Sprintf("%d %s: %s", len(items), what, clip(items, 10)))
		}
	}
	add("lost (stored, never received)", r.Lost)
	add("received but not in the store", r.Unknown)
	add("received by the wrong receiver or as the wrong kind", r.Mismatched)
	add("not sent", r.Unsent)
	add("owed but never queued", r.Missing)
	add("alerts still open", r.Open)
	add("duplicates no kill explains", r.Unexplained)
	add("alerts opened or resolved on start against the last recorded status change", r.Contradicted)
	if !r.Settled {
		p = append(p, "did not settle: "+r.Outstanding)
	}
	if r.StopErr != "" {
		p = append(p, "graceful stop: "+r.StopErr)
	}
	if r.Duplicates > r.Kills*r.Concurrency {
		p = append(p, fmt.Sprintf("%d duplicates > %d kills × concurrency %d", r.Duplicates, r.Kills, r.Concurrency))
	}
	return p
}

func clip(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return strings.Join(items[:n], ", ") + fmt.Sprintf(", … (%d more)", len(items)-n)
}

// String lays the report out for a person.
func (r *Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "seed %d, %d checks\n", r.Seed, r.Checks)
	fmt.Fprintf(&b, "kills          %d (%d during a send, %d of them aimed at one; %d before /healthz answered)\n",
		r.Kills, r.KillsInFlight, r.KillsAimed, r.KillsStarting)
	fmt.Fprintf(&b, "checks down    %d times; %d alerts, %d acknowledged by the harness\n", r.Downs, r.Alerts, r.Acks)
	kinds := slices.Sorted(maps.Keys(r.ByKind))
	var byKind []string
	for _, k := range kinds {
		byKind = append(byKind, fmt.Sprintf("%s %d", k, r.ByKind[k]))
	}
	fmt.Fprintf(&b, "notifications  %d stored (%s)\n", r.Notifications, strings.Join(byKind, ", "))
	fmt.Fprintf(&b, "received       %d taken, %d refused and retried\n", r.Received, r.Refused)
	fmt.Fprintf(&b, "lost           %d\n", len(r.Lost))
	fmt.Fprintf(&b, "duplicates     %d (at most %d from one kill; bound %d per kill)\n",
		r.Duplicates, r.MaxDuplicatesPerKill, r.Concurrency)
	fmt.Fprintf(&b, "time           %s: build %s, kills %s, settle %s\n",
		r.Elapsed.Round(time.Millisecond), r.Build.Round(time.Millisecond),
		r.Churn.Round(time.Millisecond), r.Settle.Round(time.Millisecond))
	fmt.Fprintf(&b, "on start       %d alerts opened, %d resolved from restored check states; %d of them against the check's last recorded event\n",
		r.ReconcileFires, r.ReconcileResolves, len(r.Contradicted))
	fmt.Fprintf(&b, "stale news     %d alerts fired while the site had been up for %s, %d resolved while it had been down as long\n",
		len(r.StaleFires), staleWindow, len(r.StaleResolves))
	for i, c := range r.Contradicted {
		if i == 3 {
			fmt.Fprintf(&b, "  … (%d more)\n", len(r.Contradicted)-i)
			break
		}
		fmt.Fprintf(&b, "  %s\n", c)
	}
	if len(r.ServerErrors) > 0 {
		fmt.Fprintf(&b, "server errors:\n")
		for _, msg := range slices.Sorted(maps.Keys(r.ServerErrors)) {
			fmt.Fprintf(&b, "  %4d× %s\n", r.ServerErrors[msg], msg)
		}
	}
	if p := r.Problems(); len(p) > 0 {
		fmt.Fprintf(&b, "PROBLEMS:\n")
		for _, s := range p {
			fmt.Fprintf(&b, "  %s\n", s)
		}
	} else {
		fmt.Fprintf(&b, "ok: nothing lost, every duplicate explained by a kill\n")
	}
	return b.String()
}

// account compares what the store holds at the end (alerts and their
// notifications) with what the receivers got, into r. finalRun is the
// process that was stopped gracefully; every one before it was killed.
func account(r *Report, alerts []nightowl.Alert, stored []nightowl.Notification, got []receipt, finalRun int) {
	r.Alerts, r.Notifications = len(alerts), len(stored)
	if r.Concurrency == 0 {
		r.Concurrency = notify.DefaultSendConcurrency
	}
	r.ByKind = map[nightowl.MessageKind]int{}
	byKey := make(map[string]*nightowl.Notification, len(stored))
	type owed struct {
		alert, receiver string
		kind            nightowl.MessageKind
	}
	queued := map[owed]bool{}
	for i := range stored {
		n := &stored[i]
		key := notify.IdempotencyKey(n)
		byKey[key] = n
		r.ByKind[n.Message.Kind]++
		queued[owed{n.AlertID, n.Receiver, n.Message.Kind}] = true
		if n.State != nightowl.NotificationSent {
			r.Unsent = append(r.Unsent, fmt.Sprintf("%s %s %s %s (%s)", key, n.Receiver, n.Message.Kind, n.State, n.Error))
		}
	}
	for _, a := range alerts {
		if a.Open() {
			r.Open = append(r.Open, a.ID+" "+a.Check)
		}
		for _, rid := range a.Notified {
			want := []nightowl.MessageKind{nightowl.MessageFiring}
			if !a.AckedAt.IsZero() {
				want = append(want, nightowl.MessageAcknowledged)
			}
			if !a.Open() {
				want = append(want, nightowl.MessageResolved)
			}
			for _, k := range want {
				if !queued[owed{a.ID, rid, k}] {
					r.Missing = append(r.Missing, fmt.Sprintf("%s %s %s", a.ID, rid, k))
				}
			}
		}
	}

	// runs lists, per key, the processes whose send the receiver took, in
	// the order it took them.
	runs := map[string][]int{}
	for _, g := range got {
		if !g.accepted() {
			r.Refused++
			continue
		}
		r.Received++
		runs[g.Key] = append(runs[g.Key], g.Run)
		n, ok := byKey[g.Key]
		switch {
		case !ok:
			if len(runs[g.Key]) == 1 {
				r.Unknown = append(r.Unknown, fmt.Sprintf("%q from run %d", g.Key, g.Run))
			}
		case receiverNames[n.Receiver] != g.Receiver || n.Message.Kind != g.Kind || n.AlertID != g.AlertID:
			r.Mismatched = append(r.Mismatched, fmt.Sprintf("%s: stored %s %s, received by %s as %s",
				g.Key, n.Receiver, n.Message.Kind, g.Receiver, g.Kind))
		}
	}
	for _, key := range slices.Sorted(maps.Keys(byKey)) {
		if len(runs[key]) == 0 {
			n := byKey[key]
			r.Lost = append(r.Lost, fmt.Sprintf("%s %s %s", key, n.Receiver, n.Message.Kind))
		}
	}
	// A duplicate is a send the process did not live to record: the
	// process that sent it first must have been killed, it cannot have
	// sent the key twice, and it cannot have had more sends under way
	// than the sender's concurrency.
	perRun := map[int]int{}
	for _, key := range slices.Sorted(maps.Keys(runs)) {
		rs := runs[key]
		r.Duplicates += len(rs) - 1
		for i, run := range rs[:len(rs)-1] {
			perRun[run]++
			switch {
			case slices.Contains(rs[i+1:], run):
				r.Unexplained = append(r.Unexplained, fmt.Sprintf("%s sent twice by run %d", key, run))
			case run >= finalRun:
				r.Unexplained = append(r.Unexplained, fmt.Sprintf("%s sent again after run %d, which was not killed", key, run))
			}
		}
	}
	for _, run := range slices.Sorted(maps.Keys(perRun)) {
		n := perRun[run]
		r.MaxDuplicatesPerKill = max(r.MaxDuplicatesPerKill, n)
		if n > r.Concurrency {
			r.Unexplained = append(r.Unexplained, fmt.Sprintf("run %d left %d duplicates, more than the %d sends it could have under way", run, n, r.Concurrency))
		}
	}
}
