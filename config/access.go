package config

import (
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/nightowl/nightowl"
)

// userNameRE is the shape of a user's name, as access keeps people.
var userNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._@-]{0,63}$`)

// headerNameRE is what an HTTP header's name may be (RFC 9110's token).
var headerNameRE = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

// reservedHeaders carry credentials or addresses of their own, and cannot
// also name the user.
var reservedHeaders = []string{"authorization", "cookie", "host", "x-forwarded-for", "forwarded", "x-csrf-token", "content-type"}

// Defaults of the access section.
const (
	DefaultStepUp      = 10 * time.Minute
	DefaultSessionIdle = 12 * time.Hour
	DefaultSessionMax  = 7 * 24 * time.Hour
)

// Access is the access section: how people sign in, and what a dangerous
// button asks of them.
type Access struct {
	// Local allows signing in with a password kept by nightowl; default
	// true. When false, only BreakGlass may, for when the identity
	// provider is down.
	Local      bool   `yaml:"local"`
	BreakGlass string `yaml:"break_glass"`
	// OIDC signs people in with an identity provider; nil without one.
	OIDC *OIDC `yaml:"oidc"`
	// RequireSecondFactor lists the roles whose local accounts must enrol
	// a second factor at their next sign-in.
	RequireSecondFactor []nightowl.Role `yaml:"require_second_factor"`
	// StepUp is how recent a second factor (or an OIDC sign-in) must be
	// for a dangerous button: approving or running an action, changing a
	// role, creating a token. Default DefaultStepUp.
	StepUp time.Duration `yaml:"step_up"`
	// SessionIdle ends a session unused this long; SessionMax ends any
	// session this long after sign-in.
	SessionIdle time.Duration `yaml:"session_idle"`
	SessionMax  time.Duration `yaml:"session_max"`
	// ProxyHeader trusts an authenticating proxy's header naming the
	// user; nil without one.
	ProxyHeader *ProxyHeader `yaml:"proxy_header"`
}

// OIDC is access.oidc: the identity provider and how its groups map to
// roles.
type OIDC struct {
	Issuer       string   `yaml:"issuer"`
	ClientID     string   `yaml:"client_id"`
	ClientSecret string   `yaml:"client_secret" secret:"true"`
	Scopes       []string `yaml:"scopes"`
	// RoleClaim names a claim holding a role's name; GroupsClaim one
	// holding the person's groups, which Roles maps to roles.
	RoleClaim   string                     `yaml:"role_claim"`
	GroupsClaim string                     `yaml:"groups_claim"`
	Roles       map[nightowl.Role][]string `yaml:"roles"`
	// DefaultRole is the role of someone none of whose groups map to one;
	// none (refused) when empty.
	DefaultRole    nightowl.Role `yaml:"default_role"`
	AllowedDomains []string      `yaml:"allowed_domains"`
	// Name is what the sign-in button calls the provider ("Sign in with
	// NAME"); the issuer's host when empty.
	Name string `yaml:"name"`
	// MaxAge is how recent the provider's sign-in must be when a step-up
	// asks for a fresh one; StepUp when zero.
	MaxAge time.Duration `yaml:"max_age"`
}

// ProxyHeader is access.proxy_header.
type ProxyHeader struct {
	Header         string `yaml:"header"`
	TrustedProxies []CIDR `yaml:"trusted_proxies"`
}

// Proxies returns TrustedProxies as prefixes.
func (p *ProxyHeader) Proxies() []netip.Prefix {
	out := make([]netip.Prefix, len(p.TrustedProxies))
	for i, c := range p.TrustedProxies {
		out[i] = c.Prefix
	}
	return out
}

func (d *decoder) access(a *Access) {
	const path = "access"
	d.positiveOr(path+".step_up", &a.StepUp, DefaultStepUp)
	d.positiveOr(path+".session_idle", &a.SessionIdle, DefaultSessionIdle)
	d.positiveOr(path+".session_max", &a.SessionMax, DefaultSessionMax)
	if a.SessionIdle > a.SessionMax && a.SessionMax > 0 && !d.HasError(path+".session_idle") && !d.HasError(path+".session_max") {
		d.Errorf(d.Locate(path+".session_idle"), path+".session_idle", "must not be longer than session_max (%s)", nightowl.FormatDuration(a.SessionMax))
	}
	for i, r := range a.RequireSecondFactor {
		if p := indexPath(path+".require_second_factor", i); !r.Valid() && !d.HasError(p) {
			d.Errorf(d.Locate(p), p, "must be viewer, responder or admin, not %q", r)
		}
	}
	if !a.Local && a.OIDC == nil && a.ProxyHeader == nil && !d.HasError(path+".local") {
		d.Errorf(d.Locate(path+".local"), path+".local", "false needs access.oidc or access.proxy_header: otherwise only the break-glass admin could sign in")
	}
	if a.BreakGlass != "" && !userNameRE.MatchString(a.BreakGlass) && !d.HasError(path+".break_glass") {
		d.Errorf(d.Locate(path+".break_glass"), path+".break_glass", "must be a user's name")
	}
	if o := a.OIDC; o != nil {
		d.oidc(o, a.StepUp)
	}
	if p := a.ProxyHeader; p != nil {
		ppath := path + ".proxy_header"
		switch {
		case d.HasError(ppath + ".header"):
		case p.Header == "":
			d.Errorf(d.Locate(ppath+".header"), ppath+".header", "required: the header the proxy names the user in, such as X-Forwarded-User")
		case !headerNameRE.MatchString(p.Header):
			d.Errorf(d.Locate(ppath+".header"), ppath+".header", "must be a header's name, such as X-Forwarded-User")
		case slices.Contains(reservedHeaders, strings.ToLower(p.Header)):
			d.Errorf(d.Locate(ppath+".header"), ppath+".header", "must be a header of its own: %s carries other things", p.Header)
		}
		if len(p.TrustedProxies) == 0 && !d.HasError(ppath+".trusted_proxies") {
			d.Errorf(d.Locate(ppath+".trusted_proxies"), ppath+".trusted_proxies", "required: the addresses of the proxies; the header is refused from any other")
		}
	}
}

func (d *decoder) oidc(o *OIDC, stepUp time.Duration) {
	const path = "access.oidc"
	if u, err := url.Parse(o.Issuer); o.Issuer == "" || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		if !d.HasError(path + ".issuer") {
			d.Errorf(d.Locate(path+".issuer"), path+".issuer", "must be the provider's issuer URL, such as https://keycloak.example.com/realms/ops")
		}
	}
	if o.ClientID == "" && !d.HasError(path+".client_id") {
		d.Errorf(d.Locate(path+".client_id"), path+".client_id", "required")
	}
	if len(o.Scopes) == 0 {
		o.Scopes = []string{"openid", "email", "profile"}
	} else if !slices.Contains(o.Scopes, "openid") && !d.HasError(path+".scopes") {
		d.Errorf(d.Locate(path+".scopes"), path+".scopes", "must include openid")
	}
	if o.GroupsClaim == "" && o.RoleClaim == "" {
		o.GroupsClaim = "groups"
	}
	for role := range o.Roles {
		if !role.Valid() {
			p := joinPath(path+".roles", string(role))
			d.Errorf(d.Keys[p], p, "must be viewer, responder or admin")
		}
	}
	if o.DefaultRole != "" && !o.DefaultRole.Valid() && !d.HasError(path+".default_role") {
		d.Errorf(d.Locate(path+".default_role"), path+".default_role", "must be viewer, responder or admin, or left out to refuse people whose groups map to no role")
	}
	for i, dom := range o.AllowedDomains {
		if p := indexPath(path+".allowed_domains", i); (dom == "" || strings.ContainsAny(dom, "@/ ")) && !d.HasError(p) {
			d.Errorf(d.Locate(p), p, "must be a mail domain, such as example.com")
		}
	}
	for role, groups := range o.Roles {
		for i, g := range groups {
			if p := indexPath(joinPath(path+".roles", string(role)), i); strings.TrimSpace(g) == "" && !d.HasError(p) {
				d.Errorf(d.Locate(p), p, "must be the name of a group (or a value of role_claim)")
			}
		}
	}
	if o.MaxAge == 0 && d.Vals[path+".max_age"] == nil {
		o.MaxAge = stepUp
	} else {
		d.positive(path+".max_age", o.MaxAge)
	}
}

// positiveOr applies def to a duration left out, and refuses one that is
// not positive.
func (d *decoder) positiveOr(path string, v *time.Duration, def time.Duration) {
	if *v == 0 && d.Vals[path] == nil {
		*v = def
		return
	}
	d.positive(path, *v)
}
