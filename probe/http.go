package probe

import (
	"net/url"
	"strings"

	"github.com/expr-lang/expr/types"
)

// HTTP is the http block of a check.
type HTTP struct {
	URL     string            `yaml:"url"`
	Method  string            `yaml:"method"`
	Headers map[string]string `yaml:"headers"`
	Body    string            `yaml:"body"`
	// FollowRedirects defaults to true; nil means unset.
	FollowRedirects *bool `yaml:"follow_redirects"`
	// InsecureSkipVerify turns off certificate verification.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
	// CAFile is a PEM bundle of extra roots to trust, relative to the config.
	CAFile      string     `yaml:"ca_file" path:"true"`
	BasicAuth   *BasicAuth `yaml:"basic_auth"`
	BearerToken string     `yaml:"bearer_token" secret:"true"`
}

// BasicAuth is HTTP basic authentication.
type BasicAuth struct {
	Username string `yaml:"username"`
	Password string `yaml:"password" secret:"true"`
}

var httpFacts = types.Map{
	"status":         types.Int,
	"body":           types.String,
	"headers":        types.Map{types.Extra: types.String},
	"json":           types.Any,
	"duration":       types.Float,
	"cert_days_left": types.Float,
}

var httpMethods = map[string]bool{"GET": true, "HEAD": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true, "OPTIONS": true}

// Validate checks the block.
func (h *HTTP) Validate() []FieldError {
	var errs []FieldError
	if h.URL == "" {
		errs = append(errs, FieldError{"url", "required"})
	} else if u, err := url.Parse(h.URL); err != nil {
		errs = append(errs, FieldError{"url", "not a valid URL"})
	} else if u.Scheme != "http" && u.Scheme != "https" {
		errs = append(errs, FieldError{"url", `scheme must be "http" or "https"`})
	} else if u.Host == "" {
		errs = append(errs, FieldError{"url", "has no host"})
	}
	h.Method = strings.ToUpper(h.Method)
	if !httpMethods[h.Method] {
		errs = append(errs, FieldError{"method", "must be one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"})
	}
	if h.BasicAuth != nil && h.BearerToken != "" {
		errs = append(errs, FieldError{"bearer_token", "cannot be combined with basic_auth"})
	}
	return errs
}
