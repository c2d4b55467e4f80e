package app

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/oidctest"
)

// TestEveryRouteByRole walks every route the server serves with no
// credentials and with a token of each role: a public route answers all of
// them alike; any other refuses no credentials with 401 (or, for a page of
// the admin dashboard, sends the browser to sign in), a role below the one
// it needs with 403, and lets the others through.
func TestEveryRouteByRole(t *testing.T) {
	t.Parallel()
	s := site(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "nightowl.yaml")
	op := oidctest.New(t, "nightowl", "s3cret-client-Zq9")
	writeConfig(t, cfg, fmt.Sprintf(checksYAML, s.URL)+"  - name: job\n    heartbeat: {period: 1h, grace: 1h}\n"+
		fmt.Sprintf(oidcYAML, op.URL, true))
	a := startApp(t, cfg)
	base := "http://" + a.Addr()
	type credential struct {
		token  string
		cookie *http.Cookie
		csrf   string
	}
	creds := map[string]credential{"none": {}}
	rank := map[string]int{"none": 0, "viewer": 1, "responder": 2, "admin": 3}
	groups := map[nightowl.Role]string{nightowl.RoleViewer: "staff", nightowl.RoleResponder: "oncall", nightowl.RoleAdmin: "ops-admins"}
	for _, r := range nightowl.Roles {
		creds[string(r)] = credential{token: userToken(t, a, "user-"+string(r), r)}
		op.SignIn(map[string]any{"sub": string(r), "email": "sso-" + string(r) + "@example.com", "groups": []string{groups[r]}})
		c, csrf := oidcSession(t, a, base)
		if u, err := a.store.User(t.Context(), "sso-"+string(r)+"@example.com"); err != nil || u.Role != r {
			t.Fatalf("signed in at the provider as %s: %+v, %v", r, u, err)
		}
		creds["oidc-"+string(r)] = credential{cookie: c, csrf: csrf}
		rank["oidc-"+string(r)] = rank[string(r)]
	}
	// Redirects are answers too: a page that sends the browser to sign in
	// must not pass for one that let it through.
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	routes := a.Routes()
	if len(routes) < 20 {
		t.Fatalf("only %d routes", len(routes))
	}
	for _, rt := range routes {
		method, path, ok := strings.Cut(rt.Pattern, " ")
		if !ok {
			method, path = "GET", rt.Pattern
		}
		path = strings.NewReplacer("{name}", "web-ok", "{id}", "nosuch").Replace(path)
		if strings.HasSuffix(path, "/") {
			path += "nosuch"
		}
		t.Run(rt.Pattern, func(t *testing.T) {
			codes, locations := map[string]int{}, map[string]string{}
			for who, cr := range creds {
				if cr.cookie != nil && rt.Role == "" {
					// Signing in and out are public routes that a
					// session answers its own way (and would end).
					continue
				}
				req, _ := http.NewRequest(method, base+path, strings.NewReader("{}"))
				if cr.token != "" {
					req.Header.Set("Authorization", "Bearer "+cr.token)
				}
				if cr.cookie != nil {
					req.AddCookie(cr.cookie)
					req.Header.Set("X-CSRF-Token", cr.csrf)
				}
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				codes[who], locations[who] = resp.StatusCode, resp.Header.Get("Location")
			}
			need := rank[string(rt.Role)]
			for who, code := range codes {
				switch {
				case rt.Role == "":
					if code != codes["none"] {
						t.Errorf("public route answers %s %d but no credentials %d", who, code, codes["none"])
					}
				case who == "none" && method == "GET" && strings.HasPrefix(path, "/admin"):
					if code != http.StatusSeeOther || !strings.HasPrefix(locations[who], "/login?next=") {
						t.Errorf("no credentials: %d to %q, want 303 to /login", code, locations[who])
					}
				case who == "none":
					if code != http.StatusUnauthorized {
						t.Errorf("no credentials: %d, want 401", code)
					}
				case rank[who] < need:
					if code != http.StatusForbidden {
						t.Errorf("%s: %d, want 403 (needs %s)", who, code, rt.Role)
					}
				default:
					if code == http.StatusUnauthorized || code == http.StatusForbidden {
						t.Errorf("%s: %d, want it let through (needs %s)", who, code, rt.Role)
					}
				}
			}
		})
	}
}

func call(t *testing.T, method, url, body string, header map[string]string, cookies ...*http.Cookie) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	for k, v := range header {
		req.Header.Set(k, v)
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

// TestSignInSessionsAndCSRF signs in through the API as a browser does:
// the cookie is HttpOnly and SameSite, anything that changes something
// needs the session's CSRF token, signing out ends it, and repeated wrong
// passwords are refused for a while.
func TestSignInSessionsAndCSRF(t *testing.T) {
	t.Parallel()
	s := site(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "nightowl.yaml")
	writeConfig(t, cfg, fmt.Sprintf(checksYAML, s.URL))
	a := startApp(t, cfg)
	base := "http://" + a.Addr()
	userToken(t, a, "ana", nightowl.RoleResponder)
	userToken(t, a, "vic", nightowl.RoleViewer)

	if resp, body := call(t, "POST", base+"/api/v1/login", `{"name": "ana", "password": "wrong password here"}`, jsonType); resp.StatusCode != 401 ||
		!strings.Contains(body, "wrong name or password") {
		t.Fatalf("wrong password: %d %s", resp.StatusCode, body)
	}
	resp, body := call(t, "POST", base+"/api/v1/login", `{"name": "ana", "password": "correct horse battery staple"}`, jsonType)
	if resp.StatusCode != 200 {
		t.Fatalf("sign in: %d %s", resp.StatusCode, body)
	}
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "nightowl_session" {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode || cookie.Secure {
		t.Fatalf("session cookie: %+v", cookie)
	}
	var login struct{ User, CSRF string }
	json.Unmarshal([]byte(body), &login)
	if login.User != "ana" || len(login.CSRF) < 32 {
		t.Fatalf("sign in answered %s", body)
	}
	if resp, body := call(t, "GET", base+"/api/v1/whoami", "", nil, cookie); resp.StatusCode != 200 || !strings.Contains(body, `"responder"`) {
		t.Fatalf("whoami: %d %s", resp.StatusCode, body)
	}
	ack := base + "/api/v1/alerts/nosuch/ack"
	if resp, body := call(t, "POST", ack, "", nil, cookie); resp.StatusCode != 403 || !strings.Contains(body, "CSRF") {
		t.Fatalf("POST without the CSRF token: %d %s", resp.StatusCode, body)
	}
	if resp, _ := call(t, "POST", ack, "", map[string]string{"X-CSRF-Token": "forged"}, cookie); resp.StatusCode != 403 {
		t.Fatalf("POST with a wrong CSRF token: %d", resp.StatusCode)
	}
	if resp, body := call(t, "POST", ack, "", map[string]string{"X-CSRF-Token": login.CSRF}, cookie); resp.StatusCode != 404 {
		t.Fatalf("POST with the CSRF token: %d %s, want it through to 404", resp.StatusCode, body)
	}
	if resp, _ := call(t, "POST", base+"/api/v1/logout", "", map[string]string{"X-CSRF-Token": login.CSRF}, cookie); resp.StatusCode != 200 {
		t.Fatalf("sign out: %d", resp.StatusCode)
	}
	if resp, _ := call(t, "GET", base+"/api/v1/whoami", "", nil, cookie); resp.StatusCode != 401 {
		t.Fatalf("after sign-out: %d, want 401", resp.StatusCode)
	}

	// A viewer signed in cannot act, CSRF token or not.
	resp, _ = call(t, "POST", base+"/api/v1/login", `{"name": "vic", "password": "correct horse battery staple"}`, jsonType)
	vic := resp.Cookies()[0]
	if resp, body := call(t, "POST", ack, "", map[string]string{"X-CSRF-Token": csrfOf(t, a, base, vic)}, vic); resp.StatusCode != 403 || !strings.Contains(body, "responder") {
		t.Fatalf("viewer acknowledging: %d %s", resp.StatusCode, body)
	}

	for i := 0; i < 5; i++ {
		call(t, "POST", base+"/api/v1/login", `{"name": "ana", "password": "guess number `+fmt.Sprint(i)+`"}`, jsonType)
	}
	if resp, body := call(t, "POST", base+"/api/v1/login", `{"name": "ana", "password": "correct horse battery staple"}`, jsonType); resp.StatusCode != 429 ||
		resp.Header.Get("Retry-After") == "" {
		t.Fatalf("after 5 wrong passwords: %d %s", resp.StatusCode, body)
	}
}

// jsonType is the header of a JSON body, which signing in through the API
// needs.
var jsonType = map[string]string{"Content-Type": "application/json"}

// csrfOf returns the CSRF token of a session.
func csrfOf(t *testing.T, a *App, base string, c *http.Cookie) string {
	t.Helper()
	s, _, err := a.Access().Session(t.Context(), c.Value)
	if err != nil {
		t.Fatal(err)
	}
	return s.CSRF
}

// TestAnonymousViewer: server.anonymous: viewer lets anyone read, and
// nobody act, without credentials.
func TestAnonymousViewer(t *testing.T) {
	t.Parallel()
	s := site(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "nightowl.yaml")
	writeConfig(t, cfg, "server: {anonymous: viewer}\n"+fmt.Sprintf(checksYAML, s.URL))
	a := startApp(t, cfg)
	base := "http://" + a.Addr()
	if resp, _ := call(t, "GET", base+"/api/v1/checks", "", nil); resp.StatusCode != 200 {
		t.Fatalf("anonymous read: %d", resp.StatusCode)
	}
	if resp, _ := call(t, "POST", base+"/api/v1/checks/web-ok/run", "", nil); resp.StatusCode != 403 {
		t.Fatalf("anonymous run: %d, want 403", resp.StatusCode)
	}
}

// TestAPISignInRefusesCrossSiteForms: a page elsewhere can post a form to
// /api/v1/login with enctype="text/plain" whose body reads as JSON, and so
// sign a browser in as someone else (login CSRF) past the sign-in form's own
// protection; and it can post to /api/v1/logout to sign people out in the
// middle of an outage. Only a JSON body signs in, which no form can send
// without the server's say-so, and signing out a live session needs its CSRF
// token, as the form's sign-out does.
func TestAPISignInRefusesCrossSiteForms(t *testing.T) {
	t.Parallel()
	s := site(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "nightowl.yaml")
	writeConfig(t, cfg, fmt.Sprintf(checksYAML, s.URL))
	a := startApp(t, cfg)
	base := "http://" + a.Addr()
	// The attacker chose a password with a "=" in it: what
	// <form enctype="text/plain"> with the field name
	// {"name":"mallory","password":"correct horse and the value
	// battery staple"} sends.
	if _, err := a.Access().AddUser(t.Context(), "mallory", nightowl.RoleViewer, "correct horse=battery staple"); err != nil {
		t.Fatal(err)
	}
	forged := `{"name":"mallory","password":"correct horse=battery staple"}` + "\r\n"
	for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""} {
		resp, body := call(t, "POST", base+"/api/v1/login", forged, map[string]string{"Content-Type": ct})
		want := http.StatusBadRequest
		if strings.HasPrefix(ct, "multipart/") {
			want = http.StatusUnsupportedMediaType // no route takes multipart
		}
		if resp.StatusCode != want || len(resp.Cookies()) != 0 {
			t.Errorf("sign-in with Content-Type %q: %d %s, cookies %v; want 400 (415 for multipart) and no session", ct, resp.StatusCode, body, resp.Cookies())
		}
	}
	resp, body := call(t, "POST", base+"/api/v1/login", `{"name":"mallory","password":"correct horse=battery staple"}`,
		map[string]string{"Content-Type": "application/json; charset=utf-8"})
	if resp.StatusCode != 200 {
		t.Fatalf("sign in with JSON: %d %s", resp.StatusCode, body)
	}
	cookie := resp.Cookies()[0]
	if resp, body := call(t, "POST", base+"/api/v1/logout", "", nil, cookie); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "CSRF") {
		t.Fatalf("sign-out without the CSRF token: %d %s, want 403", resp.StatusCode, body)
	}
	if resp, _ := call(t, "GET", base+"/api/v1/whoami", "", nil, cookie); resp.StatusCode != 200 {
		t.Fatalf("a refused sign-out ended the session: whoami %d", resp.StatusCode)
	}
	if resp, body := call(t, "POST", base+"/api/v1/logout", "", map[string]string{"X-CSRF-Token": csrfOf(t, a, base, cookie)}, cookie); resp.StatusCode != 200 {
		t.Fatalf("sign-out with the CSRF token: %d %s", resp.StatusCode, body)
	}
	if resp, _ := call(t, "GET", base+"/api/v1/whoami", "", nil, cookie); resp.StatusCode != 401 {
		t.Fatalf("after sign-out: whoami %d, want 401", resp.StatusCode)
	}
	// Without a live session there is nothing to protect: it just clears
	// the cookie.
	if resp, body := call(t, "POST", base+"/api/v1/logout", "", nil, cookie); resp.StatusCode != 200 {
		t.Fatalf("sign-out of an ended session: %d %s", resp.StatusCode, body)
	}
}

// TestPingURLsOnlyForResponders: a heartbeat's ping URL lets whoever has it
// say the job ran, so viewers (and anonymous readers) do not see it.
func TestPingURLsOnlyForResponders(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "nightowl.yaml")
	writeConfig(t, cfg, "server: {anonymous: viewer}\nstorage: {sqlite: test.db}\nchecks:\n  - name: job\n    heartbeat: {period: 1h, grace: 1h}\n")
	a := startApp(t, cfg)
	base := "http://" + a.Addr()
	viewerTok := userToken(t, a, "vic", nightowl.RoleViewer)
	responderTok := userToken(t, a, "ana", nightowl.RoleResponder)
	for _, c := range []struct {
		who, token string
		want       bool
	}{{"anonymous", "", false}, {"viewer", viewerTok, false}, {"responder", responderTok, true}} {
		for _, path := range []string{"/api/v1/checks", "/api/v1/checks/job"} {
			h := map[string]string{}
			if c.token != "" {
				h["Authorization"] = "Bearer " + c.token
			}
			resp, body := call(t, "GET", base+path, "", h)
			if resp.StatusCode != 200 {
				t.Fatalf("%s GET %s: %d", c.who, path, resp.StatusCode)
			}
			if got := strings.Contains(body, "/ping/"); got != c.want {
				t.Errorf("%s GET %s shows a ping URL: %v, want %v", c.who, path, got, c.want)
			}
		}
	}
}
