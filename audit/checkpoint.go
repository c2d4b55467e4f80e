package audit

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/nightowl/nightowl"
)

// Checkpoints make the chain hold against someone who can write the
// database: the server signs the head of the log (its seq and hash) with an
// Ed25519 key kept in a file outside the database, and keeps the signed
// checkpoints in the store. Cutting the tail of the log, or rewriting it
// whole, leaves a checkpoint whose entry is no longer in the chain, and
// forging a new checkpoint needs the key. The key file is a PKCS#8 PEM
// ("PRIVATE KEY"), as `openssl genpkey -algorithm ed25519` writes; the
// public key a PKIX PEM ("PUBLIC KEY").

// checkpointVersion starts what a checkpoint's signature covers.
const checkpointVersion = "nightowl audit checkpoint v1\x00"

// CheckpointMessage is what a checkpoint's signature covers: a version tag,
// the seq, the time in Unix nanoseconds and the hash of the entry.
func CheckpointMessage(c nightowl.AuditCheckpoint) []byte {
	b := make([]byte, 0, len(checkpointVersion)+16+len(c.Hash))
	b = append(b, checkpointVersion...)
	b = binary.BigEndian.AppendUint64(b, uint64(c.Seq))
	b = binary.BigEndian.AppendUint64(b, uint64(c.Time.UnixNano()))
	return append(b, c.Hash...)
}

// KeyID names a public key in checkpoints: the first 8 bytes of its
// SHA-256, in hex.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// Signer signs checkpoints with the private key of a key file.
type Signer struct {
	key ed25519.PrivateKey
	id  string
}

// NewSigner returns a Signer with key.
func NewSigner(key ed25519.PrivateKey) *Signer {
	return &Signer{key: key, id: KeyID(key.Public().(ed25519.PublicKey))}
}

// Public returns the public key that verifies the signer's checkpoints.
func (s *Signer) Public() ed25519.PublicKey { return s.key.Public().(ed25519.PublicKey) }

// KeyID returns the ID of the signer's public key.
func (s *Signer) KeyID() string { return s.id }

// Sign returns the checkpoint of head at t.
func (s *Signer) Sign(head nightowl.AuditHead, t time.Time) nightowl.AuditCheckpoint {
	c := nightowl.AuditCheckpoint{Seq: head.Seq, Hash: head.Hash, Time: time.Unix(0, t.UnixNano()).UTC(), KeyID: s.id}
	c.Sig = ed25519.Sign(s.key, CheckpointMessage(c))
	return c
}

// VerifyCheckpoint reports whether c is signed with pub.
func VerifyCheckpoint(pub ed25519.PublicKey, c nightowl.AuditCheckpoint) bool {
	return len(c.Sig) == ed25519.SignatureSize && ed25519.Verify(pub, CheckpointMessage(c), c.Sig)
}

// ParseSigningKey reads a private key file's contents: a PEM block
// "PRIVATE KEY" holding a PKCS#8 Ed25519 key. Errors never quote the file.
func ParseSigningKey(data []byte) (*Signer, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, errors.New(`not a PEM "PRIVATE KEY" file (make one with nightowl audit keygen)`)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, errors.New("not a PKCS#8 private key")
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, errors.New("not an Ed25519 key")
	}
	return NewSigner(priv), nil
}

// ParsePublicKey reads a public key file's contents ("PUBLIC KEY", PKIX),
// or takes the public half of a private key file's.
func ParsePublicKey(data []byte) (ed25519.PublicKey, error) {
	block, _ := pem.Decode(data)
	if block != nil && block.Type == "PUBLIC KEY" {
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, errors.New("not a PKIX public key")
		}
		pub, ok := k.(ed25519.PublicKey)
		if !ok {
			return nil, errors.New("not an Ed25519 key")
		}
		return pub, nil
	}
	s, err := ParseSigningKey(data)
	if err != nil {
		return nil, errors.New(`not a PEM "PUBLIC KEY" or "PRIVATE KEY" file`)
	}
	return s.Public(), nil
}

// PublicKeyPEM encodes pub as a PKIX PEM block.
func PublicKeyPEM(pub ed25519.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		panic(err) // an Ed25519 key always marshals
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// GenerateKeyFile makes a new signing key in a new file at path, readable by
// its owner only, and returns its public key. It never overwrites a file.
func GenerateKeyFile(path string) (ed25519.PublicKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	if err := pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	return pub, nil
}
