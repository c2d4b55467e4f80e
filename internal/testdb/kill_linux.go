package testdb

import (
	"os/exec"
	"syscall"
)

// killWithParent has the kernel kill a test's server when the test binary
// dies (a panic, a -timeout), which would otherwise leave it running.
func killWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
