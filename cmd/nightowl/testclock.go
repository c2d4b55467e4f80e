package main

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/clocktest"
)

// testClockEnv names a file that moves the wall clock `nightowl serve`
// reads, for the fault-injection tests (internal/crashtest) and nothing
// else: the file holds a duration ("+1h", "-30m", "0") that is added to the
// wall clock, read again whenever it is older than testClockReread. A
// machine whose clock is stepped (by NTP, or after a suspended VM resumes)
// jumps the same way, and a test cannot step the clock of a machine it
// shares.
const testClockEnv = "NIGHTOWL_TEST_CLOCK_FILE"

// testClockReread is how stale the offset may be.
const testClockReread = 20 * time.Millisecond

// offsetClock is the system clock with its wall reading moved by the offset
// in a file. As when the machine's clock is stepped, only the wall reading
// moves: Go's monotonic reading, which measures every duration between two
// readings of one process and drives timers, goes on as before.
type offsetClock struct {
	path   string
	reread time.Duration // testClockReread

	mu     sync.Mutex
	offset time.Duration
	readAt time.Time // when the file was last read, by the monotonic clock
}

// newOffsetClock reads the offset in path once, so that a missing or
// malformed file stops the server at its start.
func newOffsetClock(path string) (*offsetClock, error) {
	if err := clocktest.CheckShiftWall(); err != nil {
		return nil, fmt.Errorf("%s: %w", testClockEnv, err)
	}
	now := time.Now()
	c := &offsetClock{path: path, reread: testClockReread}
	off, err := c.read()
	if err != nil {
		return nil, err
	}
	c.offset, c.readAt = off, now
	return c, nil
}

func (c *offsetClock) read() (time.Duration, error) {
	b, err := os.ReadFile(c.path)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", testClockEnv, err)
	}
	d, err := time.ParseDuration(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("%s: %s: %w", testClockEnv, c.path, err)
	}
	return d, nil
}

func (c *offsetClock) Now() time.Time {
	now := time.Now()
	c.mu.Lock()
	if now.Sub(c.readAt) >= c.reread {
		// A file being rewritten may read empty for a moment: the
		// offset read last holds until it reads whole again.
		if d, err := c.read(); err == nil {
			c.offset = d
		}
		c.readAt = now
	}
	off := c.offset
	c.mu.Unlock()
	return clocktest.ShiftWall(now, off)
}

// After waits by the monotonic clock, as timers do when the wall clock is
// stepped.
func (c *offsetClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

var _ nightowl.Clock = (*offsetClock)(nil)
