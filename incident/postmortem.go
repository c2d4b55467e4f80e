package incident

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/nightowl/nightowl"
)

// stamp is how the postmortem writes a time: UTC, to the second.
const stamp = "2006-01-02 15:04:05"

// Postmortem writes a Markdown draft of the incident's postmortem: a
// summary, the impact window and its duration, the affected components,
// the full timeline (private notes included: it is an internal document),
// and the alerts with who acknowledged them, followed by headings for what
// only people can write.
func (s *Service) Postmortem(ctx context.Context, id string) (string, error) {
	h, err := s.history(ctx, NormalizeID(id))
	if err != nil {
		return "", err
	}
	now := s.clock.Now().UTC()
	inc := &h.inc
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }

	p("# Postmortem: %s\n\n", oneLine(inc.Title))
	p("> Draft written by nightowl at %s UTC from the incident's record. Fill in the sections in italics before sharing it.\n\n", now.Format(stamp))

	p("## Summary\n\n")
	p("- **Incident:** %s\n", inc.ID)
	p("- **State:** %s\n", inc.State)
	p("- **Impact:** %s\n", inc.Impact)
	opener := inc.CreatedBy
	if opener == System {
		opener += " (automatically, when a critical alert fired)"
	}
	p("- **Opened by:** %s\n", opener)
	p("- **Opened:** %s UTC\n", inc.CreatedAt.UTC().Format(stamp))
	if !inc.ResolvedAt.IsZero() {
		p("- **Resolved:** %s UTC\n", inc.ResolvedAt.UTC().Format(stamp))
	}
	p("\n*What happened, in two or three sentences, for someone who was not there.*\n\n")

	p("## Impact window\n\n")
	p("- **Start:** %s UTC\n", inc.CreatedAt.UTC().Format(stamp))
	if inc.ResolvedAt.IsZero() {
		p("- **End:** ongoing\n")
		p("- **Duration:** %s so far\n", formatDuration(now.Sub(inc.CreatedAt)))
	} else {
		p("- **End:** %s UTC\n", inc.ResolvedAt.UTC().Format(stamp))
		p("- **Duration:** %s\n", formatDuration(inc.ResolvedAt.Sub(inc.CreatedAt)))
	}
	if e, ok := h.firstSign(); ok {
		p("- **First sign:** %s UTC, %s %s → %s, %s before the incident was opened\n",
			e.Time.UTC().Format(stamp), e.Check, e.From, e.To, formatDuration(inc.CreatedAt.Sub(e.Time)))
	}
	p("\n")

	p("## Affected components\n\n")
	if len(inc.Components) == 0 {
		p("None named.\n")
	}
	views := s.opts.Checks()
	conf := s.opts.Components()
	for _, c := range inc.Components {
		checks := ComponentChecks(conf, []string{c}, views)
		if len(checks) == 0 {
			p("- **%s**\n", c)
			continue
		}
		p("- **%s**: %s\n", c, strings.Join(checks, ", "))
	}
	p("\n")

	p("## Timeline\n\n")
	p("All times UTC, from %s (%s before the incident was opened) to %s.\n\n",
		h.from.Format(stamp), formatDuration(Lead), endOf(inc, h.to))
	for _, e := range h.timeline() {
		p("- `%s` %s\n", e.Time.Format(stamp), entryLine(e))
	}
	p("\n")

	var roots []nightowl.Alert
	for _, a := range h.alerts {
		if len(a.Blocked) > 0 {
			roots = append(roots, a)
		}
	}
	if len(roots) > 0 {
		// What depends_on tells: the checks that failed first, and what
		// failed because they did.
		p("## Root causes the checks show\n\n")
		for _, a := range roots {
			p("- **%s** (alert %s, fired %s) blocked %s: %s\n", a.Check, a.ID, a.StartsAt.UTC().Format(stamp),
				plural(len(a.Blocked), "check", "checks"), strings.Join(a.Blocked, ", "))
		}
		p("\n")
	}

	p("## Alerts\n\n")
	if len(h.alerts) == 0 {
		p("No alerts fired on the checks involved.\n")
	} else {
		p("| Alert | Check | Severity | Fired | Acknowledged | Resolved |\n")
		p("|---|---|---|---|---|---|\n")
		for _, a := range h.alerts {
			acked := "not acknowledged"
			if !a.AckedAt.IsZero() {
				acked = fmt.Sprintf("%s by %s", a.AckedAt.UTC().Format(stamp), a.AckedBy)
			}
			resolved := "open"
			if !a.ResolvedAt.IsZero() {
				resolved = a.ResolvedAt.UTC().Format(stamp)
			}
			p("| %s | %s | %s | %s | %s | %s |\n", cell(a.ID), cell(a.Check), a.Severity,
				a.StartsAt.UTC().Format(stamp), cell(acked), resolved)
		}
	}
	p("\n")

	p("## Root cause\n\n*Why it happened; keep asking why.*\n\n")
	p("## What went well, and what did not\n\n*Detection, response, communication.*\n\n")
	p("## Action items\n\n- [ ] *What will keep it from happening again, with an owner for each.*\n")
	return b.String(), nil
}

// firstSign is the first status change for the worse in the window.
func (h *history) firstSign() (nightowl.Event, bool) {
	var first nightowl.Event
	for _, e := range h.events {
		if e.Kind != nightowl.EventStatus || (e.To != nightowl.StatusDown && e.To != nightowl.StatusDegraded) {
			continue
		}
		if e.Time.After(h.inc.CreatedAt) {
			continue
		}
		if first.Time.IsZero() || e.Time.Before(first.Time) {
			first = e
		}
	}
	return first, !first.Time.IsZero()
}

func endOf(inc *nightowl.Incident, to time.Time) string {
	if inc.ResolvedAt.IsZero() {
		return to.Format(stamp) + " (now)"
	}
	return to.Format(stamp) + " (resolved)"
}

// entryLine writes a timeline entry as one Markdown line.
func entryLine(e nightowl.TimelineEntry) string {
	var b strings.Builder
	b.WriteString("**" + e.Kind + "**")
	if e.Check != "" {
		b.WriteString(" " + e.Check)
	}
	if e.By != "" && (e.Kind == KindUpdate || e.Kind == KindNote) {
		b.WriteString(" by " + e.By)
	}
	if e.Kind == KindUpdate {
		b.WriteString(" (public)")
	}
	if e.Text != "" {
		b.WriteString(": " + e.Text)
	}
	return b.String()
}

// cell escapes what would end a table cell.
func cell(s string) string { return strings.ReplaceAll(oneLine(s), "|", `\|`) }

// formatDuration writes a duration to the second, without the zero units
// that time.Duration.String keeps: 1h6m rather than 1h6m0s.
func formatDuration(d time.Duration) string {
	d = d.Round(time.Second)
	if d <= 0 {
		return "0s"
	}
	return nightowl.FormatDuration(d)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
