// Command crash kills a real nightowl server with SIGKILL again and again at
// random moments while alerts fire and resolve, restarts it each time, and
// then counts what two webhook receivers got by idempotency key against
// what the store says was owed: it exits 1 if a notification was lost or a
// duplicate is not explained by a kill. See internal/crashtest.
//
//	go run ./bench/crash -kills 100
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/nightowl/nightowl/internal/crashtest"
)

func main() {
	kills := flag.Int("kills", 100, "times the server is killed")
	checks := flag.Int("checks", crashtest.DefaultChecks, "HTTP checks, flapping at random")
	seed := flag.Uint64("seed", 0, "seed for flapping, refusals and kill choices; from the clock when 0")
	minUp := flag.Duration("min-up", crashtest.DefaultMinUp, "shortest life of a server before it is killed")
	maxUp := flag.Duration("max-up", crashtest.DefaultMaxUp, "longest life of a server before it is killed")
	refuse := flag.Float64("refuse", crashtest.DefaultRefuse, "fraction of requests the flaky receiver refuses (429, or 503 one time in five); 0 for none")
	dir := flag.String("dir", "", "work directory, kept afterwards; a temporary one, removed unless something broke, when empty")
	flag.Parse()
	os.Exit(run(*kills, *checks, *seed, *minUp, *maxUp, *refuse, *dir))
}

func run(kills, checks int, seed uint64, minUp, maxUp time.Duration, refuse float64, dir string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	keep := dir != ""
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "nightowl-crash-"); err != nil {
			fmt.Fprintln(os.Stderr, "crash:", err)
			return 2
		}
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "crash:", err)
		return 2
	}
	if refuse == 0 {
		refuse = -1 // the harness reads 0 as its default
	}
	h, err := crashtest.New(ctx, crashtest.Options{
		Dir: dir, Kills: kills, Checks: checks, Seed: seed, MinUp: minUp, MaxUp: maxUp, Refuse: refuse,
		Logf: func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) },
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "crash:", err)
		return 2
	}
	defer h.Close()
	fmt.Fprintf(os.Stderr, "crash: seed %d, work directory %s\n", h.Seed(), dir)
	rep, err := h.Run(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "crash:", err)
		fmt.Fprintln(os.Stderr, "crash: the work directory is kept:", dir)
		return 2
	}
	fmt.Print(rep)
	if len(rep.Problems()) > 0 {
		fmt.Fprintln(os.Stderr, "crash: the work directory is kept:", dir)
		return 1
	}
	if !keep {
		h.Close()
		os.RemoveAll(dir)
	}
	return 0
}
