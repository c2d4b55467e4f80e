package web

import (
	"net/url"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
)

// FuzzOncallQuery: whatever ?at= and ?days= say, the query is either read
// (a days count in range) or refused as invalid, and never panics.
func FuzzOncallQuery(f *testing.F) {
	for _, s := range []string{"at=2026-03-02T09:00:00%2B01:00&days=3", "days=-1", "days=367", "at=tomorrow", "days=99999999999999999999", ""} {
		f.Add(s)
	}
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		_, days, err := oncallQuery(q, now)
		if err != nil {
			if nightowl.ErrorCode(err) != nightowl.EInvalid {
				t.Fatalf("%q: %v is not invalid", raw, err)
			}
			return
		}
		if days < 0 || days > maxOncallDays {
			t.Fatalf("%q: %d days taken", raw, days)
		}
	})
}
