package main

import (
	"context"
	"fmt"
	"time"

	"github.com/nightowl/nightowl/app"
)

const storeUsage = "usage: nightowl store copy [-c FILE] --to POSTGRES-DSN [--timeout 1h]"

// cmdStore works on the store as a whole; its one subcommand, copy, moves
// a SQLite store into PostgreSQL.
func cmdStore(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 || args[0] != "copy" {
		fmt.Fprintln(e.stderr, storeUsage)
		return exitBadConfig
	}
	fs := newFlags(e, "store copy")
	cfgPath := configFlag(e, fs)
	to := fs.String("to", "", "the PostgreSQL database to copy into (postgres://USER@HOST/DB); "+
		"its password is best given in $PGPASSWORD or ~/.pgpass")
	timeout := fs.Duration("timeout", app.DefaultCopyTimeout, "give up, writing nothing, after this long")
	if pos, err := parse(fs, args[1:]); err != nil || len(pos) > 0 || *to == "" || *timeout <= 0 {
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
