package app

import (
	"context"
	"slices"
	"testing"
	"testing/synctest"
	"time"
)

// A crew's Wait waits for its members, refuses new ones from then on, and
// names those it gives up on, whose context it cancels.
func TestCrew(t *testing.T) {
	t.Parallel()
	t.Run("waits for its members", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			c := newCrew()
			done := false
			c.Go("slow", func(context.Context) { time.Sleep(time.Second); done = true })
			if left := c.Wait(context.Background()); left != nil || !done {
				t.Fatalf("Wait = %v with the member done %v, want it to wait for the member", left, done)
			}
			if c.Go("late", func(context.Context) { t.Error("a member ran after Wait") }) {
				t.Fatal("a closed crew took a member")
			}
		})
	})
	t.Run("names and cancels what it gives up on", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			c := newCrew()
			ended := make(chan struct{})
			for range 2 {
				c.Go("stuck", func(ctx context.Context) { <-ctx.Done(); ended <- struct{}{} })
			}
			c.Go("quick", func(context.Context) {})
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			if left := c.Wait(ctx); !slices.Equal(left, []string{"stuck ×2"}) {
				t.Fatalf("Wait = %q, want the two stuck members", left)
			}
			<-ended
			<-ended
		})
	})
}
