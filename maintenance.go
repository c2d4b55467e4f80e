package nightowl

import (
	"context"
	"slices"
	"sort"
	"strings"
	"time"
)

// Selector picks checks by labels, by names, or both: a check matches when
// it has every label given, or is one of the names.
type Selector struct {
	Labels map[string]string `json:"labels,omitempty" yaml:"labels"`
	Names  []string          `json:"names,omitempty" yaml:"names"`
}

// Matches reports whether the check with this name and these labels is
// selected.
func (s *Selector) Matches(name string, labels map[string]string) bool {
	if slices.Contains(s.Names, name) {
		return true
	}
	if len(s.Labels) == 0 {
		return false
	}
	for k, v := range s.Labels {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// Empty reports whether the selector selects nothing.
func (s *Selector) Empty() bool { return len(s.Labels) == 0 && len(s.Names) == 0 }

// String writes the selector as nightowl maint start --checks takes it:
// "tier=web,site=math" for labels, "shop,cart" for names.
func (s *Selector) String() string {
	var parts []string
	keys := make([]string, 0, len(s.Labels))
	for k := range s.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		parts = append(parts, k+"="+s.Labels[k])
	}
	parts = append(parts, s.Names...)
	return strings.Join(parts, ",")
}

// ExpectAnything is the expect entry that allows any failure: a plain
// silence, which hides the trouble nobody planned for.
const ExpectAnything = "*"

// Verify says how a window's checks are verified after it ends: each must
// be up within Within of the end, and again at each AgainAfter.
type Verify struct {
	Within     time.Duration   `json:"-"`
	AgainAfter []time.Duration `json:"-"`
}

// Window is a maintenance window: a time when the checks it selects may
// fail in the ways it expects without alerting anyone.
type Window struct {
	// ID names the window: its name for a configured window, a generated
	// one for a window started by hand.
	ID   string `json:"id"`
	Name string `json:"name"`
	// Source is "config" or "api".
	Source string `json:"source"`
	// A one-off window runs from Start to End. A recurring one starts at
	// every time of Schedule (cron, in Timezone) and lasts Duration.
	Start    time.Time `json:"start,omitzero"`
	End      time.Time `json:"end,omitzero"`
	Schedule string    `json:"schedule,omitempty"`
	Duration Seconds   `json:"duration,omitempty"`
	Timezone string    `json:"timezone,omitempty"`

	Checks Selector `json:"checks"`
	// Expect lists the assertions that may fail; ExpectAnything allows
	// anything, the probe failing included.
	Expect   []string `json:"expect"`
	Verify   Verify   `json:"-"`
	Announce bool     `json:"announce"`
	// Reason says why, for people reading the history.
	Reason    string    `json:"reason,omitempty"`
	CreatedBy string    `json:"created_by,omitempty"`
	CreatedAt time.Time `json:"created_at,omitzero"`
	// EndedAt is when someone ended the window (its current occurrence,
	// for a recurring one) early.
	EndedAt time.Time `json:"ended_at,omitzero"`
	EndedBy string    `json:"ended_by,omitempty"`
}

// Expects reports whether the window lets the named assertion fail.
func (w *Window) Expects(assertion string) bool {
	return slices.Contains(w.Expect, ExpectAnything) || slices.Contains(w.Expect, assertion)
}

// ActiveWindow is a window in force for a check, as a result records it.
type ActiveWindow struct {
	ID     string   `json:"id"`
	Name   string   `json:"name"`
	Expect []string `json:"expect"`
}

// MaintenanceNote is what a result says about the maintenance windows in
// force when it was taken.
type MaintenanceNote struct {
	Windows []string `json:"windows"`
	// Unexpected lists the failures no window expects: assertion names,
	// and "probe" when the probe itself failed.
	Unexpected []string `json:"unexpected,omitempty"`
}

// ProbeFailure is how MaintenanceNote.Unexpected names a failed probe.
const ProbeFailure = "probe"

// MaintenanceProgress is how far the verification of one ended occurrence
// of a window has come, kept so that a restart neither repeats nor skips it.
type MaintenanceProgress struct {
	Window string `json:"window"`
	// EndsAt is the end of the last occurrence handled; before the first,
	// when the window was first seen: ends before it are not handled.
	EndsAt time.Time `json:"ends_at"`
	// Stage counts what is done: 0 nothing, 1 the checks were run at the
	// end, 2 verified after Within, 2+i verified after AgainAfter[i].
	Stage int `json:"stage"`
	// Due is when the next stage falls due; zero when all are done.
	Due time.Time `json:"due,omitzero"`
}

// MaintenanceStore keeps the windows started by hand, the hand-made ends of
// configured ones, and how far the verification of each has come.
type MaintenanceStore interface {
	// SaveWindow creates or replaces a window.
	SaveWindow(ctx context.Context, w *Window) error
	Windows(ctx context.Context) ([]Window, error)
	SaveProgress(ctx context.Context, p MaintenanceProgress) error
	Progress(ctx context.Context) ([]MaintenanceProgress, error)
}

// MaintenanceView is a window as the API and CLI show it.
type MaintenanceView struct {
	Window
	// Within and AgainAfter are its verification.
	Within     Seconds   `json:"verify_within"`
	AgainAfter []Seconds `json:"verify_again_after,omitempty"`
	Active     bool      `json:"active"`
	// From and Until are the occurrence in force, the next one, or the
	// last one.
	From  time.Time `json:"from,omitzero"`
	Until time.Time `json:"until,omitzero"`
	// Scope lists the checks the window covers now.
	Scope []string `json:"scope"`
}
