package main

import (
	"context"
	"flag"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/nightowl/nightowl"
)

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func maintStart(e *env, fs *flag.FlagSet) runner {
	checks := fs.String("checks", "", "which checks: label=value pairs and check names, comma-separated (tier=web or shop,cart)")
	expect := fs.String("expect", "", `assertions allowed to fail, comma-separated; "*" for anything (a plain silence)`)
	dur := fs.Duration("for", 0, "how long the window lasts, such as 2h")
	name := fs.String("name", "", "a name for the window (default: its ID)")
	reason := fs.String("reason", "", "why, for the history")
	within := fs.Duration("within", 0, "after the end, every check in scope must be up within this (default 10m)")
	again := fs.String("again-after", "", "verify again this long after the end, comma-separated (1h,6h)")
	asJSON := fs.Bool("json", false, "print the server's JSON")
	return func(ctx context.Context, args []string) int {
		if rest, err := parse(fs, args); err != nil || len(rest) > 0 {
			if err == nil {
				fmt.Fprintf(e.stderr, "nightowl maint start: unexpected %q\n", rest[0])
			}
			return exitBadConfig
		}
		if *checks == "" || *expect == "" || *dur <= 0 {
			fmt.Fprintln(e.stderr, "nightowl maint start: --checks, --expect and --for are required, as in\n  nightowl maint start --checks tier=web --expect writable --for 2h")
			return exitBadConfig
		}
		req := map[string]any{
			"name": *name, "checks": *checks, "expect": splitList(*expect), "for": dur.String(),
			"reason": *reason,
		}
		verify := map[string]any{}
		if *within > 0 {
			verify["within"] = within.String()
		}
		if *again != "" {
			verify["again_after"] = splitList(*again)
		}
		req["verify"] = verify
		var body struct {
			Maintenance nightowl.Window `json:"maintenance"`
		}
		raw, err := apiDo(ctx, e, "POST", "/api/v1/maintenance", req, &body)
		if err != nil {
			fmt.Fprintln(e.stderr, "nightowl maint start:", err)
			return exitNotUp
		}
		if *asJSON {
			e.stdout.Write(raw)
			return exitOK
		}
		w := body.Maintenance
		fmt.Fprintf(e.stdout, "maintenance %s started: %s until %s, expects %s\nend it early with: nightowl maint end %s\n",
			cell(w.ID), cell(w.Checks.String()), w.End.Local().Format("2006-01-02 15:04 MST"), cell(strings.Join(w.Expect, ", ")), cell(w.ID))
		return exitOK
	}
}

func maintEnd(e *env, fs *flag.FlagSet) runner {
	return func(ctx context.Context, args []string) int {
		ids, err := parse(fs, args)
		if err != nil {
			return exitBadConfig
		}
		if len(ids) == 0 {
			fmt.Fprintln(e.stderr, "nightowl maint end: name the window to end (nightowl maint list shows them)")
			return exitBadConfig
		}
		code := exitOK
		for _, id := range ids {
			var body struct {
				Maintenance nightowl.Window `json:"maintenance"`
			}
			if _, err := apiDo(ctx, e, "POST", "/api/v1/maintenance/"+url.PathEscape(id)+"/end", nil, &body); err != nil {
				fmt.Fprintf(e.stderr, "nightowl maint end %s: %v\n", id, err)
				code = exitNotUp
				continue
			}
			fmt.Fprintf(e.stdout, "maintenance %s ended; its checks run now and must be up within their verify time\n", cell(body.Maintenance.Name))
		}
		return code
	}
}

func maintList(e *env, fs *flag.FlagSet) runner {
	asJSON := fs.Bool("json", false, "print the server's JSON")
	return func(ctx context.Context, args []string) int {
		if _, err := parse(fs, args); err != nil {
			return exitBadConfig
		}
		var body struct {
			Maintenance []nightowl.MaintenanceView `json:"maintenance"`
		}
		raw, err := apiGet(ctx, e, "/api/v1/maintenance", &body)
		if err != nil {
			fmt.Fprintln(e.stderr, "nightowl maint list:", err)
			return exitBadConfig
		}
		if *asJSON {
			e.stdout.Write(raw)
			return exitOK
		}
		if len(body.Maintenance) == 0 {
			fmt.Fprintln(e.stdout, "no maintenance windows in force, to come, or ended this week")
			return exitOK
		}
		tw := newTable(e.stdout, "ID", "NAME", "STATE", "FROM", "UNTIL", "CHECKS", "EXPECTS")
		now := time.Now()
		for _, w := range body.Maintenance {
			state := "ended"
			switch {
			case w.Active:
				state = "in force"
			case w.From.After(now):
				state = "upcoming"
			}
			tw.row(w.ID, w.Name, state, w.From.Local().Format("2006-01-02 15:04"), w.Until.Local().Format("2006-01-02 15:04"),
				fmt.Sprintf("%s (%d)", w.Checks.String(), len(w.Scope)), strings.Join(w.Expect, ","))
		}
		tw.flush()
		return exitOK
	}
}
