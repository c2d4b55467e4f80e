package incident

import (
	"slices"
	"sort"

	"github.com/nightowl/nightowl"
)

// ComponentStatuses returns the status of each component, by name, from the
// current states of the checks it selects: major_outage when all of them
// are down (or blocked), partial_outage when some are, degraded_performance when any is
// degraded, under_maintenance when any is in maintenance and none is worse,
// operational otherwise. Paused checks are left out, and checks whose state
// is not known yet count as operational; a component without checks is
// operational.
func ComponentStatuses(components []nightowl.Component, views []nightowl.CheckView) map[string]nightowl.ComponentStatus {
	out := make(map[string]nightowl.ComponentStatus, len(components))
	for _, c := range components {
		out[c.Name] = componentStatus(&c, views)
	}
	return out
}

func componentStatus(c *nightowl.Component, views []nightowl.CheckView) nightowl.ComponentStatus {
	var n, down, degraded, maint int
	for i := range views {
		v := &views[i]
		if !c.Matches(v.Check.Name, v.Check.Labels) || v.Check.Paused || v.State.Status == nightowl.StatusPaused {
			continue
		}
		n++
		switch v.State.Status {
		case nightowl.StatusDown, nightowl.StatusBlocked:
			// A blocked check fails for its users all the same; what
			// blocks it is why (AffectedBy).
			down++
		case nightowl.StatusDegraded, nightowl.StatusFlapping:
			// Flapping: it works, some of the time.
			degraded++
		case nightowl.StatusMaintenance:
			maint++
		}
	}
	switch {
	case down > 0 && down == n:
		return nightowl.ComponentMajorOutage
	case down > 0:
		return nightowl.ComponentPartialOutage
	case degraded > 0:
		return nightowl.ComponentDegraded
	case maint > 0:
		return nightowl.ComponentUnderMaintenance
	}
	return nightowl.ComponentOperational
}

// AffectedBy returns, for each component with blocked checks, the other
// components that select the checks blocking them (depends_on), in
// config order: the status page says the component is affected by them.
func AffectedBy(components []nightowl.Component, views []nightowl.CheckView) map[string][]string {
	labels := make(map[string]map[string]string, len(views))
	for i := range views {
		labels[views[i].Check.Name] = views[i].Check.Labels
	}
	out := map[string][]string{}
	for _, c := range components {
		for i := range views {
			v := &views[i]
			if v.State.Status != nightowl.StatusBlocked || !c.Checks.Matches(v.Check.Name, v.Check.Labels) {
				continue
			}
			root := v.State.BlockedBy
			for _, up := range components {
				if up.Name != c.Name && up.Checks.Matches(root, labels[root]) && !slices.Contains(out[c.Name], up.Name) {
					out[c.Name] = append(out[c.Name], up.Name)
				}
			}
		}
	}
	return out
}

// ComponentStatuses is the status of each configured component now.
func (s *Service) ComponentStatuses() map[string]nightowl.ComponentStatus {
	return ComponentStatuses(s.opts.Components(), s.opts.Checks())
}

// ComponentChecks returns the names of the checks that the named components
// select, sorted.
func ComponentChecks(components []nightowl.Component, names []string, views []nightowl.CheckView) []string {
	var out []string
	for _, c := range components {
		if !slices.Contains(names, c.Name) {
			continue
		}
		for _, v := range views {
			if c.Checks.Matches(v.Check.Name, v.Check.Labels) && !slices.Contains(out, v.Check.Name) {
				out = append(out, v.Check.Name)
			}
		}
	}
	sort.Strings(out)
	return out
}

// componentsOf returns the names of the components that select a check,
// in config order.
func componentsOf(components []nightowl.Component, check string, labels map[string]string) []string {
	var out []string
	for _, c := range components {
		if c.Matches(check, labels) {
			out = append(out, c.Name)
		}
	}
	return out
}
