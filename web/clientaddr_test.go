package web

import (
	"net/http"
	"net/netip"
	"testing"
)

func TestClientIP(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	for _, tc := range []struct {
		name   string
		remote string
		header map[string][]string
		want   string
	}{
		{"no proxy", "203.0.113.5:4711", nil, "203.0.113.5"},
		{"untrusted peer's header is ignored", "203.0.113.5:4711",
			map[string][]string{"X-Forwarded-For": {"198.51.100.1"}}, "203.0.113.5"},
		{"trusted peer without a header", "10.0.0.2:80", nil, "10.0.0.2"},
		{"one proxy", "10.0.0.2:80", map[string][]string{"X-Forwarded-For": {"198.51.100.1"}}, "198.51.100.1"},
		{"a forged entry on the left is not believed", "10.0.0.2:80",
			map[string][]string{"X-Forwarded-For": {"1.2.3.4, 198.51.100.1"}}, "198.51.100.1"},
		{"two trusted hops", "10.0.0.2:80",
			map[string][]string{"X-Forwarded-For": {"1.2.3.4, 198.51.100.1, 10.9.9.9"}}, "198.51.100.1"},
		{"several headers are one list", "10.0.0.2:80",
			map[string][]string{"X-Forwarded-For": {"1.2.3.4", "198.51.100.1, 10.9.9.9"}}, "198.51.100.1"},
		{"with ports and brackets", "10.0.0.2:80",
			map[string][]string{"X-Forwarded-For": {"[2001:db8::1]:443, 10.1.1.1:80"}}, "2001:db8::1"},
		{"every hop trusted: the leftmost", "10.0.0.2:80",
			map[string][]string{"X-Forwarded-For": {"10.3.3.3, 10.1.1.1"}}, "10.3.3.3"},
		{"garbage ends the walk at the proxy that wrote it", "10.0.0.2:80",
			map[string][]string{"X-Forwarded-For": {"198.51.100.1, unknown, 10.1.1.1"}}, "10.1.1.1"},
		{"empty header", "10.0.0.2:80", map[string][]string{"X-Forwarded-For": {""}}, "10.0.0.2"},
		{"a client's own Forwarded is ignored", "10.0.0.2:80",
			map[string][]string{"Forwarded": {"for=192.0.2.60"}, "X-Forwarded-For": {"198.51.100.1"}}, "198.51.100.1"},
		{"a client's own Forwarded alone is ignored", "10.0.0.2:80",
			map[string][]string{"Forwarded": {"for=192.0.2.60"}}, "10.0.0.2"},
		{"IPv4-mapped peer", "[::ffff:10.0.0.2]:80",
			map[string][]string{"X-Forwarded-For": {"::ffff:198.51.100.1"}}, "198.51.100.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, header := range []string{"", HeaderXForwardedFor} {
				got := clientIP(tc.remote, http.Header(tc.header), trusted, header)
				if got.String() != tc.want {
					t.Errorf("clientIP(%q) = %s, want %s", header, got, tc.want)
				}
			}
		})
	}
}

// TestClientIPForwarded: with server.forwarded_header: Forwarded, only its
// for= entries are read, and X-Forwarded-For, which the client may have
// sent, is ignored.
func TestClientIPForwarded(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	for _, tc := range []struct {
		name   string
		remote string
		header map[string][]string
		want   string
	}{
		{"untrusted peer's header is ignored", "203.0.113.5:4711",
			map[string][]string{"Forwarded": {"for=198.51.100.1"}}, "203.0.113.5"},
		{"one proxy", "10.0.0.2:80",
			map[string][]string{"Forwarded": {`for=192.0.2.60;proto=http;by=10.0.0.2`}}, "192.0.2.60"},
		{"a forged entry on the left is not believed", "10.0.0.2:80",
			map[string][]string{"Forwarded": {"for=1.2.3.4, for=192.0.2.60"}}, "192.0.2.60"},
		{"quoted IPv6 with a port", "[fd00::1]:80",
			map[string][]string{"Forwarded": {`for="[2001:db8:cafe::17]:4711", For=fd00::9`}}, "2001:db8:cafe::17"},
		{"a client's own X-Forwarded-For is ignored", "10.0.0.2:80",
			map[string][]string{"Forwarded": {"for=192.0.2.60"}, "X-Forwarded-For": {"198.51.100.1"}}, "192.0.2.60"},
		{"without for=, the proxy is the client", "10.0.0.2:80",
			map[string][]string{"Forwarded": {"proto=https"}, "X-Forwarded-For": {"198.51.100.1"}}, "10.0.0.2"},
		{"an obfuscated name", "10.0.0.2:80",
			map[string][]string{"Forwarded": {"for=192.0.2.60, for=_hidden"}}, "10.0.0.2"},
		{"a comma inside quotes", "10.0.0.2:80",
			map[string][]string{"Forwarded": {`for=192.0.2.60;x="a,b"`}}, "192.0.2.60"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := clientIP(tc.remote, http.Header(tc.header), trusted, HeaderForwarded)
			if got.String() != tc.want {
				t.Errorf("clientIP = %s, want %s", got, tc.want)
			}
		})
	}
}

// FuzzClientIP: whatever the headers say, the client is the peer or an
// address that one of them names, and never a trusted proxy's when the
// peer is not one.
func FuzzClientIP(f *testing.F) {
	f.Add("10.0.0.2:80", "198.51.100.1, 10.1.1.1", `for="[2001:db8::1]:1";by=x, for=unknown`)
	f.Add("203.0.113.5:1", "", "")
	f.Add("[fd00::1]:80", "[::1]:1,,", `for="\"`)
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	f.Fuzz(func(t *testing.T, remote, xff, fwd string) {
		h := http.Header{}
		if xff != "" {
			h.Set("X-Forwarded-For", xff)
		}
		if fwd != "" {
			h.Set("Forwarded", fwd)
		}
		peer := peerAddr(remote)
		for _, header := range []string{HeaderXForwardedFor, HeaderForwarded} {
			got := clientIP(remote, h, trusted, header)
			if !trustedAddr(peer, trusted) && got != peer {
				t.Fatalf("untrusted peer %q: client %s", remote, got)
			}
		}
		// The header not named is never read.
		for _, header := range []string{HeaderXForwardedFor, HeaderForwarded} {
			alone := http.Header{}
			if v, ok := h[header]; ok {
				alone[header] = v
			}
			if got, want := clientIP(remote, h, trusted, header), clientIP(remote, alone, trusted, header); got != want {
				t.Fatalf("%s configured: the other header moved the client from %s to %s", header, want, got)
			}
		}
	})
}
