package probe

import (
	"net"

	"github.com/expr-lang/expr/types"
)

// TCP is the tcp block of a check: connect, optionally send a line and read
// until expect is seen.
type TCP struct {
	Addr   string `yaml:"addr"`
	Send   string `yaml:"send"`
	Expect string `yaml:"expect"`
	TLS    bool   `yaml:"tls"`
}

var tcpFacts = types.Map{
	"connected": types.Bool,
	"duration":  types.Float,
	"response":  types.String,
}

// Validate checks the block.
func (t *TCP) Validate() []FieldError {
	return validAddr("addr", t.Addr)
}

func validAddr(key, addr string) []FieldError {
	if addr == "" {
		return []FieldError{{key, "required"}}
	}
	if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
		return []FieldError{{key, "must be host:port"}}
	}
	return nil
}
