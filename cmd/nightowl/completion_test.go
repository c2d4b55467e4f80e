package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// generated runs `nightowl ARGS...` in-process and returns what it printed.
func generated(t *testing.T, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}
	if code := run(context.Background(), e, args); code != exitOK {
		t.Fatalf("nightowl %s: exit %d: %s", strings.Join(args, " "), code, errb.String())
	}
	return out.String()
}

// TestDocsNameEveryFlag: the completions and the man page name every
// command of the table, and each command's own flags in its own place, so
// that a flag added to a command shows in all four or the test fails.
func TestDocsNameEveryFlag(t *testing.T) {
	bash := generated(t, "completion", "bash")
	zsh := generated(t, "completion", "zsh")
	fish := generated(t, "completion", "fish")
	man := generated(t, "man")
	ls := leaves()
	if len(ls) < 30 {
		t.Fatalf("only %d commands in the table", len(ls))
	}
	for _, l := range ls {
		path := strings.Join(l.path, " ")
		t.Run(path, func(t *testing.T) {
			bashLine := lineWith(bash, "\t"+shQuote(path)+") echo ")
			zshFunc := section(zsh, "\n_nightowl_"+strings.Join(mapSlice(l.path, zshIdent), "_")+"() {\n", "\n}\n")
			manSec := section(man, "\n.SS \"nightowl "+roff(path)+"", "\n.S")
			if bashLine == "" || zshFunc == "" || manSec == "" {
				t.Fatalf("missing: bash %t, zsh %t, man %t", bashLine != "", zshFunc != "", manSec != "")
			}
			if !strings.Contains(fish, fishQuote("__nightowl_is "+fishQuote(path))) && len(l.flags) > 0 {
				t.Errorf("fish: no completions for %q", path)
			}
			for _, f := range l.flags {
				name := flagName(f)
				if !slices.Contains(strings.Fields(strings.Trim(strings.TrimPrefix(bashLine, "\t"+shQuote(path)+") echo "), "'; ")), name) {
					t.Errorf("bash: %s not among %q", name, bashLine)
				}
				if !strings.Contains(zshFunc, "'"+name+"[") && !strings.Contains(zshFunc, "'"+name+"=[") {
					t.Errorf("zsh: %s not in\n%s", name, zshFunc)
				}
				opt := " -l " + f.Name + " "
				if len(f.Name) == 1 {
					opt = " -s " + f.Name + " "
				}
				if !strings.Contains(fish, "-n "+fishQuote("__nightowl_is "+fishQuote(path))+opt) {
					t.Errorf("fish: %s not completed for %q", name, path)
				}
				if !strings.Contains(manSec, "\n.B "+roff(name)+"\n") && !strings.Contains(manSec, "\n.BI \""+roff(name)+" \"") {
					t.Errorf("man: %s not in\n%s", name, manSec)
				}
			}
		})
	}
}

func lineWith(s, prefix string) string {
	for line := range strings.Lines(s) {
		if strings.HasPrefix(line, prefix) {
			return strings.TrimSuffix(line, "\n")
		}
	}
	return ""
}

// section is the text of s from start up to the next end.
func section(s, start, end string) string {
	i := strings.Index(s, start)
	if i < 0 {
		return ""
	}
	rest := s[i+len(start):]
	if j := strings.Index(rest, end); j >= 0 {
		rest = rest[:j]
	}
	return start + rest
}

func mapSlice(in []string, f func(string) string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = f(s)
	}
	return out
}

// TestEveryLeafDispatches: each command of the table is reached by its
// words and parses its own flags (an unknown flag names the command).
func TestEveryLeafDispatches(t *testing.T) {
	for _, l := range leaves() {
		var out, errb bytes.Buffer
		e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}
		args := append(slices.Clone(l.path), "--no-such-flag")
		if code := run(context.Background(), e, args); code != exitBadConfig {
			t.Errorf("%s: exit %d, want %d", strings.Join(args, " "), code, exitBadConfig)
		}
		if !strings.Contains(errb.String(), "flag provided but not defined: -no-such-flag") {
			t.Errorf("%s: %q", strings.Join(args, " "), errb.String())
		}
		if out.Len() > 0 {
			t.Errorf("%s printed %q", strings.Join(args, " "), out.String())
		}
	}
}

// TestBashCompletes runs the bash completion in bash, as a shell would on
// TAB.
func TestBashCompletes(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	dir := t.TempDir()
	script := filepath.Join(t.TempDir(), "nightowl.bash")
	if err := os.WriteFile(script, []byte(generated(t, "completion", "bash")), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "nightowl.yaml"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		line string // the words; the last is the one being completed
		want []string
	}{
		{"nightowl ma", []string{"maint", "man"}},
		{"nightowl maint ", []string{"start", "end", "list"}},
		{"nightowl maint start --ch", []string{"--checks"}},
		{"nightowl user add --r", []string{"--role"}},
		{"nightowl serve -c night", []string{"nightowl.yaml"}},
		{"nightowl serve --listen ", nil},
		{"nightowl backup night", []string{"nightowl.yaml"}},
		{"nightowl token create --user alice --", []string{"--can-approve", "--expires", "--name", "--role", "--user"}},
		{"nightowl completion ", nil},
	} {
		t.Run(tc.line, func(t *testing.T) {
			words := strings.Split(tc.line, " ")
			var quoted []string
			for _, w := range words {
				quoted = append(quoted, shQuote(w))
			}
			prog := `source "$1"; COMP_WORDS=(` + strings.Join(quoted, " ") + `); COMP_CWORD=` + strconv.Itoa(len(words)-1) + `; _nightowl; printf '%s\n' "${COMPREPLY[@]}"`
			cmd := exec.Command(bash, "-c", prog, "bash", script)
			cmd.Dir = dir
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			got := strings.Fields(string(out))
			slices.Sort(got)
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("got %q, want %q", got, want)
			}
		})
	}
}

// TestZshAndFishCompletions: zsh reads its script, and fish completes with
// its own.
func TestZshAndFishCompletions(t *testing.T) {
	dir := t.TempDir()
	t.Run("zsh", func(t *testing.T) {
		zsh, err := exec.LookPath("zsh")
		if err != nil {
			t.Skip("zsh is not installed")
		}
		script := filepath.Join(dir, "_nightowl")
		os.WriteFile(script, []byte(generated(t, "completion", "zsh")), 0o644)
		if out, err := exec.Command(zsh, "-n", script).CombinedOutput(); err != nil {
			t.Fatalf("zsh -n: %v: %s", err, out)
		}
	})
	t.Run("fish", func(t *testing.T) {
		fish, err := exec.LookPath("fish")
		if err != nil {
			t.Skip("fish is not installed")
		}
		script := filepath.Join(dir, "nightowl.fish")
		os.WriteFile(script, []byte(generated(t, "completion", "fish")), 0o644)
		for line, want := range map[string][]string{
			"nightowl mai":               {"maint"},
			"nightowl maint s":           {"start"},
			"nightowl maint start --ex":  {"--expect"},
			"nightowl audit verify --pu": {"--public-key"},
		} {
			out, err := exec.Command(fish, "--no-config", "-c", "source $argv[1]; complete -C $argv[2]", script, line).CombinedOutput()
			if err != nil {
				t.Fatalf("fish: %v: %s", err, out)
			}
			var got []string
			for l := range strings.Lines(string(out)) {
				got = append(got, regexp.MustCompile(`\t.*`).ReplaceAllString(strings.TrimSpace(l), ""))
			}
			if !slices.Equal(got, want) {
				t.Errorf("%q: got %q, want %q", line, got, want)
			}
		}
	})
}
