package app

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/nightowl/nightowl"
)

// TestOncallInBrowser: the on-call page, on a phone-sized screen, says who
// is on call now and lists the shifts ahead, with nothing wider than the
// screen.
func TestOncallInBrowser(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("drives Chromium")
	}
	ctx := chromeTab(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "nightowl.yaml")
	writeConfig(t, cfg, `storage: {sqlite: test.db}
schedules:
  - name: primary
    timezone: Europe/Berlin
    layers:
      - {name: weekly, participants: [ana, bo], start: "2020-01-06 09:00", length: weekly}
      - name: nights
        participants: [cy]
        start: "2020-01-06 00:00"
        length: daily
        restrictions: [{days: [mon, tue, wed, thu, fri, sat, sun], from: "22:00", to: "06:00"}]
`)
	a := startApp(t, cfg)
	base := "http://" + a.Addr()
	userToken(t, a, "vic", nightowl.RoleViewer)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(3))); err != nil {
		t.Fatal(err)
	}
	signIn(t, ctx, base, "vic")
	if err := chromedp.Do(ctx, chromedp.Click(css("#nav-oncall")), chromedp.WaitVisible(css(`[data-testid="schedule-primary"]`))); err != nil {
		t.Fatal(err)
	}
	now, err := chromedp.Run(ctx, chromedp.Text(css(`[data-testid="oncall-now-primary"]`)))
	if err != nil {
		t.Fatal(err)
	}
	user, _ := a.Config().Schedules[0].At(a.opts.Clock.Now())
	if !strings.HasPrefix(now, user+" is on call") {
		t.Errorf("the page says %q; the schedule says %s", now, user)
	}
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid="schedule-primary"] tbody tr').length`))
	if err != nil {
		t.Fatal(err)
	}
	// Two weeks of a day shift and a night shift each day.
	if rows < 27 || rows > 31 {
		t.Errorf("%d shifts listed for two weeks, want about 28", rows)
	}
	wide, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.scrollWidth + " " + document.documentElement.clientWidth`))
	if err != nil {
		t.Fatal(err)
	}
	var scroll, client int
	fmt.Sscan(wide, &scroll, &client)
	if scroll > client {
		t.Errorf("the page is %dpx wide on a %dpx screen", scroll, client)
	}
}
