package statuspage

import (
	"time"

	"github.com/nightowl/nightowl"
)

// Page is everything the public pages show. It holds nothing that is not
// meant for the public: names, statuses, uptime figures, public incident
// updates and announced maintenance. Targets, DSNs, error text, causes and
// private notes never reach it, so no template can leak them.
type Page struct {
	Title     string
	URL       string // server.public_url, for links in the feed
	UpdatedAt time.Time
	// Overall is the worst component status, or worse when an open
	// incident says so.
	Overall     nightowl.ComponentStatus
	Indicator   string // Statuspage's: none, minor, major, critical, maintenance
	Description string // "All Systems Operational" and the like
	Components  []Component
	Incidents   []Incident // open, newest first
	History     []Incident // resolved in the last 90 days, newest first
	Maintenance []Maintenance
}

// Component is a component as the public sees it.
type Component struct {
	Name        string
	Description string
	Status      nightowl.ComponentStatus
	// AffectedBy names the published components whose trouble this one's
	// comes from: its checks depend on theirs, or it depends on them
	// (components' depends_on) and they are in trouble too.
	AffectedBy []string
	// Days are the last 90 days, oldest first.
	Days []Day
	// Uptime over Days with data, in percent; -1 without any.
	Uptime float64
	// Windows are the uptimes of the last 24 hours, 7, 30 and 90 days,
	// in that order.
	Windows []Window
	// ShowResponseTime is the component's show_response_time: only then
	// do Days and Response carry response times.
	ShowResponseTime bool
	// Response is the last 24 hours' response times; zero without runs
	// or without ShowResponseTime.
	Response Response
}

// Window is a component's uptime over a period that ends now.
type Window struct {
	Period         string // "24h", "7d", "30d" or "90d"
	Runs, Failures int64
}

// Uptime is the window's uptime in percent; -1 without runs.
func (w Window) Uptime() float64 { return Uptime(w.Runs, w.Failures) }

// Periods name the uptime windows, in the order of Component.Windows.
var Periods = []string{"24h", "7d", "30d", "90d"}

// Window returns the component's uptime window of the named period.
func (c Component) Window(period string) (Window, bool) {
	for _, w := range c.Windows {
		if w.Period == period {
			return w, true
		}
	}
	return Window{}, false
}

// Response is the response time of a component's checks over a span: the
// mean of their median and 95th percentile durations, in seconds, each
// weighted by its runs.
type Response struct {
	P50, P95 float64
	Runs     int64
}

// Day is one day's uptime of a component: the share of its checks'
// runs that were not down.
type Day struct {
	Date           time.Time
	Runs, Failures int64
	// Response is the day's response time, with ShowResponseTime only.
	Response Response
	// Incidents are the titles of the published incidents of the
	// component that were open on the day.
	Incidents []string
}

// Uptime is the day's uptime in percent; -1 for a day without runs.
func (d Day) Uptime() float64 { return Uptime(d.Runs, d.Failures) }

// Incident is an incident with its public updates only.
type Incident struct {
	ID         string
	Title      string
	State      nightowl.IncidentState
	Impact     nightowl.Impact
	Components []string
	// PublishedAt is when it went on the status page, where its public
	// story starts: never when it was opened, which may have been long
	// before, quietly. UpdatedAt moves with what the page shows only.
	PublishedAt time.Time
	UpdatedAt   time.Time
	ResolvedAt  time.Time
	Updates     []Update // newest first
}

// Update is a public update of an incident.
type Update struct {
	// ID counts the incident's public updates from 1, oldest first.
	ID      int64
	Time    time.Time
	State   nightowl.IncidentState
	Message string
}

// Maintenance is an announced maintenance window, in force or to come.
type Maintenance struct {
	ID         string
	Name       string
	Reason     string
	From       time.Time
	Until      time.Time
	Active     bool
	Components []string
}

// Uptime is a day's uptime in percent, the share of runs that were not
// down; -1 for a day without runs.
func Uptime(runs, failures int64) float64 {
	if runs == 0 {
		return -1
	}
	return 100 * float64(runs-failures) / float64(runs)
}
