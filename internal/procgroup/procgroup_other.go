//go:build !unix

package procgroup

import (
	"os"
	"os/exec"
)

func setGroup(*exec.Cmd) {}

// Kill kills the process pid.
func Kill(pid int) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return os.ErrProcessDone
	}
	return p.Kill()
}
