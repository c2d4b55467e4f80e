package app

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/incident"
	"github.com/nightowl/nightowl/web"
)

// The public status page is read most when something is wrong, by everyone
// at once. What it shows is built at most once per publicTTL and shared:
// a thousand visitors a second cost one build a few seconds.
const publicTTL = 5 * time.Second

// uptimeDays is how many days of uptime the status page shows.
const uptimeDays = 90

// publicCache holds the last public status built.
type publicCache struct {
	mu    sync.Mutex
	built time.Time
	ps    web.PublicStatus
}

// PublicStatus implements web.Publisher.
func (a *App) PublicStatus(ctx context.Context) (web.PublicStatus, error) {
	a.public.mu.Lock()
	defer a.public.mu.Unlock()
	now := a.opts.Clock.Now().UTC()
	ttl := a.opts.PublicTTL
	if ttl == 0 {
		ttl = publicTTL
	}
	if !a.public.built.IsZero() && now.Sub(a.public.built) < ttl {
		return a.public.ps, nil
	}
	ps, err := a.buildPublic(ctx, now)
	if err != nil {
		return ps, err
	}
	a.public.built, a.public.ps = now, ps
	return ps, nil
}

// rank orders component statuses from the best to the worst.
var rank = map[nightowl.ComponentStatus]int{
	nightowl.ComponentOperational: 0, nightowl.ComponentUnderMaintenance: 1, nightowl.ComponentDegraded: 2,
	nightowl.ComponentPartialOutage: 3, nightowl.ComponentMajorOutage: 4,
}

// impactRank puts an open incident's impact on the same scale.
var impactStatus = map[nightowl.Impact]nightowl.ComponentStatus{
	nightowl.ImpactMinor: nightowl.ComponentDegraded, nightowl.ImpactMajor: nightowl.ComponentPartialOutage,
	nightowl.ImpactCritical: nightowl.ComponentMajorOutage,
}

// indicators are Statuspage's indicator and description of each overall
// status.
var indicators = map[nightowl.ComponentStatus][2]string{
	nightowl.ComponentOperational:      {"none", "All Systems Operational"},
	nightowl.ComponentUnderMaintenance: {"maintenance", "Service Under Maintenance"},
	nightowl.ComponentDegraded:         {"minor", "Degraded Performance"},
	nightowl.ComponentPartialOutage:    {"major", "Partial System Outage"},
	nightowl.ComponentMajorOutage:      {"critical", "Major System Outage"},
}

func (a *App) buildPublic(ctx context.Context, now time.Time) (web.PublicStatus, error) {
	cfg := a.Config()
	views := a.engine.Checks()
	ps := web.PublicStatus{Title: cfg.Server.Title, URL: cfg.Server.PublicURL, UpdatedAt: now,
		Overall: nightowl.ComponentOperational}
	statuses := incident.ComponentStatuses(cfg.Components, views)
	today := now.Truncate(24 * time.Hour)
	first := today.AddDate(0, 0, -(uptimeDays - 1))
	for _, c := range cfg.Components {
		pc := web.PublicComponent{Name: c.Name, Description: c.Description, Status: statuses[c.Name], Uptime: -1}
		days := make([]web.PublicDay, uptimeDays)
		for i := range days {
			days[i].Date = first.AddDate(0, 0, i)
		}
		var runs, fails int64
		for _, v := range views {
			if !c.Checks.Matches(v.Check.Name, v.Check.Labels) {
				continue
			}
			rollups, err := a.store.Rollups(ctx, v.Check.Name, nightowl.Daily, first)
			if err != nil {
				return ps, err
			}
			for _, r := range rollups {
				i := int(r.Start.UTC().Sub(first) / (24 * time.Hour))
				if i < 0 || i >= uptimeDays {
					continue
				}
				days[i].Runs += r.Runs
				days[i].Failures += r.Failures
				runs, fails = runs+r.Runs, fails+r.Failures
			}
		}
		if runs > 0 {
			pc.Uptime = 100 * float64(runs-fails) / float64(runs)
		}
		pc.Days = days
		ps.Components = append(ps.Components, pc)
		if rank[pc.Status] > rank[ps.Overall] {
			ps.Overall = pc.Status
		}
	}

	open, history, err := a.publicIncidents(ctx, now)
	if err != nil {
		return ps, err
	}
	ps.Incidents, ps.History = open, history
	for _, inc := range open {
		if s, ok := impactStatus[inc.Impact]; ok && rank[s] > rank[ps.Overall] {
			ps.Overall = s
		}
	}
	ind := indicators[ps.Overall]
	ps.Indicator, ps.Description = ind[0], ind[1]

	for _, m := range a.maint.List() {
		if !m.Announce || (!m.Active && (m.From.Before(now) || m.From.Sub(now) > announceAhead)) {
			continue
		}
		pm := web.PublicMaintenance{ID: m.ID, Name: m.Name, Reason: m.Reason, From: m.From, Until: m.Until, Active: m.Active}
		for _, c := range cfg.Components {
			for _, name := range m.Scope {
				if v, ok := a.engine.Check(name); ok && c.Checks.Matches(name, v.Check.Labels) && !slices.Contains(pm.Components, c.Name) {
					pm.Components = append(pm.Components, c.Name)
				}
			}
		}
		ps.Maintenance = append(ps.Maintenance, pm)
	}
	return ps, nil
}

// announceAhead is how long before it starts an announced maintenance
// window shows on the status page.
const announceAhead = 24 * time.Hour

// Badge implements web.Publisher.
func (a *App) Badge(name string) (nightowl.Status, bool) {
	v, ok := a.engine.Check(name)
	if !ok {
		return "", false
	}
	return v.State.Status, true
}

// historyDays is how far back the status page lists resolved incidents.
const historyDays = 90

// publicIncidents returns the open incidents and those resolved in the
// last 90 days, each with its public updates only, newest first.
func (a *App) publicIncidents(ctx context.Context, now time.Time) (open, history []web.PublicIncident, err error) {
	// Every open incident, however old, and the recent resolved ones.
	incs, err := a.incidents.List(ctx, nightowl.IncidentQuery{Open: true, Limit: 1000})
	if err != nil {
		return nil, nil, err
	}
	recent, err := a.incidents.List(ctx, nightowl.IncidentQuery{Since: now.AddDate(0, 0, -historyDays), Limit: 200})
	if err != nil {
		return nil, nil, err
	}
	for _, inc := range recent {
		if inc.State == nightowl.IncidentResolved {
			incs = append(incs, inc)
		}
	}
	for _, inc := range incs {
		_, updates, err := a.incidents.Get(ctx, inc.ID)
		if err != nil {
			return nil, nil, err
		}
		pi := web.PublicIncident{ID: inc.ID, Title: inc.Title, State: inc.State, Impact: inc.Impact,
			Components: inc.Components, CreatedAt: inc.CreatedAt, UpdatedAt: inc.UpdatedAt, ResolvedAt: inc.ResolvedAt}
		state := nightowl.IncidentInvestigating
		for _, u := range updates {
			if u.State != "" {
				state = u.State
			}
			// Private notes stay private: only what was published,
			// with the state it was published under.
			if u.Public {
				pi.Updates = append(pi.Updates, web.PublicUpdate{ID: u.ID, Time: u.Time, State: state, Message: u.Message})
			}
		}
		slices.Reverse(pi.Updates)
		if inc.State == nightowl.IncidentResolved {
			history = append(history, pi)
		} else {
			open = append(open, pi)
		}
	}
	return open, history, nil
}
