package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
)

// cmdCompletion prints a completion script for bash, zsh or fish, made from
// the command table: every command, subcommand and flag, with its help.
func cmdCompletion(e *env, fs *flag.FlagSet) runner {
	return func(ctx context.Context, args []string) int {
		pos, err := parse(fs, args)
		if err != nil || len(pos) != 1 {
			fmt.Fprintln(e.stderr, "usage: nightowl completion bash|zsh|fish")
			return exitBadConfig
		}
		switch pos[0] {
		case "bash":
			writeBash(e.stdout)
		case "zsh":
			writeZsh(e.stdout)
		case "fish":
			writeFish(e.stdout)
		default:
			fmt.Fprintf(e.stderr, "nightowl completion: no completion for %q: bash, zsh or fish\n", pos[0])
			return exitBadConfig
		}
		return exitOK
	}
}

// valueKind is what a flag's value is, for the completions: "" for a
// flag that takes none, "file" or "directory" when its usage names one
// in backquotes (flag.UnquoteUsage), else "value".
func valueKind(f *flag.Flag) string {
	if isBoolFlag(f) {
		return ""
	}
	switch name, _ := flag.UnquoteUsage(f); name {
	case "file", "directory":
		return name
	}
	return "value"
}

// takesFiles tells whether a leaf's positional arguments are files.
func takesFiles(c command) bool {
	return strings.Contains(c.args, "FILE")
}

// groups lists every group's path ("" for the top) with its subcommands.
func groups() map[string][]command {
	out := map[string][]command{}
	var walk func(path string, cmds []command)
	walk = func(path string, cmds []command) {
		out[path] = cmds
		for _, c := range cmds {
			if c.subs != nil {
				walk(strings.TrimSpace(path+" "+c.name), c.subs)
			}
		}
	}
	walk("", commands())
	return out
}

func groupOrder() []string {
	order := []string{""}
	var walk func(path string, cmds []command)
	walk = func(path string, cmds []command) {
		for _, c := range cmds {
			if c.subs != nil {
				p := strings.TrimSpace(path + " " + c.name)
				order = append(order, p)
				walk(p, c.subs)
			}
		}
	}
	walk("", commands())
	return order
}

func writeBash(w io.Writer) {
	g := groups()
	fmt.Fprint(w, `# bash completion for nightowl; made by "nightowl completion bash" from its commands.

# _nightowl_flags PATH: the flags of a command.
_nightowl_flags() {
	case "$1" in
`)
	ls := leaves()
	for _, l := range ls {
		var fl []string
		for _, f := range l.flags {
			fl = append(fl, flagName(f))
		}
		fmt.Fprintf(w, "\t%s) echo %s ;;\n", shQuote(strings.Join(l.path, " ")), shQuote(strings.Join(fl, " ")))
	}
	fmt.Fprint(w, `	esac
}

# _nightowl_subs PATH: the subcommands of a group ("" for the top).
_nightowl_subs() {
	case "$1" in
`)
	for _, p := range groupOrder() {
		fmt.Fprintf(w, "\t%s) echo %s ;;\n", shQuote(p), shQuote(strings.Join(names(g[p]), " ")))
	}
	fmt.Fprint(w, `	esac
}

# _nightowl_value PATH FLAG: what FLAG (without dashes) takes: file,
# directory or value; nothing for a flag that takes no value.
_nightowl_value() {
	case "$1:$2" in
`)
	for _, l := range ls {
		for _, f := range l.flags {
			if k := valueKind(f); k != "" {
				fmt.Fprintf(w, "\t%s) echo %s ;;\n", shQuote(strings.Join(l.path, " ")+":"+f.Name), k)
			}
		}
	}
	fmt.Fprint(w, `	esac
}

# _nightowl_files PATH: whether a command's arguments are files.
_nightowl_files() {
	case "$1" in
`)
	var files []string
	for _, l := range ls {
		if takesFiles(l.cmd) {
			files = append(files, shQuote(strings.Join(l.path, " ")))
		}
	}
	fmt.Fprintf(w, "\t%s) return 0 ;;\n", strings.Join(files, "|"))
	fmt.Fprint(w, `	esac
	return 1
}

_nightowl() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
	local path="" subs i w
	# The command typed so far: the words that name a group's subcommand.
	for ((i = 1; i < COMP_CWORD; i++)); do
		subs=" $(_nightowl_subs "$path") "
		w=${COMP_WORDS[i]}
		[[ $subs == "  " || $subs != *" $w "* ]] && break
		path=${path:+$path }$w
	done
	subs=$(_nightowl_subs "$path")
	if [[ -n $subs && $cur != -* ]]; then
		COMPREPLY=($(compgen -W "$subs" -- "$cur"))
		return
	fi
	if [[ $prev == -* && $prev != *=* && $COMP_CWORD -gt 1 ]]; then
		local name=${prev#-}
		case $(_nightowl_value "$path" "${name#-}") in
		file) COMPREPLY=($(compgen -f -- "$cur")); compopt -o filenames 2>/dev/null; return ;;
		directory) COMPREPLY=($(compgen -d -- "$cur")); compopt -o filenames 2>/dev/null; return ;;
		value) COMPREPLY=(); return ;;
		esac
	fi
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$(_nightowl_flags "$path")" -- "$cur"))
	elif _nightowl_files "$path"; then
		COMPREPLY=($(compgen -f -- "$cur"))
		compopt -o filenames 2>/dev/null
	else
		COMPREPLY=()
	fi
}
complete -F _nightowl nightowl
`)
}

// shQuote quotes s for a POSIX shell.
func shQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func writeZsh(w io.Writer) {
	fmt.Fprint(w, "#compdef nightowl\n# zsh completion for nightowl; made by \"nightowl completion zsh\" from its commands.\n")
	var group func(fn, what string, self *command, cmds []command)
	group = func(fn, what string, self *command, cmds []command) {
		fmt.Fprintf(w, "\n%s() {\n\tlocal curcontext=\"$curcontext\" state line\n\tlocal -a subs\n", fn)
		// A group that runs too (oncall) takes its own flags.
		fmt.Fprint(w, "\t_arguments -C")
		if self != nil {
			for _, spec := range zshFlagSpecs(*self) {
				fmt.Fprintf(w, " %s", shQuote(spec))
			}
		}
		fmt.Fprint(w, " '1: :->cmds' '*:: :->args'\n\tcase $state in\n\tcmds)\n\t\tsubs=(\n")
		for _, c := range cmds {
			fmt.Fprintf(w, "\t\t\t%s\n", shQuote(zshEscape(c.name, ":")+":"+zshEscape(c.help, ":")))
		}
		fmt.Fprintf(w, "\t\t)\n\t\t_describe -t commands %s subs\n\t\t;;\n\targs)\n\t\tcase $line[1] in\n", shQuote(what))
		for _, c := range cmds {
			fmt.Fprintf(w, "\t\t%s) %s_%s ;;\n", c.name, fn, zshIdent(c.name))
		}
		fmt.Fprint(w, "\t\tesac\n\t\t;;\n\tesac\n}\n")
		for _, c := range cmds {
			sub := fn + "_" + zshIdent(c.name)
			if c.subs != nil {
				var self *command
				if c.run != nil {
					self = &c
				}
				group(sub, strings.TrimSpace(strings.TrimPrefix(what, "command")+" "+c.name+" command"), self, c.subs)
				continue
			}
			fmt.Fprintf(w, "\n%s() {\n\t_arguments -s", sub)
			for _, spec := range zshFlagSpecs(c) {
				fmt.Fprintf(w, " \\\n\t\t%s", shQuote(spec))
			}
			if takesFiles(c) {
				fmt.Fprintf(w, " \\\n\t\t'*:file:_files'")
			}
			fmt.Fprint(w, "\n}\n")
		}
	}
	group("_nightowl", "command", nil, commands())
	fmt.Fprint(w, "\n_nightowl \"$@\"\n")
}

// zshFlagSpecs are the _arguments specs of a leaf's flags.
func zshFlagSpecs(c command) []string {
	var out []string
	for _, f := range leafFlags(c) {
		_, usage := flag.UnquoteUsage(f)
		spec := flagName(f)
		if !isBoolFlag(f) && len(f.Name) > 1 {
			spec += "="
		}
		spec += "[" + zshEscape(firstLine(usage), "[]:") + "]"
		switch valueKind(f) {
		case "file":
			spec += ":file:_files"
		case "directory":
			spec += ":directory:_files -/"
		case "value":
			spec += ":value: "
		}
		out = append(out, spec)
	}
	return out
}

// leafFlags is the flags a leaf declares: it calls the declaration on a
// flag set of its own, and drops the runner it returns unrun.
func leafFlags(c command) []*flag.Flag {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c.run(&env{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard, getenv: func(string) string { return "" }}, fs)
	var out []*flag.Flag
	fs.VisitAll(func(f *flag.Flag) { out = append(out, f) })
	return out
}

func zshEscape(s, special string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(special+`\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func zshIdent(s string) string { return strings.ReplaceAll(s, "-", "_") }

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

func writeFish(w io.Writer) {
	fmt.Fprint(w, `# fish completion for nightowl; made by "nightowl completion fish" from its commands.

# __nightowl_path: the command typed so far, as in "maint start".
function __nightowl_path
	set -l path ''
	for w in (commandline -opc)[2..-1]
		set -l next (string trim -- "$path $w")
		if contains -- $next`)
	for _, p := range groupOrder() {
		for _, c := range groups()[p] {
			fmt.Fprintf(w, " %s", fishQuote(strings.TrimSpace(p+" "+c.name)))
		}
	}
	fmt.Fprint(w, `
			set path $next
		else
			break
		end
	end
	echo $path
end

function __nightowl_is
	set -l p (__nightowl_path)
	test "$p" = "$argv[1]"
end

complete -c nightowl -f
`)
	g := groups()
	for _, p := range groupOrder() {
		for _, c := range g[p] {
			fmt.Fprintf(w, "complete -c nightowl -n %s -a %s -d %s\n", fishQuote("__nightowl_is "+fishQuote(p)), fishQuote(c.name), fishQuote(c.help))
		}
	}
	for _, l := range leaves() {
		cond := fishQuote("__nightowl_is " + fishQuote(strings.Join(l.path, " ")))
		for _, f := range l.flags {
			_, usage := flag.UnquoteUsage(f)
			opt := "-l " + f.Name
			if len(f.Name) == 1 {
				opt = "-s " + f.Name
			}
			switch valueKind(f) {
			case "file":
				opt += " -r -F"
			case "directory":
				opt += " -r -x -a '(__fish_complete_directories)'"
			case "value":
				opt += " -r -x"
			}
			fmt.Fprintf(w, "complete -c nightowl -n %s %s -d %s\n", cond, opt, fishQuote(firstLine(usage)))
		}
		if takesFiles(l.cmd) {
			fmt.Fprintf(w, "complete -c nightowl -n %s -F\n", cond)
		}
	}
}

// fishQuote quotes s for fish, whose single quotes take \' and \\.
func fishQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}
