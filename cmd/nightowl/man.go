package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
)

// cmdMan prints nightowl(1) in roff, made from the command table: every
// command with its arguments, help and flags.
func cmdMan(e *env, fs *flag.FlagSet) runner {
	return func(ctx context.Context, args []string) int {
		if pos, err := parse(fs, args); err != nil || len(pos) > 0 {
			fmt.Fprintln(e.stderr, "usage: nightowl man    (prints the man page; read it with: nightowl man | man -l -)")
			return exitBadConfig
		}
		writeMan(e.stdout, versionOnly())
		return exitOK
	}
}

// versionOnly is the version for the man page's footer.
func versionOnly() string {
	v, _, _ := strings.Cut(versionString(), " ")
	return v
}

func writeMan(w io.Writer, version string) {
	fmt.Fprintf(w, `.TH NIGHTOWL 1 "" "nightowl %s" "nightowl manual"
.\" Made by "nightowl man" from the command table; do not edit.
.SH NAME
nightowl \- keeps watch while its operators sleep
.SH SYNOPSIS
.B nightowl
.I command
.RI [ flags ]
.RI [ arguments ]
.br
.B nightowl \-\-version
.SH DESCRIPTION
nightowl runs checks, alerts the people on call, and serves a dashboard, a
JSON API and a public status page.
.B nightowl serve
runs the monitor; the other commands set it up or talk to a running one.
Flags may come before or after the arguments, and take one dash or two.
.SH COMMANDS
`, roff(version))
	for _, l := range leaves() {
		fmt.Fprintf(w, ".SS \"%s\"\n", roffQuoted("nightowl "+strings.Join(l.path, " ")+synopsisFlags(l)+optional(" ", l.cmd.args)))
		fmt.Fprintf(w, "%s.\n", roff(strings.ToUpper(l.cmd.help[:1])+l.cmd.help[1:]))
		for _, f := range l.flags {
			name, usage := flag.UnquoteUsage(f)
			if name == "" {
				fmt.Fprintf(w, ".TP\n.B %s\n", roff(flagName(f)))
			} else {
				fmt.Fprintf(w, ".TP\n.BI \"%s \" %s\n", roff(flagName(f)), roff(name))
			}
			u := roff(usage)
			if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "0s" {
				u += " (default " + roff(f.DefValue) + ")"
			}
			fmt.Fprintln(w, u)
		}
	}
	fmt.Fprint(w, `.SH ENVIRONMENT
.TP
.B NIGHTOWL_CONFIG
the config file when \-c is not given (default ./nightowl.yaml)
.TP
.B NIGHTOWL_URL
where client commands reach the server (default http://127.0.0.1:8080)
.TP
.B NIGHTOWL_TOKEN
the API token client commands send
.SH EXIT STATUS
.TP
.B 0
success; for check, every check is up
.TP
.B 1
a check is not up, or a command failed
.TP
.B 2
the config is invalid, or the command line is
.SH FILES
.TP
.I /etc/nightowl/nightowl.yaml
the config, where nightowl is installed from a package
.TP
.I /var/lib/nightowl
its SQLite store and backups, there
.SH SEE ALSO
.BR systemctl (1),
.BR journalctl (1)
`)
}

func synopsisFlags(l leafDoc) string {
	if len(l.flags) == 0 {
		return ""
	}
	return " [flags]"
}

func optional(sep, s string) string {
	if s == "" {
		return ""
	}
	return sep + s
}

// roff escapes text for a roff line: backslashes, dashes, and a leading
// dot or quote that would make it a request.
func roff(s string) string {
	s = strings.NewReplacer(`\`, `\e`, "-", `\-`).Replace(s)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}

// roffQuoted escapes text for a quoted macro argument.
func roffQuoted(s string) string {
	return strings.ReplaceAll(roff(s), `"`, `""`)
}
