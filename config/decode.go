package config

import (
	"context"

	"go.yaml.in/yaml/v3"

	"github.com/nightowl/nightowl/internal/yamlnode"
)

// The decoder is the YAML node walker, which reports every problem at its
// line and column, with nightowl's options; the sections of the config
// are its methods.
type decoder struct {
	*yamlnode.Walker
	opts Options
}

func newDecoder(ctx context.Context, file string, src []byte, opts Options) *decoder {
	w := yamlnode.New(file, src, yamlnode.Options{Context: ctx, Getenv: opts.Getenv, ReadFile: opts.ReadFile})
	return &decoder{Walker: w, opts: opts}
}

// Short names for the walker's helpers, which nearly every check of a
// section uses.

type pair = yamlnode.Pair

func resolve(n *yaml.Node) *yaml.Node       { return yamlnode.Resolve(n) }
func isNull(n *yaml.Node) bool              { return yamlnode.IsNull(n) }
func joinPath(parent, key string) string    { return yamlnode.JoinPath(parent, key) }
func indexPath(parent string, i int) string { return yamlnode.IndexPath(parent, i) }
