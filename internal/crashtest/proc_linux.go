package crashtest

import "syscall"

// sysProcAttr makes the kernel kill a server whose harness died, so that
// an interrupted test leaves nothing running.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
