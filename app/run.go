package app

import (
	"context"
	"fmt"
	"slices"

	"golang.org/x/sync/errgroup"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/config"
	"github.com/nightowl/nightowl/engine"
	"github.com/nightowl/nightowl/probe"
)

// runChecksAtOnce bounds the checks RunChecks runs at the same time.
const runChecksAtOnce = 32

// UnknownCheckError is a check RunChecks was asked to run that the config
// does not have.
type UnknownCheckError struct{ Name string }

func (e UnknownCheckError) Error() string { return fmt.Sprintf("no check named %q", e.Name) }

// RunChecks runs the checks of cfg once each, or only those named, with no
// store and no server: each result is the check's verdict on this one run.
// The results are in the order of the config, or of names.
func RunChecks(ctx context.Context, cfg *config.Config, names []string) ([]nightowl.Result, error) {
	checks, err := BuildChecks(cfg, probe.Env{Clients: probe.NewClients()})
	if err != nil {
		return nil, err
	}
	defer closeProbers(checks)
	run := checks
	if len(names) > 0 {
		run = nil
		for _, n := range names {
			i := slices.IndexFunc(checks, func(c nightowl.Check) bool { return c.Name == n })
			if i < 0 {
				return nil, UnknownCheckError{n}
			}
			run = append(run, checks[i])
		}
	}
	results := make([]nightowl.Result, len(run))
	var g errgroup.Group
	g.SetLimit(runChecksAtOnce)
	for i := range run {
		g.Go(func() error {
			results[i] = engine.Run(ctx, &run[i], nil)
			return nil
		})
	}
	g.Wait()
	return results, nil
}

// ValidateChecks builds every check's probe, as a server would, and
// releases them: it catches what only shows when a file is read, such as an
// unreadable ca_file.
func ValidateChecks(cfg *config.Config) error {
	checks, err := BuildChecks(cfg, probe.Env{Clients: probe.NewClients()})
	closeProbers(checks)
	return err
}
