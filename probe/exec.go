package probe

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/expr-lang/expr/types"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/procgroup"
)

// Exec is the exec block of a check: run a program, Nagios plugins first
// among them, and judge it by its exit code and output.
type Exec struct {
	// Command is the argv. It is never given to a shell: a check that
	// needs one says so with [/bin/sh, -c, "..."].
	Command []string          `yaml:"command"`
	Env     map[string]string `yaml:"env"`
	// Dir is the working directory. It must be absolute: the config
	// decoder resolves path keys by reading them as files, which a
	// directory is not.
	Dir string `yaml:"dir"`
}

func newExec() Spec { return &Exec{} }

// perfdataFacts is one label of a plugin's performance data.
var perfdataFacts = types.Map{
	"value":      types.Float,
	"uom":        types.String,
	"warn":       types.Float,
	"crit":       types.Float,
	"min":        types.Float,
	"max":        types.Float,
	"warn_range": types.String,
	"crit_range": types.String,
}

var execFacts = types.Map{
	"exit_code": types.Int,
	"output":    types.String,
	"perfdata":  types.Map{types.Extra: perfdataFacts},
	"duration":  types.Float,
}

// execDefaults follow the Nagios plugin convention, exit 0 OK, 1 WARNING,
// 2 CRITICAL, 3 UNKNOWN: a warning assertion turns 1 into degraded, and a
// critical one turns everything but 0 and 1 into down.
var execDefaults = []Default{
	{Name: "plugin_warning", Expr: "exit_code != 1", Severity: nightowl.SeverityWarning},
	{Name: "plugin_ok", Expr: "exit_code == 0 or exit_code == 1"},
}

// Validate checks the block.
func (e *Exec) Validate() []FieldError {
	var errs []FieldError
	switch {
	case len(e.Command) == 0:
		errs = append(errs, FieldError{Key: "command", Message: "required"})
	case e.Command[0] == "":
		errs = append(errs, FieldError{Key: "command", Message: "the program (first element) is empty"})
	case strings.ContainsRune(e.Command[0], '/') && !filepath.IsAbs(e.Command[0]):
		errs = append(errs, FieldError{Key: "command", Message: "the program (first element) must be an absolute path or a name to look up in PATH"})
	}
	for i, a := range e.Command {
		if strings.ContainsRune(a, 0) {
			errs = append(errs, FieldError{Key: fmt.Sprintf("command[%d]", i), Message: "contains a NUL byte"})
		}
	}
	for k, v := range e.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") || strings.ContainsRune(v, 0) {
			errs = append(errs, FieldError{Key: "env." + k, Message: "not a valid environment variable"})
		}
	}
	if e.Dir != "" && !filepath.IsAbs(e.Dir) {
		errs = append(errs, FieldError{Key: "dir", Message: "must be an absolute path"})
	}
	return errs
}

// execPath is the PATH of a command's minimal environment.
const execPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Prober finds the program once, so that a typo fails the config instead of
// every run, and builds the environment: PATH and LANG=C (plugins then print
// numbers with a decimal point whatever the monitor's locale), plus env. The
// monitor's own environment, which may hold its secrets, is not passed on.
func (e *Exec) Prober(env Env) (nightowl.Prober, error) {
	if len(e.Command) == 0 || e.Command[0] == "" {
		return nil, errors.New("command: required")
	}
	path, err := exec.LookPath(e.Command[0])
	if err != nil {
		// The bare reason: the message names the program already.
		var ee *exec.Error
		if errors.As(err, &ee) {
			err = ee.Err
		}
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("command: %s: %w", e.Command[0], err)
	}
	if e.Dir != "" {
		fi, err := os.Stat(e.Dir)
		if err != nil {
			return nil, fmt.Errorf("dir: %w", err)
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("dir: %s is not a directory", e.Dir)
		}
	}
	vars := map[string]string{"PATH": execPath, "LANG": "C"}
	for k, v := range e.Env {
		vars[k] = v
	}
	environ := make([]string, 0, len(vars))
	for k, v := range vars {
		environ = append(environ, k+"="+v)
	}
	sort.Strings(environ)
	return &execProber{path: path, argv: append([]string(nil), e.Command...), env: environ, dir: e.Dir}, nil
}

type execProber struct {
	path string
	argv []string
	env  []string
	dir  string
}

// outputLimit bounds the output kept from a run; the rest is read and
// dropped, so that a chatty program does not block on a full pipe.
const outputLimit = 64 << 10

// Grace periods after the timeout or the exit: killGrace for a killed
// process group to be reaped (a process stuck in the kernel, on a dead NFS
// mount say, dies only when the kernel lets go), drainGrace for the last
// output of a process that left the group but kept the pipe open.
const (
	killGrace  = time.Second
	drainGrace = 100 * time.Millisecond
)

func (p *execProber) Probe(ctx context.Context) (r nightowl.Result) {
	start := time.Now()
	r.Facts = nightowl.Facts{"exit_code": nil, "output": nil, "perfdata": nil}
	if err := ctx.Err(); err != nil {
		return finish(r, start, reason(ctx, err, start))
	}

	out := &headBuffer{limit: outputLimit}
	cmd := exec.CommandContext(ctx, p.path)
	cmd.Path, cmd.Args, cmd.Env, cmd.Dir = p.path, p.argv, p.env, p.dir
	// One writer for both, hence one pipe: the output reads in the order
	// it was written.
	cmd.Stdout, cmd.Stderr = out, out
	// A group of its own, so that a timeout kills what the program
	// started as well; a plugin's grandchild that outlived it would
	// otherwise pile up, one per run.
	procgroup.Start(cmd)
	// A process that left the group but kept the pipe open holds the run
	// no longer than this after the exit or the deadline.
	cmd.WaitDelay = drainGrace
	if err := cmd.Start(); err != nil {
		if ctx.Err() != nil {
			return finish(r, start, reason(ctx, ctx.Err(), start))
		}
		return finish(r, start, startError(p.path, err))
	}
	pgid := cmd.Process.Pid

	// Wait runs on its own so that a process the kill cannot end does not
	// hold the run: Wait returns only once the process has been reaped.
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	var waitErr error
	killed, hung := false, false
	select {
	case waitErr = <-waited:
	case <-ctx.Done():
		// Cancel has killed the group.
		killed = true
		select {
		case waitErr = <-waited:
		case <-time.After(killGrace):
			hung = true
		}
	}
	// Whatever the program left behind in its group goes too. Linux does
	// not hand out a group's id while a member lives, so this cannot hit
	// a stranger's group; once the group is empty the kill finds nothing.
	procgroup.Kill(pgid)

	output, perf := parsePluginOutput(out.text())
	if out.droppedBytes() > 0 {
		output = strings.TrimSpace(output + fmt.Sprintf("\n[output cut at %d KiB, the rest dropped]", outputLimit>>10))
	}
	r.Facts["output"] = output
	r.Facts["perfdata"] = perf

	if hung {
		return finish(r, start, reason(ctx, ctx.Err(), start)+", process group killed but it has not exited")
	}
	if cmd.ProcessState == nil {
		return finish(r, start, fmt.Sprintf("wait for %s: %v", filepath.Base(p.path), waitErr))
	}
	ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	switch {
	case ws.Exited():
		// An exit that beat the kill by a hair still counts: the program
		// finished and said what it had to say.
		r.Facts["exit_code"] = ws.ExitStatus()
		return finish(r, start, "")
	case killed:
		return finish(r, start, reason(ctx, ctx.Err(), start)+", process group killed")
	case ws.Signaled():
		return finish(r, start, fmt.Sprintf("%s killed by signal %d (%s)", filepath.Base(p.path), int(ws.Signal()), ws.Signal()))
	}
	return finish(r, start, fmt.Sprintf("%s ended without an exit code: %v", filepath.Base(p.path), cmd.ProcessState))
}

// startError describes a program that could not be started (deleted since
// the config was loaded, no longer executable, a bad interpreter line).
func startError(path string, err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return "start " + path + ": " + pe.Err.Error()
	}
	return "start " + path + ": " + err.Error()
}

// headBuffer keeps the first limit bytes written to it and counts the rest.
// It is read under its lock: when a process the kill cannot end holds the
// run past its deadline, the copy of its output may still be writing.
type headBuffer struct {
	mu      sync.Mutex
	buf     []byte
	limit   int
	dropped int64
}

func (b *headBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := min(len(p), b.limit-len(b.buf))
	b.buf = append(b.buf, p[:n]...)
	b.dropped += int64(len(p) - n)
	return len(p), nil
}

func (b *headBuffer) droppedBytes() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.dropped
}

// text is the kept output. When some was dropped, the last, cut line goes
// too: half a line of performance data would parse as a wrong value.
func (b *headBuffer) text() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := string(b.buf)
	if b.dropped > 0 {
		if i := strings.LastIndexByte(s, '\n'); i >= 0 {
			s = s[:i+1]
		}
	}
	return s
}
