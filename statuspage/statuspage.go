// Package statuspage builds what the public status page shows: each
// component's status, uptime bars and uptime over 24 hours to 90 days, its
// response times where the config makes them public, the published
// incidents with their public updates only, and the announced maintenance
// windows. It reads the checks, incidents and windows it is handed and
// caches what it built, since the page is read most when something is
// wrong, by everyone at once; the web layer serves it (web.Publisher).
package statuspage

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/incident"
)

// Checks are the checks in force with their state (the engine).
type Checks interface {
	Checks() []nightowl.CheckView
	Check(name string) (nightowl.CheckView, bool)
}

// Incidents are the incidents kept (the incident service).
type Incidents interface {
	List(ctx context.Context, q nightowl.IncidentQuery) ([]nightowl.Incident, error)
	Get(ctx context.Context, id string) (nightowl.Incident, []nightowl.IncidentUpdate, error)
}

// Windows are the maintenance windows (the maintenance runner).
type Windows interface {
	List() []nightowl.MaintenanceView
}

// Rollups are the daily rollups the uptime bars are made of (the store).
type Rollups interface {
	Rollups(ctx context.Context, check string, p nightowl.Period, since time.Time) ([]nightowl.Rollup, error)
}

// Settings are what the config says of the page: its title and URL, the
// components, and which checks have badges.
type Settings struct {
	Title      string
	URL        string // server.public_url, for links in the feed
	Components []nightowl.Component
	HasBadge   func(check string) bool
}

// Options configure a Service. Every field but TTL is required.
type Options struct {
	// Settings returns what the config in force says of the page.
	Settings    func() Settings
	Checks      Checks
	Incidents   Incidents
	Maintenance Windows
	Rollups     Rollups
	Clock       nightowl.Clock // the system clock when nil
	// TTL is how long what the page shows is reused; 5s when 0, never
	// when negative (tests).
	TTL time.Duration
}

// Service builds the public status and the badges; it implements
// web.Publisher.
type Service struct {
	opts Options
	// public caches what the page shows.
	public publicCache
}

// New returns a Service over opts.
func New(opts Options) *Service {
	if opts.Clock == nil {
		opts.Clock = nightowl.SystemClock{}
	}
	return &Service{opts: opts}
}

// The public status page is read most when something is wrong, by everyone
// at once. What it shows is built at most once per publicTTL and shared:
// a thousand visitors a second cost one build a few seconds.
const publicTTL = 5 * time.Second

// uptimeDays is how many days of uptime the status page shows.
const uptimeDays = 90

// uptimeTTL is how long the uptime bars are reused: they change by the
// minute at most (rollups are written once a minute), and they are most of
// what building the page reads.
const uptimeTTL = 5 * time.Minute

// publicCache holds the last public status built, and the uptime bars.
type publicCache struct {
	mu    sync.Mutex
	built time.Time
	ps    Page

	uptimeBuilt time.Time
	uptime      map[string]componentUptime // by component name
}

// componentUptime is a component's uptime bars and their total, its
// uptime windows and its response time of the last 24 hours.
type componentUptime struct {
	days         []Day
	uptime       float64
	windows      []Window
	response     Response
	showResponse bool
}

// PublicStatus implements web.Publisher: what the page shows, built at
// most once per TTL.
func (s *Service) PublicStatus(ctx context.Context) (Page, error) {
	s.public.mu.Lock()
	defer s.public.mu.Unlock()
	now := s.opts.Clock.Now().UTC()
	ttl := s.opts.TTL
	if ttl == 0 {
		ttl = publicTTL
	}
	if !s.public.built.IsZero() && now.Sub(s.public.built) < ttl {
		return s.public.ps, nil
	}
	ps, err := s.buildPublic(ctx, now)
	if err != nil {
		return ps, err
	}
	s.public.built, s.public.ps = now, ps
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

func (s *Service) buildPublic(ctx context.Context, now time.Time) (Page, error) {
	cfg := s.opts.Settings()
	views := s.opts.Checks.Checks()
	ps := Page{Title: cfg.Title, URL: cfg.URL, UpdatedAt: now,
		Overall: nightowl.ComponentOperational}
	statuses := incident.ComponentStatuses(cfg.Components, views)
	affected := incident.AffectedBy(cfg.Components, views)
	uptime, err := s.uptime(ctx, cfg, views, now)
	if err != nil {
		return ps, err
	}
	for _, c := range cfg.Components {
		u := uptime[c.Name]
		// The cached bars are shared between builds: each gets its own
		// copy to add the incidents to.
		pc := Component{Name: c.Name, Description: c.Description, Status: statuses[c.Name],
			Days: slices.Clone(u.days), Uptime: u.uptime, Windows: u.windows,
			ShowResponseTime: c.ShowResponseTime, Response: u.response}
		if pc.Status != nightowl.ComponentOperational {
			pc.AffectedBy = affected[c.Name]
			for _, up := range c.DependsOn {
				if s := statuses[up]; s != nightowl.ComponentOperational && s != nightowl.ComponentUnderMaintenance &&
					!slices.Contains(pc.AffectedBy, up) {
					pc.AffectedBy = append(pc.AffectedBy, up)
				}
			}
		}
		ps.Components = append(ps.Components, pc)
		if rank[pc.Status] > rank[ps.Overall] {
			ps.Overall = pc.Status
		}
	}

	open, history, err := s.publicIncidents(ctx, now)
	if err != nil {
		return ps, err
	}
	ps.Incidents, ps.History = open, history
	for i := range ps.Components {
		dayIncidents(&ps.Components[i], open, history, now)
	}
	for _, inc := range open {
		if s, ok := impactStatus[inc.Impact]; ok && rank[s] > rank[ps.Overall] {
			ps.Overall = s
		}
	}
	ind := indicators[ps.Overall]
	ps.Indicator, ps.Description = ind[0], ind[1]

	for _, m := range s.opts.Maintenance.List() {
		if !m.Announce || (!m.Active && (m.From.Before(now) || m.From.Sub(now) > announceAhead)) {
			continue
		}
		pm := Maintenance{ID: m.ID, Name: m.Name, Reason: m.Reason, From: m.From, Until: m.Until, Active: m.Active}
		for _, c := range cfg.Components {
			for _, name := range m.Scope {
				if v, ok := s.opts.Checks.Check(name); ok && c.Checks.Matches(name, v.Check.Labels) && !slices.Contains(pm.Components, c.Name) {
					pm.Components = append(pm.Components, c.Name)
				}
			}
		}
		ps.Maintenance = append(ps.Maintenance, pm)
	}
	return ps, nil
}

// dayIncidents lists on each of c's days the published incidents of c that
// were open on it, from their publication (the public story starts there)
// to their resolution, oldest first.
func dayIncidents(c *Component, open, history []Incident, now time.Time) {
	all := append(slices.Clone(history), open...)
	slices.SortStableFunc(all, func(a, b Incident) int { return a.PublishedAt.Compare(b.PublishedAt) })
	for _, inc := range all {
		if !slices.Contains(inc.Components, c.Name) {
			continue
		}
		end := inc.ResolvedAt
		if end.IsZero() {
			end = now
		}
		for i := range c.Days {
			from := c.Days[i].Date
			if inc.PublishedAt.Before(from.Add(24*time.Hour)) && !end.Before(from) {
				c.Days[i].Incidents = append(c.Days[i].Incidents, inc.Title)
			}
		}
	}
}

// announceAhead is how long before it starts an announced maintenance
// window shows on the status page.
const announceAhead = 24 * time.Hour

// Badge implements web.Publisher: only checks with a badge have one, and
// any other name is answered as one that does not exist.
func (s *Service) Badge(name string) (nightowl.Status, bool) {
	if !s.opts.Settings().HasBadge(name) {
		return "", false
	}
	v, ok := s.opts.Checks.Check(name)
	if !ok {
		return "", false
	}
	return v.State.Status, true
}

// historyDays is how far back the status page lists resolved incidents,
// and maxHistory how many at most.
const (
	historyDays = 90
	maxHistory  = 50
)

// publicIncidents returns the published incidents, open and resolved in
// the last 90 days, each with its public updates only and its public
// times, the most recently published first.
func (s *Service) publicIncidents(ctx context.Context, now time.Time) (open, history []Incident, err error) {
	// Every open incident, however old, and the recent resolved ones;
	// published ones only, asked of the store, so that incidents nobody
	// published (a flapping check opens one after another) never take
	// the places of those that were. The open ones are among the recent,
	// and are made room for.
	incs, err := s.opts.Incidents.List(ctx, nightowl.IncidentQuery{Open: true, Published: true, Limit: 1000})
	if err != nil {
		return nil, nil, err
	}
	recent, err := s.opts.Incidents.List(ctx, nightowl.IncidentQuery{Since: now.AddDate(0, 0, -historyDays), Published: true,
		Limit: maxHistory + len(incs)})
	if err != nil {
		return nil, nil, err
	}
	resolved := 0
	for _, inc := range recent {
		if inc.State == nightowl.IncidentResolved && resolved < maxHistory {
			incs = append(incs, inc)
			resolved++
		}
	}
	for _, inc := range incs {
		// Nothing of an incident is public before someone publishes it:
		// not its title (an auto-opened one names a check), nor its
		// impact on the page's status. List says, for old incidents too.
		if !inc.Published() {
			continue
		}
		_, updates, err := s.opts.Incidents.Get(ctx, inc.ID)
		if err != nil {
			return nil, nil, err
		}
		// Its public times: from its publication, moving with what the
		// page shows, never with private notes.
		times := incident.Public(inc, updates)
		pi := Incident{ID: inc.ID, Title: inc.Title, State: inc.State, Impact: inc.Impact,
			Components: inc.Components, PublishedAt: times.Started, UpdatedAt: times.Updated, ResolvedAt: times.Resolved}
		state := nightowl.IncidentInvestigating
		for _, u := range updates {
			if u.State != "" {
				state = u.State
			}
			// Private notes stay private: only what was published,
			// with the state it was published under, numbered among
			// the public updates (the store's numbers count every
			// note on every incident: their gaps would tell how many
			// private ones were written).
			if u.Public {
				pi.Updates = append(pi.Updates, Update{ID: int64(len(pi.Updates) + 1), Time: u.Time, State: state, Message: u.Message})
			}
		}
		slices.Reverse(pi.Updates)
		if inc.State == nightowl.IncidentResolved {
			history = append(history, pi)
		} else {
			open = append(open, pi)
		}
	}
	// In the order they went public: the order they were opened in
	// would tell which were known, quietly, for longer.
	for _, list := range [][]Incident{open, history} {
		slices.SortStableFunc(list, func(a, b Incident) int { return b.PublishedAt.Compare(a.PublishedAt) })
	}
	return open, history, nil
}

// uptime returns each component's uptime bars and windows, rebuilt at most
// every uptimeTTL (and when the components change). Called with
// s.public.mu held.
//
// A component's uptime over a span is the share of its checks' runs in the
// span that were not down, all runs pooled: a check run every 10s weighs
// six times one run every minute, as it sees six times as much. The 24
// hours are the hourly rollups of the last 24 hours, this one included;
// the 7, 30 and 90 days are the daily rollups of as many UTC days, today
// included.
func (s *Service) uptime(ctx context.Context, cfg Settings, views []nightowl.CheckView, now time.Time) (map[string]componentUptime, error) {
	fresh := s.public.uptime != nil && now.Sub(s.public.uptimeBuilt) < uptimeTTL && s.opts.TTL >= 0
	if fresh {
		for _, c := range cfg.Components {
			if u, ok := s.public.uptime[c.Name]; !ok || u.showResponse != c.ShowResponseTime {
				fresh = false
			}
		}
	}
	if fresh {
		return s.public.uptime, nil
	}
	today := now.Truncate(24 * time.Hour)
	first := today.AddDate(0, 0, -(uptimeDays - 1))
	firstHour := now.Truncate(time.Hour).Add(-23 * time.Hour)
	// Each check's rollups are read once, however many components it is in.
	daily, hourly := map[string][]nightowl.Rollup{}, map[string][]nightowl.Rollup{}
	read := func(cache map[string][]nightowl.Rollup, check string, p nightowl.Period, since time.Time) ([]nightowl.Rollup, error) {
		if r, ok := cache[check]; ok {
			return r, nil
		}
		r, err := s.opts.Rollups.Rollups(ctx, check, p, since)
		cache[check] = r
		return r, err
	}
	out := make(map[string]componentUptime, len(cfg.Components))
	for _, c := range cfg.Components {
		days := make([]Day, uptimeDays)
		sums := make([]responseSum, uptimeDays)
		for i := range days {
			days[i].Date = first.AddDate(0, 0, i)
		}
		var day24 Window
		var resp24 responseSum
		for _, v := range views {
			if !c.Checks.Matches(v.Check.Name, v.Check.Labels) {
				continue
			}
			rollups, err := read(daily, v.Check.Name, nightowl.Daily, first)
			if err != nil {
				return nil, err
			}
			for _, r := range rollups {
				i := int(r.Start.UTC().Sub(first) / (24 * time.Hour))
				if i < 0 || i >= uptimeDays {
					continue
				}
				days[i].Runs += r.Runs
				days[i].Failures += r.Failures
				sums[i].add(r)
			}
			if rollups, err = read(hourly, v.Check.Name, nightowl.Hourly, firstHour); err != nil {
				return nil, err
			}
			for _, r := range rollups {
				if st := r.Start.UTC(); st.Before(firstHour) || !st.Before(firstHour.Add(24*time.Hour)) {
					continue
				}
				day24.Runs += r.Runs
				day24.Failures += r.Failures
				resp24.add(r)
			}
		}
		u := componentUptime{days: days, uptime: -1, showResponse: c.ShowResponseTime}
		day24.Period = Periods[0]
		u.windows = append(u.windows, day24)
		for _, n := range []int{7, 30, 90} {
			w := Window{Period: fmt.Sprintf("%dd", n)}
			for _, d := range days[uptimeDays-n:] {
				w.Runs += d.Runs
				w.Failures += d.Failures
			}
			u.windows = append(u.windows, w)
		}
		u.uptime = u.windows[len(u.windows)-1].Uptime()
		// Response times are public only where the config says so.
		if c.ShowResponseTime {
			for i := range days {
				days[i].Response = sums[i].response()
			}
			u.response = resp24.response()
		}
		out[c.Name] = u
	}
	s.public.uptime, s.public.uptimeBuilt = out, now
	return out, nil
}

// responseSum adds up rollups' percentiles weighted by their runs.
type responseSum struct {
	p50, p95 float64
	runs     int64
}

func (s *responseSum) add(r nightowl.Rollup) {
	s.p50 += r.P50 * float64(r.Runs)
	s.p95 += r.P95 * float64(r.Runs)
	s.runs += r.Runs
}

func (s responseSum) response() Response {
	if s.runs == 0 {
		return Response{}
	}
	return Response{P50: s.p50 / float64(s.runs), P95: s.p95 / float64(s.runs), Runs: s.runs}
}
