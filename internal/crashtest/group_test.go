package crashtest

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
)

// TestThirtyAlertsOnePage, through the real binary: thirty checks of one
// site, on a route that groups by site, go down together: one message,
// listing them all; five recover: one update; the rest recover: one
// resolution.
func TestThirtyAlertsOnePage(t *testing.T) {
	s, in := newSite(t), newInbox(t)
	var webs []string
	var b strings.Builder
	fmt.Fprintf(&b, "defaults: {interval: 500ms, timeout: 400ms, fail_after: 1, recover_after: 1}\nchecks:\n")
	for i := 1; i <= 30; i++ {
		w := fmt.Sprintf("web-%02d", i)
		webs = append(webs, w)
		fmt.Fprintf(&b, "  - name: %s\n    labels: {site: math}\n    http: {url: %q}\n", w, s.url(w))
	}
	b.WriteString(opsNotify(in, "group_by: [site], group_wait: 2s, group_interval: 2s"))
	srv := newServer(t, filepath.Join(t.TempDir(), "nightowl.db"), b.String())
	srv.start()
	srv.waitAllUp(len(webs))

	for _, w := range webs {
		s.set(w, true)
	}
	waitFor(t, 30*time.Second, "the group's page", in.String, func() bool {
		return len(in.find("ops", nightowl.MessageFiring, "")) > 0
	})
	// Anything else would come within the group's wait.
	time.Sleep(3 * time.Second)
	firing := in.find("ops", nightowl.MessageFiring, "")
	if len(firing) != 1 || len(firing[0].alert.Grouped) != 29 || firing[0].alert.Group == "" {
		t.Fatalf("pages for thirty checks down: want one listing the other 29; %s", in)
	}
	if code, body := srv.call("GET", "/metrics", nil); code != 200 || !strings.Contains(string(body), `nightowl_pages_saved_total{reason="grouped"} 29`) {
		t.Errorf("/metrics (%d) does not count the 29 pages the group saved", code)
	}
	for _, w := range webs[25:] {
		s.set(w, false)
	}
	waitFor(t, 30*time.Second, "one update for the five that recovered", in.String, func() bool {
		for _, m := range in.find("ops", nightowl.MessageUpdate, "") {
			if len(m.alert.Grouped) == 24 {
				return true
			}
		}
		return false
	})
	if n := len(in.find("ops", nightowl.MessageUpdate, "")); n != 1 {
		t.Errorf("%d updates for five recoveries, want one; %s", n, in)
	}
	for _, w := range webs[:25] {
		s.set(w, false)
	}
	waitFor(t, 30*time.Second, "the group resolved", in.String, func() bool {
		return len(in.find("ops", nightowl.MessageResolved, "")) == 1
	})
	time.Sleep(time.Second)
	if n := len(in.find("", nightowl.MessageFiring, "")); n != 1 {
		t.Errorf("%d pages in all, want one; %s", n, in)
	}
	if r := in.find("ops", nightowl.MessageResolved, ""); len(r) != 1 || r[0].alert.Group != firing[0].alert.Group {
		t.Errorf("resolutions: %s", in)
	}
}
