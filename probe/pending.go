package probe

// This file holds placeholders until the probers are written; each is
// replaced by the real implementation in its type's file.

import (
	"errors"

	"github.com/nightowl/nightowl"
)

// Clients shares HTTP transports between checks with the same TLS settings.
type Clients struct{}

var errPending = errors.New("probe not implemented yet")

func (h *HTTP) Prober(env Env) (nightowl.Prober, error) { return nil, errPending }
func (t *TCP) Prober(env Env) (nightowl.Prober, error)  { return nil, errPending }
func (d *DNS) Prober(env Env) (nightowl.Prober, error)  { return nil, errPending }
func (t *TLS) Prober(env Env) (nightowl.Prober, error)  { return nil, errPending }
