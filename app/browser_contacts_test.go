package app

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/nightowl/nightowl"
)

// TestContactsAndAckOnPhone: on a phone-sized screen a person adds their
// own contact method, enters the code of its test message, adds a rule;
// when the check they are on call for goes down, the page reaches them
// there, and its link acknowledges the alert from the phone.
func TestContactsAndAckOnPhone(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("drives Chromium")
	}
	ctx := chromeTab(t)
	s, down := switchSite(t)
	h := newHook(t)
	cfg := filepath.Join(t.TempDir(), "nightowl.yaml")
	writeConfig(t, cfg, fmt.Sprintf(`server: {public_url: "http://owl.invalid"}
storage: {sqlite: test.db}
defaults: {interval: 1s, timeout: 1s, fail_after: 1}
checks:
  - name: shop
    http: {url: "%s/"}
schedules:
  - name: primary
    layers: [{participants: [ana], start: "2026-01-05 09:00", length: weekly}]
notify:
  contacts:
    hook: {label: Webhook, webhook: {}}
  routes: [{escalation: oncall}]
  escalations:
    oncall: {steps: [{schedule: primary}]}
`, s.URL))
	a := startApp(t, cfg)
	base := "http://" + a.Addr()
	userToken(t, a, "ana", nightowl.RoleResponder)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(3))); err != nil {
		t.Fatal(err)
	}
	fits := func(what string) {
		t.Helper()
		wide, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.scrollWidth + " " + document.documentElement.clientWidth`))
		if err != nil {
			t.Fatal(err)
		}
		var scroll, client int
		fmt.Sscan(wide, &scroll, &client)
		if scroll > client {
			t.Errorf("%s is %dpx wide on a %dpx screen", what, scroll, client)
		}
	}
	signIn(t, ctx, base, "ana")
	address := h.srv.URL + "/a-rather-long-path/that-would-widen/the-page-if-it-did-not-wrap/" + strings.Repeat("x", 40)
	if err := chromedp.Do(ctx,
		chromedp.Click(css("#nav-contacts")),
		chromedp.WaitVisible(css("#add-contact")),
		chromedp.SendKeys(css("#c-address"), address),
		chromedp.SendKeys(css("#c-label"), "phone"),
		chromedp.Click(css("#add-contact-submit")),
		chromedp.WaitVisible(css("#flash")),
	); err != nil {
		t.Fatal(err)
	}
	test := h.last()
	m := verifyCodeRE.FindStringSubmatch(test.Alert.Cause)
	if test.Kind != nightowl.MessageTest || m == nil {
		t.Fatalf("test message: %+v", test)
	}
	id, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('[data-testid^="code-"]').dataset.testid.slice(5)`))
	if err != nil {
		t.Fatal(err)
	}
	fits("the contact methods page")
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(css(`[data-testid="code-`+id+`"]`), m[1]),
		chromedp.Click(css(`[data-testid="verify-`+id+`"]`)),
		chromedp.WaitVisible(css(`[data-testid="verified-`+id+`"]`)),
		chromedp.SetValue(css("#r-after"), "0"),
		chromedp.Click(css("#add-rule-submit")),
		chromedp.WaitVisible(css(`[data-testid="rule-0"]`)),
	); err != nil {
		t.Fatal(err)
	}
	rule, err := chromedp.Run(ctx, chromedp.Text(css(`[data-testid="rule-0"]`)))
	if err != nil || !strings.Contains(rule, "hook (phone), at once") {
		t.Errorf("the rule reads %q (%v)", rule, err)
	}
	fits("the contact methods page with a verified method")

	down.Store(true)
	waitFor(t, "the page", func() bool { return len(h.kinds()) >= 2 })
	page := h.last()
	if page.Kind != nightowl.MessageFiring || strings.Join(page.Alert.OnCall, ",") != "ana (primary)" {
		t.Fatalf("the page: %+v", page)
	}
	link, _ := url.Parse(page.AckURL)
	if err := chromedp.Do(ctx,
		chromedp.Navigate(base+link.Path+"?"+link.RawQuery),
		chromedp.WaitVisible(css("button")),
	); err != nil {
		t.Fatal(err)
	}
	fits("the acknowledgement page")
	box, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(b => b.width + " " + b.height)(document.querySelector('button').getBoundingClientRect())`))
	if err != nil {
		t.Fatal(err)
	}
	var w, hgt float64
	fmt.Sscan(box, &w, &hgt)
	if w < 300 || hgt < 44 {
		t.Errorf("the button is %.0f×%.0f px: too small a target for a thumb", w, hgt)
	}
	if err := chromedp.Do(ctx, chromedp.Click(css("button")), chromedp.WaitVisible(css(`[role="status"]`))); err != nil {
		t.Fatal(err)
	}
	done, err := chromedp.Run(ctx, chromedp.Text(css(`[role="status"]`)))
	if err != nil || !strings.HasPrefix(done, "Acknowledged") {
		t.Errorf("after the button: %q (%v)", done, err)
	}
	waitFor(t, "the acknowledgement message", func() bool { return len(h.kinds()) >= 3 })
	if m := h.last(); m.Kind != nightowl.MessageAcknowledged {
		t.Errorf("then: %+v", m)
	}
	screenshot(t, ctx, t.TempDir(), "ack-phone.png")
}
