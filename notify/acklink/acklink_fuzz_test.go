package acklink

import (
	"bytes"
	"net/url"
	"strconv"
	"testing"
	"time"
)

// FuzzVerify: a link the signer made verifies for its alert until it
// expires and for no other alert; a query a stranger wrote verifies only
// if it carries the signer's own signature for that alert and expiry.
func FuzzVerify(f *testing.F) {
	s, _ := New(bytes.Repeat([]byte{7}, 32))
	now := time.Date(2026, 3, 18, 1, 28, 0, 0, time.UTC).Unix()
	f.Add("a1b2c3", now+86400, now, "exp=1&sig=x", "a1b2c4")
	f.Add("", now, now, "", "")
	f.Add("ab", int64(1), now, s.Query("a", time.Unix(now, 0)), "a")
	f.Add("a:1", now, now+1, "exp=%2B"+s.Query("a1", time.Unix(now, 0))[4:], "a1")
	f.Add("x", now, now, "exp=01&exp=2&sig=;sig=", "y")
	f.Fuzz(func(t *testing.T, alert string, exp, at int64, raw, other string) {
		// Unix times within a million years: time.Unix does not hold all
		// of int64's range, and links live for hours.
		const bound = 1e6 * 365 * 86400
		if exp < -bound || exp > bound || at < -bound || at > bound {
			return
		}
		q, err := url.ParseQuery(s.Query(alert, time.Unix(exp, 0)))
		if err != nil {
			t.Fatal(err)
		}
		switch err := s.Verify(alert, q, time.Unix(at, 0)); {
		case at <= exp && err != nil:
			t.Fatalf("link for %q until %d refused at %d: %v", alert, exp, at, err)
		case at > exp && err != ErrExpired:
			t.Fatalf("link for %q until %d at %d: %v, want expired", alert, exp, at, err)
		}
		if other != alert && s.Verify(other, q, time.Unix(at, 0)) != ErrForged {
			t.Fatalf("link for %q accepted for %q", alert, other)
		}
		stranger, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		if s.Verify(other, stranger, time.Unix(at, 0)) == nil {
			e, err := strconv.ParseInt(stranger.Get("exp"), 10, 64)
			if err != nil || e < at || stranger.Get("sig") != s.mac(other, e) {
				t.Fatalf("%q verified for %q at %d", raw, other, at)
			}
		}
	})
}
