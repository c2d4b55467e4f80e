//go:build linux

// Command checks measures the check engine under load: N HTTP checks against
// a loopback target, run through the real config loader, probes, assertions,
// scheduler and SQLite store, compared in the same run with a bare Go loop
// that makes the same requests at the same rate with nothing else.
//
//	go run ./bench/checks -n 100000 -interval 60s -duration 2m
//
// It prints checks/s, start lag p50/p99 (actual start minus due time), CPU
// seconds per 1,000 checks for both and their ratio, and RSS per check. The
// target runs in a child process so that its CPU is not counted.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/app"
	"github.com/nightowl/nightowl/config"
	"github.com/nightowl/nightowl/probe"
)

var profile, heapProfile string

// checksPerPart is how many checks one config file of the benchmark holds:
// well within config.MaxFileSize and config.MaxNodes.
const checksPerPart = 10_000

func main() {
	n := flag.Int("n", 100000, "number of checks")
	interval := flag.Duration("interval", 60*time.Second, "check interval")
	duration := flag.Duration("duration", 2*time.Minute, "how long to measure the engine, after a warm-up of one interval")
	baseline := flag.Duration("baseline", time.Minute, "how long to run the bare loop")
	concurrency := flag.Int("concurrency", 256, "checks run at once")
	serve := flag.String("serve-target", "", "internal: run the target on this address")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the engine phase to this file")
	memProfile := flag.String("memprofile", "", "write a heap profile to this file after the run")
	flag.Parse()
	profile, heapProfile = *cpuProfile, *memProfile
	if *serve != "" {
		runTarget(*serve)
		return
	}
	if err := run(*n, *interval, *duration, *baseline, *concurrency); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// runTarget answers every request with a small healthy page.
func runTarget(addr string) {
	body := []byte("<html><body>all good</body></html>")
	http.ListenAndServe(addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write(body)
	}))
}

func startTarget() (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	self, err := os.Executable()
	if err != nil {
		return "", nil, err
	}
	cmd := exec.Command(self, "-serve-target", addr)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr, func() { cmd.Process.Kill(); cmd.Wait() }, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	cmd.Process.Kill()
	return "", nil, fmt.Errorf("target did not start")
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

func rssBytes() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb * 1024
		}
	}
	return 0
}

func run(n int, interval, duration, baseDur time.Duration, concurrency int) error {
	addr, stop, err := startTarget()
	if err != nil {
		return err
	}
	defer stop()
	rate := float64(n) / interval.Seconds()
	fmt.Printf("target http://%s/, %d checks every %s = %.0f checks/s, concurrency %d, GOMAXPROCS %d\n",
		addr, n, interval, rate, concurrency, runtime.GOMAXPROCS(0))

	// Baseline: the same requests at the same rate, nothing else.
	bareCPU, bareN := bareLoop("http://"+addr+"/", rate, baseDur, concurrency)
	barePer1k := bareCPU / float64(bareN) * 1000
	fmt.Printf("bare loop:  %d requests in %s, %.3f CPU s per 1,000\n", bareN, baseDur, barePer1k)
	runtime.GC()
	debug.FreeOSMemory()

	dir, err := os.MkdirTemp("", "nightowl-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	rss0 := rssBytes()

	// The config goes through the real loader: YAML, validation, assertion
	// compilation, fingerprints. One file may hold at most config.MaxFileSize
	// bytes and config.MaxNodes nodes, fewer than 100,000 checks written out
	// in full, so the checks are loaded from parts of checksPerPart.
	var checks []nightowl.Check
	clients := probe.NewClients()
	for from := 0; from < n; from += checksPerPart {
		var y strings.Builder
		fmt.Fprintf(&y, "defaults: {interval: %s, timeout: 5s}\nchecks:\n", interval)
		for i := from; i < min(n, from+checksPerPart); i++ {
			fmt.Fprintf(&y, "  - name: site-%d\n    labels: {tier: web}\n    http: {url: \"http://%s/s/%d\"}\n    assert:\n      ok_status: status == 200\n      writable: 'not (body contains \"read-only mode\")'\n", i, addr, i)
		}
		cfg, err := config.Parse(filepath.Join(dir, fmt.Sprintf("nightowl-%d.yaml", from)), []byte(y.String()), config.Options{})
		if err != nil {
			return err
		}
		part, err := app.BuildChecks(cfg, probe.Env{Clients: clients})
		if err != nil {
			return err
		}
		checks = append(checks, part...)
	}
	var lags *lagStore
	core, err := app.NewCore(context.Background(), app.CoreOptions{SQLite: filepath.Join(dir, "bench.db"),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Concurrency: concurrency,
		Store: func(s nightowl.Store) nightowl.Store { lags = &lagStore{Store: s}; return lags }})
	if err != nil {
		return err
	}
	if err := core.SetChecks(checks, nil); err != nil {
		return err
	}
	checks = nil
	// Start-up garbage (the YAML tree of the whole config) is returned to
	// the system within minutes by the runtime's scavenger; do it now so
	// that RSS shows what the checks themselves hold.
	debug.FreeOSMemory()
	rssLoaded := rssBytes()

	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			return err
		}
		pprof.StartCPUProfile(f)
		defer f.Close()
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	core.Start(ctx)
	// The first interval is start-up: every check runs for the first time,
	// gets its storage id and records its first status. Measure after it.
	time.Sleep(interval)
	lags.measure(time.Now())
	cpu0, t0 := cpuSeconds(), time.Now()
	time.Sleep(duration)
	cpu1, elapsed := cpuSeconds(), time.Since(t0)
	rssRun := rssBytes()
	if heapProfile != "" {
		f, err := os.Create(heapProfile)
		if err != nil {
			return err
		}
		runtime.GC()
		pprof.WriteHeapProfile(f)
		f.Close()
	}
	cancel()
	core.Stop()
	if profile != "" {
		pprof.StopCPUProfile()
	}
	core.Close()

	runs, lag := lags.snapshot()
	per1k := (cpu1 - cpu0) / float64(runs) * 1000
	fmt.Printf("nightowl:   %d checks in %s = %.0f checks/s (target %.0f/s)\n", runs, elapsed.Round(time.Second), float64(runs)/elapsed.Seconds(), rate)
	fmt.Printf("start lag:  p50 %s  p99 %s  max %s  (over %d runs)\n",
		pct(lag, 0.50), pct(lag, 0.99), pct(lag, 1), len(lag))
	fmt.Printf("CPU:        %.3f s per 1,000 checks; bare loop %.3f s; ratio %.2fx\n", per1k, barePer1k, per1k/barePer1k)
	fmt.Printf("RSS:        %.1f KB per check loaded, %.1f KB per check while running (total %d MB)\n",
		float64(rssLoaded-rss0)/float64(n)/1024, float64(rssRun-rss0)/float64(n)/1024, rssRun>>20)
	return nil
}

func pct(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	i := int(p * float64(len(d)-1))
	return d[i].Round(10 * time.Microsecond)
}

// lagStore passes results through to the real store and records how late
// each run started.
type lagStore struct {
	nightowl.Store
	mu    sync.Mutex
	start time.Time // zero until measuring starts
	lags  []time.Duration
	runs  int64
}

func (l *lagStore) measure(t time.Time) {
	l.mu.Lock()
	l.start = t
	l.mu.Unlock()
}

func (l *lagStore) SaveResult(r nightowl.Result) {
	l.mu.Lock()
	if !l.start.IsZero() && !r.Start.Before(l.start) {
		l.runs++
		l.lags = append(l.lags, r.Start.Sub(r.Due))
	}
	l.mu.Unlock()
	l.Store.SaveResult(r)
}

func (l *lagStore) snapshot() (int64, []time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	slices.Sort(l.lags)
	return l.runs, l.lags
}

// bareLoop makes GET requests at rate per second for d with at most conc in
// flight, reading each body, and returns the CPU seconds used and requests
// made.
func bareLoop(url string, rate float64, d time.Duration, conc int) (float64, int) {
	tr := &http.Transport{MaxIdleConns: conc, MaxIdleConnsPerHost: conc}
	client := &http.Client{Transport: tr}
	defer tr.CloseIdleConnections()
	var g errgroup.Group
	g.SetLimit(conc)
	var done atomic.Int64
	period := time.Duration(float64(time.Second) / rate)
	cpu0 := cpuSeconds()
	start := time.Now()
	for i := 0; ; i++ {
		due := start.Add(time.Duration(i) * period)
		if due.Sub(start) >= d {
			break
		}
		if w := time.Until(due); w > 0 {
			time.Sleep(w)
		}
		g.Go(func() error {
			resp, err := client.Get(url)
			if err != nil {
				return nil
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			done.Add(1)
			return nil
		})
	}
	g.Wait()
	return cpuSeconds() - cpu0, int(done.Load())
}
