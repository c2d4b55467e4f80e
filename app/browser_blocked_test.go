package app

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/nightowl/nightowl"
)

// TestBlockedInBrowser: with the router down and the three sites behind
// it failing, the dashboard shows the router first, in red, with the
// three blocked checks folded under it, each naming it; the status page
// shows the website as affected by the network.
func TestBlockedInBrowser(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("drives Chromium")
	}
	ctx := chromeTab(t)
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
	}))
	t.Cleanup(failing.Close)
	// A port where nothing listens: the router is down.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	router := l.Addr().String()
	l.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "nightowl.yaml")
	writeConfig(t, cfg, fmt.Sprintf(`storage: {sqlite: test.db}
defaults: {interval: 1s, timeout: 1s, fail_after: 1}
checks:
  - {name: router, labels: {tier: net}, tcp: {addr: %[2]q}}
  - {name: shop, labels: {tier: web}, http: {url: "%[1]s/"}, depends_on: [router]}
  - {name: cart, labels: {tier: web}, http: {url: "%[1]s/cart"}, depends_on: [router]}
  - {name: search, labels: {tier: web}, http: {url: "%[1]s/search"}, depends_on: [router]}
components:
  - {name: Website, checks: {labels: {tier: web}}}
  - {name: Network, checks: {labels: {tier: net}}}
`, failing.URL, router))
	a := startApp(t, cfg)
	base := "http://" + a.Addr()
	userToken(t, a, "ana", nightowl.RoleViewer)
	waitFor(t, "three checks blocked by the router", func() bool {
		n := 0
		for _, v := range a.Checks() {
			if v.State.Status == nightowl.StatusBlocked && v.State.BlockedBy == "router" {
				n++
			}
		}
		return n == 3
	})

	signIn(t, ctx, base, "ana")
	var rows []string
	for i := 1; i <= 4; i++ {
		row := fmt.Sprintf("#checks tbody tr:nth-child(%d)", i)
		name, err := chromedp.Run(ctx, chromedp.AttributeValue(css(row), "data-testid"))
		if err != nil {
			t.Fatal(err)
		}
		status, err := chromedp.Run(ctx, chromedp.AttributeValue(css(row), "data-status"))
		if err != nil {
			t.Fatal(err)
		}
		by, _ := chromedp.Run(ctx, chromedp.AttributeValue(css(row), "data-blocked-by"))
		rows = append(rows, strings.TrimPrefix(name.Value, "check-")+" "+status.Value+" "+by.Value)
	}
	if rows[0] != "router down " || !strings.HasSuffix(rows[1], " blocked router") || !strings.HasSuffix(rows[3], " blocked router") {
		t.Errorf("dashboard rows: %q; want the router down first, the three blocked by it under it", rows)
	}
	box, err := chromedp.Run(ctx, chromedp.Text(css(`[data-testid="blocked-under-router"] summary`)))
	if err != nil {
		t.Fatal(err)
	}
	if box != "3 checks are blocked by it" {
		t.Errorf("the red box says %q under the router", box)
	}

	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/"), chromedp.WaitVisible(css("main"))); err != nil {
		t.Fatal(err)
	}
	affected, err := chromedp.Run(ctx, chromedp.Text(css(`[data-testid="affected-by"]`)))
	if err != nil {
		t.Fatal(err)
	}
	if affected != "Affected by Network" {
		t.Errorf("the status page says %q of the website", affected)
	}
}
