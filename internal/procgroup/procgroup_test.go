//go:build unix

package procgroup

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestKillsTheGroup starts a shell that starts a sleeping grandchild and
// checks that cancelling the command kills the grandchild too.
func TestKillsTheGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	ctx, cancel := context.WithCancel(t.Context())
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", "sleep 60 & echo $! > "+pidFile+"; wait")
	Start(cmd)
	// Without the group kill, Wait would return a second after the
	// shell is killed, and the grandchild would live on.
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var grandchild int
	for deadline := time.Now().Add(10 * time.Second); grandchild == 0; {
		if b, err := os.ReadFile(pidFile); err == nil && strings.TrimSpace(string(b)) != "" {
			grandchild, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		} else if time.Now().After(deadline) {
			t.Fatal("the grandchild did not start")
		} else {
			time.Sleep(10 * time.Millisecond)
		}
	}
	cancel()
	cmd.Wait()
	for deadline := time.Now().Add(10 * time.Second); ; {
		// Signal 0 only asks whether the process is there (a zombie
		// reaped by init is soon gone).
		if err := syscall.Kill(grandchild, 0); errors.Is(err, syscall.ESRCH) {
			break
		}
		if time.Now().After(deadline) {
			syscall.Kill(grandchild, syscall.SIGKILL)
			t.Fatal("the grandchild outlived its group's kill")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := Kill(cmd.Process.Pid); !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("killing a group that is gone: %v, want os.ErrProcessDone", err)
	}
}
