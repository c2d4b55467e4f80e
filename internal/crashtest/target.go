package crashtest

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// target is the site the checks watch: /t/<i> answers 200 while check i is
// up and 503 while it is down. A flapper turns the checks down and up at
// random moments.
type target struct {
	down []atomic.Bool

	mu      sync.Mutex
	changes [][]change // per check, in order
}

// change is a moment a check went down or came back.
type change struct {
	at   time.Time
	down bool
}

func newTarget(n int) *target {
	return &target{down: make([]atomic.Bool, n), changes: make([][]change, n)}
}

func (t *target) set(i int, down bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.down[i].Load() == down {
		return
	}
	t.down[i].Store(down)
	t.changes[i] = append(t.changes[i], change{at: time.Now(), down: down})
}

// steadyAt says whether check i answered the same (down or not) for the
// whole of [from, to], and which.
func (t *target) steadyAt(i int, from, to time.Time) (down, steady bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, c := range t.changes[i] {
		switch {
		case !c.at.After(from):
			down = c.down
		case !c.at.After(to):
			return false, false
		}
	}
	return down, true
}

func (t *target) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	i, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/t/"))
	if err != nil || i < 0 || i >= len(t.down) {
		http.NotFound(w, r)
		return
	}
	if t.down[i].Load() {
		http.Error(w, "down on purpose", http.StatusServiceUnavailable)
		return
	}
	w.Write([]byte("ok\n"))
}

// flap toggles a random check every minGap to maxGap until ctx ends, and
// returns how many times it turned one down.
func (t *target) flap(ctx context.Context, rng *rand.Rand, minGap, maxGap time.Duration) int {
	downs := 0
	for {
		gap := minGap + time.Duration(rng.Int64N(int64(maxGap-minGap)+1))
		select {
		case <-ctx.Done():
			return downs
		case <-time.After(gap):
		}
		i := rng.IntN(len(t.down))
		if !t.down[i].Load() {
			downs++
		}
		t.set(i, !t.down[i].Load())
	}
}

// allUp brings every check up for good.
func (t *target) allUp() {
	for i := range t.down {
		t.set(i, false)
	}
}

// dump writes every change, in order of time, one a line.
func (t *target) dump(w io.Writer) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	type line struct {
		at   time.Time
		text string
	}
	var lines []line
	for i, cs := range t.changes {
		for _, c := range cs {
			word := "up"
			if c.down {
				word = "down"
			}
			lines = append(lines, line{c.at, fmt.Sprintf("%s c%02d %s\n", c.at.UTC().Format(time.RFC3339Nano), i, word)})
		}
	}
	slices.SortFunc(lines, func(a, b line) int { return a.at.Compare(b.at) })
	for _, l := range lines {
		if _, err := io.WriteString(w, l.text); err != nil {
			return err
		}
	}
	return nil
}
