package nightowl

import (
	"context"
	"time"
)

// ScheduleOverride puts User on call in a configured schedule from From to
// To, added by someone through the API, the command line or the dashboard
// ("Cy swaps Thursday night with Ana"). Stored overrides rank above the
// config's overrides and layers; of two that overlap, the one created later
// wins.
type ScheduleOverride struct {
	ID        string    `json:"id"`
	Schedule  string    `json:"schedule"`
	User      string    `json:"user"`
	From      time.Time `json:"from"`
	To        time.Time `json:"to"`
	Reason    string    `json:"reason,omitempty"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
}

// FeedKind says whose shifts a calendar feed lists.
type FeedKind string

const (
	// FeedUser lists one person's shifts in every schedule.
	FeedUser FeedKind = "user"
	// FeedSchedule lists every shift of one schedule.
	FeedSchedule FeedKind = "schedule"
)

// CalendarFeed is the secret address of an iCalendar feed of shifts: the
// secret is its only credential, and only its hash is kept. There is at
// most one feed for each kind and name: a new one replaces the old.
type CalendarFeed struct {
	Kind      FeedKind  `json:"kind"`
	Name      string    `json:"name"`
	Hash      []byte    `json:"-"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
}

// OncallStore keeps what people add to the config's schedules: overrides
// and calendar feeds.
type OncallStore interface {
	// SaveOverride adds an override; one whose ID is taken is a
	// conflict.
	SaveOverride(ctx context.Context, o *ScheduleOverride) error
	// Overrides lists a schedule's overrides, or every schedule's when
	// schedule is empty, oldest created first.
	Overrides(ctx context.Context, schedule string) ([]ScheduleOverride, error)
	// DeleteOverride removes an override of a schedule (ENotFound when
	// the schedule has none with that ID).
	DeleteOverride(ctx context.Context, schedule, id string) error

	// SaveFeed creates the feed of f.Kind and f.Name, or replaces it:
	// the old secret no longer finds it. A person's feed needs a user of
	// that name (ENotFound otherwise), and is deleted with them.
	SaveFeed(ctx context.Context, f *CalendarFeed) error
	// FeedByHash finds a feed by the hash of its secret.
	FeedByHash(ctx context.Context, hash []byte) (CalendarFeed, error)
	// Feeds lists every feed, by kind and name.
	Feeds(ctx context.Context) ([]CalendarFeed, error)
	// DeleteFeed revokes a feed (ENotFound when there is none).
	DeleteFeed(ctx context.Context, kind FeedKind, name string) error
}
