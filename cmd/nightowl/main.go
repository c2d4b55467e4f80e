// Command nightowl runs the nightowl monitor and talks to a running one.
//
// Usage: nightowl COMMAND [flags]; see `nightowl help`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
)

// version, commit and date are stamped by release builds (scripts/release)
// with -ldflags "-X main.version=… -X main.commit=… -X main.date=…"; a
// build from source takes them from the module and VCS build info.
var version, commit, date string

// Exit codes: what scripts and cron wrappers branch on.
const (
	exitOK        = 0
	exitNotUp     = 1 // a check is not up, or a command failed
	exitBadConfig = 2 // the config is invalid, or the command line is
)

const usage = `nightowl keeps watch while its operators sleep.

Usage:
  nightowl init     [--dir DIR] [--admin NAME] [--password-stdin]
                                                    write a starter config and create the first admin
  nightowl serve    [-c FILE]                       run checks and serve the API
  nightowl check    [-c FILE] [--json] [NAME...]    run checks once; exit 0 all up, 1 any not up, 2 bad config
  nightowl validate [-c FILE]                       check the config; exit 2 with FILE:LINE:COL errors
  nightowl status   [--json]                        every check of a running server, worst first, and open alerts
  nightowl health   [--url URL] [--ready] [--timeout 5s]
                                                    exit 0 when a running server answers /healthz (/readyz) with 200
  nightowl oncall   [-c FILE] [--at TIME] [--days N] [SCHEDULE...]
                                                    who is on call in the config's schedules, now and for the days to come
  nightowl ack      ALERT...                        acknowledge alerts: their escalation stops
  nightowl maint    start --checks SEL --expect A,B --for 2h [--name N] [--within 10m]
                                                    start a maintenance window by hand
  nightowl maint    end ID | list                   end a window now (its checks are verified); list windows
  nightowl incident open --title T [--impact I] [--components A,B] [--message M] [--private]
  nightowl incident update ID [--state S] [--impact I] --message M [--private] | resolve ID [--message M]
  nightowl incident list [--all] | postmortem ID [-o FILE]
                                                    open, update and resolve incidents; draft a postmortem
  nightowl action   list | request NAME [--param K=V]... --reason R [--confirm V] | approve ID | deny ID [--reason R]
  nightowl action   run ID | show ID                run a guarded runbook action: request, approve (someone else), run
  nightowl user     add|list|role|password|remove [-c FILE]
                                                    manage people, on the storage directly
  nightowl token    create|list|revoke [-c FILE]    manage API tokens, on the storage directly
  nightowl audit    list [-c FILE] [--action PREFIX] [--actor NAME] [--limit N] [--json]
  nightowl audit    verify [-c FILE] [--public-key FILE]... [--expect-head HASH] | keygen FILE
                                                    read the audit log; prove it was not edited; make a signing key
  nightowl backup   [-c FILE] BACKUP-FILE           copy the SQLite store, also while the server runs
  nightowl restore  [-c FILE] BACKUP-FILE           replace the SQLite store with a backup; the server must be stopped
  nightowl store    copy [-c FILE] --to POSTGRES-DSN [--timeout 1h]
                                                    copy the SQLite store into an empty PostgreSQL database; the server must be stopped
  nightowl completion bash|zsh|fish                 print a shell completion script
  nightowl man                                      print the man page: nightowl man | man -l -
  nightowl --version

-c defaults to $NIGHTOWL_CONFIG, then ./nightowl.yaml.
Client commands reach the server at $NIGHTOWL_URL (default http://127.0.0.1:8080)
with the token in $NIGHTOWL_TOKEN.
`

// env is what a command reads from and writes to, so tests can run commands
// in-process.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	isTTY          bool
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	e := &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv, isTTY: isTerminal(os.Stdout)}
	os.Exit(run(ctx, e, os.Args[1:]))
}

func run(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 {
		fmt.Fprint(e.stderr, usage)
		return exitBadConfig
	}
	switch args[0] {
	case "--version", "-version", "version":
		fmt.Fprintln(e.stdout, "nightowl", versionString())
		return exitOK
	case "help", "-h", "--help":
		fmt.Fprint(e.stdout, usage)
		return exitOK
	}
	return dispatch(ctx, e, args)
}

// versionString is what --version shows: the version, the commit it was
// built from and when that commit was made (a release's build date is its
// commit's, so that building it again gives the same bytes).
func versionString() string {
	v, c, d := version, commit, date
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v == "" && bi.Main.Version != "" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch {
			case s.Key == "vcs.revision" && c == "":
				c = s.Value
			case s.Key == "vcs.time" && d == "":
				d = s.Value
			}
		}
	}
	if v == "" {
		v = "(devel)"
	}
	if len(c) > 12 {
		c = c[:12]
	}
	var extra []string
	if c != "" {
		extra = append(extra, "commit "+c)
	}
	if d != "" {
		extra = append(extra, "built "+d)
	}
	extra = append(extra, runtime.Version(), runtime.GOOS+"/"+runtime.GOARCH)
	return v + " (" + strings.Join(extra, ", ") + ")"
}

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// parse parses flags that may come before or after positional arguments.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// newFlags returns a flag set that reports errors to e.stderr.
func newFlags(e *env, name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	return fs
}

// configFlag adds -c and returns the resolved path after parsing.
func configFlag(e *env, fs *flag.FlagSet) func() string {
	c := fs.String("c", "", "the config `file` (default $NIGHTOWL_CONFIG, then ./nightowl.yaml)")
	return func() string {
		if *c != "" {
			return *c
		}
		if v := e.getenv("NIGHTOWL_CONFIG"); v != "" {
			return v
		}
		return "nightowl.yaml"
	}
}

// printConfigError prints a config error one problem a line.
func printConfigError(e *env, err error) {
	type multi interface{ Unwrap() []error }
	var m multi
	if errors.As(err, &m) {
		for _, err := range m.Unwrap() {
			fmt.Fprintln(e.stderr, err)
		}
		return
	}
	fmt.Fprintln(e.stderr, strings.TrimSpace(err.Error()))
}
