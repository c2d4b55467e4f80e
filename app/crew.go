package app

import (
	"context"
	"fmt"
	"slices"
	"sync"
)

// crew owns the goroutines an App starts: the web server, the background
// loops and the on_down runs. Stop closes it, which refuses new members,
// and waits for the members it has; those still running when Stop gives up
// have their context cancelled and are named in the log.
type crew struct {
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	closed  bool
	members map[string]int // running members by what they do
	empty   chan struct{}  // closed once closed with no members
}

func newCrew() *crew {
	ctx, cancel := context.WithCancel(context.Background())
	return &crew{ctx: ctx, cancel: cancel, members: map[string]int{}, empty: make(chan struct{})}
}

// Go runs fn on a goroutine of the crew, with a context cancelled only when
// Stop gives up waiting. It reports false, without running fn, once the
// crew is closed.
func (c *crew) Go(name string, fn func(ctx context.Context)) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.members[name]++
	go func() {
		defer c.leave(name)
		fn(c.ctx)
	}()
	return true
}

func (c *crew) leave(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.members[name]--; c.members[name] == 0 {
		delete(c.members, name)
	}
	if c.closed && len(c.members) == 0 {
		close(c.empty)
	}
}

// Wait closes the crew and waits for its members until ctx ends. It returns
// those still running then ("on_down ×2"), whose context it cancels: they
// are cut off.
func (c *crew) Wait(ctx context.Context) []string {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		if len(c.members) == 0 {
			close(c.empty)
		}
	}
	c.mu.Unlock()
	select {
	case <-c.empty:
		c.cancel()
		return nil
	case <-ctx.Done():
	}
	c.cancel()
	c.mu.Lock()
	defer c.mu.Unlock()
	var left []string
	for name, n := range c.members {
		if n > 1 {
			name = fmt.Sprintf("%s ×%d", name, n)
		}
		left = append(left, name)
	}
	slices.Sort(left)
	return left
}
