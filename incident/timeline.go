package incident

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/nightowl/nightowl"
)

// Lead is how long before an incident was opened its timeline begins: the
// trouble has usually started before anyone calls it an incident.
const Lead = 15 * time.Minute

// eventLimit bounds the events read per check: a check that flapped all
// night has more than a timeline can use.
const eventLimit = 1000

// alertLimit bounds the alerts read per check, and notificationLimit the
// notifications per alert.
const (
	alertLimit        = 200
	notificationLimit = 1000
	// requestLimit bounds the action requests read: the newest, since an
	// incident is usually recent.
	requestLimit = 1000
)

// The kinds of timeline entries.
const (
	KindUpdate          = "update"
	KindNote            = "note"
	KindStatus          = nightowl.EventStatus
	KindMaintenance     = "maintenance"
	KindAlert           = "alert"
	KindNotification    = "notification"
	KindAcknowledgement = "acknowledgement"
	// KindAction is an action run: one a person started while the
	// incident was open, or one a check's on_down started (or held back),
	// which is an event of the check of kind actions.EventAction.
	KindAction = "action"
)

// kindOrder orders entries of the same instant as they follow from one
// another: a status change fires an alert, which is sent, and runs the
// check's on_down action; someone takes the alert, and says so.
var kindOrder = map[string]int{
	KindMaintenance: 0, KindStatus: 1, KindAlert: 2, KindNotification: 3,
	KindAction: 4, KindAcknowledgement: 5, KindNote: 6, KindUpdate: 7,
}

// history is everything the timeline and the postmortem of one incident
// are made from.
type history struct {
	inc     nightowl.Incident
	updates []nightowl.IncidentUpdate
	// from and to bound what happened to the checks: Lead before the
	// incident opened, to its resolution or now.
	from, to time.Time
	// checks are those of its components and of its alerts, sorted.
	checks []string
	// alerts are those of its checks in the window and its own, oldest
	// first, with their notifications, oldest first.
	alerts        []nightowl.Alert
	notifications map[string][]nightowl.Notification
	events        []nightowl.Event
	// runs are the action requests people ran in the window, whatever
	// their checks: actions are not tied to checks. Automatic runs are
	// among the events instead.
	runs []nightowl.ActionRequest
}

// Timeline returns the incident's timeline, oldest first, in UTC: its
// updates and notes, the status changes, maintenance, alerts,
// notifications, acknowledgements and on_down actions of its checks, and
// the actions people ran, from Lead before it opened until it was resolved
// (or now). Only public updates are Public.
func (s *Service) Timeline(ctx context.Context, id string) ([]nightowl.TimelineEntry, error) {
	h, err := s.history(ctx, NormalizeID(id))
	if err != nil {
		return nil, err
	}
	return h.timeline(), nil
}

func (s *Service) history(ctx context.Context, id string) (*history, error) {
	inc, ups, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	h := &history{inc: inc, updates: ups, notifications: map[string][]nightowl.Notification{}}
	h.from = inc.CreatedAt.Add(-Lead).UTC()
	h.to = inc.ResolvedAt.UTC()
	if inc.ResolvedAt.IsZero() {
		h.to = s.clock.Now().UTC()
	}

	checks := map[string]bool{}
	for _, c := range ComponentChecks(s.opts.Components(), inc.Components, s.opts.Checks()) {
		checks[c] = true
	}
	alerts := map[string]nightowl.Alert{}
	for _, aid := range inc.Alerts {
		a, err := s.opts.Store.Alert(ctx, aid)
		if nightowl.ErrorCode(err) == nightowl.ENotFound {
			// Resolved long ago and pruned with its notifications.
			continue
		}
		if err != nil {
			return nil, errorf(err, "read the alerts", id)
		}
		alerts[a.ID] = a
		checks[a.Check] = true
	}
	for c := range checks {
		h.checks = append(h.checks, c)
	}
	sort.Strings(h.checks)

	for _, c := range h.checks {
		evs, err := s.opts.Store.Events(ctx, c, eventLimit)
		if err != nil {
			return nil, errorf(err, "read the events", id)
		}
		for _, e := range evs {
			if h.within(e.Time) {
				h.events = append(h.events, e)
			}
		}
		as, err := s.opts.Store.Alerts(ctx, nightowl.AlertQuery{Check: c, Limit: alertLimit})
		if err != nil {
			return nil, errorf(err, "read the alerts", id)
		}
		for _, a := range as {
			if !a.StartsAt.After(h.to) && (a.ResolvedAt.IsZero() || !a.ResolvedAt.Before(h.from)) {
				alerts[a.ID] = a
			}
		}
	}
	for _, a := range alerts {
		h.alerts = append(h.alerts, a)
	}
	sort.Slice(h.alerts, func(i, j int) bool {
		if !h.alerts[i].StartsAt.Equal(h.alerts[j].StartsAt) {
			return h.alerts[i].StartsAt.Before(h.alerts[j].StartsAt)
		}
		return h.alerts[i].ID < h.alerts[j].ID
	})
	for _, a := range h.alerts {
		ns, err := s.opts.Store.Notifications(ctx, nightowl.NotificationQuery{AlertID: a.ID, Limit: notificationLimit})
		if err != nil {
			return nil, errorf(err, "read the notifications", id)
		}
		slices.Reverse(ns)
		h.notifications[a.ID] = ns
	}
	reqs, err := s.opts.Store.Requests(ctx, nightowl.ActionQuery{Limit: requestLimit})
	if err != nil {
		return nil, errorf(err, "read the action requests", id)
	}
	for _, r := range reqs {
		if !r.Automatic && h.within(r.StartedAt) {
			h.runs = append(h.runs, r)
		}
	}
	return h, nil
}

func (h *history) within(t time.Time) bool {
	return !t.IsZero() && !t.Before(h.from) && !t.After(h.to)
}

func (h *history) timeline() []nightowl.TimelineEntry {
	var out []nightowl.TimelineEntry
	add := func(e nightowl.TimelineEntry) {
		if h.within(e.Time) {
			e.Time = e.Time.UTC()
			out = append(out, e)
		}
	}
	for _, e := range h.events {
		add(eventEntry(e))
	}
	for _, a := range h.alerts {
		add(nightowl.TimelineEntry{Time: a.StartsAt, Kind: KindAlert, Check: a.Check, Text: firedText(a)})
		for _, n := range h.notifications[a.ID] {
			add(notificationEntry(a, n))
		}
		if !a.AckedAt.IsZero() {
			add(nightowl.TimelineEntry{Time: a.AckedAt, Kind: KindAcknowledgement, Check: a.Check, By: a.AckedBy,
				Text: fmt.Sprintf("Alert %s acknowledged by %s", a.ID, a.AckedBy)})
		}
		if !a.ResolvedAt.IsZero() {
			add(nightowl.TimelineEntry{Time: a.ResolvedAt, Kind: KindAlert, Check: a.Check,
				Text: fmt.Sprintf("Alert %s resolved", a.ID)})
		}
	}
	for _, r := range h.runs {
		add(runEntry(r))
	}
	for i, u := range h.updates {
		kind := KindNote
		if u.Public {
			kind = KindUpdate
		}
		// People's own words are always on it, whenever written.
		out = append(out, nightowl.TimelineEntry{Time: u.Time.UTC(), Kind: kind, By: u.By,
			Text: UpdateText(u, i == 0), Public: u.Public})
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Time.Equal(out[j].Time) {
			return out[i].Time.Before(out[j].Time)
		}
		return kindOrder[out[i].Kind] < kindOrder[out[j].Kind]
	})
	return out
}

func eventEntry(e nightowl.Event) nightowl.TimelineEntry {
	t := nightowl.TimelineEntry{Time: e.Time, Kind: e.Kind, Check: e.Check, Text: oneLine(e.Cause)}
	if e.Kind == nightowl.EventStatus {
		t.Text = fmt.Sprintf("%s → %s", e.From, e.To)
		if e.From == "" {
			t.Text = string(e.To)
		}
		if c := oneLine(e.Cause); c != "" {
			t.Text += ": " + c
		}
	}
	return t
}

// runEntry tells an action run a person started: what ran, who approved
// it, how it ended and why it was asked for.
func runEntry(r nightowl.ActionRequest) nightowl.TimelineEntry {
	what := r.Action
	if len(r.Params) > 0 {
		names := make([]string, 0, len(r.Params))
		for k := range r.Params {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			what += " " + k + "=" + r.Params[k]
		}
	}
	text := fmt.Sprintf("Action %s (request %s) run by %s", what, r.ID, r.RanBy)
	if r.RanBy != r.RequestedBy {
		text += ", requested by " + r.RequestedBy
	}
	if len(r.Approvals) > 0 {
		var by []string
		for _, a := range r.Approvals {
			by = append(by, a.By)
		}
		text += ", approved by " + strings.Join(by, ", ")
	}
	outcome := string(r.State)
	if r.ExitCode != nil {
		outcome += fmt.Sprintf(" (exit %d)", *r.ExitCode)
	}
	if e := oneLine(r.Error); e != "" {
		outcome += ": " + e
	}
	text += ": " + outcome
	if reason := oneLine(r.Reason); reason != "" {
		text += "; reason: " + reason
	}
	return nightowl.TimelineEntry{Time: r.StartedAt, Kind: KindAction, By: r.RanBy, Text: text}
}

func firedText(a nightowl.Alert) string {
	s := fmt.Sprintf("Alert %s fired (%s, %s)", a.ID, a.Severity, a.Status)
	if c := oneLine(a.Cause); c != "" {
		s += ": " + c
	}
	return s
}

func notificationEntry(a nightowl.Alert, n nightowl.Notification) nightowl.TimelineEntry {
	t := nightowl.TimelineEntry{Kind: KindNotification, Check: a.Check}
	what := fmt.Sprintf("%s message for alert %s", n.Message.Kind, a.ID)
	switch n.State {
	case nightowl.NotificationSent:
		t.Time, t.Text = n.SentAt, fmt.Sprintf("%s sent to %s", capitalize(what), n.Receiver)
	case nightowl.NotificationFailed:
		// The outbox keeps when it was queued, not when it was given up
		// on.
		t.Time, t.Text = n.CreatedAt, fmt.Sprintf("%s to %s failed after %s", capitalize(what), n.Receiver, attempts(n.Attempts))
		if e := oneLine(n.Error); e != "" {
			t.Text += ": " + e
		}
	default:
		t.Time, t.Text = n.CreatedAt, fmt.Sprintf("%s to %s not sent yet (%s)", capitalize(what), n.Receiver, attempts(n.Attempts))
		if e := oneLine(n.Error); e != "" {
			t.Text += ": " + e
		}
	}
	return t
}

func attempts(n int) string {
	if n == 1 {
		return "1 attempt"
	}
	return fmt.Sprintf("%d attempts", n)
}

// UpdateText says what an update changed, then what it says: "Opened,
// investigating, impact major: We are looking into it." first tells the
// incident's first update, which opened it.
func UpdateText(u nightowl.IncidentUpdate, first bool) string {
	var change []string
	if first {
		change = append(change, "opened")
	}
	if u.State != "" && !(first && u.State == nightowl.IncidentInvestigating) {
		change = append(change, string(u.State))
	}
	if u.Impact != "" {
		change = append(change, "impact "+string(u.Impact))
	}
	if len(u.Components) > 0 {
		change = append(change, "components "+strings.Join(u.Components, ", "))
	}
	head := capitalize(strings.Join(change, ", "))
	msg := oneLine(u.Message)
	switch {
	case head == "":
		return msg
	case msg == "":
		return head
	}
	return head + ": " + msg
}

// oneLine folds a message onto one line, for the timeline's one line per
// entry.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func capitalize(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 {
		return s
	}
	return string(unicode.ToUpper(r)) + s[n:]
}
