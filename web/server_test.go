package web

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

// TestHSTS: Strict-Transport-Security is sent over TLS, and behind a
// trusted proxy when server.public_url is https; never to a plain http
// request from anyone else, whatever it claims.
func TestHSTS(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	for _, tc := range []struct {
		name      string
		publicURL string
		remote    string
		tls       bool
		want      bool
	}{
		{"over TLS", "", "192.0.2.1:1234", true, true},
		{"plain http", "", "192.0.2.1:1234", false, false},
		{"https public URL, through a trusted proxy", "https://status.example.com", "10.0.0.2:80", false, true},
		{"https public URL, straight from a client", "https://status.example.com", "192.0.2.1:1234", false, false},
		{"http public URL, through a trusted proxy", "http://status.example.com", "10.0.0.2:80", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := Handler(Options{PublicURL: tc.publicURL, TrustedProxies: proxies})
			r := httptest.NewRequest("GET", "/login", nil)
			r.RemoteAddr = tc.remote
			r.Header.Set("X-Forwarded-Proto", "https")
			if tc.tls {
				r.TLS = &tls.ConnectionState{}
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if got := w.Header().Get("Strict-Transport-Security") != ""; got != tc.want {
				t.Errorf("HSTS %v (%q), want %v", got, w.Header().Get("Strict-Transport-Security"), tc.want)
			}
			if w.Code != http.StatusOK {
				t.Errorf("status %d", w.Code)
			}
		})
	}
}
