package web

import (
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
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

// FuzzOverrideBody: whatever the body of POST
// /api/v1/schedules/{name}/overrides, it is read into an override with
// both times (as the body gave them) or refused as invalid with the field
// named, and never panics.
func FuzzOverrideBody(f *testing.F) {
	for _, s := range []string{
		`{"user": "cy", "from": "2026-03-05T18:00:00+01:00", "to": "2026-03-06T09:00:00+01:00", "reason": "swap"}`,
		`{"user": "cy", "from": "2026-03-05T18:00:00Z"}`, `{"user": "cy", "from": "tomorrow", "to": "2026-03-06T09:00:00Z"}`,
		`{"user": "a\u202eb", "from": "2026-03-05T18:00:00Z", "to": "2026-03-06T09:00:00Z"}`, `{"who": 1}`, `{} {}`, "[", "null", "",
		`{"user": "cy", "from": "2026-03-05T18:00:00Z", "to": "2026-03-06T09:00:00Z", "reason": "line\nbreak\u0007"}`,
	} {
		f.Add(s)
	}
	fields := []string{"body:", "user", "from:", "to:", "reason"}
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest("POST", "/api/v1/schedules/primary/overrides", strings.NewReader(body))
		o, err := parseOverride(r, "primary", "ana")
		if err != nil {
			msg := nightowl.ErrorMessage(err)
			if nightowl.ErrorCode(err) != nightowl.EInvalid || !slices.ContainsFunc(fields, func(f string) bool { return strings.HasPrefix(msg, f) }) {
				t.Fatalf("%q: refused with %v", body, err)
			}
			return
		}
		var req OverrideRequest
		if err := json.Unmarshal([]byte(body), &req); err != nil {
			t.Fatalf("%q: read from a body that is not JSON", body)
		}
		from, _ := time.Parse(time.RFC3339, req.From)
		to, _ := time.Parse(time.RFC3339, req.To)
		if o.From.IsZero() || o.To.IsZero() || !o.From.Equal(from) || !o.To.Equal(to) {
			t.Fatalf("%q: from %v to %v", body, o.From, o.To)
		}
		if o.Schedule != "primary" || o.CreatedBy != "ana" || o.User != strings.TrimSpace(req.User) || o.Reason != strings.TrimSpace(req.Reason) {
			t.Fatalf("%q: read as %+v", body, o)
		}
	})
}
