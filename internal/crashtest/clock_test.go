package crashtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
)

// TestWallClockSteps steps the wall clock of a running server an hour
// forward and back again, as NTP does to a machine whose clock was wrong,
// through the test-only NIGHTOWL_TEST_CLOCK_FILE. Timers and the durations
// between two readings go by Go's monotonic clock, which a step leaves
// alone. Through both steps: no alert for a healthy HTTP check, for a
// heartbeat pinged every 250 ms, or for one with a 30-minute period pinged
// a moment before the step (the step is no time passing); a window started
// for two hours is in force throughout, with the same end, and its check
// stays in maintenance. After the step back a heartbeat that stops pinging
// still goes down on time.
func TestWallClockSteps(t *testing.T) {
	t.Parallel()
	s, in := newSite(t), newInbox(t)
	clock := filepath.Join(t.TempDir(), "clock")
	step := func(offset string) {
		t.Helper()
		if err := os.WriteFile(clock, []byte(offset+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	step("0")
	const token, batchToken = "worker-heartbeat-token", "batch-heartbeat-token"
	var b []byte
	b = fmt.Appendf(b, "defaults: {interval: 500ms, timeout: 500ms, fail_after: 1, recover_after: 1}\nchecks:\n")
	for _, c := range []string{"web1", "web2", "shop"} {
		b = fmt.Appendf(b, "  - name: %s\n    http: {url: %q}\n", c, s.url(c))
	}
	b = fmt.Appendf(b, "  - name: worker\n    heartbeat: {period: 2s, grace: 1s, token: %s}\n", token)
	b = fmt.Appendf(b, "  - name: batch\n    heartbeat: {period: 30m, grace: 5m, token: %s}\n", batchToken)
	b = fmt.Appendf(b, "notify:\n  receivers:\n    ops: [{webhook: {url: %q}}]\n", in.url("ops"))
	b = fmt.Appendf(b, "  routes: [{escalation: ops}]\n  escalations:\n    ops: {steps: [{notify: ops}]}\n")
	srv := newServer(t, filepath.Join(t.TempDir(), "nightowl.db"), string(b))
	srv.env = []string{"NIGHTOWL_TEST_CLOCK_FILE=" + clock}
	srv.start()

	// The batch job pings once; the worker's every 250 ms, until it stops.
	if resp, err := http.Post("http://"+srv.addr+"/ping/"+batchToken, "text/plain", nil); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}
	stopPings := make(chan struct{})
	var pings sync.WaitGroup
	pings.Go(func() {
		for {
			if resp, err := http.Post("http://"+srv.addr+"/ping/"+token, "text/plain", nil); err == nil {
				resp.Body.Close()
			}
			select {
			case <-stopPings:
				return
			case <-time.After(250 * time.Millisecond):
			}
		}
	})
	var stopOnce sync.Once
	stop := func() { stopOnce.Do(func() { close(stopPings); pings.Wait() }) }
	t.Cleanup(stop)

	waitFor(t, 20*time.Second, "every check up", srv.tail, func() bool {
		cs := srv.checks()
		for _, c := range []string{"web1", "web2", "shop", "worker", "batch"} {
			if cs[c].Status != nightowl.StatusUp {
				return false
			}
		}
		return true
	})
	code, body := srv.call("POST", "/api/v1/maintenance", map[string]any{
		"checks": map[string]any{"names": []string{"shop"}}, "expect": []string{"http_ok"}, "for": "2h", "reason": "failover"})
	if code != http.StatusCreated {
		t.Fatalf("start a window: %d %s", code, body)
	}
	var started struct{ Maintenance nightowl.Window }
	if err := json.Unmarshal(body, &started); err != nil {
		t.Fatal(err)
	}
	window := started.Maintenance
	s.set("shop", true)
	waitFor(t, 10*time.Second, "shop in maintenance", srv.tail, func() bool {
		return srv.checks()["shop"].Status == nightowl.StatusMaintenance
	})

	// through checks that nothing went wrong: the checks as expected, the
	// window in force with the end it was given, and no message sent.
	through := func(when string) {
		t.Helper()
		cs := srv.checks()
		for c, want := range map[string]nightowl.Status{"web1": nightowl.StatusUp, "web2": nightowl.StatusUp,
			"worker": nightowl.StatusUp, "batch": nightowl.StatusUp, "shop": nightowl.StatusMaintenance} {
			if got := cs[c]; got.Status != want {
				t.Errorf("%s: %s is %s (%s), want %s", when, c, got.Status, got.Cause, want)
			}
		}
		var list struct{ Maintenance []nightowl.MaintenanceView }
		srv.get("/api/v1/maintenance", &list)
		found := false
		for _, w := range list.Maintenance {
			if w.ID != window.ID {
				continue
			}
			found = true
			if !w.Active || !w.Until.Equal(window.End) {
				t.Errorf("%s: the 2h window started at %s is %+v, want active until %s", when, window.Start, w, window.End)
			}
		}
		if !found {
			t.Errorf("%s: the window is not listed: %+v", when, list.Maintenance)
		}
		if len(in.find("", nightowl.MessageFiring, "")) > 0 {
			t.Errorf("%s: %s", when, in)
		}
	}
	// settle waits until the server's results say its clock is offset
	// from the real one, then for eight runs of every HTTP check, longer
	// than the heartbeat's period and grace.
	settle := func(when string, offset time.Duration) {
		t.Helper()
		waitFor(t, 10*time.Second, "the server to read its clock "+when, srv.tail, func() bool {
			c := srv.checks()["web1"]
			if c.LastRun == nil {
				return false
			}
			d := c.LastRun.Sub(time.Now()) - offset
			return d > -5*time.Second && d < 5*time.Second
		})
		from := time.Now()
		waitFor(t, 15*time.Second, "eight runs of every check "+when, srv.tail, func() bool {
			return s.hitsSince("web1", from) >= 8 && s.hitsSince("web2", from) >= 8 && s.hitsSince("shop", from) >= 8
		})
	}
	through("before the steps")
	step("+1h")
	settle("an hour ahead", time.Hour)
	through("an hour ahead")
	step("0")
	settle("back", 0)
	through("back")

	// The job stops: its heartbeat goes down a period and a grace after
	// its last ping, by the clock as it now is.
	stop()
	stopped := time.Now()
	waitFor(t, 15*time.Second, "the worker's alert after its pings stopped", in.String, func() bool {
		return len(in.find("ops", nightowl.MessageFiring, "worker")) == 1
	})
	t.Logf("the worker was alerted on %s after its last ping (period 2s, grace 1s)", time.Since(stopped).Round(100*time.Millisecond))
	if got := in.find("", nightowl.MessageFiring, ""); len(got) != 1 {
		t.Errorf("firing messages: %s", in)
	}
}
