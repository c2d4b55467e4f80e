// Package sso signs people in at an OpenID Connect identity provider
// (Keycloak, Google, Entra ID, Okta …) with the authorization code flow and
// PKCE, and tells who they are and which role their groups map to. The web
// layer sends the browser to Start's URL and hands the callback to Finish;
// access makes or updates the account and starts the session.
//
// What the flow must remember between the two (state, nonce, PKCE
// verifier, where to go back to) travels in a short-lived cookie signed
// with the server's sign-in key, which every node of a cluster shares, so
// that the callback may land on any node. No code, token or client secret
// is ever logged or put in an error.
package sso

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/nightowl/nightowl"
)

// FlowTTL is how long a sign-in at the provider may take, from Start to
// the callback.
const FlowTTL = 10 * time.Minute

// stepUpSlack allows for the clocks of the provider and the server to
// differ when a step-up checks auth_time.
const stepUpSlack = time.Minute

// Options configure a Provider: access.oidc, and what it needs from the
// server.
type Options struct {
	Issuer       string
	ClientID     string
	ClientSecret string
	Scopes       []string // openid, email and profile when empty
	// RoleClaim names a claim whose values are looked up in Roles (and a
	// value that is itself a role's name is that role); GroupsClaim one
	// whose values are the person's groups, looked up in Roles.
	RoleClaim   string
	GroupsClaim string
	Roles       map[nightowl.Role][]string
	// DefaultRole is the role of someone none of whose groups map to one;
	// they are refused when it is empty.
	DefaultRole nightowl.Role
	// AllowedDomains, when set, are the only mail domains let in.
	AllowedDomains []string
	// MaxAge is how recent the provider's sign-in must be for a step-up.
	MaxAge time.Duration
	// Key signs the flow's cookie: the server's sign-in key.
	Key []byte
	// Name is shown on the sign-in button; the issuer's host when empty.
	Name   string
	Client *http.Client // http.DefaultClient when nil
	Clock  nightowl.Clock
	Logger *slog.Logger
}

// Provider is an identity provider. Its discovery document and keys are
// fetched at the first sign-in, and again after a failure, so that a
// provider that is down at start does not keep the server from starting.
type Provider struct {
	opts Options

	mu       sync.Mutex
	provider *oidc.Provider
}

// New checks opts and returns a Provider.
func New(opts Options) (*Provider, error) {
	u, err := url.Parse(opts.Issuer)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("sso: issuer %q is not an http(s) URL", opts.Issuer)
	}
	if opts.ClientID == "" {
		return nil, errors.New("sso: no client ID")
	}
	if len(opts.Key) < 16 {
		return nil, errors.New("sso: the flow key is too short")
	}
	if len(opts.Scopes) == 0 {
		opts.Scopes = []string{oidc.ScopeOpenID, "email", "profile"}
	}
	if opts.Name == "" {
		opts.Name = u.Host
	}
	if opts.Client == nil {
		opts.Client = http.DefaultClient
	}
	if opts.Clock == nil {
		opts.Clock = nightowl.SystemClock{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Provider{opts: opts}, nil
}

// Name is what the sign-in button calls the provider.
func (p *Provider) Name() string { return p.opts.Name }

func (p *Provider) ctx(ctx context.Context) context.Context {
	return oidc.ClientContext(ctx, p.opts.Client)
}

// discover returns the provider's endpoints and keys, fetching them once.
func (p *Provider) discover(ctx context.Context) (*oidc.Provider, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.provider != nil {
		return p.provider, nil
	}
	prov, err := oidc.NewProvider(p.ctx(ctx), p.opts.Issuer)
	if err != nil {
		p.opts.Logger.Warn("sso: read the identity provider's discovery document", "issuer", p.opts.Issuer, "err", err)
		return nil, nightowl.Errorf(nightowl.EInternal, "the identity provider cannot be reached: try again shortly")
	}
	p.provider = prov
	return prov, nil
}

func (p *Provider) oauth(prov *oidc.Provider, redirect string) *oauth2.Config {
	return &oauth2.Config{ClientID: p.opts.ClientID, ClientSecret: p.opts.ClientSecret, Endpoint: prov.Endpoint(),
		RedirectURL: redirect, Scopes: p.opts.Scopes}
}

// Flow is what a sign-in remembers from Start to Finish, in its cookie.
type Flow struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	Redirect string `json:"r"`
	// Back is the local path to go to afterwards.
	Back string `json:"b,omitempty"`
	// StepUp asks for a fresh sign-in at the provider, to renew the
	// current session's factor rather than start a new one.
	StepUp  bool  `json:"u,omitempty"`
	Expires int64 `json:"e"`
}

// Start begins a sign-in that comes back to redirect (the callback's
// absolute URL) and then goes to back. It returns the provider's URL to
// send the browser to and the value of the flow's cookie. A step-up asks
// the provider for a sign-in no older than MaxAge, and to ask the person
// again (prompt=login).
func (p *Provider) Start(ctx context.Context, redirect, back string, stepUp bool) (authURL, cookie string, err error) {
	prov, err := p.discover(ctx)
	if err != nil {
		return "", "", err
	}
	f := Flow{State: random(), Nonce: random(), Verifier: oauth2.GenerateVerifier(), Redirect: redirect, Back: back,
		StepUp: stepUp, Expires: p.opts.Clock.Now().Add(FlowTTL).Unix()}
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(f.Verifier), oidc.Nonce(f.Nonce)}
	if stepUp {
		age := max(int64(p.opts.MaxAge/time.Second), 0)
		opts = append(opts, oauth2.SetAuthURLParam("max_age", strconv.FormatInt(age, 10)),
			oauth2.SetAuthURLParam("prompt", "login"))
	}
	return p.oauth(prov, redirect).AuthCodeURL(f.State, opts...), p.seal(f), nil
}

// Identity is who the provider signed in, as nightowl will know them.
type Identity struct {
	// Name is their user name here: the mail address, lower case, or
	// else preferred_username.
	Name  string
	Email string
	Role  nightowl.Role
	// AuthTime is when they last signed in at the provider (auth_time),
	// or when the token was issued without one.
	AuthTime time.Time
}

// Finish completes a sign-in from the callback's query and the flow's
// cookie. It returns who signed in and the flow (for where to go next and
// whether it was a step-up). Its errors are for the person: they name
// what went wrong, never a code or a token; the detail is logged at warn
// level at most.
func (p *Provider) Finish(ctx context.Context, cookie string, q url.Values) (Identity, Flow, error) {
	f, ok := p.open(cookie)
	if !ok {
		return Identity{}, Flow{}, refuse("This sign-in has expired or was not started here. Please sign in again.")
	}
	if e := q.Get("error"); e != "" {
		p.opts.Logger.Warn("sso: the identity provider refused the sign-in", "error", truncate(e, 64),
			"description", truncate(q.Get("error_description"), 200))
		if e == "access_denied" {
			return Identity{}, f, refuse("The identity provider did not let you in (access denied).")
		}
		return Identity{}, f, refuse("The identity provider refused the sign-in (" + truncate(e, 64) + ").")
	}
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(f.State)) != 1 {
		p.opts.Logger.Warn("sso: a callback's state does not match its sign-in")
		return Identity{}, Flow{}, refuse("This sign-in does not match the one your browser started. Please sign in again.")
	}
	code := q.Get("code")
	if code == "" {
		return Identity{}, f, refuse("The identity provider sent no authorization code. Please sign in again.")
	}
	prov, err := p.discover(ctx)
	if err != nil {
		return Identity{}, f, err
	}
	tok, err := p.oauth(prov, f.Redirect).Exchange(p.ctx(ctx), code, oauth2.VerifierOption(f.Verifier))
	if err != nil {
		// The error may quote the provider's answer, never the code.
		p.opts.Logger.Warn("sso: exchange the authorization code", "err", exchangeError(err))
		return Identity{}, f, refuse("The identity provider did not accept this sign-in (the code is invalid or has expired). Please sign in again.")
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		p.opts.Logger.Warn("sso: the token response has no ID token")
		return Identity{}, f, refuse("The identity provider sent no ID token.")
	}
	idt, err := prov.Verifier(&oidc.Config{ClientID: p.opts.ClientID, Now: p.opts.Clock.Now}).Verify(p.ctx(ctx), raw)
	if err != nil {
		p.opts.Logger.Warn("sso: verify the ID token", "err", err)
		return Identity{}, f, refuse("The identity provider's ID token could not be verified.")
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(f.Nonce)) != 1 {
		p.opts.Logger.Warn("sso: the ID token's nonce does not match its sign-in")
		return Identity{}, f, refuse("The identity provider's ID token does not belong to this sign-in.")
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		p.opts.Logger.Warn("sso: read the ID token's claims", "err", err)
		return Identity{}, f, refuse("The identity provider's ID token could not be read.")
	}
	id, err := p.identify(claims, idt.IssuedAt)
	if err == nil && f.StepUp && p.opts.MaxAge > 0 && p.opts.Clock.Now().Sub(id.AuthTime) > p.opts.MaxAge+stepUpSlack {
		// The provider was asked for a fresh sign-in (max_age) and did
		// not do one.
		err = refuse("The identity provider did not ask you to sign in again. Please try again.")
	}
	if err != nil {
		p.opts.Logger.Warn("sso: refused a sign-in", "subject", truncate(idt.Subject, 128), "why", nightowl.ErrorMessage(err))
		return Identity{}, f, err
	}
	return id, f, nil
}

// exchangeError is what may be logged of a failed exchange: the
// provider's error code, or the kind of failure.
func exchangeError(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		s := "status " + strconv.Itoa(re.Response.StatusCode)
		if re.ErrorCode != "" {
			s += ": " + truncate(re.ErrorCode, 64)
		}
		return s
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Op + " " + ue.URL + ": " + ue.Err.Error()
	}
	return "failed"
}

// nameRE is access's rule for a user's name.
var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._@-]{0,63}$`)

// identify reads who the claims are about and what role they get.
func (p *Provider) identify(claims map[string]any, issued time.Time) (Identity, error) {
	email, _ := claims["email"].(string)
	email = strings.ToLower(strings.TrimSpace(email))
	if v, ok := claims["email_verified"]; ok && email != "" && !truthy(v) {
		return Identity{}, refuse("Your mail address is not verified at the identity provider.")
	}
	if len(p.opts.AllowedDomains) > 0 {
		_, domain, ok := strings.Cut(email, "@")
		if !ok || !slices.ContainsFunc(p.opts.AllowedDomains, func(d string) bool { return strings.EqualFold(d, domain) }) {
			return Identity{}, refuse("Your mail address's domain is not allowed to sign in here.")
		}
	}
	id := Identity{Email: email, AuthTime: issued}
	if at, ok := number(claims["auth_time"]); ok && at > 0 {
		id.AuthTime = time.Unix(at, 0)
	}
	switch pu, _ := claims["preferred_username"].(string); {
	case nameRE.MatchString(email):
		id.Name = email
	case nameRE.MatchString(pu):
		id.Name = pu
	default:
		return Identity{}, refuse("Neither your mail address nor your user name at the identity provider can be a name here " +
			"(1 to 64 of a-z, 0-9 and . _ @ -).")
	}
	role, ok := p.role(claims)
	if !ok {
		return Identity{}, refuse("None of your groups at the identity provider gives a role here.")
	}
	id.Role = role
	return id, nil
}

// role is the highest role any of the person's groups (or role claim's
// values) maps to, else DefaultRole; false for none.
func (p *Provider) role(claims map[string]any) (nightowl.Role, bool) {
	var best nightowl.Role
	better := func(r nightowl.Role) {
		if r.Valid() && (best == "" || r.Allows(best) && r != best) {
			best = r
		}
	}
	look := func(values []string, named bool) {
		for _, v := range values {
			for role, groups := range p.opts.Roles {
				if slices.Contains(groups, v) {
					better(role)
				}
			}
			if named {
				better(nightowl.Role(v))
			}
		}
	}
	if p.opts.GroupsClaim != "" {
		look(strings_(claims[p.opts.GroupsClaim]), false)
	}
	if p.opts.RoleClaim != "" {
		look(strings_(claims[p.opts.RoleClaim]), true)
	}
	if best == "" {
		best = p.opts.DefaultRole
	}
	return best, best.Valid()
}

// strings_ reads a claim that is a list of strings, or one string.
func strings_(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// truthy reads email_verified, which some providers send as a string.
func truthy(v any) bool {
	switch v := v.(type) {
	case bool:
		return v
	case string:
		return strings.EqualFold(v, "true")
	}
	return false
}

func number(v any) (int64, bool) {
	switch v := v.(type) {
	case float64:
		return int64(v), true
	case json.Number:
		n, err := v.Int64()
		return n, err == nil
	}
	return 0, false
}

// refuse is an error to show the person; the sign-in is not theirs to
// retry differently, so it is EUnauthorized.
func refuse(msg string) error { return nightowl.Errorf(nightowl.EUnauthorized, "%s", msg) }

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func random() string {
	b := make([]byte, 24)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// flowLabel keeps the key's MACs here apart from its other uses.
const flowLabel = "nightowl oidc flow\x00"

// seal signs a flow for its cookie.
func (p *Provider) seal(f Flow) string {
	body, _ := json.Marshal(f)
	return base64.RawURLEncoding.EncodeToString(body) + "." + base64.RawURLEncoding.EncodeToString(p.mac(body))
}

func (p *Provider) mac(body []byte) []byte {
	m := hmac.New(sha256.New, p.opts.Key)
	m.Write([]byte(flowLabel))
	m.Write(body)
	return m.Sum(nil)
}

// maxCookie bounds what open reads.
const maxCookie = 4096

// open checks a flow cookie's signature and expiry.
func (p *Provider) open(cookie string) (Flow, bool) {
	b64, sig64, ok := strings.Cut(cookie, ".")
	if !ok || len(cookie) > maxCookie {
		return Flow{}, false
	}
	body, err1 := base64.RawURLEncoding.DecodeString(b64)
	sig, err2 := base64.RawURLEncoding.DecodeString(sig64)
	if err1 != nil || err2 != nil || !hmac.Equal(sig, p.mac(body)) {
		return Flow{}, false
	}
	var f Flow
	if json.Unmarshal(body, &f) != nil || p.opts.Clock.Now().Unix() >= f.Expires {
		return Flow{}, false
	}
	return f, true
}
