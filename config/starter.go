package config

import _ "embed"

// Starter is the commented config `nightowl init` writes: it validates as
// it is, and watches nightowl itself until the operator adds checks.
//
//go:embed starter.yaml
var Starter []byte
