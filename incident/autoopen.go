package incident

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/nightowl/nightowl"
)

// OnAlert is called after an alert fired. With auto-open on, a critical
// alert on a check of a component joins the open incident that already
// covers one of the check's components, or opens one: "Website down:
// shop", investigating, impact major, by nightowl, with a private note
// naming the alert. It returns the incident the alert went to, and false
// when it went to none.
func (s *Service) OnAlert(ctx context.Context, a nightowl.Alert) (nightowl.Incident, bool, error) {
	if !s.opts.AutoOpen() || a.Severity != nightowl.SeverityCritical || !a.Open() {
		return nightowl.Incident{}, false, nil
	}
	comps := componentsOf(s.opts.Components(), a.Check, a.Labels)
	if len(comps) == 0 {
		return nightowl.Incident{}, false, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// Someone may change the incident the alert joins between reading
	// and saving it (on another node): read it again and retry.
	for try := 1; ; try++ {
		inc, ok, err := s.onAlert(ctx, a, comps)
		if nightowl.ErrorCode(err) != nightowl.EConflict || try == joinTries {
			return inc, ok, err
		}
	}
}

// joinTries is how often an alert tries to join an incident that keeps
// changing under it.
const joinTries = 3

func (s *Service) onAlert(ctx context.Context, a nightowl.Alert, comps []string) (nightowl.Incident, bool, error) {
	open, err := s.opts.Store.Incidents(ctx, nightowl.IncidentQuery{Open: true})
	if err != nil {
		return nightowl.Incident{}, false, fmt.Errorf("auto-open incident for alert %s: %w", a.ID, err)
	}
	// The oldest incident that covers the check: newer ones may have
	// been opened for something else since.
	for i := len(open) - 1; i >= 0; i-- {
		inc := open[i]
		if !overlaps(inc.Components, comps) {
			continue
		}
		if slices.Contains(inc.Alerts, a.ID) {
			return inc, true, nil
		}
		inc.Alerts = append(inc.Alerts, a.ID)
		inc.UpdatedAt = s.clock.Now().UTC()
		if err := s.opts.Store.SaveIncident(ctx, &inc, nil); err != nil {
			return nightowl.Incident{}, false, fmt.Errorf("add alert %s to incident %s: %w", a.ID, inc.ID, err)
		}
		s.log.Info("alert added to incident", "alert", a.ID, "incident", inc.ID, "check", a.Check)
		return inc, true, nil
	}

	now := s.clock.Now().UTC()
	what := "down"
	if a.Status == nightowl.StatusDegraded {
		what = "degraded"
	}
	inc := nightowl.Incident{
		Title: fmt.Sprintf("%s %s: %s", comps[0], what, a.Check),
		State: nightowl.IncidentInvestigating, Impact: nightowl.ImpactMajor, Components: comps,
		Alerts: []string{a.ID}, CreatedAt: now, CreatedBy: System, UpdatedAt: now,
	}
	note := fmt.Sprintf("Alert %s fired on %s at %s", a.ID, a.Check, a.StartsAt.UTC().Format(time.RFC3339))
	if c := oneLine(a.Cause); c != "" {
		note += ": " + c
	}
	u := nightowl.IncidentUpdate{
		Time: now, By: System, State: inc.State, Impact: inc.Impact, Components: comps, Message: note,
	}
	if err := s.opts.Store.SaveIncident(ctx, &inc, &u); err != nil {
		return nightowl.Incident{}, false, fmt.Errorf("auto-open incident for alert %s: %w", a.ID, err)
	}
	s.log.Warn("incident opened automatically", "incident", inc.ID, "alert", a.ID, "check", a.Check)
	return inc, true, nil
}

func overlaps(a, b []string) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}
