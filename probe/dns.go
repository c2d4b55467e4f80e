package probe

import (
	"sort"
	"strings"

	"github.com/expr-lang/expr/types"
)

// DNS is the dns block of a check.
type DNS struct {
	Name string `yaml:"name"`
	Type string `yaml:"type"` // A by default
	// Resolver is host:port; the system's first nameserver when empty.
	Resolver string `yaml:"resolver"`
	Protocol string `yaml:"protocol"` // udp (default) or tcp
}

var dnsFacts = types.Map{
	"answers":  types.Array(types.String),
	"rcode":    types.String,
	"duration": types.Float,
}

var dnsTypes = []string{"A", "AAAA", "CAA", "CNAME", "MX", "NS", "PTR", "SOA", "SRV", "TXT"}

// Validate checks the block.
func (d *DNS) Validate() []FieldError {
	var errs []FieldError
	if d.Name == "" {
		errs = append(errs, FieldError{"name", "required"})
	}
	d.Type = strings.ToUpper(d.Type)
	if i := sort.SearchStrings(dnsTypes, d.Type); i == len(dnsTypes) || dnsTypes[i] != d.Type {
		errs = append(errs, FieldError{"type", "must be one of " + strings.Join(dnsTypes, ", ")})
	}
	if d.Resolver != "" {
		errs = append(errs, validAddr("resolver", d.Resolver)...)
	}
	if d.Protocol != "udp" && d.Protocol != "tcp" {
		errs = append(errs, FieldError{"protocol", `must be "udp" or "tcp"`})
	}
	return errs
}
