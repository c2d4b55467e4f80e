package app

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/access"
	"github.com/nightowl/nightowl/config"
	"github.com/nightowl/nightowl/sso"
	"github.com/nightowl/nightowl/web"
)

// OpenAccess opens the store of the config at path for the commands that
// manage people and tokens. They work on the storage directly, so that the
// first admin needs no server (and no way into it) to be made; a server
// running on the same file sees the change at once.
func OpenAccess(ctx context.Context, path string) (*access.Service, func() error, error) {
	cfg, err := config.LoadContext(ctx, path, config.Options{})
	if err != nil {
		return nil, nil, err
	}
	store, err := openStore(ctx, cfg, nil, nil)
	if err != nil {
		return nil, nil, err
	}
	svc, err := access.New(access.Options{Store: store})
	if err != nil {
		store.Close()
		return nil, nil, err
	}
	return svc, store.Close, nil
}

// ssoTimeout bounds each call to the identity provider: discovery, keys,
// the exchange of a code.
const ssoTimeout = 10 * time.Second

// newSSO is the identity provider of access.oidc, whose flow cookies are
// signed with the sign-in key; nil without one.
func newSSO(o *config.OIDC, key []byte, clock nightowl.Clock, log *slog.Logger) (*sso.Provider, error) {
	if o == nil {
		return nil, nil
	}
	return sso.New(sso.Options{Issuer: o.Issuer, ClientID: o.ClientID, ClientSecret: o.ClientSecret, Scopes: o.Scopes,
		RoleClaim: o.RoleClaim, GroupsClaim: o.GroupsClaim, Roles: o.Roles, DefaultRole: o.DefaultRole,
		AllowedDomains: o.AllowedDomains, MaxAge: o.MaxAge, Key: key, Name: o.Name,
		Client: &http.Client{Timeout: ssoTimeout}, Clock: clock, Logger: log})
}

// accessWebOptions sets what web needs of access: the single sign-on, the
// password rule and the authenticating proxy.
func (a *App) accessWebOptions(o *web.Options) {
	if a.sso != nil {
		o.SSO = a.sso
	}
	o.PasswordsOff = !a.cfg.Access.Local
	if p := a.cfg.Access.ProxyHeader; p != nil {
		o.Proxy = web.ProxyAuth{Header: p.Header, Trusted: p.Proxies()}
	}
}
