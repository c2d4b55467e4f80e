package probe

import (
	"github.com/expr-lang/expr/types"
)

// TLS is the tls block of a check: a handshake and a look at the certificate.
type TLS struct {
	Addr       string `yaml:"addr"`
	ServerName string `yaml:"server_name"` // SNI and the name verified; the host of addr by default
	// InsecureSkipVerify reports the certificate's dates even when it does not verify.
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
	CAFile             string `yaml:"ca_file" path:"true"`
}

var tlsFacts = types.Map{
	"cert_days_left": types.Float,
	"issuer":         types.String,
	"subject":        types.String,
	"duration":       types.Float,
}

// Validate checks the block.
func (t *TLS) Validate() []FieldError {
	return validAddr("addr", t.Addr)
}
