package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/app"
	"github.com/nightowl/nightowl/audit"
)

// withStorage opens the storage of the config named by -c for a command that
// works on it directly, and runs fn.
func withStorage(ctx context.Context, e *env, cfgPath string, fn func(st *app.Storage) int) int {
	st, err := app.OpenStorage(ctx, cfgPath)
	if err != nil {
		printConfigError(e, err)
		return exitBadConfig
	}
	defer st.Close()
	return fn(st)
}

// cliActor names who acts through the command line in the audit log. The
// CLI works on the storage with no sign-in, so this is only what the
// environment says: "cli:" and $USER (or $LOGNAME).
func cliActor(e *env) string {
	for _, k := range []string{"USER", "LOGNAME"} {
		if u := e.getenv(k); u != "" {
			return "cli:" + u
		}
	}
	return "cli:unknown"
}

func cmdAudit(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(e.stderr, "usage: nightowl audit list|verify")
		return exitBadConfig
	}
	fs := newFlags(e, "audit "+args[0])
	cfgPath := configFlag(e, fs)
	switch args[0] {
	case "list":
		action := fs.String("action", "", "only actions that start with this, such as login or action.")
		actor := fs.String("actor", "", "only what this user did")
		limit := fs.Int("limit", 50, "at most this many entries, newest first; all when 0")
		asJSON := fs.Bool("json", false, "print JSON")
		if pos, err := parse(fs, args[1:]); err != nil || len(pos) > 0 || *limit < 0 {
			fmt.Fprintln(e.stderr, "usage: nightowl audit list [-c FILE] [--action PREFIX] [--actor NAME] [--limit N] [--json]")
			return exitBadConfig
		}
		return withStorage(ctx, e, cfgPath(), func(st *app.Storage) int {
			entries, err := st.AuditLog().AuditEntries(ctx, nightowl.AuditQuery{Action: *action, Actor: *actor, Limit: *limit})
			if err != nil {
				fmt.Fprintln(e.stderr, "nightowl audit list:", err)
				return exitNotUp
			}
			if *asJSON {
				if entries == nil {
					entries = []nightowl.AuditEntry{}
				}
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				enc.Encode(map[string]any{"entries": entries})
				return exitOK
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SEQ\tTIME\tACTOR\tACTION\tSUBJECT\tDETAIL")
			for _, en := range entries {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", en.Seq, en.Time.Local().Format("2006-01-02 15:04:05"),
					oneLine(en.Actor), en.Action, oneLine(en.Subject), oneLine(en.Detail))
			}
			tw.Flush()
			return exitOK
		})
	case "verify":
		if pos, err := parse(fs, args[1:]); err != nil || len(pos) > 0 {
			fmt.Fprintln(e.stderr, "usage: nightowl audit verify [-c FILE]")
			return exitBadConfig
		}
		return withStorage(ctx, e, cfgPath(), func(st *app.Storage) int {
			rep, err := audit.Verify(ctx, st.AuditLog())
			if err != nil {
				fmt.Fprintln(e.stderr, "nightowl audit verify:", err)
				return exitNotUp
			}
			if !rep.OK() {
				fmt.Fprintf(e.stdout, "FAILED: %s\n", rep)
				return exitNotUp
			}
			fmt.Fprintln(e.stdout, rep)
			return exitOK
		})
	}
	fmt.Fprintf(e.stderr, "nightowl audit: unknown subcommand %q: list or verify\n", args[0])
	return exitBadConfig
}

// oneLine keeps what people typed (a reason, a title) from breaking the
// table: line breaks and tabs become spaces.
func oneLine(s string) string {
	return strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ", "\t", " ").Replace(s)
}
