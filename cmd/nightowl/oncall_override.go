package main

import (
	"context"
	"flag"
	"fmt"
	"net/url"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/web"
)

// Overrides and calendar feeds are the server's: these commands talk to
// its API (NIGHTOWL_URL, NIGHTOWL_TOKEN), as ack and maint do.

const wallLayout = "2006-01-02 15:04"

// scheduleZone asks the server for a schedule's time zone: the zone its
// wall-clock times are on.
func scheduleZone(ctx context.Context, e *env, schedule string) (*time.Location, error) {
	var o web.OncallJSON
	if _, err := apiGet(ctx, e, "/api/v1/schedules/"+url.PathEscape(schedule)+"/oncall?days=0", &o); err != nil {
		return nil, err
	}
	z, err := time.LoadLocation(o.Timezone)
	if err != nil {
		return nil, fmt.Errorf("schedule %s is on the clock of %s, which this machine does not know: give RFC 3339 times", schedule, o.Timezone)
	}
	return z, nil
}

// overrideTime reads --from or --to: RFC 3339, or 2026-03-05 18:00 on the
// schedule's clock (zone is called only then).
func overrideTime(flagName, s string, zone func() (*time.Location, error)) (string, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.Format(time.RFC3339), nil
	}
	if _, err := time.Parse(wallLayout, s); err != nil {
		return "", fmt.Errorf("--%s %q: want 2026-03-05 18:00 on the schedule's clock, or RFC 3339", flagName, s)
	}
	z, err := zone()
	if err != nil {
		return "", err
	}
	t, _ := time.ParseInLocation(wallLayout, s, z)
	return t.Format(time.RFC3339), nil
}

func overrideAdd(e *env, fs *flag.FlagSet) runner {
	user := fs.String("user", "", "who is on call instead")
	from := fs.String("from", "", "when the override starts: 2026-03-05 18:00 on the schedule's clock, or RFC 3339")
	to := fs.String("to", "", "when it ends, as --from")
	reason := fs.String("reason", "", "why, for the others and the audit log")
	asJSON := fs.Bool("json", false, "print the server's JSON")
	return func(ctx context.Context, args []string) int {
		rest, err := parse(fs, args)
		if err != nil {
			return exitBadConfig
		}
		if len(rest) != 1 || *user == "" || *from == "" || *to == "" {
			fmt.Fprintln(e.stderr, "usage: nightowl oncall override add SCHEDULE --user U --from TIME --to TIME [--reason R]\n  nightowl oncall override add primary --user cy --from \"2026-03-05 18:00\" --to \"2026-03-06 09:00\"")
			return exitBadConfig
		}
		schedule := rest[0]
		var zone *time.Location
		zoneOf := func() (*time.Location, error) {
			if zone != nil {
				return zone, nil
			}
			z, err := scheduleZone(ctx, e, schedule)
			zone = z
			return z, err
		}
		req := web.OverrideRequest{User: *user, Reason: *reason}
		for _, f := range []struct {
			name, in string
			out      *string
		}{{"from", *from, &req.From}, {"to", *to, &req.To}} {
			if *f.out, err = overrideTime(f.name, f.in, zoneOf); err != nil {
				fmt.Fprintln(e.stderr, "nightowl oncall override add:", err)
				return exitBadConfig
			}
		}
		var o nightowl.ScheduleOverride
		raw, err := apiDo(ctx, e, "POST", "/api/v1/schedules/"+url.PathEscape(schedule)+"/overrides", req, &o)
		if err != nil {
			fmt.Fprintln(e.stderr, "nightowl oncall override add:", err)
			return exitNotUp
		}
		if *asJSON {
			e.stdout.Write(raw)
			return exitOK
		}
		fmt.Fprintf(e.stdout, "override %s: %s is on call in %s from %s to %s\nremove it with: nightowl oncall override delete %s %s\n",
			cell(o.ID), cell(o.User), cell(o.Schedule), o.From.Local().Format("2006-01-02 15:04 MST"), o.To.Local().Format("2006-01-02 15:04 MST"),
			cell(o.Schedule), cell(o.ID))
		return exitOK
	}
}

func overrideList(e *env, fs *flag.FlagSet) runner {
	asJSON := fs.Bool("json", false, "print the server's JSON")
	return func(ctx context.Context, args []string) int {
		rest, err := parse(fs, args)
		if err != nil {
			return exitBadConfig
		}
		if len(rest) != 1 {
			fmt.Fprintln(e.stderr, "usage: nightowl oncall override list SCHEDULE")
			return exitBadConfig
		}
		var body struct {
			Overrides []nightowl.ScheduleOverride `json:"overrides"`
		}
		raw, err := apiGet(ctx, e, "/api/v1/schedules/"+url.PathEscape(rest[0])+"/overrides", &body)
		if err != nil {
			fmt.Fprintln(e.stderr, "nightowl oncall override list:", err)
			return exitNotUp
		}
		if *asJSON {
			e.stdout.Write(raw)
			return exitOK
		}
		if len(body.Overrides) == 0 {
			fmt.Fprintf(e.stdout, "no overrides added to %s\n", cell(rest[0]))
			return exitOK
		}
		// Oldest created first: the later wins where two overlap.
		tw := newTable(e.stdout, "ID", "ON CALL", "FROM", "TO", "BY", "REASON")
		for _, o := range body.Overrides {
			tw.row(o.ID, o.User, o.From.Local().Format("Mon 2006-01-02 15:04 MST"), o.To.Local().Format("Mon 2006-01-02 15:04 MST"), o.CreatedBy, o.Reason)
		}
		tw.flush()
		return exitOK
	}
}

func overrideDelete(e *env, fs *flag.FlagSet) runner {
	return func(ctx context.Context, args []string) int {
		rest, err := parse(fs, args)
		if err != nil {
			return exitBadConfig
		}
		if len(rest) != 2 {
			fmt.Fprintln(e.stderr, "usage: nightowl oncall override delete SCHEDULE ID")
			return exitBadConfig
		}
		var o nightowl.ScheduleOverride
		if _, err := apiDo(ctx, e, "DELETE", "/api/v1/schedules/"+url.PathEscape(rest[0])+"/overrides/"+url.PathEscape(rest[1]), nil, &o); err != nil {
			fmt.Fprintln(e.stderr, "nightowl oncall override delete:", err)
			return exitNotUp
		}
		fmt.Fprintf(e.stdout, "removed override %s (%s in %s)\n", cell(o.ID), cell(o.User), cell(o.Schedule))
		return exitOK
	}
}

// feedArgs reads "user NAME" or "schedule NAME".
func feedArgs(e *env, cmd string, args []string) (nightowl.FeedKind, string, bool) {
	if len(args) == 2 && (args[0] == string(nightowl.FeedUser) || args[0] == string(nightowl.FeedSchedule)) && args[1] != "" {
		return nightowl.FeedKind(args[0]), args[1], true
	}
	fmt.Fprintf(e.stderr, "usage: nightowl oncall feed %s user NAME|schedule NAME\n", cmd)
	return "", "", false
}

func feedCreate(e *env, fs *flag.FlagSet) runner {
	asJSON := fs.Bool("json", false, "print the server's JSON")
	return func(ctx context.Context, args []string) int {
		rest, err := parse(fs, args)
		if err != nil {
			return exitBadConfig
		}
		kind, name, ok := feedArgs(e, "create", rest)
		if !ok {
			return exitBadConfig
		}
		var f web.FeedJSON
		raw, err := apiDo(ctx, e, "POST", "/api/v1/calendar/"+string(kind)+"/"+url.PathEscape(name), nil, &f)
		if err != nil {
			fmt.Fprintln(e.stderr, "nightowl oncall feed create:", err)
			return exitNotUp
		}
		if *asJSON {
			e.stdout.Write(raw)
			return exitOK
		}
		fmt.Fprintf(e.stdout, "calendar feed of %s %s (shown only now; any address it had before no longer works):\n%s\n", kind, cell(name), cell(f.URL))
		return exitOK
	}
}

func feedRevoke(e *env, fs *flag.FlagSet) runner {
	return func(ctx context.Context, args []string) int {
		rest, err := parse(fs, args)
		if err != nil {
			return exitBadConfig
		}
		kind, name, ok := feedArgs(e, "revoke", rest)
		if !ok {
			return exitBadConfig
		}
		var out map[string]any
		if _, err := apiDo(ctx, e, "DELETE", "/api/v1/calendar/"+string(kind)+"/"+url.PathEscape(name), nil, &out); err != nil {
			fmt.Fprintln(e.stderr, "nightowl oncall feed revoke:", err)
			return exitNotUp
		}
		fmt.Fprintf(e.stdout, "revoked the calendar feed of %s %s\n", kind, cell(name))
		return exitOK
	}
}
