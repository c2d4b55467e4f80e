package clocktest

import (
	"errors"
	"sync"
	"time"
	"unsafe"
)

// Stepped is the system clock with its wall reading moved by an offset the
// test sets, as NTP steps the clock of a machine whose clock was wrong:
// Go's monotonic reading, which measures the time between two readings of
// one process and drives timers, goes on as before. Code that measures
// durations between its own readings sees no step; code that compares a
// reading with a wall time (one stored, or parsed) does.
type Stepped struct {
	mu     sync.Mutex
	offset time.Duration
}

// NewStepped returns a Stepped clock with no offset, or an error when this
// Go runtime's times cannot have their wall reading moved alone.
func NewStepped() (*Stepped, error) {
	if err := CheckShiftWall(); err != nil {
		return nil, err
	}
	return &Stepped{}, nil
}

// Step sets the offset: the wall clock reads d later than the system's.
func (c *Stepped) Step(d time.Duration) {
	c.mu.Lock()
	c.offset = d
	c.mu.Unlock()
}

func (c *Stepped) Now() time.Time {
	now := time.Now()
	c.mu.Lock()
	d := c.offset
	c.mu.Unlock()
	return ShiftWall(now, d)
}

// After waits by the monotonic clock, as timers do.
func (c *Stepped) After(d time.Duration) <-chan time.Time { return time.After(d) }

// timeLayout is time.Time's representation (see the comment on Time in the
// time package): with hasMonotonic set in wall, wall holds 33 bits of
// seconds since 1885 and 30 bits of nanoseconds, and ext the monotonic
// reading. CheckShiftWall tells whether it still is.
type timeLayout struct {
	wall uint64
	ext  int64
	loc  *time.Location
}

const (
	hasMonotonic = 1 << 63
	nsecMask     = 1<<30 - 1
	nsecShift    = 30
	secBits      = 33
)

// ShiftWall returns t with its wall reading moved by d and its monotonic
// reading, if it has one, kept. Without one, or when the moved wall reading
// does not fit beside it, it is t.Add(d) without its monotonic reading.
func ShiftWall(t time.Time, d time.Duration) time.Time {
	if d == 0 {
		return t
	}
	p := (*timeLayout)(unsafe.Pointer(&t))
	if p.wall&hasMonotonic == 0 {
		return t.Add(d)
	}
	total := int64(p.wall<<1>>(nsecShift+1))*1e9 + int64(p.wall&nsecMask) + int64(d)
	sec, nsec := total/1e9, total%1e9
	if total < 0 || sec >= 1<<secBits {
		return t.Round(0).Add(d)
	}
	p.wall = hasMonotonic | uint64(sec)<<nsecShift | uint64(nsec)
	return t
}

// CheckShiftWall says whether ShiftWall works with this Go runtime.
func CheckShiftWall() error {
	now := time.Now()
	moved := ShiftWall(now, time.Hour)
	if moved.Sub(now) != 0 || moved.Round(0).Sub(now.Round(0)) != time.Hour {
		return errors.New("cannot move the wall reading of a time alone with this Go runtime")
	}
	return nil
}
