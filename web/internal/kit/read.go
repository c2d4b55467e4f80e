package kit

import (
	"context"
	"time"

	"github.com/nightowl/nightowl"
)

// History is what the API and the pages read of checks' past: results,
// status changes, daily rollups and pings. It writes nothing: the engine
// and the heartbeat tracker do.
type History interface {
	Results(ctx context.Context, check string, limit int) ([]nightowl.Result, error)
	Events(ctx context.Context, check string, limit int) ([]nightowl.Event, error)
	Rollups(ctx context.Context, check string, p nightowl.Period, since time.Time) ([]nightowl.Rollup, error)
	Pings(ctx context.Context, check string, limit int) ([]nightowl.Ping, error)
}

// AlertReader is what the API and the pages read of alerts and their
// notifications. Alerts change only through the alert manager (an
// acknowledgement goes through Alerter.Ack), never here.
type AlertReader interface {
	Alert(ctx context.Context, id string) (nightowl.Alert, error)
	Alerts(ctx context.Context, q nightowl.AlertQuery) ([]nightowl.Alert, error)
	Notifications(ctx context.Context, q nightowl.NotificationQuery) ([]nightowl.Notification, error)
}
