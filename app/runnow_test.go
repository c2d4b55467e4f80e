package app

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestConcurrentRunsCollapse: a hundred POST /api/v1/checks/{name}/run at
// once make one request to the target (two if the schedule's own run
// falls in), and every caller gets the same result.
func TestConcurrentRunsCollapse(t *testing.T) {
	const callers = 100
	var hits, started atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		// Hold the answer until every caller has asked, so that the runs
		// overlap (bounded: a run that outlives the check's timeout
		// fails, which the test would see).
		for i := 0; i < 100 && started.Load() < callers; i++ {
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(time.Second)
		io.WriteString(w, "ok")
	}))
	defer target.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "nightowl.yaml")
	writeConfig(t, cfg, fmt.Sprintf(`storage: {sqlite: test.db}
checks:
  - name: target
    interval: 1h
    timeout: 10s
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
			started.Add(1)
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
