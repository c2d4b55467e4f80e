package web

import (
	"testing"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/clocktest"
)

// TestSessionMay: what a session may do, by what it waits for and how
// fresh its second factor is, and where a browser is sent otherwise.
func TestSessionMay(t *testing.T) {
	now := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	a := &api{clock: clocktest.New(now), stepUp: 10 * time.Minute}
	plain, pending, danger := Route{}, Route{Pending: true}, Route{StepUp: true}
	info := func(method, waits string, ago time.Duration) nightowl.Session {
		s := nightowl.Session{SessionInfo: nightowl.SessionInfo{Method: method, Pending: waits}}
		if ago >= 0 {
			s.FactorAt = now.Add(-ago)
		}
		return s
	}
	for _, tt := range []struct {
		name       string
		rt         Route
		s          nightowl.Session
		code, page string
	}{
		{"ordinary", plain, info("password", "", -1), "", ""},
		{"waits for the factor", plain, info("password", nightowl.SessionNeedsFactor, -1), nightowl.EFactorPending, "/login/factor"},
		{"waits, on its own route", pending, info("password", nightowl.SessionNeedsFactor, -1), "", ""},
		{"waits for enrolment", plain, info("password", nightowl.SessionNeedsEnrolment, -1), nightowl.EFactorPending, "/admin/security"},
		{"fresh", danger, info("password", "", 9*time.Minute), "", ""},
		{"stale", danger, info("password", "", 11*time.Minute), nightowl.EStepUp, "/login/factor"},
		{"never gave one", danger, info("password", "", -1), nightowl.EStepUp, "/admin/security"},
		{"single sign-on, fresh", danger, info(nightowl.SignInOIDC, "", time.Minute), "", ""},
		{"single sign-on, stale", danger, info(nightowl.SignInOIDC, "", time.Hour), nightowl.EStepUp, "/login/oidc"},
		{"proxy, never", danger, info(nightowl.SignInProxy, "", -1), nightowl.EStepUp, "/admin/security"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			page, err := a.sessionMay(tt.rt, tt.s)
			if nightowl.ErrorCode(err) != tt.code || page != tt.page {
				t.Fatalf("got %v to %q, want %q to %q", err, page, tt.code, tt.page)
			}
		})
	}
}
