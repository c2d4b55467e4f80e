package app

import (
	"context"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/oncall"
)

// newRoster builds the roster: the config's schedules in force, with the
// overrides people stored, read from the store that every node shares.
func (a *App) newRoster() error {
	r, err := oncall.NewRoster(oncall.RosterOptions{
		Schedules: func() []oncall.Schedule { return a.Config().Schedules },
		Store:     a.store,
		IsUser: func(ctx context.Context, name string) (bool, error) {
			_, err := a.store.User(ctx, name)
			if nightowl.ErrorCode(err) == nightowl.ENotFound {
				return false, nil
			}
			return err == nil, err
		},
		Clock: a.opts.Clock, Logger: a.log,
	})
	a.roster = r
	return err
}

// Roster answers who is on call, in the schedules as they are now.
func (a *App) Roster() *oncall.Roster { return a.roster }
