package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/nightowl/nightowl/app"
	"github.com/nightowl/nightowl/config"
)

func cmdValidate(e *env, fs *flag.FlagSet) runner {
	cfgPath := configFlag(e, fs)
	return func(ctx context.Context, args []string) int {
		if _, err := parse(fs, args); err != nil {
			return exitBadConfig
		}
		path := cfgPath()
		// SIGINT and SIGTERM end ctx, and with it the loading.
		cfg, err := config.LoadContext(ctx, path, config.Options{})
		if err == nil {
			// Building the probes catches what only shows when a file is read,
			// such as an unreadable ca_file.
			err = app.ValidateChecks(cfg)
		}
		if ctx.Err() != nil {
			fmt.Fprintln(e.stderr, "nightowl validate: stopped before the config was read")
			return exitNotUp
		}
		if err != nil {
			printConfigError(e, err)
			return exitBadConfig
		}
		fmt.Fprintf(e.stdout, "%s: ok, %d checks\n", path, len(cfg.Checks))
		return exitOK
	}
}
