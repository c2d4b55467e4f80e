package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
)

// A runner runs a command with its arguments, flags and positional ones.
type runner func(ctx context.Context, args []string) int

// A leaf declares a command's flags on fs and returns what runs it. The
// completions and the man page call it only to read the flags back, and
// never run what it returns: a leaf declares flags and does nothing else.
type leaf func(e *env, fs *flag.FlagSet) runner

// command is one word of the command line: a leaf that runs, or a group
// (maint, user, …) whose next word names one of its subs, or both (oncall:
// it runs unless the next word names one of its subs).
type command struct {
	name string
	args string // the positional arguments, for the man page: "ALERT..."
	help string // one line, for the man page and the completions
	run  leaf
	subs []command
}

// commands is every command nightowl has. Dispatch, the shell completions
// and the man page all read this one table, so that none of them can name
// a command or a flag the others do not know. (A function, not a variable:
// the completion and man commands in it read it too.)
func commands() []command {
	return []command{
		{name: "init", help: "write a starter config and create the first admin", run: cmdInit},
		{name: "serve", help: "run checks and serve the API", run: cmdServe},
		{name: "check", args: "[NAME...]", help: "run checks once; exit 0 all up, 1 any not up, 2 bad config", run: cmdCheck},
		{name: "validate", help: "check the config; exit 2 with FILE:LINE:COL errors", run: cmdValidate},
		{name: "status", help: "every check of a running server, worst first, and open alerts", run: cmdStatus},
		{name: "health", help: "ask a running server whether it answers (/healthz) or is ready (/readyz); exit 0 only on 200", run: cmdHealth},
		{name: "oncall", args: "[SCHEDULE...]", help: "who is on call in the config's schedules: now, and shift by shift for the days to come", run: cmdOncall, subs: []command{
			{name: "override", help: "overrides of a schedule, kept by the server", subs: []command{
				{name: "add", args: "SCHEDULE", help: "put someone on call from one time to another, above the schedule's layers", run: overrideAdd},
				{name: "list", args: "SCHEDULE", help: "the overrides added to a schedule", run: overrideList},
				{name: "delete", args: "SCHEDULE ID", help: "remove an override", run: overrideDelete},
			}},
			{name: "feed", help: "calendar feeds of shifts, at secret addresses", subs: []command{
				{name: "create", args: "user NAME|schedule NAME", help: "make a calendar feed, or a new address for one; it is shown only once", run: feedCreate},
				{name: "revoke", args: "user NAME|schedule NAME", help: "end a calendar feed: its address no longer works", run: feedRevoke},
			}},
		}},
		{name: "ack", args: "ALERT...", help: "acknowledge alerts: their escalation stops", run: cmdAck},
		{name: "maint", help: "maintenance windows", subs: []command{
			{name: "start", help: "start a maintenance window by hand", run: maintStart},
			{name: "end", args: "ID...", help: "end a window now; its checks are verified", run: maintEnd},
			{name: "list", help: "windows in force, to come, or ended this week", run: maintList},
		}},
		{name: "incident", help: "status page incidents", subs: []command{
			{name: "open", help: "open an incident", run: incidentOpen},
			{name: "update", args: "ID", help: "post an update to an incident", run: incidentUpdate},
			{name: "publish", args: "ID", help: "put an incident on the status page", run: incidentPublish},
			{name: "resolve", args: "ID", help: "resolve an incident", run: incidentResolve},
			{name: "list", help: "open incidents, or all of them", run: incidentList},
			{name: "postmortem", args: "ID", help: "draft a postmortem in Markdown", run: incidentPostmortem},
		}},
		{name: "action", help: "guarded runbook actions: request, approve (someone else), run", subs: []command{
			{name: "list", help: "the actions and their pending requests", run: actionList},
			{name: "request", args: "NAME", help: "ask to run an action", run: actionRequest},
			{name: "approve", args: "ID", help: "approve someone else's request", run: actionApprove},
			{name: "deny", args: "ID", help: "deny a request", run: actionDeny},
			{name: "run", args: "ID", help: "run an approved request", run: actionRun},
			{name: "show", args: "ID", help: "a request and its outcome", run: actionShow},
		}},
		{name: "user", help: "manage people, on the storage directly", subs: []command{
			{name: "add", args: "NAME", help: "add a person", run: userAdd},
			{name: "list", help: "list people and their roles", run: userList},
			{name: "role", args: "NAME viewer|responder|admin", help: "change a person's role", run: userRole},
			{name: "password", args: "NAME", help: "set a person's password; their sessions end", run: userPassword},
			{name: "remove", args: "NAME...", help: "remove people, with their tokens and sessions", run: userRemove},
		}},
		{name: "token", help: "manage API tokens, on the storage directly", subs: []command{
			{name: "create", help: "create a token; its secret is shown only once", run: tokenCreate},
			{name: "list", help: "list tokens", run: tokenList},
			{name: "revoke", args: "ID...", help: "revoke tokens", run: tokenRevoke},
		}},
		{name: "audit", help: "the audit log", subs: []command{
			{name: "list", help: "read the audit log, newest first", run: auditList},
			{name: "verify", help: "prove the audit log was not edited", run: auditVerify},
			{name: "keygen", args: "FILE", help: "make a key to sign the audit log's checkpoints", run: auditKeygen},
		}},
		{name: "backup", args: "BACKUP-FILE", help: "copy the SQLite store, also while the server runs", run: cmdBackup},
		{name: "restore", args: "BACKUP-FILE", help: "replace the SQLite store with a backup; the server must be stopped", run: cmdRestore},
		{name: "store", help: "the store as a whole", subs: []command{
			{name: "copy", help: "copy the SQLite store into an empty PostgreSQL database; the server must be stopped", run: storeCopy},
		}},
		{name: "completion", args: "bash|zsh|fish", help: "print a shell completion script", run: cmdCompletion},
		{name: "man", help: "print the man page (roff)", run: cmdMan},
	}
}

// dispatch finds the command that args name and runs it.
func dispatch(ctx context.Context, e *env, args []string) int {
	cmds, path := commands(), "nightowl"
	for {
		c, ok := findCommand(cmds, args[0])
		if !ok && path == "nightowl" {
			fmt.Fprintf(e.stderr, "nightowl: unknown command %q\n\n%s", args[0], usage)
			return exitBadConfig
		}
		if !ok {
			fmt.Fprintf(e.stderr, "%s: unknown subcommand %q: %s\n", path, args[0], orList(names(cmds)))
			return exitBadConfig
		}
		path += " " + c.name
		args = args[1:]
		// A command may have both: its own run, and subcommands that
		// the next word names (nightowl oncall, nightowl oncall feed).
		if c.run != nil && (len(args) == 0 || !isSub(c.subs, args[0])) {
			fs := newFlags(e, strings.TrimPrefix(path, "nightowl "))
			return c.run(e, fs)(ctx, args)
		}
		if len(args) == 0 {
			fmt.Fprintf(e.stderr, "usage: %s %s\n", path, strings.Join(names(c.subs), "|"))
			return exitBadConfig
		}
		cmds = c.subs
	}
}

func isSub(cmds []command, name string) bool {
	_, ok := findCommand(cmds, name)
	return ok
}

func findCommand(cmds []command, name string) (command, bool) {
	for _, c := range cmds {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

func names(cmds []command) []string {
	var out []string
	for _, c := range cmds {
		out = append(out, c.name)
	}
	return out
}

// orList joins words as "a, b or c".
func orList(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}

// leafDoc is a leaf as the completions and the man page see it.
type leafDoc struct {
	path  []string // "maint", "start"
	cmd   command
	flags []*flag.Flag
}

// leaves lists every leaf with its flags, in the table's order.
func leaves() []leafDoc {
	var out []leafDoc
	var walk func(prefix []string, cmds []command)
	walk = func(prefix []string, cmds []command) {
		for _, c := range cmds {
			path := append(append([]string(nil), prefix...), c.name)
			if c.run != nil {
				out = append(out, leafDoc{path: path, cmd: c, flags: leafFlags(c)})
			}
			if c.subs != nil {
				walk(path, c.subs)
			}
		}
	}
	walk(nil, commands())
	return out
}

// isBoolFlag tells a flag that takes no value (--json) from one that does.
func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// flagName is how the docs spell a flag: -c for one letter, --json for more.
func flagName(f *flag.Flag) string {
	if len(f.Name) == 1 {
		return "-" + f.Name
	}
	return "--" + f.Name
}
