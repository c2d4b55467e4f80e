package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/nightowl/nightowl/app"
)

func cmdBackup(e *env, fs *flag.FlagSet) runner {
	cfgPath := configFlag(e, fs)
	return func(ctx context.Context, args []string) int {
		pos, err := parse(fs, args)
		if err != nil || len(pos) != 1 {
			fmt.Fprintln(e.stderr, "usage: nightowl backup [-c FILE] BACKUP-FILE")
			return exitBadConfig
		}
		if err := app.Backup(ctx, cfgPath(), pos[0]); err != nil {
			printConfigError(e, err)
			return exitNotUp
		}
		fmt.Fprintf(e.stdout, "backed up to %s; it verifies\n", pos[0])
		return exitOK
	}
}

func cmdRestore(e *env, fs *flag.FlagSet) runner {
	cfgPath := configFlag(e, fs)
	return func(ctx context.Context, args []string) int {
		pos, err := parse(fs, args)
		if err != nil || len(pos) != 1 {
			fmt.Fprintln(e.stderr, "usage: nightowl restore [-c FILE] BACKUP-FILE")
			return exitBadConfig
		}
		if err := app.Restore(ctx, cfgPath(), pos[0]); err != nil {
			printConfigError(e, err)
			return exitNotUp
		}
		fmt.Fprintf(e.stdout, "restored from %s\n", pos[0])
		return exitOK
	}
}
