package nightowl

import (
	"crypto/rand"
	"encoding/base32"
)

// idEncoding is lower-case base32: IDs are typed and read out (nightowl
// ack, nightowl action approve), and it has no 0 or 1 to mistake for o or l.
var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewID returns a random ID: prefix, then size random bytes in lower-case
// base32 (8 characters for 5 bytes). The prefix says what the ID names
// ("r-" a request of an action, "m-" a maintenance window).
func NewID(prefix string, size int) string {
	b := make([]byte, size)
	// crypto/rand.Read never fails: it crashes the program instead.
	rand.Read(b)
	return prefix + idEncoding.EncodeToString(b)
}
