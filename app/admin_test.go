package app

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/nightowl/nightowl"
)

// browser is a client that keeps cookies, as a browser does, and shows
// redirects rather than following them.
type browser struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newBrowser(t *testing.T, base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: base, c: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browser) do(method, path string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, b.base+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp, string(out)
}

func (b *browser) get(path string) (*http.Response, string) { return b.do("GET", path, nil) }

func (b *browser) post(path string, form url.Values) (*http.Response, string) {
	return b.do("POST", path, form)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrfIn returns the CSRF token a page's forms carry.
func csrfIn(t *testing.T, page string) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token in the page:\n%s", page)
	}
	return m[1]
}

// signIn signs in through the form, as a person does.
func (b *browser) signIn(name string) {
	b.t.Helper()
	_, page := b.get("/login")
	resp, body := b.post("/login", url.Values{"csrf": {csrfIn(b.t, page)}, "name": {name}, "password": {"correct horse battery staple"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/admin" {
		b.t.Fatalf("sign in as %s: %d to %q\n%s", name, resp.StatusCode, resp.Header.Get("Location"), body)
	}
}

func wantRedirect(t *testing.T, resp *http.Response, body, prefix string) {
	t.Helper()
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), prefix) {
		t.Fatalf("%d to %q, want 303 to %s...\n%s", resp.StatusCode, resp.Header.Get("Location"), prefix, body)
	}
}

// TestAdminDashboard drives the admin dashboard over real HTTP, as a
// browser without scripts would: signing in through the form, the checks
// worst first with the down count in the title, a check's charts,
// acknowledging an alert, what a viewer may not do, forms without their
// CSRF token, the users page, and signing out.
func TestAdminDashboard(t *testing.T) {
	t.Parallel()
	s := site(t)
	h := newHook(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "nightowl.yaml")
	writeConfig(t, cfg, fmt.Sprintf(checksYAML, s.URL)+fmt.Sprintf(`components:
  - {name: Website, checks: {names: [web-ok, web-ro, web-503]}}
notify:
  receivers:
    ops: [{webhook: {url: "%s/hook"}}]
  routes: [{escalation: ops}]
  escalations:
    ops: {steps: [{notify: ops}]}
`, h.srv.URL))
	a := startApp(t, cfg)
	admin := adminToken(t, a)
	base := "http://" + a.Addr()
	userToken(t, a, "ana", nightowl.RoleResponder)
	userToken(t, a, "vic", nightowl.RoleViewer)

	// Both failing checks open an alert.
	var alerts struct{ Alerts []nightowl.Alert }
	waitFor(t, "an alert for each failing check", func() bool {
		getJSON(t, admin, "GET", base+"/api/v1/alerts?state=open", &alerts)
		return len(alerts.Alerts) == 2
	})
	ids := map[string]string{}
	for _, al := range alerts.Alerts {
		ids[al.Check] = al.ID
	}

	ana := newBrowser(t, base)
	t.Run("sign in", func(t *testing.T) {
		resp, body := ana.get("/admin/alerts")
		wantRedirect(t, resp, body, "/login?next=%2Fadmin%2Falerts")
		resp, page := ana.get(resp.Header.Get("Location"))
		if resp.StatusCode != 200 || !strings.Contains(page, `name="next" value="/admin/alerts"`) ||
			!strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'self'") {
			t.Fatalf("sign-in page: %d %v\n%s", resp.StatusCode, resp.Header, page)
		}
		token := csrfIn(t, page)
		form := url.Values{"name": {"ana"}, "password": {"correct horse battery staple"}, "next": {"/admin/alerts"}}

		// A form posted from elsewhere lacks the cookie or the field.
		if resp, body := newBrowser(t, base).post("/login", url.Values{"csrf": {token}, "name": form["name"], "password": form["password"]}); resp.StatusCode != 403 ||
			!strings.Contains(body, "expired") || strings.Contains(body, "nightowl_session") {
			t.Fatalf("sign-in without the form's cookie: %d\n%s", resp.StatusCode, body)
		}
		if resp, body := ana.post("/login", form); resp.StatusCode != 403 {
			t.Fatalf("sign-in without the form's field: %d\n%s", resp.StatusCode, body)
		}
		_, page = ana.get("/login")
		wrong := url.Values{"csrf": {csrfIn(t, page)}, "name": {"ana"}, "password": {"not the password at all"}}
		if resp, body := ana.post("/login", wrong); resp.StatusCode != 401 || !strings.Contains(body, "Wrong name or password") ||
			!strings.Contains(body, `value="ana"`) {
			t.Fatalf("wrong password: %d\n%s", resp.StatusCode, body)
		}
		_, page = ana.get("/login")
		form.Set("csrf", csrfIn(t, page))
		form.Set("next", "https://evil.example/admin")
		resp, body = ana.post("/login", form)
		wantRedirect(t, resp, body, "/admin")
		if loc := resp.Header.Get("Location"); loc != "/admin" {
			t.Errorf("sign-in went on to %q, want /admin rather than another site", loc)
		}
		// Signed in, the sign-in page sends people on.
		resp, body = ana.get("/login?next=/admin/alerts")
		wantRedirect(t, resp, body, "/admin/alerts")
	})

	t.Run("checks worst first", func(t *testing.T) {
		var page string
		waitFor(t, "both failing checks down on the dashboard", func() bool {
			_, page = ana.get("/admin")
			return strings.Contains(page, "<title>(2 down) nightowl</title>")
		})
		ro, fivexx, ok := strings.Index(page, `data-testid="check-web-ro"`), strings.Index(page, `data-testid="check-web-503"`), strings.Index(page, `data-testid="check-web-ok"`)
		if ro < 0 || fivexx < 0 || ok < 0 || ro > ok || fivexx > ok {
			t.Errorf("not worst first: web-503 at %d, web-ro at %d, web-ok at %d", fivexx, ro, ok)
		}
		for _, want := range []string{`id="checks"`, `class="check status-down"`, `href="/admin/checks/web-ro"`,
			"2 alerts open (2 unacknowledged)", `<script src="/static/admin.js" defer></script>`, `http-equiv="refresh"`, `role="alert"`} {
			if !strings.Contains(page, want) {
				t.Errorf("the dashboard lacks %s", want)
			}
		}
		var live struct {
			Title, Summary, Rows string
			Down                 int
		}
		resp, body := ana.get("/admin/live")
		if err := json.Unmarshal([]byte(body), &live); err != nil || resp.StatusCode != 200 {
			t.Fatalf("live: %d %v\n%s", resp.StatusCode, err, body)
		}
		if live.Down != 2 || live.Title != "(2 down) nightowl" || !strings.Contains(live.Rows, `class="check status-down"`) {
			t.Errorf("live: %+v", live)
		}
		for _, path := range []string{"/static/admin.js", "/static/admin.css"} {
			if resp, _ := ana.get(path); resp.StatusCode != 200 {
				t.Errorf("%s: %d", path, resp.StatusCode)
			}
		}
	})

	t.Run("check page", func(t *testing.T) {
		resp, page := ana.get("/admin/checks/web-ro")
		if resp.StatusCode != 200 {
			t.Fatalf("check page: %d\n%s", resp.StatusCode, page)
		}
		for _, want := range []string{`<svg id="latency-chart"`, `<polyline class="line" points="`, `<svg id="uptime-chart"`,
			`<rect class="day `, `data-testid="assertion-writable"`, "fails", `<code>status</code>`, "read-only mode", `id="results"`,
			`data-testid="ack-` + ids["web-ro"] + `"`} {
			if !strings.Contains(page, want) {
				t.Errorf("the check page lacks %s", want)
			}
		}
		if resp, _ := ana.get("/admin/checks/nosuch"); resp.StatusCode != 404 {
			t.Errorf("unknown check: %d", resp.StatusCode)
		}
	})

	t.Run("acknowledge", func(t *testing.T) {
		_, page := ana.get("/admin/alerts")
		id := ids["web-503"]
		if !strings.Contains(page, `data-testid="ack-`+id+`"`) {
			t.Fatalf("no acknowledge button for %s:\n%s", id, page)
		}
		if resp, body := ana.post("/admin/alerts/"+id+"/ack", url.Values{}); resp.StatusCode != 403 || !strings.Contains(body, "CSRF") {
			t.Fatalf("acknowledging without the CSRF token: %d %s", resp.StatusCode, body)
		}
		if resp, _ := ana.post("/admin/alerts/"+id+"/ack", url.Values{"csrf": {"forged"}}); resp.StatusCode != 403 {
			t.Fatalf("acknowledging with a forged token: %d", resp.StatusCode)
		}
		resp, body := ana.post("/admin/alerts/"+id+"/ack", url.Values{"csrf": {csrfIn(t, page)}, "back": {"/admin/alerts"}})
		wantRedirect(t, resp, body, "/admin/alerts?")
		_, page = ana.get(resp.Header.Get("Location"))
		if !strings.Contains(page, "Acknowledged alert "+id+".") || !strings.Contains(page, `data-testid="alert-`+id+`" data-state="acknowledged"`) ||
			strings.Contains(page, `data-testid="ack-`+id+`"`) {
			t.Errorf("after acknowledging:\n%s", page)
		}
		var one struct{ Alert nightowl.Alert }
		getJSON(t, admin, "GET", base+"/api/v1/alerts/"+id, &one)
		if one.Alert.State != nightowl.AlertAcknowledged || one.Alert.AckedBy != "ana" {
			t.Errorf("alert after the form: %+v", one.Alert)
		}
	})

	vic := newBrowser(t, base)
	vic.signIn("vic")
	t.Run("a viewer reads but does not act", func(t *testing.T) {
		_, page := vic.get("/admin/alerts")
		if !strings.Contains(page, `data-testid="alert-`+ids["web-ro"]+`"`) || strings.Contains(page, `data-testid="ack-`) ||
			strings.Contains(page, `id="start-maintenance"`) {
			t.Fatalf("a viewer's alerts page:\n%s", page)
		}
		resp, body := vic.post("/admin/alerts/"+ids["web-ro"]+"/ack", url.Values{"csrf": {csrfIn(t, page)}})
		if resp.StatusCode != 403 || !strings.Contains(body, "responder") {
			t.Fatalf("a viewer acknowledging: %d %s", resp.StatusCode, body)
		}
		if resp, _ := vic.get("/admin/users"); resp.StatusCode != 403 {
			t.Errorf("a viewer's users page: %d", resp.StatusCode)
		}
		if _, page := vic.get("/admin"); strings.Contains(page, "/admin/users") {
			t.Errorf("a viewer is shown the users page")
		}
	})

	t.Run("maintenance", func(t *testing.T) {
		_, page := ana.get("/admin/maintenance")
		form := url.Values{"csrf": {csrfIn(t, page)}, "checks": {"web-ro"}, "expect": {"writable"}, "for": {"soon"}, "name": {"failover"}}
		if resp, body := ana.post("/admin/maintenance", form); resp.StatusCode != 400 || !strings.Contains(body, "30m") ||
			!strings.Contains(body, `value="failover"`) {
			t.Fatalf("a bad duration: %d\n%s", resp.StatusCode, body)
		}
		form.Set("for", "1h")
		resp, body := ana.post("/admin/maintenance", form)
		wantRedirect(t, resp, body, "/admin/maintenance?")
		_, page = ana.get(resp.Header.Get("Location"))
		m := regexp.MustCompile(`data-testid="end-([^"]+)"`).FindStringSubmatch(page)
		if !strings.Contains(page, "Started maintenance failover.") || m == nil {
			t.Fatalf("after starting:\n%s", page)
		}
		resp, body = ana.post("/admin/maintenance/"+m[1]+"/end", url.Values{"csrf": {csrfIn(t, page)}})
		wantRedirect(t, resp, body, "/admin/maintenance?")
		if _, page := ana.get(resp.Header.Get("Location")); !strings.Contains(page, "Ended maintenance failover.") || strings.Contains(page, `data-testid="end-`) {
			t.Errorf("after ending:\n%s", page)
		}
	})

	t.Run("incidents", func(t *testing.T) {
		_, page := ana.get("/admin/incidents")
		if !strings.Contains(page, `value="Website"`) {
			t.Fatalf("the form does not offer the components:\n%s", page)
		}
		resp, body := ana.post("/admin/incidents", url.Values{"csrf": {csrfIn(t, page)}, "title": {"Site is read-only"},
			"impact": {"major"}, "components": {"Website"}, "message": {"We are looking into it."}, "public": {"1"}})
		wantRedirect(t, resp, body, "/admin/incidents/")
		loc := resp.Header.Get("Location")
		_, page = ana.get(loc)
		if !strings.Contains(page, "Site is read-only") || !strings.Contains(page, "We are looking into it.") || !strings.Contains(page, `id="timeline"`) {
			t.Fatalf("the incident:\n%s", page)
		}
		path, _, _ := strings.Cut(loc, "?")
		resp, body = ana.post(path+"/updates", url.Values{"csrf": {csrfIn(t, page)}, "state": {"identified"}, "was_state": {"investigating"},
			"impact": {"major"}, "was_impact": {"major"}, "message": {"The database went read-only."}, "visibility": {"public"}})
		wantRedirect(t, resp, body, path+"?")
		if _, page := ana.get(path); !strings.Contains(page, `data-testid="incident-state">identified`) || !strings.Contains(page, "The database went read-only.") ||
			strings.Contains(page, `id="publish-incident"`) {
			t.Errorf("after the update:\n%s", page)
		}

		// Opened with a private note: staff see it is not published, and
		// may publish it.
		_, page = ana.get("/admin/incidents")
		resp, body = ana.post("/admin/incidents", url.Values{"csrf": {csrfIn(t, page)}, "title": {"Payments provider breach"},
			"impact": {"critical"}, "components": {"Website"}, "message": {"Staff only."}})
		wantRedirect(t, resp, body, "/admin/incidents/")
		path, _, _ = strings.Cut(resp.Header.Get("Location"), "?")
		_, page = ana.get(path)
		if !strings.Contains(page, "not published") || !strings.Contains(page, `id="publish-incident"`) {
			t.Fatalf("an unpublished incident:\n%s", page)
		}
		if _, list := ana.get("/admin/incidents"); !strings.Contains(list, "not published") {
			t.Errorf("the list does not say the incident is not published:\n%s", list)
		}
		if resp, body := vic.post(path+"/publish", url.Values{"csrf": {csrfIn(t, page)}}); resp.StatusCode != 403 {
			t.Errorf("a viewer publishing: %d %s", resp.StatusCode, body)
		}
		if !strings.Contains(page, `name="title" value="Payments provider breach"`) {
			t.Errorf("the publish form does not offer the title:\n%s", page)
		}
		if resp, body := ana.post(path+"/publish", url.Values{"csrf": {csrfIn(t, page)}, "title": {strings.Repeat("x", 201)}}); resp.StatusCode != 400 ||
			!strings.Contains(body, "Could not publish") || !strings.Contains(body, `id="publish-incident"`) {
			t.Errorf("a title too long: %d\n%s", resp.StatusCode, body)
		}
		resp, body = ana.post(path+"/publish", url.Values{"csrf": {csrfIn(t, page)}, "title": {"Payments may fail"}, "message": {"Payments may fail."}})
		wantRedirect(t, resp, body, path+"?")
		if _, page := ana.get(resp.Header.Get("Location")); !strings.Contains(page, "on the status page") ||
			!strings.Contains(page, `data-testid="incident-published">published`) || strings.Contains(page, `id="publish-incident"`) ||
			!strings.Contains(page, "<h1>Payments may fail</h1>") {
			t.Errorf("after publishing:\n%s", page)
		}
		resp, body = ana.post(path+"/publish", url.Values{"csrf": {csrfIn(t, page)}})
		if resp.StatusCode != 409 || !strings.Contains(body, "already on the status page") {
			t.Errorf("publishing twice: %d\n%s", resp.StatusCode, body)
		}
	})

	t.Run("users are for admins", func(t *testing.T) {
		if resp, _ := ana.get("/admin/users"); resp.StatusCode != 403 {
			t.Errorf("a responder's users page: %d", resp.StatusCode)
		}
		root := newBrowser(t, base)
		root.signIn("test-admin")
		// Giving and taking roles asks for a recent second factor.
		_, page := root.get("/admin/users")
		if resp, _ := root.post("/admin/users", url.Values{"csrf": {csrfIn(t, page)}, "name": {"cy"}, "role": {"admin"},
			"password": {"another long passphrase"}}); resp.StatusCode != http.StatusSeeOther ||
			!strings.HasPrefix(resp.Header.Get("Location"), "/admin/security") && !strings.HasPrefix(resp.Header.Get("Location"), "/login/factor") {
			t.Fatalf("adding an admin without a second factor: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
		root.enrol()
		_, page = root.get("/admin/users")
		if !strings.Contains(page, `data-testid="user-vic"`) || strings.Contains(page, "$2a$") || strings.Contains(page, "remove-test-admin") {
			t.Fatalf("users page:\n%s", page)
		}
		add := url.Values{"csrf": {csrfIn(t, page)}, "name": {"cy"}, "role": {"viewer"}, "password": {"short"}}
		if resp, body := root.post("/admin/users", add); resp.StatusCode != 400 || !strings.Contains(body, `value="cy"`) {
			t.Fatalf("a short password: %d\n%s", resp.StatusCode, body)
		}
		add.Set("password", "another long passphrase")
		resp, body := root.post("/admin/users", add)
		wantRedirect(t, resp, body, "/admin/users?")
		if _, page := root.get(resp.Header.Get("Location")); !strings.Contains(page, `data-testid="user-cy"`) || !strings.Contains(page, "Added cy.") {
			t.Fatalf("after adding:\n%s", page)
		}
		resp, body = root.post("/admin/users/cy/remove", url.Values{"csrf": {csrfIn(t, page)}})
		wantRedirect(t, resp, body, "/admin/users?")
		if _, page := root.get("/admin/users"); strings.Contains(page, `data-testid="user-cy"`) {
			t.Errorf("cy is still there")
		}
	})

	t.Run("sign-in is rate limited", func(t *testing.T) {
		userToken(t, a, "zed", nightowl.RoleViewer)
		b := newBrowser(t, base)
		var resp *http.Response
		var body string
		for i := 0; i < 6; i++ {
			_, page := b.get("/login")
			resp, body = b.post("/login", url.Values{"csrf": {csrfIn(t, page)}, "name": {"zed"}, "password": {fmt.Sprintf("guess number %d", i)}})
		}
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || !strings.Contains(body, "too many failed sign-ins") {
			t.Fatalf("after 6 wrong passwords: %d\n%s", resp.StatusCode, body)
		}
	})

	t.Run("sign out", func(t *testing.T) {
		_, page := ana.get("/admin")
		if resp, _ := ana.post("/logout", url.Values{}); resp.StatusCode != 403 {
			t.Errorf("sign-out without the CSRF token: %d", resp.StatusCode)
		}
		resp, body := ana.post("/logout", url.Values{"csrf": {csrfIn(t, page)}})
		wantRedirect(t, resp, body, "/login")
		resp, body = ana.get("/admin")
		wantRedirect(t, resp, body, "/login?next=")
		if resp, _ := ana.get("/admin/live"); resp.StatusCode != http.StatusSeeOther {
			t.Errorf("live after sign-out: %d", resp.StatusCode)
		}
	})
}

// TestAdminErrorPageSaysWhat: a page that cannot be shown says so in its
// heading, which is what a screen reader announces first, and not in an
// empty <h1>.
func TestAdminErrorPageSaysWhat(t *testing.T) {
	t.Parallel()
	s := site(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "nightowl.yaml")
	writeConfig(t, cfg, fmt.Sprintf(checksYAML, s.URL))
	a := startApp(t, cfg)
	userToken(t, a, "vic", nightowl.RoleViewer)
	vic := newBrowser(t, "http://"+a.Addr())
	vic.signIn("vic")
	for path, heading := range map[string]string{
		"/admin/nosuch":        "<h1>Not found</h1>",
		"/admin/checks/nosuch": "<h1>Not found</h1>",
	} {
		resp, page := vic.get(path)
		if resp.StatusCode != http.StatusNotFound || !strings.Contains(page, heading) {
			t.Errorf("%s: %d, want 404 with %s in\n%s", path, resp.StatusCode, heading, page)
		}
	}
}

// actionsYAML configures an action that needs one approval.
const actionsYAML = `actions:
  - name: say
    description: Say a word
    run: [/bin/echo, "{{word}}"]
    params: {word: {pattern: "^[a-z]+$", description: a lower-case word}}
    approvals: 1
    confirm: word
`

// TestAdminActions drives the actions pages over HTTP as a browser
// without scripts would: ana requests an action through its form, which
// refuses a bad parameter and a missing CSRF token; bo, another
// responder, sees it pending and exactly what it runs; ana cannot approve
// her own request, not even with a forged form; bo approves; a viewer sees
// no buttons and is refused; ana runs it and reads the output.
func TestAdminActions(t *testing.T) {
	t.Parallel()
	s := site(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "nightowl.yaml")
	writeConfig(t, cfg, fmt.Sprintf(checksYAML, s.URL)+actionsYAML)
	a := startApp(t, cfg)
	base := "http://" + a.Addr()
	userToken(t, a, "ana", nightowl.RoleResponder)
	userToken(t, a, "bo", nightowl.RoleResponder)
	userToken(t, a, "vic", nightowl.RoleViewer)
	ana, bo, vic := newBrowser(t, base), newBrowser(t, base), newBrowser(t, base)
	ana.signIn("ana")
	bo.signIn("bo")
	vic.signIn("vic")
	// Approving and running ask for a recent second factor: enrolling
	// one gives it.
	ana.enrol()
	bo.enrol()

	_, page := ana.get("/admin/actions")
	for _, want := range []string{`id="nav-actions"`, `id="request-say"`, `name="param.word"`,
		`<li><code>/bin/echo</code></li><li><code>{{word}}</code></li>`, `<code class="value">^[a-z]&#43;$</code>`,
		`data-testid="needs-say">1`, `name="reason" rows="2" required`, "Type the value of word to confirm", `id="no-open-requests"`} {
		if !strings.Contains(page, want) {
			t.Fatalf("the actions page lacks %s:\n%s", want, page)
		}
	}
	token := csrfIn(t, page)
	form := url.Values{"csrf": {token}, "param.word": {"hi; rm -rf /"}, "reason": {"to greet"}, "confirm": {"hi; rm -rf /"}}
	if resp, body := ana.post("/admin/actions/say/request", form); resp.StatusCode != 400 || !strings.Contains(body, "does not match") ||
		!strings.Contains(body, ">to greet</textarea>") || !strings.Contains(body, `role="alert"`) {
		t.Fatalf("a parameter with shell metacharacters: %d\n%s", resp.StatusCode, body)
	}
	form.Set("param.word", "hello")
	if resp, body := ana.post("/admin/actions/say/request", form); resp.StatusCode != 400 || !strings.Contains(body, "to confirm, type the value of word") {
		t.Fatalf("a wrong confirmation: %d\n%s", resp.StatusCode, body)
	}
	form.Set("confirm", "hello")
	form.Del("csrf")
	if resp, body := ana.post("/admin/actions/say/request", form); resp.StatusCode != 403 || !strings.Contains(body, "CSRF") {
		t.Fatalf("a request without the CSRF token: %d\n%s", resp.StatusCode, body)
	}
	form.Set("csrf", token)
	resp, body := ana.post("/admin/actions/say/request", form)
	wantRedirect(t, resp, body, "/admin/actions/requests/r-")
	path, _, _ := strings.Cut(resp.Header.Get("Location"), "?")
	id := strings.TrimPrefix(path, "/admin/actions/requests/")

	t.Run("the requester cannot approve", func(t *testing.T) {
		_, page := ana.get(resp.Header.Get("Location"))
		for _, want := range []string{"Requested " + id + ".", `id="request" data-state="pending"`, `data-testid="deny-` + id + `"`,
			`id="self-note"`, `<li><code>/bin/echo</code></li><li><code>hello</code></li>`, `data-testid="approvals">0 of 1`} {
			if !strings.Contains(page, want) {
				t.Errorf("ana's request page lacks %s", want)
			}
		}
		if strings.Contains(page, `data-testid="approve-`) || strings.Contains(page, `data-testid="run-`) {
			t.Errorf("ana is offered to approve or run her own pending request:\n%s", page)
		}
		resp, body := ana.post(path+"/approve", url.Values{"csrf": {token}})
		if resp.StatusCode != 403 || !strings.Contains(body, "someone else must approve it") || !strings.Contains(body, `id="request" data-state="pending"`) {
			t.Fatalf("a forged self-approval: %d\n%s", resp.StatusCode, body)
		}
		if resp, body := ana.post(path+"/run", url.Values{"csrf": {token}}); resp.StatusCode != 409 || !strings.Contains(body, "0 of the 1 approvals") {
			t.Fatalf("a run before approval: %d\n%s", resp.StatusCode, body)
		}
	})

	t.Run("another responder approves", func(t *testing.T) {
		_, page := bo.get("/admin/actions")
		if !strings.Contains(page, `data-testid="request-`+id+`" data-state="pending"`) || !strings.Contains(page, `data-testid="nav-actions-count">1`) {
			t.Fatalf("bo does not see the pending request:\n%s", page)
		}
		_, page = bo.get(path)
		if !strings.Contains(page, `data-testid="approve-`+id+`"`) || strings.Contains(page, `data-testid="run-`) ||
			!strings.Contains(page, `<li><code>/bin/echo</code></li><li><code>hello</code></li>`) || !strings.Contains(page, "to greet") {
			t.Fatalf("bo's view of the request:\n%s", page)
		}
		resp, body := bo.post(path+"/approve", url.Values{"csrf": {csrfIn(t, page)}})
		wantRedirect(t, resp, body, path+"?")
		_, page = bo.get(resp.Header.Get("Location"))
		if !strings.Contains(page, "Approved "+id+".") || !strings.Contains(page, `data-state="approved"`) ||
			!strings.Contains(page, `data-testid="run-`+id+`"`) || !strings.Contains(page, `data-testid="approvals">1 of 1`) {
			t.Fatalf("after bo approved:\n%s", page)
		}
		if resp, body := bo.post("/admin/actions/requests/nosuch/approve", url.Values{"csrf": {csrfIn(t, page)}}); resp.StatusCode != 404 {
			t.Errorf("approving no request: %d\n%s", resp.StatusCode, body)
		}
	})

	t.Run("a viewer reads but does not act", func(t *testing.T) {
		_, page := vic.get("/admin/actions")
		if !strings.Contains(page, `data-testid="request-`+id+`"`) || strings.Contains(page, `id="request-say"`) {
			t.Fatalf("a viewer's actions page:\n%s", page)
		}
		_, page = vic.get(path)
		for _, hook := range []string{"approve-", "deny-", "run-"} {
			if strings.Contains(page, `data-testid="`+hook) {
				t.Errorf("a viewer is shown %s", hook)
			}
		}
		for _, post := range []string{path + "/run", path + "/approve", path + "/deny", "/admin/actions/say/request"} {
			if resp, body := vic.post(post, url.Values{"csrf": {csrfIn(t, page)}, "reason": {"x"}}); resp.StatusCode != 403 || !strings.Contains(body, "responder") {
				t.Errorf("a viewer posting %s: %d %s", post, resp.StatusCode, body)
			}
		}
	})

	t.Run("the requester runs it", func(t *testing.T) {
		resp, body := ana.post(path+"/run", url.Values{"csrf": {token}})
		wantRedirect(t, resp, body, path+"?")
		_, page := ana.get(resp.Header.Get("Location"))
		for _, want := range []string{"Ran " + id, `id="request" data-state="succeeded"`, `data-testid="exit-code">0`,
			`<pre class="output" id="output" aria-labelledby="output-title" tabindex="0">hello` + "\n</pre>", `data-testid="duration">`} {
			if !strings.Contains(page, want) {
				t.Errorf("after the run, the page lacks %s:\n%s", want, page)
			}
		}
		if resp, body := ana.post(path+"/run", url.Values{"csrf": {token}}); resp.StatusCode != 409 || !strings.Contains(body, "has run: ana started it at ") {
			t.Errorf("a second run: %d\n%s", resp.StatusCode, body)
		}
		_, page = bo.get("/admin/actions")
		if !strings.Contains(page, `data-testid="request-`+id+`" data-state="succeeded"`) || !strings.Contains(page, `id="no-open-requests"`) {
			t.Errorf("the recent requests:\n%s", page)
		}
	})
}

// TestChangeOwnPassword: a signed-in user changes their password on the
// dashboard with the current one; their other sessions are refused from
// then on, this browser stays signed in, the old password no longer signs
// in, and the change is in the audit log.
func TestChangeOwnPassword(t *testing.T) {
	t.Parallel()
	cfg := filepath.Join(t.TempDir(), "nightowl.yaml")
	writeConfig(t, cfg, "storage: {sqlite: test.db}\n")
	a := startApp(t, cfg)
	base := "http://" + a.Addr()
	userToken(t, a, "ana", nightowl.RoleViewer)
	here, there := newBrowser(t, base), newBrowser(t, base)
	here.signIn("ana")
	there.signIn("ana")

	_, page := here.get("/admin/password")
	csrf := csrfIn(t, page)
	change := func(current, next, again string) (*http.Response, string) {
		return here.post("/admin/password", url.Values{"csrf": {csrf}, "current": {current}, "password": {next}, "again": {again}})
	}
	if resp, body := change("wrong password here", "a brand new passphrase", "a brand new passphrase"); resp.StatusCode != 403 || !strings.Contains(body, "current password is wrong") {
		t.Fatalf("wrong current password: %d\n%s", resp.StatusCode, body)
	}
	if resp, body := change("correct horse battery staple", "a brand new passphrase", "another passphrase"); resp.StatusCode != 400 || !strings.Contains(body, "differ") {
		t.Fatalf("new passwords differ: %d\n%s", resp.StatusCode, body)
	}
	if resp, _ := there.get("/admin"); resp.StatusCode != 200 {
		t.Fatalf("a refused change ended the other session: %d", resp.StatusCode)
	}
	if resp, body := here.post("/admin/password", url.Values{"current": {"correct horse battery staple"}, "password": {"a brand new passphrase"}, "again": {"a brand new passphrase"}}); resp.StatusCode != 403 {
		t.Fatalf("without the CSRF token: %d\n%s", resp.StatusCode, body)
	}
	resp, body := change("correct horse battery staple", "a brand new passphrase", "a brand new passphrase")
	wantRedirect(t, resp, body, "/admin/password?done=password-changed")
	if resp, body := there.get("/admin"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
		t.Fatalf("the other session after the change: %d\n%s", resp.StatusCode, body)
	}
	if resp, body := here.get("/admin/password?done=password-changed&what=ana"); resp.StatusCode != 200 || !strings.Contains(body, "Changed the password of ana") {
		t.Fatalf("this browser after the change: %d\n%s", resp.StatusCode, body)
	}
	if _, _, err := a.access.Login(t.Context(), "ana", "correct horse battery staple", "192.0.2.9"); nightowl.ErrorCode(err) != nightowl.EUnauthorized {
		t.Fatalf("the old password: %v", err)
	}
	if _, _, err := a.access.Login(t.Context(), "ana", "a brand new passphrase", "192.0.2.9"); err != nil {
		t.Fatalf("the new password: %v", err)
	}
	entries, err := a.store.AuditEntries(t.Context(), nightowl.AuditQuery{Action: "user.password"})
	if err != nil || len(entries) != 1 || entries[0].Actor != "ana" || entries[0].Subject != "ana" {
		t.Fatalf("audit: %+v %v", entries, err)
	}
	// An API token is no password to change.
	req, _ := http.NewRequest("POST", base+"/admin/password", strings.NewReader("current=x&password=y&again=y"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+userToken(t, a, "ana", nightowl.RoleViewer))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 400 {
		t.Fatalf("with a token: %v %v", resp, err)
	}
}
