package app

import (
	"context"
	"fmt"
	"time"

	"github.com/nightowl/nightowl/watchdog"
)

// runWatchdog pings the configured dead man's switch while this node is
// healthy, until ctx ends. The watchdog section is read at start: a reload
// that changes it logs that a restart is needed.
func (a *App) runWatchdog(ctx context.Context) {
	w := a.Config().Watchdog
	if w.URL == "" {
		return
	}
	wd, err := watchdog.New(watchdog.Options{URL: w.URL, Every: w.Every, Healthy: a.healthy, Clock: a.opts.Clock, Logger: a.log})
	if err != nil {
		a.log.Error("watchdog", "err", err)
		return
	}
	wd.Run(ctx)
}

// healthy is what the watchdog vouches for: the checks this node runs are
// running on time, and the store takes writes.
func (a *App) healthy(ctx context.Context) error {
	if n, name := a.engine.Late(); n > 0 {
		return fmt.Errorf("checks late: %d (%s among them)", n, name)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := a.store.Flush(ctx); err != nil {
		return fmt.Errorf("the store does not take writes: %w", err)
	}
	return nil
}
