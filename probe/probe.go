// Package probe holds the active check types. Each type lives in a file of its
// own (http.go, tcp.go, …) and is named once, in Types: config validation,
// the engine and the docs all read that table, so adding a type touches its
// file, one row here, and its docs page.
package probe

import (
	"log/slog"

	"github.com/expr-lang/expr/types"

	"github.com/nightowl/nightowl"
)

// Type describes one kind of active check.
type Type struct {
	// New returns a pointer to a zero block of this type, with defaults
	// preset, for the config decoder to fill from YAML (yaml tags name the
	// keys; a string field tagged secret:"true" also accepts KEY_file).
	New func() Spec
	// Facts are the names and types an assertion of this type can use.
	Facts types.Map
	// Passive types are not run on an interval: their results come from
	// outside (heartbeat pings and their deadlines).
	Passive bool
	// Defaults are the assertions applied when a check gives none; empty
	// for types whose probe success is the whole test.
	Defaults []Default
}

// Default is a default assertion of a type.
type Default struct {
	Name, Expr string
	Severity   nightowl.Severity // critical when empty
}

// Spec is the decoded configuration block of one check.
type Spec interface {
	// Validate reports what is wrong with the block after decoding, each
	// problem under the key it concerns, relative to the block ("url").
	Validate() []FieldError
	// Prober builds the probe that runs this block.
	Prober(env Env) (nightowl.Prober, error)
}

// FieldError is one problem with a key of a block.
type FieldError = nightowl.FieldError

// Env is what probers share: the logger, and the HTTP transports that many
// checks with the same TLS settings reuse.
type Env struct {
	Logger  *slog.Logger
	Clients *Clients
}

// Types names every active check type. It is read-only after init.
var Types = map[string]Type{
	"http": {New: func() Spec { return &HTTP{Method: "GET"} }, Facts: httpFacts,
		Defaults: []Default{{Name: "http_ok", Expr: "status >= 200 and status < 400"}}},
	"tcp": {New: func() Spec { return &TCP{} }, Facts: tcpFacts,
		Defaults: []Default{{Name: "connected", Expr: "connected"}}},
	"dns": {New: func() Spec { return &DNS{Type: "A", Protocol: "udp"} }, Facts: dnsFacts,
		Defaults: []Default{{Name: "rcode_ok", Expr: `rcode == "NOERROR"`}}},
	"tls": {New: func() Spec { return &TLS{} }, Facts: tlsFacts,
		Defaults: []Default{{Name: "cert_valid", Expr: "cert_days_left > 7"}}},
	"mysql":     {New: newMySQL, Facts: mysqlFacts, Defaults: mysqlDefaults},
	"postgres":  {New: newPostgres, Facts: postgresFacts, Defaults: postgresDefaults},
	"redis":     {New: newRedis, Facts: redisFacts, Defaults: redisDefaults},
	"exec":      {New: newExec, Facts: execFacts, Defaults: execDefaults},
	"heartbeat": {New: newHeartbeat, Facts: heartbeatFacts, Defaults: heartbeatDefaults, Passive: true},
}
