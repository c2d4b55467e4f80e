//go:build unix

package sqlite

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// ServeLock takes the lock a server holds on the database at path for as
// long as it runs, in the file path+".lock": a second server, or a restore,
// is refused while it is held (ErrServing). The lock goes with the process,
// so a server that crashed leaves none behind. Commands that only read or
// add to the database (user add, audit verify, backup) do not take it.
func ServeLock(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, ErrServing
		}
		return nil, fmt.Errorf("lock %s.lock: %w", path, err)
	}
	return func() { f.Close() }, nil
}
