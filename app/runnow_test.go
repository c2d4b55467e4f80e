package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestConcurrentRunsCollapse: a hundred POST /api/v1/checks/{name}/run at
// once make one request to the target (two if the schedule's own run
// falls in), and every caller gets the same result.
func TestConcurrentRunsCollapse(t *testing.T) {
	t.Parallel()
	const callers = 100
	var hits atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		// Hold the answer until every caller is in RunNow (the one that
		// runs the check, and the others waiting for its result), so
		// that the runs overlap however slowly the requests arrive.
		// Bounded: callers that never join make more runs, which the
		// test sees.
		deadline := time.Now().Add(30 * time.Second)
		for goroutinesIn("engine.(*Engine).RunNow") < callers && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		io.WriteString(w, "ok")
	}))
	defer target.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "nightowl.yaml")
	writeConfig(t, cfg, fmt.Sprintf(`storage: {sqlite: test.db}
checks:
  - name: target
    interval: 1h
    timeout: 1m
    http: {url: "%s/"}
`, target.URL))
	a := startApp(t, cfg)
	admin := adminToken(t, a)
	base := "http://" + a.Addr()
	before := hits.Load()

	starts := make([]string, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			req, _ := http.NewRequest("POST", base+"/api/v1/checks/target/run", nil)
			req.Header.Set("Authorization", "Bearer "+admin)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			var res struct {
				Start  string `json:"start"`
				Status string `json:"status"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&res); err != nil || resp.StatusCode != 200 {
				t.Errorf("run: %d %v", resp.StatusCode, err)
				return
			}
			starts[i] = res.Start + " " + res.Status
		})
	}
	wg.Wait()
	n := hits.Load() - before
	if n < 1 || n > 2 {
		t.Errorf("%d concurrent runs made %d requests to the target, want 1 (2 with the schedule's)", callers, n)
	}
	// Callers that joined a run got its result: as many results as runs
	// (one, unless a straggler asked after the first had ended).
	distinct := map[string]int{}
	for _, s := range starts {
		distinct[s]++
	}
	if int64(len(distinct)) > n {
		t.Errorf("%d different results from %d requests to the target: %v", len(distinct), n, distinct)
	}
	t.Logf("%d requests to the target, results: %v", n, distinct)
}

// goroutinesIn counts the goroutines whose stack has a call of fn, a
// function's name as a stack trace writes it.
func goroutinesIn(fn string) int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	count := 0
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		if bytes.Contains(g, []byte(fn+"(")) {
			count++
		}
	}
	return count
}
