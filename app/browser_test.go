package app

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/nightowl/nightowl"
)

// chromium finds Debian's Chromium, which scripts/test installs.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	skipUnlessCI(t, "no Chromium; scripts/test installs it")
	t.Fatal("no Chromium, and CI must run the browser tests: install the chromium package")
	return ""
}

// chromeTab starts a headless Chromium for the test and returns a context
// that drives one tab of it, for at most 90 seconds.
func chromeTab(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox, // CI runs as root
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	tab, cancelTab := chromedp.NewContext(actx)
	// The first action starts the browser, which lives as long as the
	// context of that call: no timeout on it, but on what follows.
	if err := chromedp.Do(tab, chromedp.Navigate("about:blank")); err != nil {
		cancelTab()
		cancelAlloc()
		t.Fatalf("start Chromium: %v", err)
	}
	ctx, cancelTime := context.WithTimeout(tab, 90*time.Second)
	t.Cleanup(func() { cancelTime(); cancelTab(); cancelAlloc() })
	return ctx
}

// css is a CSS selector for chromedp, which takes a plain string as a
// text search.
func css(s string) chromedp.CSS { return chromedp.CSS(s) }

// screenshot saves a full-page screenshot in the test's directory, and in
// $NIGHTOWL_SCREENSHOTS when set (which is how the README's are made).
func screenshot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	for _, d := range []string{dir, os.Getenv("NIGHTOWL_SCREENSHOTS")} {
		if d == "" {
			continue
		}
		if err := os.WriteFile(filepath.Join(d, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("screenshot %s (%d bytes)", filepath.Join(dir, name), len(png))
}

func signIn(t *testing.T, ctx context.Context, base, name string) {
	t.Helper()
	err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(css("#login")),
		chromedp.SendKeys(css("#name"), name),
		chromedp.SendKeys(css("#password"), "correct horse battery staple"),
		chromedp.Click(css("#login-submit")),
		chromedp.WaitVisible(css("#checks")),
	)
	if err != nil {
		t.Fatalf("sign in as %s: %v", name, err)
	}
}

// waitLocation waits until the tab's URL satisfies ok: after a form is
// submitted, until its redirect has landed.
func waitLocation(t *testing.T, ctx context.Context, what string, ok func(string) bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	last := ""
	for time.Now().Before(deadline) {
		if u, err := chromedp.Run(ctx, chromedp.Location()); err == nil {
			last = u
			if ok(u) {
				if err := chromedp.Do(ctx, chromedp.WaitReady(css("body"))); err == nil {
					return
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s; at %s", what, last)
}

// TestInBrowser drives the dashboard and the status page in a real headless
// Chromium: sign in; the failing check is at the top; acknowledge its
// alert; open an incident and post a public update; the public page and
// summary.json show it; a viewer cannot acknowledge.
func TestInBrowser(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("drives Chromium")
	}
	ctx := chromeTab(t)
	shots := t.TempDir()

	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
	}))
	t.Cleanup(failing.Close)
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }))
	t.Cleanup(ok.Close)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "nightowl.yaml")
	writeConfig(t, cfg, fmt.Sprintf(`server: {title: Example Status}
storage: {sqlite: test.db}
defaults: {interval: 1s, timeout: 1s, fail_after: 1}
checks:
  - {name: checkout, labels: {tier: web}, http: {url: "%[1]s/"}}
  - {name: payments, labels: {tier: web}, http: {url: "%[1]s/pay"}}
  - {name: home, labels: {tier: web}, http: {url: "%[2]s/"}}
  - {name: search, labels: {tier: web}, http: {url: "%[2]s/search"}}
  - {name: orders-db, labels: {tier: db}, tcp: {addr: "%[3]s"}}
components:
  - {name: Website, checks: {labels: {tier: web}}}
  - {name: Database, checks: {labels: {tier: db}}}
`, failing.URL, ok.URL, strings.TrimPrefix(ok.URL, "http://")))
	a := startApp(t, cfg)
	base := "http://" + a.Addr()
	userToken(t, a, "ana", nightowl.RoleResponder)
	userToken(t, a, "vic", nightowl.RoleViewer)
	var alertID, otherID string
	waitFor(t, "the alerts of checkout and payments", func() bool {
		for _, al := range a.Alerts().Open() {
			switch al.Check {
			case "checkout":
				alertID = al.ID
			case "payments":
				otherID = al.ID
			}
		}
		return alertID != "" && otherID != ""
	})
	waitFor(t, "every check to have run", func() bool {
		for _, v := range a.Checks() {
			if v.Last == nil {
				return false
			}
		}
		return true
	})

	// Sign in; the failing checks are at the top, and the title counts them.
	signIn(t, ctx, base, "ana")
	title, err := chromedp.Run(ctx, chromedp.Title())
	if err != nil {
		t.Fatal(err)
	}
	first, err := chromedp.Run(ctx, chromedp.AttributeValue(css("#checks tbody tr:first-child"), "data-status"))
	if err != nil {
		t.Fatal(err)
	}
	second, err := chromedp.Run(ctx, chromedp.AttributeValue(css("#checks tbody tr:nth-child(2)"), "data-status"))
	if err != nil {
		t.Fatal(err)
	}
	last, err := chromedp.Run(ctx, chromedp.AttributeValue(css("#checks tbody tr:last-child"), "data-status"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(title, "(2 down)") || first.Value != "down" || second.Value != "down" || last.Value != "up" {
		t.Fatalf("dashboard: title %q, rows %s, %s … %s", title, first.Value, second.Value, last.Value)
	}
	screenshot(t, ctx, shots, "dashboard.png")

	// Acknowledge checkout's alert.
	err = chromedp.Do(ctx,
		chromedp.Navigate(base+"/admin/alerts"),
		chromedp.WaitVisible(css(`[data-testid="ack-`+alertID+`"]`)),
		chromedp.Click(css(`[data-testid="ack-`+alertID+`"]`)),
		chromedp.WaitVisible(css(`[data-testid="alert-`+alertID+`"][data-state="acknowledged"]`)),
	)
	if err != nil {
		t.Fatalf("acknowledge in the browser: %v", err)
	}
	if al, err := a.store.Alert(context.Background(), alertID); err != nil || al.AckedBy != "ana" {
		t.Fatalf("stored alert after the browser acknowledged it: %+v %v", al, err)
	}

	// Open an incident, then post a public update.
	err = chromedp.Do(ctx,
		chromedp.Navigate(base+"/admin/incidents"),
		chromedp.WaitVisible(css("#open-incident")),
		chromedp.SendKeys(css("#i-title"), "Checkout is failing"),
		chromedp.SetValue(css("#i-impact"), "major"),
		chromedp.SendKeys(css("#i-message"), "We are looking into failed checkouts."),
		chromedp.Click(css(`#open-incident input[name="components"][value="Website"]`)),
		chromedp.Click(css("#open-incident-submit")),
	)
	if err != nil {
		t.Fatalf("open an incident in the browser: %v", err)
	}
	waitLocation(t, ctx, "the incident's page", func(u string) bool { return strings.Contains(u, "/admin/incidents/inc-") })
	err = chromedp.Do(ctx,
		chromedp.WaitVisible(css("#update-incident")),
		chromedp.SetValue(css("#u-state"), "identified"),
		chromedp.SendKeys(css("#u-message"), "A bad deploy broke the payment form; rolling back."),
		chromedp.Click(css("#u-public")),
		chromedp.Click(css("#update-incident-submit")),
	)
	if err != nil {
		t.Fatalf("post an update in the browser: %v", err)
	}
	waitLocation(t, ctx, "the update posted", func(u string) bool {
		return strings.Contains(u, "/admin/incidents/inc-") && strings.Contains(u, "done=incident-saved")
	})

	// The public page and summary.json show it. Rollups reach the store
	// once a minute; flushing now puts today's on the uptime bars.
	if err := a.store.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/"), chromedp.WaitVisible(css("main"))); err != nil {
		t.Fatal(err)
	}
	page, err := chromedp.Run(ctx, chromedp.Text(css("main")))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Checkout is failing", "A bad deploy broke the payment form; rolling back.", "Website", "Database"} {
		if !strings.Contains(page, want) {
			t.Errorf("the status page lacks %q:\n%s", want, page)
		}
	}
	screenshot(t, ctx, shots, "status.png")
	resp, err := http.Get(base + "/api/v2/summary.json")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `"name": "Checkout is failing"`) || !strings.Contains(string(body), "rolling back") {
		t.Errorf("summary.json lacks the incident:\n%s", body)
	}

	// A viewer sees the firing alert but cannot acknowledge it.
	err = chromedp.Do(ctx,
		chromedp.Navigate(base+"/admin"),
		chromedp.WaitVisible(css("#logout")),
		chromedp.Click(css("#logout")),
		chromedp.WaitVisible(css("#login")),
	)
	if err != nil {
		t.Fatalf("sign out: %v", err)
	}
	signIn(t, ctx, base, "vic")
	err = chromedp.Do(ctx,
		chromedp.Navigate(base+"/admin/alerts"),
		chromedp.WaitVisible(css(`[data-testid="alert-`+otherID+`"][data-state="firing"]`)),
	)
	if err != nil {
		t.Fatalf("viewer's alerts page: %v", err)
	}
	buttons, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid^="ack-"]').length`))
	if err != nil || buttons != 0 {
		t.Fatalf("viewer's alerts page: %v, %d acknowledge buttons", err, buttons)
	}
}

// TestActionsInBrowser drives a guarded action through its pages in a
// real headless Chromium: ana requests it through the form, whose word the
// server refuses until it matches the pattern; her request's page offers her no approval,
// and a forged one is refused on the page; bo sees the request pending,
// reads exactly the argv it will run, and approves; ana runs it and reads
// its output.
func TestActionsInBrowser(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("drives Chromium")
	}
	ctx := chromeTab(t)
	s := site(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "nightowl.yaml")
	writeConfig(t, cfg, fmt.Sprintf(checksYAML, s.URL)+actionsYAML)
	a := startApp(t, cfg)
	base := "http://" + a.Addr()
	userToken(t, a, "ana", nightowl.RoleResponder)
	userToken(t, a, "bo", nightowl.RoleResponder)
	signOut := func() {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Click(css("#logout")), chromedp.WaitVisible(css("#login"))); err != nil {
			t.Fatalf("sign out: %v", err)
		}
	}

	// ana requests it; the server refuses a word the pattern refuses,
	// and the form comes back saying why, with what she typed.
	signIn(t, ctx, base, "ana")
	// Approving and running ask for a recent second factor: enrolling
	// one gives it.
	anaKey, _ := chromeEnrol(t, ctx, base)
	err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/admin/actions"),
		chromedp.WaitVisible(css("#request-say")),
		chromedp.SendKeys(css("#p-say-word"), "Hello world"),
		chromedp.SendKeys(css("#request-say-reason"), "to see the buddy system work"),
		chromedp.SendKeys(css("#confirm-say"), "Hello world"),
		chromedp.Click(css("#request-say-submit")),
		chromedp.WaitVisible(css("#error")),
	)
	if err != nil {
		t.Fatalf("the actions page: %v", err)
	}
	refusal, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#error").textContent + " | " +
		document.querySelector("#p-say-word").value + " | " + document.querySelector("#request-say-reason").value`))
	if err != nil || !strings.Contains(refusal, "does not match") || !strings.Contains(refusal, "| Hello world | to see the buddy system work") {
		t.Fatalf("the server took a word its pattern refuses, or did not say so on the form: %q %v", refusal, err)
	}
	err = chromedp.Do(ctx,
		chromedp.Evaluate[chromedp.Void](`document.querySelector("#p-say-word").value = ""`),
		chromedp.SendKeys(css("#p-say-word"), "hello"),
		chromedp.SendKeys(css("#confirm-say"), "hello"),
		chromedp.Click(css("#request-say-submit")),
	)
	if err != nil {
		t.Fatalf("request in the browser: %v", err)
	}
	waitLocation(t, ctx, "the request's page", func(u string) bool { return strings.Contains(u, "/admin/actions/requests/r-") })
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	path, _, _ := strings.Cut(strings.TrimPrefix(loc, base), "?")
	id := strings.TrimPrefix(path, "/admin/actions/requests/")

	// No approve button for her; a form she forges is refused, and the
	// page says why.
	if err := chromedp.Do(ctx, chromedp.WaitVisible(css(`#request[data-state="pending"]`))); err != nil {
		t.Fatalf("ana's request page: %v", err)
	}
	buttons, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid^="approve-"]').length`))
	if err != nil || buttons != 0 {
		t.Fatalf("ana's own request: %v, %d approve buttons", err, buttons)
	}
	err = chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`(() => {
		const f = document.createElement("form");
		f.method = "post";
		f.action = location.pathname + "/approve";
		const c = document.createElement("input");
		c.type = "hidden"; c.name = "csrf"; c.value = document.querySelector('input[name="csrf"]').value;
		f.append(c);
		document.body.append(f);
		f.submit();
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	waitLocation(t, ctx, "the forged approval's answer", func(u string) bool { return strings.HasSuffix(u, path+"/approve") })
	if err := chromedp.Do(ctx, chromedp.WaitVisible(css(`#error`)), chromedp.WaitVisible(css(`#request[data-state="pending"]`))); err != nil {
		t.Fatalf("after a forged self-approval: %v", err)
	}
	if msg, err := chromedp.Run(ctx, chromedp.Text(css("#error"))); err != nil || !strings.Contains(msg, "someone else must approve it") {
		t.Fatalf("a forged self-approval says %q (%v)", msg, err)
	}

	// bo finds it pending, reads exactly what it runs, and approves.
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/admin/actions"), chromedp.WaitVisible(css("#logout"))); err != nil {
		t.Fatal(err)
	}
	signOut()
	signIn(t, ctx, base, "bo")
	chromeEnrol(t, ctx, base)
	row := `[data-testid="request-` + id + `"]`
	err = chromedp.Do(ctx,
		chromedp.Navigate(base+"/admin/actions"),
		chromedp.WaitVisible(css(row+`[data-state="pending"]`)),
	)
	if err != nil {
		t.Fatalf("bo's actions page: %v", err)
	}
	shots := t.TempDir()
	screenshot(t, ctx, shots, "actions.png")
	err = chromedp.Do(ctx,
		chromedp.Click(css(row+" a")),
		chromedp.WaitVisible(css(`[data-testid="approve-`+id+`"]`)),
	)
	if err != nil {
		t.Fatalf("bo opens the pending request: %v", err)
	}
	argv, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#plan ol.argv code")].map(c => c.textContent)`))
	if err != nil || strings.Join(argv, "|") != "/bin/echo|hello" {
		t.Fatalf("the plan bo approves: %q %v", argv, err)
	}
	screenshot(t, ctx, shots, "action-request.png")
	err = chromedp.Do(ctx,
		chromedp.Click(css(`[data-testid="approve-`+id+`"]`)),
		chromedp.WaitVisible(css(`#request[data-state="approved"]`)),
	)
	if err != nil {
		t.Fatalf("bo approves: %v", err)
	}

	// ana runs it and reads the output, signed in with her code.
	signOut()
	chromeSignInWithCode(t, ctx, base, "ana", nextCode(anaKey))
	err = chromedp.Do(ctx,
		chromedp.Navigate(base+path),
		chromedp.Click(css(`[data-testid="run-`+id+`"]`)),
		chromedp.WaitVisible(css(`#request[data-state="succeeded"]`)),
	)
	if err != nil {
		t.Fatalf("ana runs it: %v", err)
	}
	if out, err := chromedp.Run(ctx, chromedp.Text(css("#output"))); err != nil || strings.TrimSpace(out) != "hello" {
		t.Fatalf("the output shown: %q %v", out, err)
	}
}
