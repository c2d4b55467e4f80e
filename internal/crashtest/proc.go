package crashtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// build compiles cmd/nightowl of the module the working directory is in
// into dir.
func build(ctx context.Context, dir string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("find the module: go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("find the module: not inside one")
	}
	bin := filepath.Join(dir, "nightowl")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/nightowl")
	cmd.Dir = filepath.Dir(gomod)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build nightowl: %w\n%s", err, out)
	}
	return bin, nil
}

// proc is one server process.
type proc struct {
	run     int
	cmd     *exec.Cmd
	started time.Time
	done    chan struct{} // closed once the process has exited and been reaped
	err     error         // what Wait said; read after done
}

// start runs `nightowl serve` with the config, its output appended to log.
func start(run int, bin, cfg string, log *os.File) (*proc, error) {
	cmd := exec.Command(bin, "serve", "-c", cfg)
	cmd.Dir = filepath.Dir(cfg)
	return startCmd(run, cmd, log)
}

// startCmd starts cmd, a server, its output appended to log.
func startCmd(run int, cmd *exec.Cmd, log *os.File) (*proc, error) {
	fmt.Fprintf(log, "=== run %d at %s\n", run, time.Now().Format(time.RFC3339Nano))
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start server run %d: %w", run, err)
	}
	p := &proc{run: run, cmd: cmd, started: time.Now(), done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// kill sends SIGKILL, as kill -9 does, and waits for the process to be
// gone. Signal, unlike syscall.Kill on a bare pid, cannot reach another
// process that took the pid after this one was reaped.
func (p *proc) kill() {
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		// Nothing else can be done; the wait below says whether it died.
		fmt.Fprintf(os.Stderr, "crashtest: kill run %d: %v\n", p.run, err)
	}
	<-p.done
}

// stop sends SIGTERM and waits up to timeout for a clean exit; then kills.
func (p *proc) stop(timeout time.Duration) error {
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("stop run %d: %w", p.run, err)
	}
	select {
	case <-p.done:
		if p.err != nil {
			return fmt.Errorf("stop run %d: %w", p.run, p.err)
		}
		return nil
	case <-time.After(timeout):
		p.kill()
		return fmt.Errorf("stop run %d: still running %s after SIGTERM; killed", p.run, timeout)
	}
}
