package main

import (
	"context"
	"flag"
	"fmt"
	"slices"
	"time"

	"github.com/nightowl/nightowl/config"
)

// cmdOncall says who is on call in the config's schedules: now, and shift
// by shift for the days to come, on each schedule's own clock.
func cmdOncall(e *env, fs *flag.FlagSet) runner {
	cfgPath := configFlag(e, fs)
	atFlag := fs.String("at", "", "the time to ask about, as 2026-03-02 09:00 on each schedule's clock, or RFC 3339 (default now)")
	days := fs.Int("days", 14, "how many days of shifts to list")
	return func(ctx context.Context, args []string) int {
		names, err := parse(fs, args)
		if err != nil || *days < 0 || *days > 366 {
			fmt.Fprintln(e.stderr, "usage: nightowl oncall [-c FILE] [--at TIME] [--days N] [SCHEDULE...]")
			return exitBadConfig
		}
		cfg, err := config.LoadContext(ctx, cfgPath(), config.Options{})
		if err != nil {
			printConfigError(e, err)
			return exitBadConfig
		}
		known := map[string]bool{}
		for _, s := range cfg.Schedules {
			known[s.Name] = true
		}
		for _, n := range names {
			if !known[n] {
				fmt.Fprintf(e.stderr, "nightowl oncall: no schedule %q in %s\n", n, cfgPath())
				return exitBadConfig
			}
		}
		if len(cfg.Schedules) == 0 {
			fmt.Fprintf(e.stderr, "nightowl oncall: %s has no schedules\n", cfgPath())
			return exitBadConfig
		}
		first := true
		for _, s := range cfg.Schedules {
			if len(names) > 0 && !slices.Contains(names, s.Name) {
				continue
			}
			at := time.Now()
			if *atFlag != "" {
				t, err := time.ParseInLocation("2006-01-02 15:04", *atFlag, s.Zone)
				if err != nil {
					if t, err = time.Parse(time.RFC3339, *atFlag); err != nil {
						fmt.Fprintf(e.stderr, "nightowl oncall: --at %q: want 2026-03-02 09:00 or RFC 3339\n", *atFlag)
						return exitBadConfig
					}
				}
				at = t
			}
			if !first {
				fmt.Fprintln(e.stdout)
			}
			first = false
			user, layer := s.At(at)
			if user == "" {
				user, layer = "nobody", "-"
			}
			fmt.Fprintf(e.stdout, "%s (%s): %s, through %s\n", cell(s.Name), s.Zone, cell(user), cell(layer))
			tw := newTable(e.stdout, "FROM", "TO", "ON CALL", "LAYER")
			for _, sh := range s.Shifts(at, at.In(s.Zone).AddDate(0, 0, *days)) {
				u, l := sh.User, sh.Layer
				if u == "" {
					u, l = "nobody", "-"
				}
				tw.row(sh.From.In(s.Zone).Format("Mon 2006-01-02 15:04"), sh.To.In(s.Zone).Format("Mon 2006-01-02 15:04"), u, l)
			}
			tw.flush()
		}
		return exitOK
	}
}
