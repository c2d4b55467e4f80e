//go:build !unix && !windows

package sqlite

// ServeLock is not enforced where the system has neither flock nor
// LockFileEx: stop the server before a restore.
func ServeLock(path string) (unlock func(), err error) { return func() {}, nil }
