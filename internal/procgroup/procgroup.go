// Package procgroup starts a program in a process group of its own and
// kills the whole group, so that a timeout also ends what the program
// started (a plugin's grandchild, a hung curl under a shell script) instead
// of leaving it to pile up, one per run. Where the system has no process
// groups (Windows), the program alone is killed.
package procgroup

import "os/exec"

// Start sets cmd, before it starts, to run in a group of its own, and its
// Cancel (exec.CommandContext's) to kill that group.
func Start(cmd *exec.Cmd) {
	setGroup(cmd)
	cmd.Cancel = func() error { return Kill(cmd.Process.Pid) }
}
