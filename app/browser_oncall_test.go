package app

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// TestOverrideInBrowser: a responder adds an override on the on-call page,
// which then says the override's user is on call, and removes it again; on
// a desktop's screen and on a phone's, with nothing wider than the screen.
// Then they make their own calendar feed, whose address the page shows
// once and which answers with their shifts.
func TestOverrideInBrowser(t *testing.T) {
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
`)
	a := startApp(t, cfg)
	base := "http://" + a.Addr()
	userToken(t, a, "cy", nightowl.RoleResponder)
	signIn(t, ctx, base, "cy")
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	for _, screen := range []struct {
		name          string
		width, height int64
	}{{"desktop", 1280, 900}, {"phone", 390, 844}} {
		t.Run(screen.name, func(t *testing.T) {
			if err := chromedp.Do(ctx, chromedp.EmulateViewport(screen.width, screen.height)); err != nil {
				t.Fatal(err)
			}
			now := time.Now().In(berlin)
			from, to := now.Add(-time.Hour).Format("2006-01-02T15:04"), now.Add(3*time.Hour).Format("2006-01-02T15:04")
			err := chromedp.Do(ctx,
				chromedp.Navigate(base+"/admin/oncall"),
				chromedp.WaitVisible(css(`[data-testid="no-overrides-primary"]`)),
				chromedp.Click(css(`[data-testid="add-override-primary"]`)),
				chromedp.WaitVisible(css("#o-user-primary")),
				chromedp.SendKeys(css("#o-user-primary"), "cy"),
				chromedp.SetValue(css("#o-from-primary"), from),
				chromedp.SetValue(css("#o-to-primary"), to),
				chromedp.SendKeys(css("#o-reason-primary"), "swap with ana"),
				chromedp.Click(css(`[data-testid="override-submit-primary"]`)),
			)
			if err != nil {
				t.Fatal(err)
			}
			waitLocation(t, ctx, "the override added", func(u string) bool { return strings.Contains(u, "done=override-added") })
			now2, err := chromedp.Run(ctx, chromedp.Text(css(`[data-testid="oncall-now-primary"]`)))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(now2, "cy is on call (override)") {
				t.Errorf("after the override the page says %q", now2)
			}
			row, err := chromedp.Run(ctx, chromedp.Text(css(`[data-testid="overrides-primary"] tbody tr`)))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(row, "cy") || !strings.Contains(row, "swap with ana") {
				t.Errorf("the override's row: %q", row)
			}
			notWider(t, ctx)
			screenshot(t, ctx, dir, "oncall-override-"+screen.name+".png")
			if err := chromedp.Do(ctx, chromedp.Click(css(`[data-testid="overrides-primary"] button[data-testid^="remove-ov-"]`))); err != nil {
				t.Fatal(err)
			}
			waitLocation(t, ctx, "the override removed", func(u string) bool { return strings.Contains(u, "done=override-removed") })
			if err := chromedp.Do(ctx, chromedp.WaitVisible(css(`[data-testid="no-overrides-primary"]`))); err != nil {
				t.Fatal(err)
			}
			if u, _, _ := a.Roster().OnCall(t.Context(), "primary", time.Now()); u == "cy" {
				t.Error("cy is still on call after the removal")
			}
		})
	}
	t.Run("calendar feed", func(t *testing.T) {
		err := chromedp.Do(ctx,
			chromedp.Navigate(base+"/admin/oncall"),
			chromedp.Click(css(`[data-testid="feed-create-user"]`)),
			chromedp.WaitVisible(css(`[data-testid="feed-url"]`)),
		)
		if err != nil {
			t.Fatal(err)
		}
		feed, err := chromedp.Run(ctx, chromedp.Text(css(`[data-testid="feed-url"]`)))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(feed, base+"/calendar/") {
			t.Fatalf("the feed's address: %q", feed)
		}
		notWider(t, ctx)
		resp, err := http.Get(feed)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("the feed: %d", resp.StatusCode)
		}
		// Shown once: the page again has no address, and a revoke button.
		err = chromedp.Do(ctx, chromedp.Navigate(base+"/admin/oncall"), chromedp.WaitVisible(css(`[data-testid="feed-revoke-user"]`)))
		if err != nil {
			t.Fatal(err)
		}
		if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid="feed-url"]').length`)); err != nil || n != 0 {
			t.Errorf("the address is shown again: %d %v", n, err)
		}
	})
}

// notWider fails the test when the page is wider than the screen.
func notWider(t *testing.T, ctx context.Context) {
	t.Helper()
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
