package web

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/netip"
	"strings"

	"github.com/nightowl/nightowl"
)

// ProxyUsers looks up the user an authenticating proxy names
// (access.Service.ProxyUser): they must exist, since a proxy cannot make
// accounts.
type ProxyUsers interface {
	ProxyUser(ctx context.Context, name string) (nightowl.User, error)
}

// ProxyAuth is access.proxy_header: a request whose peer is one of
// Trusted and that carries Header is the user it names.
type ProxyAuth struct {
	Header  string
	Trusted []netip.Prefix
}

// proxyCSRFLabel keeps the sign-in key's MACs here apart from its other
// uses.
const proxyCSRFLabel = "nightowl proxy csrf\x00"

// proxyPrincipal is who an authenticating proxy says a request is from;
// false when the request does not come from one of the trusted proxies,
// or names nobody. Any other peer's header is ignored, so a request that
// relies on it alone is refused as having no credentials.
func (a *api) proxyPrincipal(r *http.Request) (Principal, bool, error) {
	if a.proxy.Header == "" || a.auth == nil {
		return Principal{}, false, nil
	}
	name := strings.TrimSpace(r.Header.Get(a.proxy.Header))
	if name == "" || !trustedAddr(peerAddr(r.RemoteAddr), a.proxy.Trusted) {
		return Principal{}, false, nil
	}
	pu, ok := a.auth.(ProxyUsers)
	if !ok {
		return Principal{}, false, nil
	}
	u, err := pu.ProxyUser(r.Context(), name)
	if nightowl.ErrorCode(err) == nightowl.ENotFound {
		return Principal{}, true, nightowl.Errorf(nightowl.EUnauthorized, "the authenticating proxy names a user who is not known here")
	}
	if err != nil {
		return Principal{}, true, err
	}
	// No session holds a CSRF token, so the token is one derived from
	// the user's name with the sign-in key: a page of another site, which
	// the proxy would let through with the browser's credentials, cannot
	// know it.
	m := hmac.New(sha256.New, a.loginKey)
	m.Write([]byte(proxyCSRFLabel + u.Name))
	csrf := base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	return Principal{User: u.Name, Role: u.Role, Via: "proxy", CSRF: csrf}, true, nil
}
