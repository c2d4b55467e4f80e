// Package acklink signs and verifies the acknowledgement links put in every
// notification: whoever holds the link can acknowledge that one alert,
// until the link expires, and nobody can forge one for another alert or
// stretch its life without the server's key.
package acklink

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/url"
	"strconv"
	"time"
)

// Errors Verify returns; both mean "refuse", but tell a person which.
var (
	ErrForged  = errors.New("this acknowledgement link is not valid")
	ErrExpired = errors.New("this acknowledgement link has expired")
)

// MinKeyLen is the shortest key accepted: 256 bits.
const MinKeyLen = 32

// Signer makes and checks links with one secret key.
type Signer struct {
	key []byte
}

// New returns a Signer for key, which must be at least MinKeyLen bytes of
// secret randomness kept by the server.
func New(key []byte) (*Signer, error) {
	if len(key) < MinKeyLen {
		return nil, errors.New("acknowledgement link key is shorter than 32 bytes")
	}
	return &Signer{key: append([]byte(nil), key...)}, nil
}

func (s *Signer) mac(alertID string, exp int64) string {
	m := hmac.New(sha256.New, s.key)
	// The length prefix keeps "ab"+"1" and "a"+"b1" apart.
	m.Write([]byte(strconv.Itoa(len(alertID))))
	m.Write([]byte{':'})
	m.Write([]byte(alertID))
	m.Write([]byte{':'})
	m.Write([]byte(strconv.FormatInt(exp, 10)))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// Query returns the query string that authorises acknowledging alertID
// until exp: "exp=UNIX&sig=MAC".
func (s *Signer) Query(alertID string, exp time.Time) string {
	e := exp.Unix()
	v := url.Values{}
	v.Set("exp", strconv.FormatInt(e, 10))
	v.Set("sig", s.mac(alertID, e))
	return v.Encode()
}

// Verify checks a link's exp and sig for alertID at now.
func (s *Signer) Verify(alertID string, q url.Values, now time.Time) error {
	e, err := strconv.ParseInt(q.Get("exp"), 10, 64)
	if err != nil {
		return ErrForged
	}
	want := s.mac(alertID, e)
	if !hmac.Equal([]byte(want), []byte(q.Get("sig"))) {
		return ErrForged
	}
	if now.Unix() > e {
		return ErrExpired
	}
	return nil
}
