package preflight

import (
	"context"
	"log/slog"

	"github.com/nightowl/nightowl"
)

// Stored is what Newest reads of the store: every node of a cluster writes
// its results there.
type Stored interface {
	Results(ctx context.Context, check string, limit int) ([]nightowl.Result, error)
	States(ctx context.Context) ([]nightowl.State, error)
}

// Newest looks a check up by its newest result, for Env.Checks: this
// node's (local), or the one in the store when that is newer, as it is for
// a check another node of a cluster runs (this node's copy is what it last
// saw, possibly minutes old) and for one this node has not run since it
// started. When the store cannot be read, the local copy stands and its age
// is judged.
func Newest(ctx context.Context, local func(string) (nightowl.CheckView, bool), store Stored, log *slog.Logger) func(string) (nightowl.CheckView, bool) {
	return func(name string) (nightowl.CheckView, bool) {
		v, ok := local(name)
		if !ok {
			return v, false
		}
		rs, err := store.Results(ctx, name, 1)
		if err != nil {
			log.Warn("read the newest result of a check for a preflight", "check", name, "err", err)
			return v, true
		}
		if len(rs) == 0 || v.Last != nil && !rs[0].Start.After(v.Last.Start) {
			return v, true
		}
		v.Last = &rs[0]
		states, err := store.States(ctx)
		if err != nil {
			log.Warn("read check states for a preflight", "check", name, "err", err)
		}
		for _, st := range states {
			if st.Check == name && !st.LastRun.Before(v.State.LastRun) {
				v.State = st
			}
		}
		return v, true
	}
}
