package config

import (
	"github.com/nightowl/nightowl/audit"
)

// Audit is the audit section.
type Audit struct {
	// SigningKey is the file (resolved against the config's directory) of
	// the Ed25519 key that signs checkpoints of the audit log; none are
	// signed when empty. Keep it outside the database and its backups.
	SigningKey string `yaml:"signing_key"`
	// Signer is the key read from SigningKey; nil without one.
	Signer *audit.Signer `yaml:"-"`
}

func (d *decoder) audit(a *Audit) {
	if a.SigningKey == "" || d.HasError("audit.signing_key") {
		return
	}
	n := d.Locate("audit.signing_key")
	data, ok := d.ReadFile(n, "audit.signing_key", a.SigningKey)
	if !ok {
		return
	}
	s, err := audit.ParseSigningKey(data)
	if err != nil {
		// The reason only: never the file's content.
		d.Errorf(n, "audit.signing_key", "%s: %v", a.SigningKey, err)
		return
	}
	a.SigningKey, a.Signer = d.ResolvePath(a.SigningKey), s
}
