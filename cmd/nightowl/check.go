package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/app"
	"github.com/nightowl/nightowl/config"
)

func cmdCheck(e *env, fs *flag.FlagSet) runner {
	cfgPath := configFlag(e, fs)
	asJSON := fs.Bool("json", false, "print results as JSON")
	return func(ctx context.Context, args []string) int {
		names, err := parse(fs, args)
		if err != nil {
			return exitBadConfig
		}
		cfg, err := config.LoadContext(ctx, cfgPath(), config.Options{})
		if ctx.Err() != nil {
			fmt.Fprintln(e.stderr, "nightowl check: stopped before the config was read")
			return exitNotUp
		}
		if err != nil {
			printConfigError(e, err)
			return exitBadConfig
		}
		results, err := app.RunChecks(ctx, cfg, names)
		var unknown app.UnknownCheckError
		if errors.As(err, &unknown) {
			fmt.Fprintf(e.stderr, "nightowl: %v\n", err)
			return exitBadConfig
		}
		if err != nil {
			printConfigError(e, err)
			return exitBadConfig
		}

		code := exitOK
		for _, r := range results {
			if r.Status != nightowl.StatusUp {
				code = exitNotUp
			}
		}
		if *asJSON {
			enc := json.NewEncoder(e.stdout)
			enc.SetIndent("", "  ")
			enc.Encode(map[string]any{"results": results})
			return code
		}
		printResults(e, results)
		return code
	}
}

// printResults writes one line per check, worst first, and under each check
// that is not up the reasons: the probe error or every failing assertion
// with what it observed.
func printResults(e *env, results []nightowl.Result) {
	slices.SortStableFunc(results, func(a, b nightowl.Result) int {
		if d := a.Status.Rank() - b.Status.Rank(); d != 0 {
			return d
		}
		return strings.Compare(a.Check, b.Check)
	})
	tw := newTable(e.stdout, "STATUS", "CHECK", "DURATION", "")
	for _, r := range results {
		tw.row(paint(e, r.Status), r.Check, time.Duration(r.Duration).Round(time.Millisecond), "")
	}
	tw.flush()
	for _, r := range results {
		if r.Status == nightowl.StatusUp {
			continue
		}
		// Errors and assertion messages quote what monitored sites said.
		fmt.Fprintf(e.stdout, "\n%s is %s:\n", cell(r.Check), r.Status)
		if r.Error != "" {
			fmt.Fprintf(e.stdout, "  error: %s\n", cell(r.Error))
		}
		for _, a := range r.Failed() {
			fmt.Fprintf(e.stdout, "  %s failed: %s\n", cell(a.Name), cell(a.Message))
		}
	}
}

// paint colours a status on a terminal; NO_COLOR turns it off.
func paint(e *env, s nightowl.Status) painted {
	if !e.isTTY || e.getenv("NO_COLOR") != "" {
		return painted(cell(string(s)))
	}
	code := map[nightowl.Status]string{
		nightowl.StatusUp: "0;32", nightowl.StatusDegraded: "0;33", nightowl.StatusDown: "1;31",
		nightowl.StatusMaintenance: "0;34", nightowl.StatusUnknown: "0;90", nightowl.StatusPaused: "0;90",
		nightowl.StatusBlocked: "0;35", nightowl.StatusFlapping: "0;33",
	}[s]
	if code == "" {
		return painted(cell(string(s)))
	}
	// Every code has the same length, so tabwriter, which counts escape
	// bytes as width, keeps the columns straight.
	return painted("\x1b[" + code + "m" + string(s) + "\x1b[0m")
}
