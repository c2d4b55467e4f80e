package crashtest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
)

// TestFlappingCheck, through the real binary: a site that fails every
// other request, checked every 500ms, for ten seconds. Nobody is paged
// for each change: its first alerts resolve within the route's
// group_wait and are told to nobody, and once it has changed more than
// flap.changes times it is flapping, with one page that says so. When it
// steadies, it settles after a quiet flap.window, and the resolution is
// the second and last message.
func TestFlappingCheck(t *testing.T) {
	in := newInbox(t)
	var hits atomic.Int64
	var steady atomic.Bool
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1)%2 == 0 && !steady.Load() {
			http.Error(w, "down on purpose", http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(site.Close)
	var b strings.Builder
	fmt.Fprintf(&b, "defaults: {interval: 500ms, timeout: 400ms, fail_after: 1, recover_after: 1}\nchecks:\n")
	fmt.Fprintf(&b, "  - name: flappy\n    http: {url: %q}\n    flap: {changes: 3, window: 3s}\n", site.URL)
	b.WriteString(opsNotify(in, "group_wait: 2s"))
	srv := newServer(t, filepath.Join(t.TempDir(), "nightowl.db"), b.String())
	srv.start()

	waitFor(t, 20*time.Second, "flappy flapping", srv.tail, func() bool {
		return srv.checks()["flappy"].Status == nightowl.StatusFlapping
	})
	flapping := time.Now()
	c := srv.checks()["flappy"]
	if !strings.HasPrefix(c.Cause, "flapping: ") {
		t.Errorf("flappy's cause while flapping: %q", c.Cause)
	}
	// Ten seconds more of a change at every run.
	time.Sleep(10 * time.Second)
	if c := srv.checks()["flappy"]; c.Status != nightowl.StatusFlapping {
		t.Errorf("after ten seconds more of changes flappy is %s", c.Status)
	}
	steady.Store(true)
	waitFor(t, 20*time.Second, "flappy settled and its alert resolved", in.String, func() bool {
		return len(in.find("ops", nightowl.MessageResolved, "flappy")) == 1
	})
	if c := srv.checks()["flappy"]; c.Status != nightowl.StatusUp {
		t.Errorf("flappy after it steadied: %s (%s)", c.Status, c.Cause)
	}
	firing := in.find("ops", nightowl.MessageFiring, "flappy")
	if len(firing) != 1 || firing[0].alert.Status != nightowl.StatusFlapping || !strings.HasPrefix(firing[0].alert.Cause, "flapping: ") {
		t.Errorf("pages about flappy: want one, saying it is flapping; %s", in)
	}
	in.mu.Lock()
	n := len(in.msgs)
	in.mu.Unlock()
	if n != 2 {
		t.Errorf("%d messages in %s of flapping, want two (flapping, and settled); %s", n, time.Since(flapping).Round(time.Second), in)
	}
	if firing := in.find("ops", nightowl.MessageFiring, "flappy"); len(firing) == 1 {
		t.Logf("paged %s after it was seen flapping: %s", firing[0].at.Sub(flapping).Round(time.Millisecond), firing[0].alert.Cause)
	}
}
