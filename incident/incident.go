// Package incident keeps the human story of outages: incidents that people
// open, update with public messages and private notes, and resolve; the
// ones opened on their own when a critical alert fires on a component's
// check (incidents.auto_open); each incident's timeline, merged at read time
// from its updates and from what the store recorded meanwhile about the
// checks involved (status changes, maintenance, alerts, notifications,
// acknowledgements); the Markdown postmortem draft written from it; and the
// status of each component as the status page shows it.
//
// Docs for users: docs/incidents.md.
package incident

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/nightowl/nightowl"
)

// Store is what the service keeps incidents in, and reads the history of
// their checks from.
type Store interface {
	nightowl.IncidentStore
	Events(ctx context.Context, check string, limit int) ([]nightowl.Event, error)
	Alert(ctx context.Context, id string) (nightowl.Alert, error)
	Alerts(ctx context.Context, q nightowl.AlertQuery) ([]nightowl.Alert, error)
	Notifications(ctx context.Context, q nightowl.NotificationQuery) ([]nightowl.Notification, error)
	// Requests returns action requests, newest first: the runs people
	// started during an incident are on its timeline.
	Requests(ctx context.Context, q nightowl.ActionQuery) ([]nightowl.ActionRequest, error)
}

// Options configure a Service. Store is required.
type Options struct {
	Store  Store
	Clock  nightowl.Clock // nightowl.SystemClock when nil
	Logger *slog.Logger   // slog.Default() when nil
	// Components returns the configured components; none when nil.
	Components func() []nightowl.Component
	// Checks returns every check with its state; none when nil.
	Checks func() []nightowl.CheckView
	// AutoOpen reports whether a critical alert on a component's check
	// opens an incident (incidents.auto_open: critical); never when nil.
	AutoOpen func() bool
}

// Service opens, updates and resolves incidents.
type Service struct {
	opts  Options
	clock nightowl.Clock
	log   *slog.Logger
	// mu serialises the changes to incidents: each reads an incident,
	// changes it and writes it back.
	mu sync.Mutex
}

// System is who acts when nightowl itself opens an incident.
const System = "nightowl"

// Limits on what people write, so that one paste cannot fill a page.
const (
	maxTitle   = 200
	maxMessage = 10_000
)

// DefaultImpact is the impact of an incident opened without one.
const DefaultImpact = nightowl.ImpactMajor

// New returns a service.
func New(opts Options) (*Service, error) {
	if opts.Store == nil {
		return nil, errors.New("incidents: no store")
	}
	if opts.Clock == nil {
		opts.Clock = nightowl.SystemClock{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Components == nil {
		opts.Components = func() []nightowl.Component { return nil }
	}
	if opts.Checks == nil {
		opts.Checks = func() []nightowl.CheckView { return nil }
	}
	if opts.AutoOpen == nil {
		opts.AutoOpen = func() bool { return false }
	}
	return &Service{opts: opts, clock: opts.Clock, log: opts.Logger}, nil
}

// NormalizeID accepts an incident ID as people type it: "inc-12", "INC-12"
// or "12".
func NormalizeID(id string) string {
	id = strings.ToLower(strings.TrimSpace(id))
	if _, err := strconv.ParseUint(id, 10, 64); err == nil {
		return "inc-" + id
	}
	return id
}

// Open opens an incident in state investigating. Its first update carries
// message, public (shown on the status page) or a private note; impact is
// DefaultImpact when empty; components must be configured ones.
func (s *Service) Open(ctx context.Context, title string, impact nightowl.Impact, components []string, message string, public bool, by string) (nightowl.Incident, error) {
	title = strings.TrimSpace(title)
	if err := checkTitle(title); err != nil {
		return nightowl.Incident{}, err
	}
	if impact == "" {
		impact = DefaultImpact
	}
	if !impact.Valid() {
		return nightowl.Incident{}, badImpact(impact)
	}
	comps, err := s.components(components)
	if err != nil {
		return nightowl.Incident{}, err
	}
	if err := checkMessage(message); err != nil {
		return nightowl.Incident{}, err
	}
	now := s.clock.Now().UTC()
	inc := nightowl.Incident{
		Title: title, State: nightowl.IncidentInvestigating, Impact: impact, Components: comps,
		CreatedAt: now, CreatedBy: by, UpdatedAt: now,
	}
	u := nightowl.IncidentUpdate{
		Time: now, By: by, Public: public && message != "",
		State: inc.State, Impact: impact, Components: comps, Message: message,
	}
	if u.Public {
		inc.PublishedAt = now
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.opts.Store.SaveIncident(ctx, &inc, &u); err != nil {
		return nightowl.Incident{}, err
	}
	s.log.Info("incident opened", "incident", inc.ID, "title", inc.Title, "by", by)
	return inc, nil
}

// Update records u on the incident with the given ID: a public update or a
// private note, with the message required, which may change its state, its
// impact and its components (each left as it is when empty, or nil). A
// change to the state resolved resolves it; a change away from resolved
// opens it again. u.Time, ID and IncidentID are set here.
func (s *Service) Update(ctx context.Context, id string, u nightowl.IncidentUpdate) (nightowl.Incident, nightowl.IncidentUpdate, error) {
	if strings.TrimSpace(u.Message) == "" {
		return nightowl.Incident{}, u, nightowl.Errorf(nightowl.EInvalid, "an update needs a message")
	}
	return s.update(ctx, NormalizeID(id), u, asWritten, "")
}

// Resolve resolves the incident; message has a plain default. The message
// is a public update when the incident is on the status page, and a private
// note when it is not: resolving an incident does not publish it.
func (s *Service) Resolve(ctx context.Context, id, message, by string) (nightowl.Incident, error) {
	if strings.TrimSpace(message) == "" {
		message = "This incident has been resolved."
	}
	inc, _, err := s.update(ctx, NormalizeID(id), nightowl.IncidentUpdate{
		State: nightowl.IncidentResolved, Message: message, Public: true, By: by,
	}, withPublicIfPublished, "")
	return inc, err
}

// publishedNote is the private note that records who published an incident
// without a public message, and when.
const publishedNote = "Published on the status page."

// Publish puts the incident on the status page, under title when it is not
// empty (an auto-opened incident's title names a check): with a message, as
// a public update of it; without one, as it stands (state, impact and
// components), with a private note that says who published it and under
// which title. An incident that is published already is a conflict.
func (s *Service) Publish(ctx context.Context, id, title, message, by string) (nightowl.Incident, nightowl.IncidentUpdate, error) {
	title = strings.TrimSpace(title)
	if title != "" {
		if err := checkTitle(title); err != nil {
			return nightowl.Incident{}, nightowl.IncidentUpdate{}, err
		}
	}
	u := nightowl.IncidentUpdate{Message: message, Public: true, By: by}
	if strings.TrimSpace(message) == "" {
		u = nightowl.IncidentUpdate{Message: publishedNote, By: by}
	}
	return s.update(ctx, NormalizeID(id), u, mustPublish, title)
}

// How update treats the incident's publication, beside what the update
// itself says.
type publishMode int

const (
	asWritten             publishMode = iota
	withPublicIfPublished             // the update is public only if the incident is already
	mustPublish                       // publish it; a conflict if it is already
)

// update records u on the incident; mode says what it does to its
// publication, and a title that is not empty renames it.
func (s *Service) update(ctx context.Context, id string, u nightowl.IncidentUpdate, mode publishMode, title string) (nightowl.Incident, nightowl.IncidentUpdate, error) {
	if u.State != "" && !u.State.Valid() {
		return nightowl.Incident{}, u, nightowl.Errorf(nightowl.EInvalid,
			"state must be investigating, identified, monitoring or resolved, not %q", u.State)
	}
	if u.Impact != "" && !u.Impact.Valid() {
		return nightowl.Incident{}, u, badImpact(u.Impact)
	}
	if err := checkMessage(u.Message); err != nil {
		return nightowl.Incident{}, u, err
	}
	if u.Components != nil {
		comps, err := s.components(u.Components)
		if err != nil {
			return nightowl.Incident{}, u, err
		}
		u.Components = comps
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	inc, err := s.opts.Store.Incident(ctx, id)
	if err != nil {
		return inc, u, err
	}
	if err := s.fillPublished(ctx, &inc); err != nil {
		return inc, u, err
	}
	switch {
	case mode == mustPublish && inc.Published():
		return inc, u, nightowl.Errorf(nightowl.EConflict, "incident %s is already on the status page", id)
	case mode == withPublicIfPublished && !inc.Published():
		u.Public = false
	}
	if u.State == nightowl.IncidentResolved && inc.State == nightowl.IncidentResolved {
		return inc, u, nightowl.Errorf(nightowl.EConflict, "incident %s is already resolved", id)
	}
	// What the update changes, and nothing it only repeats: the
	// timeline says "identified" once.
	if u.State == inc.State {
		u.State = ""
	}
	if u.Impact == inc.Impact {
		u.Impact = ""
	}
	if u.Components != nil && slices.Equal(u.Components, inc.Components) {
		u.Components = nil
	}
	now := s.clock.Now().UTC()
	u.Time, u.ID, u.IncidentID = now, 0, ""
	if u.State != "" {
		inc.State = u.State
		inc.ResolvedAt = time.Time{}
		if u.State == nightowl.IncidentResolved {
			inc.ResolvedAt = now
		}
	}
	if u.Impact != "" {
		inc.Impact = u.Impact
	}
	if u.Components != nil {
		inc.Components = u.Components
	}
	inc.UpdatedAt = now
	if (u.Public || mode == mustPublish) && !inc.Published() {
		inc.PublishedAt = now
	}
	if title != "" && title != inc.Title {
		if u.Message == publishedNote {
			u.Message = fmt.Sprintf("Published on the status page as %q; it was %q.", title, inc.Title)
		}
		inc.Title = title
	}
	if err := s.opts.Store.SaveIncident(ctx, &inc, &u); err != nil {
		return inc, u, err
	}
	s.log.Info("incident updated", "incident", inc.ID, "state", inc.State, "public", u.Public, "by", u.By)
	return inc, u, nil
}

// List returns the incidents q selects, newest first.
func (s *Service) List(ctx context.Context, q nightowl.IncidentQuery) ([]nightowl.Incident, error) {
	list, err := s.opts.Store.Incidents(ctx, q)
	if err != nil {
		return nil, err
	}
	for i := range list {
		if err := s.fillPublished(ctx, &list[i]); err != nil {
			return nil, err
		}
	}
	return list, nil
}

// Get returns an incident and its updates and notes, oldest first.
func (s *Service) Get(ctx context.Context, id string) (nightowl.Incident, []nightowl.IncidentUpdate, error) {
	id = NormalizeID(id)
	inc, err := s.opts.Store.Incident(ctx, id)
	if err != nil {
		return inc, nil, err
	}
	ups, err := s.opts.Store.Updates(ctx, id)
	if err != nil {
		return inc, nil, err
	}
	inc.PublishedAt = PublishedAt(inc, ups)
	return inc, ups, nil
}

// PublishedAt is when inc went on the status page, given its updates: when
// it was published, or else the time of its first public update; zero when
// it is not published. Incidents stored before publication was recorded
// have only their updates to tell.
func PublishedAt(inc nightowl.Incident, ups []nightowl.IncidentUpdate) time.Time {
	if inc.Published() {
		return inc.PublishedAt
	}
	for _, u := range ups {
		if u.Public {
			return u.Time
		}
	}
	return time.Time{}
}

// PublicTimes are the times of an incident as the status page tells them:
// its story starts when it was published, and moves only with what the
// public sees. How long it was handled quietly before, and the private
// notes written since, are not told by a time.
type PublicTimes struct {
	// Started is when it was published.
	Started time.Time
	// Updated is the latest of: its publication, its public updates, and
	// the updates since its publication that changed its state, impact
	// or components (which the page shows), private notes or not.
	Updated time.Time
	// Resolved is when it was resolved, or when it was published if it
	// was resolved before; zero while it is open.
	Resolved time.Time
}

// Public returns the public times of inc, given its updates; zero times
// when it is not published.
func Public(inc nightowl.Incident, ups []nightowl.IncidentUpdate) PublicTimes {
	start := PublishedAt(inc, ups)
	if start.IsZero() {
		return PublicTimes{}
	}
	t := PublicTimes{Started: start, Updated: start}
	for _, u := range ups {
		shown := u.Public || u.State != "" || u.Impact != "" || u.Components != nil
		if shown && u.Time.After(t.Updated) {
			t.Updated = u.Time
		}
	}
	if !inc.ResolvedAt.IsZero() {
		t.Resolved = inc.ResolvedAt
		if t.Resolved.Before(start) {
			t.Resolved = start
		}
		if t.Resolved.After(t.Updated) {
			t.Updated = t.Resolved
		}
	}
	return t
}

// fillPublished sets inc.PublishedAt from its updates when the incident
// itself does not say.
func (s *Service) fillPublished(ctx context.Context, inc *nightowl.Incident) error {
	if inc.Published() {
		return nil
	}
	ups, err := s.opts.Store.Updates(ctx, inc.ID)
	if err != nil {
		return err
	}
	inc.PublishedAt = PublishedAt(*inc, ups)
	return nil
}

// components checks names against the configured components and returns
// them as configured, in the order given, without repeats.
func (s *Service) components(names []string) ([]string, error) {
	conf := s.opts.Components()
	out := []string{}
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		i := slices.IndexFunc(conf, func(c nightowl.Component) bool { return strings.EqualFold(c.Name, n) })
		if i < 0 {
			return nil, nightowl.Errorf(nightowl.EInvalid, "unknown component %q (%s)", n, componentNames(conf))
		}
		if !slices.Contains(out, conf[i].Name) {
			out = append(out, conf[i].Name)
		}
	}
	return out, nil
}

func componentNames(conf []nightowl.Component) string {
	if len(conf) == 0 {
		return "no components are configured"
	}
	names := make([]string, len(conf))
	for i, c := range conf {
		names[i] = c.Name
	}
	return "components: " + strings.Join(names, ", ")
}

func badImpact(i nightowl.Impact) error {
	return nightowl.Errorf(nightowl.EInvalid, "impact must be none, minor, major or critical, not %q", i)
}

func checkTitle(title string) error {
	switch {
	case title == "":
		return nightowl.Errorf(nightowl.EInvalid, "an incident needs a title")
	case utf8.RuneCountInString(title) > maxTitle:
		return nightowl.Errorf(nightowl.EInvalid, "the title must be at most %d characters", maxTitle)
	}
	return nil
}

func checkMessage(m string) error {
	if utf8.RuneCountInString(m) > maxMessage {
		return nightowl.Errorf(nightowl.EInvalid, "the message must be at most %d characters", maxMessage)
	}
	return nil
}

// errorf wraps err with what was being done to incident id.
func errorf(err error, what, id string) error {
	if nightowl.ErrorCode(err) != nightowl.EInternal {
		return err
	}
	return fmt.Errorf("%s of incident %s: %w", what, id, err)
}
