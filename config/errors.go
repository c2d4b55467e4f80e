package config

import "github.com/nightowl/nightowl/internal/yamlnode"

// Pos is a position in the config file, 1-based.
type Pos struct{ Line, Col int }

// Error is one problem with the config, at the position of the offending
// value (or key); Error() formats it as FILE:LINE:COL: KEY: MESSAGE.
type Error = yamlnode.Error

// Errors is what Load and Parse return for an invalid config: every problem
// found, sorted by position, so that one run of `nightowl validate` shows them
// all.
type Errors = yamlnode.Errors
