package probe

import (
	"fmt"
	"regexp"
	"time"

	"github.com/expr-lang/expr/types"
	cron "github.com/netresearch/go-cron"

	"github.com/nightowl/nightowl"
)

// Heartbeat is the heartbeat block of a check: a job pings nightowl, and the
// check is down when the pings stop coming or say the job failed. Either
// Period or Schedule says when a ping is due.
type Heartbeat struct {
	// Period: a success is due at most this long after the previous one.
	Period time.Duration `yaml:"period"`
	// Schedule: a cron expression (five fields, or @daily and friends); a
	// success is due at every time it names, in Timezone.
	Schedule string `yaml:"schedule"`
	Timezone string `yaml:"timezone"`
	// Grace is how late a ping may be, and how long a started run may take,
	// before the check is down. One hour by default, or the period when
	// that is shorter.
	Grace time.Duration `yaml:"grace"`
	// Token is the secret part of the ping URL; generated when empty.
	Token string `yaml:"token" secret:"true"`

	// Parsed by Validate.
	cron cron.Schedule
	loc  *time.Location
}

func newHeartbeat() Spec { return &Heartbeat{} }

var heartbeatFacts = types.Map{
	"last_ping_age": types.Float,
	"last_duration": types.Float,
	"exit_code":     types.Int,
	"late":          types.Bool,
	"overdue":       types.Bool,
	"failed":        types.Bool,
	"running":       types.Bool,
	"duration":      types.Float,
}

var heartbeatDefaults = []Default{
	{Name: "on_time", Expr: "not overdue"},
	{Name: "succeeded", Expr: "not failed"},
}

// DefaultGrace is a heartbeat's grace when the config gives none and its
// period is not shorter.
const DefaultGrace = time.Hour

var tokenPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{16,128}$`)

// Validate checks the block and parses its schedule.
func (h *Heartbeat) Validate() []FieldError {
	var errs []FieldError
	switch {
	case h.Period != 0 && h.Schedule != "":
		errs = append(errs, FieldError{Key: "schedule", Message: "give either period or schedule, not both"})
	case h.Period == 0 && h.Schedule == "":
		errs = append(errs, FieldError{Key: "", Message: "period or schedule is required"})
	case h.Period < 0:
		errs = append(errs, FieldError{Key: "period", Message: "must be positive"})
	}
	if h.Schedule != "" {
		s, err := cron.ParseStandard(h.Schedule)
		if err != nil {
			errs = append(errs, FieldError{Key: "schedule", Message: fmt.Sprintf("not a cron schedule: %v", err)})
		}
		h.cron = s
	}
	h.loc = time.UTC
	if h.Timezone != "" {
		loc, err := time.LoadLocation(h.Timezone)
		if err != nil {
			errs = append(errs, FieldError{Key: "timezone", Message: fmt.Sprintf("unknown time zone %q", h.Timezone)})
		} else {
			h.loc = loc
		}
		if h.Schedule == "" {
			errs = append(errs, FieldError{Key: "timezone", Message: "only applies to a schedule"})
		}
	}
	if h.Grace < 0 {
		errs = append(errs, FieldError{Key: "grace", Message: "must be positive"})
	}
	if h.Grace == 0 {
		h.Grace = DefaultGrace
		if h.Period > 0 && h.Period < h.Grace {
			h.Grace = h.Period
		}
	}
	if h.Token != "" && !tokenPattern.MatchString(h.Token) {
		errs = append(errs, FieldError{Key: "token", Message: "must be 16 to 128 letters, digits, '-' or '_'"})
	}
	return errs
}

// Next returns when the next success after t is due, before grace: t plus
// the period, or the schedule's next time after t in its time zone.
func (h *Heartbeat) Next(t time.Time) time.Time {
	if h.cron != nil {
		return h.cron.Next(t.In(h.loc))
	}
	return t.Add(h.Period)
}

// Prober returns nil: a heartbeat is not probed, it is pinged.
func (h *Heartbeat) Prober(env Env) (nightowl.Prober, error) { return nil, nil }
