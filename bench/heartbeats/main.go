// Command heartbeats measures heartbeat checks at scale: the memory that
// N loaded heartbeat checks cost (engine, tracker and the store's in-memory
// side), and how many pings a second the real HTTP endpoint ingests on
// loopback, driven by wrk from a second process, with pings persisted by the
// real SQLite store in batches.
//
//	go run ./bench/heartbeats -n 1000000 -duration 30s
//
// wrk comes from Debian's package of that name.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/app"
	"github.com/nightowl/nightowl/assert"
	"github.com/nightowl/nightowl/heartbeat"
	"github.com/nightowl/nightowl/probe"
)

var profile, memProfile string

func main() {
	n := flag.Int("n", 1000000, "heartbeat checks to load")
	duration := flag.Duration("duration", 30*time.Second, "how long wrk sends pings")
	tokens := flag.Int("tokens", 10000, "distinct checks that wrk pings")
	conns := flag.Int("connections", 64, "wrk connections")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the ping phase to this file")
	memProfileFlag := flag.String("memprofile", "", "write an allocation profile to this file, and one as of the start of the ping phase to this file.base (pprof -diff_base)")
	flag.Parse()
	profile, memProfile = *cpuProfile, *memProfileFlag
	if memProfile != "" {
		runtime.MemProfileRate = 64 << 10
	}
	if err := run(*n, *tokens, *conns, *duration); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func heapBytes() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func rssBytes() int64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			kb, _ := strconv.ParseInt(strings.Fields(line)[1], 10, 64)
			return kb * 1024
		}
	}
	return 0
}

func run(n, tokens, conns int, duration time.Duration) error {
	dir, err := os.MkdirTemp("", "nightowl-hb-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	dbPath := filepath.Join(dir, "bench.db")
	var reported atomic.Int64
	core, err := app.NewCore(context.Background(), app.CoreOptions{SQLite: dbPath, Logger: quiet,
		Reported: func(string) { reported.Add(1) }})
	if err != nil {
		return err
	}
	defer core.Close()
	store := core.Store

	// The checks are built directly rather than parsed from a YAML file of a
	// million entries; they are what the config loader produces: the
	// default assertions compiled once and shared, a validated block each.
	var comp assert.Compiler
	typ := probe.Types["heartbeat"]
	var asserts []nightowl.Assertion
	for _, d := range typ.Defaults {
		a, err := comp.Compile("heartbeat", typ.Facts, d.Name, d.Expr, d.Severity)
		if err != nil {
			return err
		}
		asserts = append(asserts, a)
	}
	before := heapBytes()
	rss0 := rssBytes()
	checks := make([]nightowl.Check, n)
	hbs := make([]heartbeat.Check, n)
	for i := range n {
		name := "job-" + strconv.Itoa(i)
		spec := &probe.Heartbeat{Period: time.Hour, Grace: 10 * time.Minute, Token: fmt.Sprintf("bench-token-%010d", i)}
		if errs := spec.Validate(); len(errs) > 0 {
			return fmt.Errorf("%s: %v", name, errs)
		}
		checks[i] = nightowl.Check{Name: name, Type: "heartbeat", Passive: true, FailAfter: 1, RecoverAfter: 1,
			Assertions: asserts, Fingerprint: "bench"}
		hbs[i] = heartbeat.Check{Name: name, Spec: spec}
	}
	if err := core.SetChecks(checks, hbs); err != nil {
		return err
	}
	checks, hbs = nil, nil
	if err := store.Flush(context.Background()); err != nil {
		return err
	}
	after := heapBytes()
	debug.FreeOSMemory()
	fmt.Printf("loaded %d heartbeat checks: %.0f bytes of heap each (engine + tracker + queued store state), RSS %d MB in all (+%.0f bytes each)\n",
		n, float64(after-before)/float64(n), rssBytes()>>20, float64(rssBytes()-rss0)/float64(n))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	core.Start(ctx)
	defer core.Stop()

	wrk, err := exec.LookPath("wrk")
	if err != nil {
		return errors.New("wrk is not installed (apt-get install wrk)")
	}
	script := filepath.Join(dir, "pings.lua")
	lua := fmt.Sprintf(`local n = %d
local i = 0
request = function()
  i = i + 1
  local t = string.format("bench-token-%%010d", i %% n)
  if i %% 4 == 0 then
    return wrk.format("POST", "/ping/" .. t .. "/0", nil, "backup done: 1234 files")
  elseif i %% 4 == 1 then
    return wrk.format("GET", "/ping/" .. t .. "/start")
  end
  return wrk.format("GET", "/ping/" .. t)
end
`, min(tokens, n))
	if err := os.WriteFile(script, []byte(lua), 0o644); err != nil {
		return err
	}
	// Every check's first report (never pinged yet: up) is an event in the
	// store; let them land before measuring the steady state.
	for deadline := time.Now().Add(5 * time.Minute); reported.Load() < int64(n) && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
	}
	store.Flush(context.Background())

	// The ceiling: the same wrk against a bare net/http server that answers
	// OK and does nothing else.
	bare := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Write([]byte("OK"))
	})}
	bln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go bare.Serve(bln)
	bout, err := exec.Command(wrk, "-t", "1", "-c", strconv.Itoa(conns), "-d", "10s", "-s", script,
		"http://"+bln.Addr().String()).CombinedOutput()
	bare.Close()
	if err != nil {
		return fmt.Errorf("wrk: %v\n%s", err, bout)
	}
	if bm := regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`).FindSubmatch(bout); bm != nil {
		fmt.Printf("bare net/http answering OK, same wrk, 10s: %s requests/s\n", bm[1])
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: core.PingHandler()}
	go srv.Serve(ln)
	defer srv.Close()

	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			return err
		}
		pprof.StartCPUProfile(f)
		defer f.Close()
	}
	var ms0 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	if memProfile != "" {
		// The profile counts from the start: what the ping phase
		// allocated is the difference from this one.
		if err := writeAllocs(memProfile + ".base"); err != nil {
			return err
		}
	}
	cpu0 := cpuSeconds()
	out, err := exec.Command(wrk, "-t", "1", "-c", strconv.Itoa(conns), "-d", duration.String(), "-s", script,
		"http://"+ln.Addr().String()).CombinedOutput()
	if err != nil {
		return fmt.Errorf("wrk: %v\n%s", err, out)
	}
	cpu := cpuSeconds() - cpu0
	var ms1 runtime.MemStats
	runtime.ReadMemStats(&ms1)
	if profile != "" {
		pprof.StopCPUProfile()
	}
	if memProfile != "" {
		if err := writeAllocs(memProfile); err != nil {
			return err
		}
	}
	m := regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`).FindSubmatch(out)
	non2xx := regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`).FindSubmatch(out)
	total := regexp.MustCompile(`(\d+) requests in`).FindSubmatch(out)
	if m == nil || total == nil {
		return fmt.Errorf("cannot read wrk's output:\n%s", out)
	}
	fmt.Printf("wrk, %d connections, %s, pinging %d checks:\n%s", conns, duration, min(tokens, n), indent(string(out)))
	if non2xx != nil {
		fmt.Printf("NOT OK answers: %s\n", non2xx[1])
	}
	if err := store.Flush(context.Background()); err != nil {
		return err
	}
	reqs, _ := strconv.ParseFloat(string(total[1]), 64)
	fmt.Printf("pings/s: %s (server CPU %.1f s, %.1f µs per ping; %.0f bytes allocated per ping, %d GCs); results reported to the engine: %d; dropped by the store: %d\n",
		m[1], cpu, cpu/reqs*1e6, float64(ms1.TotalAlloc-ms0.TotalAlloc)/reqs, ms1.NumGC-ms0.NumGC,
		reported.Load(), store.Dropped())
	return nil
}

// writeAllocs writes the allocation profile so far.
func writeAllocs(path string) error {
	runtime.GC() // the profile is as of the last GC
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ") + "\n"
}

func cpuSeconds() float64 {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b)[strings.LastIndexByte(string(b), ')')+2:])
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100
}
