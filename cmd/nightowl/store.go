package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/nightowl/nightowl/app"
)

const storeUsage = "usage: nightowl store copy [-c FILE] --to POSTGRES-DSN [--timeout 1h]"

// storeCopy moves a SQLite store into PostgreSQL.
func storeCopy(e *env, fs *flag.FlagSet) runner {
	cfgPath := configFlag(e, fs)
	to := fs.String("to", "", "the PostgreSQL database to copy into (postgres://USER@HOST/DB); "+
		"its password is best given in $PGPASSWORD or ~/.pgpass")
	timeout := fs.Duration("timeout", app.DefaultCopyTimeout, "give up, writing nothing, after this long")
	return func(ctx context.Context, args []string) int {
		if pos, err := parse(fs, args); err != nil || len(pos) > 0 || *to == "" || *timeout <= 0 {
			fmt.Fprintln(e.stderr, storeUsage)
			return exitBadConfig
		}
		start := time.Now()
		counts, err := app.CopyStore(ctx, cfgPath(), *to, *timeout)
		if err != nil {
			printConfigError(e, err)
			return exitNotUp
		}
		tw := newTable(e.stdout, "TABLE", "ROWS")
		var total int64
		for _, c := range counts {
			tw.row(c.Table, c.Rows)
			total += c.Rows
		}
		tw.flush()
		fmt.Fprintf(e.stdout, "copied %d rows in %s, in one transaction; "+
			"now set storage.postgres in the config (and remove storage.sqlite) and start the server\n",
			total, time.Since(start).Round(time.Millisecond))
		return exitOK
	}
}
