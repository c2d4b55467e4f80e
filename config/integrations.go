package config

import (
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/nightowl/nightowl/ingest"
)

// integrationKeys is the shape of one integration: a tool that sends
// alerts to /api/v1/integrations/NAME (docs/integrations.md).
type integrationKeys struct {
	Name   string            `yaml:"name"`
	Format string            `yaml:"format"`
	Token  string            `yaml:"token" secret:"true"`
	Labels map[string]string `yaml:"labels"`
	Rate   string            `yaml:"rate"`
	// ResolveAfter resolves an alert neither sent again nor resolved
	// for this long; 0 (the default) never.
	ResolveAfter time.Duration `yaml:"resolve_after"`
}

// MinTokenLength is the least length of an integration's token: it is the
// only credential of a public URL.
const MinTokenLength = 16

// integrations decodes the integrations section; n is nil when the file
// has none.
func (d *decoder) integrations(n *yaml.Node) []ingest.Integration {
	l := namedList{path: "integrations", kind: "integration", notList: "must be a list of integrations"}
	out, _ := decodeNamed(d, n, l, d.integration, func(in ingest.Integration) string { return in.Name })
	return out
}

func (d *decoder) integration(n *yaml.Node, path string) ingest.Integration {
	var in ingest.Integration
	var k integrationKeys
	if !d.namedItem(n, path, &k) {
		return in
	}
	// The name is a path segment of the URL and a part of alert names.
	in.Name = d.itemName(n, path, k.Name, badName)
	fpath := path + ".format"
	switch _, ok := ingest.Formats[k.Format]; {
	case d.HasError(fpath):
	case k.Format == "":
		d.Errorf(n, fpath, "required: %s", ingest.FormatNames)
	case !ok:
		d.Errorf(d.Locate(fpath), fpath, "must be %s, not %q", ingest.FormatNames, k.Format)
	}
	in.Format = k.Format
	tpath := path + ".token"
	switch {
	case d.HasError(tpath) || d.HasError(tpath+"_file"):
	case k.Token == "":
		d.Errorf(n, tpath, "required: the secret the sender gives (token, or token_file)")
	case len(k.Token) < MinTokenLength:
		// The message never shows the token: it is a secret.
		at := d.Locate(tpath)
		if at == nil || at == n {
			at = d.Locate(tpath + "_file")
		}
		d.Errorf(at, tpath, "must be at least %d characters: it is the only credential of a public URL", MinTokenLength)
	}
	in.Token = k.Token
	for name := range k.Labels {
		if !labelNameRE.MatchString(name) {
			lpath := path + ".labels." + name
			d.Errorf(d.Keys[lpath], lpath, "label names must match [a-zA-Z_][a-zA-Z0-9_]*")
		} else if name == ingest.LabelIntegration {
			lpath := path + ".labels." + name
			d.Errorf(d.Keys[lpath], lpath, "is set by nightowl: the integration's name")
		}
	}
	in.Labels = k.Labels
	in.Rate = ingest.DefaultRate
	if rpath := path + ".rate"; k.Rate != "" && !d.HasError(rpath) {
		r, err := ingest.ParseRate(k.Rate)
		if err != nil {
			d.Errorf(d.Locate(rpath), rpath, "%v", err)
		}
		in.Rate = r
	}
	if rpath := path + ".resolve_after"; k.ResolveAfter != 0 && k.ResolveAfter < time.Minute && !d.HasError(rpath) {
		d.Errorf(d.Locate(rpath), rpath, "must be at least 1m, or 0 for never: Alertmanager resends a firing alert only every repeat_interval")
	}
	in.ResolveAfter = k.ResolveAfter
	return in
}
