package app

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/clocktest"
)

// startClocked starts the server of the config at cfg on clock, logging at
// debug level into logs.
func startClocked(t *testing.T, cfg string, clock nightowl.Clock, logs *lockedBuffer) *App {
	t.Helper()
	a, err := New(context.Background(), Options{ConfigPath: cfg, Listen: "127.0.0.1:0", Clock: clock,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), BcryptCost: testCost, PublicTTL: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Stop(context.Background()) })
	return a
}

// apiSession is a browser's session through the API: its cookie and CSRF
// token.
type apiSession struct {
	t      *testing.T
	base   string
	cookie *http.Cookie
	csrf   string
}

func apiLogin(t *testing.T, base, name string) (apiSession, map[string]any) {
	t.Helper()
	resp, body := call(t, "POST", base+"/api/v1/login", `{"name": "`+name+`", "password": "correct horse battery staple"}`,
		map[string]string{"Content-Type": "application/json", "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"})
	if resp.StatusCode != 200 {
		t.Fatalf("sign in %s: %d %s", name, resp.StatusCode, body)
	}
	var out map[string]any
	json.Unmarshal([]byte(body), &out)
	s := apiSession{t: t, base: base, csrf: out["csrf"].(string)}
	for _, c := range resp.Cookies() {
		if c.Name == "nightowl_session" {
			s.cookie = c
		}
	}
	return s, out
}

// do sends a request in the session and returns the status, the error
// code, if any, and the body.
func (s apiSession) do(method, path, body string) (int, string, string) {
	s.t.Helper()
	resp, text := call(s.t, method, s.base+path, body, map[string]string{"X-CSRF-Token": s.csrf, "Content-Type": "application/json"}, s.cookie)
	var e errorJSON
	json.Unmarshal([]byte(text), &e)
	return resp.StatusCode, e.Error.Code, text
}

// enrolTOTP gives name a TOTP key on the security page, in a session of
// theirs, and returns its secret and the recovery codes the page shows.
func enrolTOTP(t *testing.T, a *App, base, name string, now time.Time) (string, []string) {
	t.Helper()
	s, _ := apiLogin(t, base, name)
	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	resp, page := call(t, "POST", base+"/admin/security/totp", url.Values{"csrf": {s.csrf}, "name": {"phone"}}.Encode(), form, s.cookie)
	secret := between(page, `id="totp-secret">`, "<")
	id := between(page, `name="id" value="`, `"`)
	if resp.StatusCode != 200 || secret == "" || !strings.Contains(page, `src="data:image/png;base64,`) ||
		!strings.Contains(resp.Header.Get("Content-Security-Policy"), "img-src 'self' data:") {
		t.Fatalf("enrolment page: %d %s", resp.StatusCode, page)
	}
	code, _ := totp.GenerateCode(secret, now)
	resp, page = call(t, "POST", base+"/admin/security/totp/confirm", url.Values{"csrf": {s.csrf}, "id": {id}, "code": {code}}.Encode(), form, s.cookie)
	var codes []string
	for rest := page; ; {
		c := between(rest, `data-testid="recovery-code">`, "<")
		if c == "" {
			break
		}
		codes = append(codes, c)
		rest = rest[strings.Index(rest, c)+len(c):]
	}
	if resp.StatusCode != 200 || len(codes) != 10 {
		t.Fatalf("confirmation page: %d %v %s", resp.StatusCode, codes, page)
	}
	return secret, codes
}

// between returns what s has between the first from and the to after it.
func between(s, from, to string) string {
	_, rest, ok := strings.Cut(s, from)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, to)
	return v
}

// TestFactorGatesEveryRoute walks every route with a session that waits
// for its second factor and with one that gave none: the first is refused
// everywhere but the second factor's own routes (and sign-out), with
// second_factor_required or, on a page, a redirect to the second factor's
// page; the second is refused on every dangerous route with
// step_up_required or a redirect there, and let through on the others.
func TestFactorGatesEveryRoute(t *testing.T) {
	t.Parallel()
	s := site(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "nightowl.yaml")
	writeConfig(t, cfg, fmt.Sprintf(checksYAML, s.URL)+`actions:
  - name: flush-cache
    run: [/bin/true]
    approvals: 1
`)
	clock := clocktest.New(time.Now())
	a := startClocked(t, cfg, clock, &lockedBuffer{})
	base := "http://" + a.Addr()
	userToken(t, a, "waits", nightowl.RoleAdmin)
	userToken(t, a, "stale", nightowl.RoleAdmin)
	enrolTOTP(t, a, base, "waits", clock.Now())
	waits, out := apiLogin(t, base, "waits")
	if out["pending"] != nightowl.SessionNeedsFactor {
		t.Fatalf("sign-in with a factor answered %v", out)
	}
	stale, out := apiLogin(t, base, "stale")
	if out["pending"] != nil {
		t.Fatalf("sign-in without a factor answered %v", out)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var stepUps int
	for _, rt := range a.Routes() {
		if rt.Role == "" {
			continue
		}
		method, path, ok := strings.Cut(rt.Pattern, " ")
		if !ok {
			method, path = "GET", rt.Pattern
		}
		path = strings.NewReplacer("{name}", "web-ok", "{id}", "nosuch").Replace(path)
		if strings.HasSuffix(path, "/") {
			path += "nosuch"
		}
		if rt.StepUp {
			stepUps++
		}
		api := strings.HasPrefix(path, "/api/")
		t.Run(rt.Pattern, func(t *testing.T) {
			send := func(s apiSession) (int, string, string) {
				req, _ := http.NewRequest(method, base+path, strings.NewReader("{}"))
				req.Header.Set("X-CSRF-Token", s.csrf)
				req.Header.Set("Content-Type", "application/json")
				req.AddCookie(s.cookie)
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				var e errorJSON
				json.NewDecoder(resp.Body).Decode(&e)
				resp.Body.Close()
				return resp.StatusCode, e.Error.Code, resp.Header.Get("Location")
			}
			code, ecode, loc := send(waits)
			switch {
			case rt.Pending:
				if ecode == nightowl.EFactorPending || strings.HasPrefix(loc, "/login/factor") {
					t.Errorf("waiting for the factor: %d %s %q, want it let through", code, ecode, loc)
				}
			case api:
				if code != 403 || ecode != nightowl.EFactorPending {
					t.Errorf("waiting for the factor: %d %s, want 403 %s", code, ecode, nightowl.EFactorPending)
				}
			default:
				if code != 303 || !strings.HasPrefix(loc, "/login/factor?next=") {
					t.Errorf("waiting for the factor: %d to %q, want 303 to /login/factor", code, loc)
				}
			}
			code, ecode, loc = send(stale)
			switch {
			case rt.StepUp && api:
				if code != 403 || ecode != nightowl.EStepUp {
					t.Errorf("without a recent factor: %d %s, want 403 %s", code, ecode, nightowl.EStepUp)
				}
			case rt.StepUp:
				// Never gave one: enrol first.
				if code != 303 || !strings.HasPrefix(loc, "/admin/security?next=") || !strings.HasSuffix(loc, "&step_up=1") {
					t.Errorf("without a recent factor: %d to %q, want 303 to the security page", code, loc)
				}
			default:
				if ecode == nightowl.EStepUp || ecode == nightowl.EFactorPending || strings.HasPrefix(loc, "/login/factor") {
					t.Errorf("an ordinary route: %d %s %q, want it let through", code, ecode, loc)
				}
			}
		})
	}
	if stepUps < 4 {
		t.Errorf("only %d routes need a step-up", stepUps)
	}
}

// TestSecondFactorThroughTheAPI: a person with a TOTP key signs in through
// the API to a session that may only give its code; with it, the session
// acts; approving an action with a factor older than access.step_up is
// refused with step_up_required until a fresh code, and the approval's
// audit entry says how fresh it was. A token may approve only when made
// with --can-approve. Sessions are listed and ended. Nothing secret
// reaches the log.
func TestSecondFactorThroughTheAPI(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "nightowl.yaml")
	writeConfig(t, cfg, `storage: {sqlite: test.db}
checks:
  - name: closed
    tcp: {addr: "127.0.0.1:1"}
    interval: 24h
access:
  step_up: 5m
actions:
  - name: flush-cache
    run: [/bin/true]
    approvals: 1
`)
	clock := clocktest.New(time.Now().Truncate(time.Second))
	logs := &lockedBuffer{}
	a := startClocked(t, cfg, clock, logs)
	base := "http://" + a.Addr()
	admin := adminToken(t, a)
	ana := actionAPI{t, base, userToken(t, a, "ana", nightowl.RoleResponder)}
	userToken(t, a, "bo", nightowl.RoleResponder)
	secret, codes := enrolTOTP(t, a, base, "bo", clock.Now())

	bo, out := apiLogin(t, base, "bo")
	if out["pending"] != "second_factor" {
		t.Fatalf("sign-in answered %v", out)
	}
	if code, ecode, _ := bo.do("GET", "/api/v1/checks", ""); code != 403 || ecode != nightowl.EFactorPending {
		t.Fatalf("checks before the code: %d %s", code, ecode)
	}
	if code, _, body := bo.do("GET", "/api/v1/whoami", ""); code != 200 || !strings.Contains(body, `"pending": "second_factor"`) {
		t.Fatalf("whoami before the code: %d %s", code, body)
	}
	if code, ecode, _ := bo.do("POST", "/api/v1/login/factor", `{"code": "000000"}`); code != 401 || ecode != nightowl.EUnauthorized {
		t.Fatalf("a wrong code: %d %s", code, ecode)
	}
	clock.Advance(30 * time.Second)
	code6, _ := totp.GenerateCode(secret, clock.Now())
	if code, _, body := bo.do("POST", "/api/v1/login/factor", `{"code": "`+code6+`"}`); code != 200 || !strings.Contains(body, `"factor": "totp"`) {
		t.Fatalf("the right code: %d %s", code, body)
	}
	if code, _, _ := bo.do("GET", "/api/v1/whoami", ""); code != 200 {
		t.Fatalf("whoami after the code: %d", code)
	}

	// Fresh: approving passes.
	_, req, _ := ana.request("flush-cache", nil, "", "stale prices")
	if code, ecode, body := bo.do("POST", "/api/v1/action-requests/"+req.ID+"/approve", ""); code != 200 {
		t.Fatalf("approve with a fresh factor: %d %s %s", code, ecode, body)
	}
	// Stale: refused until a fresh code.
	clock.Advance(6 * time.Minute)
	_, req2, _ := ana.request("flush-cache", nil, "", "again")
	if code, ecode, _ := bo.do("POST", "/api/v1/action-requests/"+req2.ID+"/approve", ""); code != 403 || ecode != nightowl.EStepUp {
		t.Fatalf("approve with a stale factor: %d %s", code, ecode)
	}
	code6, _ = totp.GenerateCode(secret, clock.Now())
	bo.do("POST", "/api/v1/login/factor", `{"code": "`+code6+`"}`)
	clock.Advance(2 * time.Minute)
	if code, ecode, body := bo.do("POST", "/api/v1/action-requests/"+req2.ID+"/approve", ""); code != 200 {
		t.Fatalf("approve after a fresh code: %d %s %s", code, ecode, body)
	}
	lines := actionAudit(t, base, admin)
	if !slicesContain(lines, "bo | action.approve | "+req2.ID+" | flush-cache; plan "+req2.PlanHash+"; step-up 2m0s ago") {
		t.Errorf("the approval's audit entry does not tell the step-up:\n%s", strings.Join(lines, "\n"))
	}

	// A token made without --can-approve may not approve; one made with
	// it may, without a second factor.
	_, req3, _ := ana.request("flush-cache", nil, "", "third")
	_, plain, err := a.Access().CreateToken(t.Context(), "bo", "plain", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if code, msg := (actionAPI{t, base, plain}).do("POST", "/api/v1/action-requests/"+req3.ID+"/approve", nil, nil); code != 403 ||
		!strings.Contains(msg, "--can-approve") {
		t.Fatalf("a plain token approving: %d %q", code, msg)
	}
	if code, _, msg := (actionAPI{t, base, userToken(t, a, "bo", nightowl.RoleResponder)}).step(req3.ID, "approve"); code != 200 {
		t.Fatalf("a token that may approve: %d %q", code, msg)
	}

	// A recovery code works once.
	bo2, _ := apiLogin(t, base, "bo")
	if code, _, body := bo2.do("POST", "/api/v1/login/factor", `{"code": "`+strings.ToUpper(codes[0])+`"}`); code != 200 ||
		!strings.Contains(body, `"recovery_codes_left": 9`) {
		t.Fatalf("a recovery code: %d %s", code, body)
	}
	bo3, _ := apiLogin(t, base, "bo")
	if code, _, _ := bo3.do("POST", "/api/v1/login/factor", `{"code": "`+codes[0]+`"}`); code != 401 {
		t.Fatalf("a used recovery code: %d", code)
	}

	// Sessions: bo sees his, the current one marked, and ends another;
	// an admin lists and ends anyone's, which is recorded.
	var mine struct {
		Sessions []struct {
			ID, Device, Address, Pending string
			Current                      bool
		}
	}
	_, _, body := bo.do("GET", "/api/v1/me/sessions", "")
	json.Unmarshal([]byte(body), &mine)
	var current int
	waiting := ""
	for _, s := range mine.Sessions {
		if s.Current {
			current++
		}
		if s.Pending != "" {
			waiting = s.ID
		}
		if s.ID == "" || s.Device != "Firefox on Linux" || s.Address != "127.0.0.1" {
			t.Errorf("a session of bo's: %+v", s)
		}
	}
	if len(mine.Sessions) != 4 || current != 1 || waiting == "" {
		t.Fatalf("bo's sessions: %s", body)
	}
	// bo3's, which waits for its code.
	if code, _, _ := bo.do("DELETE", "/api/v1/me/sessions/"+waiting, ""); code != 200 {
		t.Fatalf("ending a session of mine: %d", code)
	}
	if code, _, _ := bo3.do("GET", "/api/v1/whoami", ""); code != 401 {
		t.Fatalf("an ended session still answers: %d", code)
	}
	adm := actionAPI{t, base, admin}
	var all struct{ Sessions []struct{ ID, User string } }
	if code, msg := adm.do("GET", "/api/v1/sessions?user=bo", nil, &all); code != 200 || len(all.Sessions) != 3 {
		t.Fatalf("an admin's list: %d %q %+v", code, msg, all)
	}
	if code, msg := adm.do("DELETE", "/api/v1/sessions/"+all.Sessions[0].ID, nil, nil); code != 200 {
		t.Fatalf("an admin ending bo's session: %d %q", code, msg)
	}
	if code, msg := ana.do("GET", "/api/v1/sessions", nil, nil); code != 403 {
		t.Fatalf("a responder listing everyone's sessions: %d %q", code, msg)
	}
	lines = nil
	for _, prefix := range []string{"factor.", "session."} {
		lines = append(lines, auditLinesOf(t, base, admin, prefix)...)
	}
	for _, want := range []string{"bo | factor.enrol | bo", "bo | factor.recovery | bo | used a recovery code", "test-admin | session.end | bo | session " + all.Sessions[0].ID} {
		if !slicesContainPrefix(lines, want) {
			t.Errorf("no audit entry %q in:\n%s", want, strings.Join(lines, "\n"))
		}
	}

	// No secret in any log line.
	log := logs.String()
	for _, s := range append([]string{secret, code6}, codes...) {
		if strings.Contains(log, s) || strings.Contains(strings.ToLower(log), strings.ReplaceAll(s, "-", "")) {
			t.Errorf("the log has the secret %q", s)
		}
	}
	if !strings.Contains(log, "level=") {
		t.Fatal("nothing was logged: the test reads the wrong log")
	}
}

func slicesContain(lines []string, want string) bool {
	for _, l := range lines {
		if l == want {
			return true
		}
	}
	return false
}

func slicesContainPrefix(lines []string, want string) bool {
	for _, l := range lines {
		if strings.HasPrefix(l, want) {
			return true
		}
	}
	return false
}

// auditLinesOf returns the audit entries whose action starts with prefix, oldest
// first.
func auditLinesOf(t *testing.T, base, admin, prefix string) []string {
	t.Helper()
	var got struct{ Entries []nightowl.AuditEntry }
	if code := getJSON(t, admin, "GET", base+"/api/v1/audit?action="+prefix+"&limit=1000", &got); code != 200 {
		t.Fatalf("GET /api/v1/audit: %d", code)
	}
	var lines []string
	for i := len(got.Entries) - 1; i >= 0; i-- {
		e := got.Entries[i]
		lines = append(lines, strings.Join([]string{e.Actor, e.Action, e.Subject, e.Detail}, " | "))
	}
	return lines
}
