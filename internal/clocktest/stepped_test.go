package clocktest

import (
	"testing"
	"time"
)

func TestShiftWallKeepsTheMonotonicReading(t *testing.T) {
	if err := CheckShiftWall(); err != nil {
		t.Fatal(err)
	}
	for _, d := range []time.Duration{time.Hour, -time.Hour, 90 * time.Minute, time.Nanosecond, -1500 * time.Millisecond} {
		now := time.Now()
		moved := ShiftWall(now, d)
		if got := moved.Round(0).Sub(now.Round(0)); got != d {
			t.Errorf("%s: the wall reading moved by %s", d, got)
		}
		// Between readings that both carry one, durations come from the
		// monotonic clock, which a stepped wall clock leaves alone.
		if got := moved.Sub(now); got != 0 {
			t.Errorf("%s: the monotonic reading moved by %s", d, got)
		}
		if later := ShiftWall(now.Add(time.Second), d); later.Sub(moved) != time.Second {
			t.Errorf("%s: a second later is %s later", d, later.Sub(moved))
		}
	}
	wallOnly := time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC)
	if got := ShiftWall(wallOnly, time.Hour); !got.Equal(wallOnly.Add(time.Hour)) {
		t.Errorf("a wall-only time moved to %s", got)
	}
}

func TestStepped(t *testing.T) {
	c, err := NewStepped()
	if err != nil {
		t.Fatal(err)
	}
	before := c.Now()
	c.Step(time.Hour)
	ahead := c.Now()
	if d := ahead.Round(0).Sub(before.Round(0)); d < time.Hour || d > time.Hour+time.Minute {
		t.Errorf("stepped an hour ahead, the wall clock moved %s", d)
	}
	if d := ahead.Sub(before); d < 0 || d > time.Minute {
		t.Errorf("stepped an hour ahead, %s passed", d)
	}
}
