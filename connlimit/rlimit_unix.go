//go:build unix

package connlimit

import "syscall"

// FileLimit raises the soft limit on open files to the hard limit (the Go
// runtime does so too at start on most systems; a process started with a
// lower soft limit by a library is set right here) and returns it.
func FileLimit() (uint64, error) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, err
	}
	if rl.Cur < rl.Max {
		up := rl
		up.Cur = up.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &up); err == nil {
			rl = up
		}
	}
	return uint64(rl.Cur), nil
}
