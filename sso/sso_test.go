package sso_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/oidctest"
	"github.com/nightowl/nightowl/sso"
)

const redirect = "http://127.0.0.1:1/login/oidc/callback"

func newProvider(t *testing.T, op *oidctest.Provider, log *bytes.Buffer, edit func(*sso.Options)) *sso.Provider {
	t.Helper()
	opts := sso.Options{Issuer: op.URL, ClientID: op.ClientID, ClientSecret: op.ClientSecret,
		GroupsClaim: "groups", Roles: map[nightowl.Role][]string{
			nightowl.RoleAdmin: {"ops-admins"}, nightowl.RoleResponder: {"oncall"}, nightowl.RoleViewer: {"staff"}},
		MaxAge: 5 * time.Minute, Key: []byte("0123456789abcdef0123456789abcdef"),
		Logger: slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	if edit != nil {
		edit(&opts)
	}
	p, err := sso.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// callback starts a sign-in and follows the provider's authorize
// redirect, returning the flow's cookie and the callback's query.
func callback(t *testing.T, p *sso.Provider, stepUp bool) (string, url.Values, *url.URL) {
	t.Helper()
	authURL, cookie, err := p.Start(context.Background(), redirect, "/admin/alerts", stepUp)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || err != nil || !strings.HasPrefix(loc.String(), redirect) {
		t.Fatalf("authorize answered %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	au, _ := url.Parse(authURL)
	return cookie, loc.Query(), au
}

func TestFinish(t *testing.T) {
	ana := map[string]any{"sub": "1", "email": "Ana@Example.com", "email_verified": true, "groups": []any{"staff", "oncall"}}
	cases := []struct {
		name   string
		claims map[string]any
		edit   func(*sso.Options)
		// tamper changes the callback's query or the provider.
		tamper func(op *oidctest.Provider, q url.Values, cookie *string)
		want   nightowl.Role
		user   string
		refuse string
	}{
		{name: "highest group", claims: ana, want: nightowl.RoleResponder, user: "ana@example.com"},
		{name: "role claim", claims: map[string]any{"sub": "2", "email": "bo@example.com", "nw_role": "admin"},
			edit: func(o *sso.Options) { o.GroupsClaim, o.RoleClaim = "", "nw_role" }, want: nightowl.RoleAdmin, user: "bo@example.com"},
		{name: "default role", claims: map[string]any{"sub": "3", "email": "cy@example.com", "groups": []any{"other"}},
			edit: func(o *sso.Options) { o.DefaultRole = nightowl.RoleViewer }, want: nightowl.RoleViewer, user: "cy@example.com"},
		{name: "no role", claims: map[string]any{"sub": "3", "email": "cy@example.com", "groups": []any{"other"}},
			refuse: "None of your groups"},
		{name: "preferred username", claims: map[string]any{"sub": "4", "email": "Dé@example.com", "preferred_username": "de", "groups": "staff"},
			want: nightowl.RoleViewer, user: "de"},
		{name: "no usable name", claims: map[string]any{"sub": "4", "preferred_username": "Dé Dé", "groups": "staff"},
			refuse: "Neither your mail address"},
		{name: "unverified email", claims: map[string]any{"sub": "5", "email": "eve@example.com", "email_verified": false, "groups": "staff"},
			refuse: "not verified"},
		{name: "domain not allowed", claims: ana, edit: func(o *sso.Options) { o.AllowedDomains = []string{"example.org"} },
			refuse: "domain is not allowed"},
		{name: "domain allowed", claims: ana, edit: func(o *sso.Options) { o.AllowedDomains = []string{"EXAMPLE.com"} },
			want: nightowl.RoleResponder, user: "ana@example.com"},
		{name: "access denied", claims: ana, tamper: func(op *oidctest.Provider, q url.Values, _ *string) {
			q.Del("code")
			q.Set("error", "access_denied")
		}, refuse: "access denied"},
		{name: "forged state", claims: ana, tamper: func(op *oidctest.Provider, q url.Values, _ *string) { q.Set("state", "forged") },
			refuse: "does not match"},
		{name: "no flow cookie", claims: ana, tamper: func(op *oidctest.Provider, q url.Values, c *string) { *c = "" },
			refuse: "expired or was not started here"},
		{name: "altered flow cookie", claims: ana, tamper: func(op *oidctest.Provider, q url.Values, c *string) { *c = "x" + *c },
			refuse: "expired or was not started here"},
		{name: "invalid code", claims: ana, tamper: func(op *oidctest.Provider, q url.Values, _ *string) { q.Set("code", "made-up") },
			refuse: "invalid or has expired"},
		{name: "bad signature", claims: ana, tamper: func(op *oidctest.Provider, q url.Values, _ *string) { op.Forge(true) },
			refuse: "could not be verified"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			op := oidctest.New(t, "nightowl", "s3cret-client")
			var log bytes.Buffer
			p := newProvider(t, op, &log, tc.edit)
			op.SignIn(tc.claims)
			cookie, q, _ := callback(t, p, false)
			if tc.tamper != nil {
				tc.tamper(op, q, &cookie)
			}
			id, flow, err := p.Finish(context.Background(), cookie, q)
			if tc.refuse != "" {
				if err == nil || nightowl.ErrorCode(err) != nightowl.EUnauthorized || !strings.Contains(nightowl.ErrorMessage(err), tc.refuse) {
					t.Fatalf("Finish = %+v, %v; want refused with %q", id, err, tc.refuse)
				}
			} else if err != nil || id.Role != tc.want || id.Name != tc.user || flow.Back != "/admin/alerts" || flow.StepUp {
				t.Fatalf("Finish = %+v, %+v, %v; want %s as %s", id, flow, err, tc.user, tc.want)
			}
			for _, s := range append(op.Issued(), op.ClientSecret) {
				if strings.Contains(log.String(), s) {
					t.Fatalf("the log has a secret, code or token: %s", log.String())
				}
			}
		})
	}
}

// TestReplayedCode: a code is good once.
func TestReplayedCode(t *testing.T) {
	op := oidctest.New(t, "nightowl", "s3cret-client")
	var log bytes.Buffer
	p := newProvider(t, op, &log, nil)
	op.SignIn(map[string]any{"sub": "1", "email": "ana@example.com", "groups": "staff"})
	cookie, q, _ := callback(t, p, false)
	if _, _, err := p.Finish(context.Background(), cookie, q); err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.Finish(context.Background(), cookie, q); err == nil {
		t.Fatal("a code was accepted twice")
	}
}

// TestStepUp: a step-up asks the provider for a fresh sign-in.
func TestStepUp(t *testing.T) {
	op := oidctest.New(t, "nightowl", "s3cret-client")
	var log bytes.Buffer
	p := newProvider(t, op, &log, nil)
	op.SignIn(map[string]any{"sub": "1", "email": "ana@example.com", "groups": "staff"})
	cookie, q, au := callback(t, p, true)
	if au.Query().Get("max_age") != "300" || au.Query().Get("prompt") != "login" || au.Query().Get("code_challenge_method") != "S256" {
		t.Fatalf("step-up authorize URL %s", au)
	}
	id, flow, err := p.Finish(context.Background(), cookie, q)
	if err != nil || !flow.StepUp || time.Since(id.AuthTime) > time.Minute {
		t.Fatalf("Finish = %+v, %+v, %v", id, flow, err)
	}
	// Without step-up, no max_age or prompt.
	_, _, au = callback(t, p, false)
	if au.Query().Has("max_age") || au.Query().Has("prompt") {
		t.Fatalf("sign-in authorize URL %s", au)
	}
}

// TestProviderDown: a provider that cannot be reached is a clear error,
// and is tried again at the next sign-in.
func TestProviderDown(t *testing.T) {
	var log bytes.Buffer
	p, err := sso.New(sso.Options{Issuer: "http://127.0.0.1:1", ClientID: "x", Key: make([]byte, 32),
		Logger: slog.New(slog.NewTextHandler(&log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.Start(context.Background(), redirect, "", false); err == nil || !strings.Contains(nightowl.ErrorMessage(err), "cannot be reached") {
		t.Fatalf("Start = %v", err)
	}
}

func FuzzFinishCookie(f *testing.F) {
	f.Add("eyJzIjoiYSJ9.AAAA", "a", "b")
	f.Add("", "", "")
	p, err := sso.New(sso.Options{Issuer: "http://127.0.0.1:1", ClientID: "x", Key: make([]byte, 32),
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, cookie, state, code string) {
		_, _, err := p.Finish(context.Background(), cookie, url.Values{"state": {state}, "code": {code}})
		if err == nil {
			t.Fatal("a made-up flow was accepted")
		}
	})
}
