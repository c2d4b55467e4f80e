//go:build !linux

package crashtest

import "syscall"

// sysProcAttr: only Linux can tie a child's life to its parent's; Close
// still kills the server.
func sysProcAttr() *syscall.SysProcAttr { return nil }
