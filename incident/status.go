package incident

import (
	"slices"
	"sort"

	"github.com/nightowl/nightowl"
)

// ComponentStatuses returns the status of each component, by name, from the
// current states of the checks it selects: major_outage when all of them
// are down, partial_outage when some are, degraded_performance when any is
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
		if !c.Checks.Matches(v.Check.Name, v.Check.Labels) || v.Check.Paused || v.State.Status == nightowl.StatusPaused {
			continue
		}
		n++
		switch v.State.Status {
		case nightowl.StatusDown:
			down++
		case nightowl.StatusDegraded:
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
		if c.Checks.Matches(check, labels) {
			out = append(out, c.Name)
		}
	}
	return out
}
