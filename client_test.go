package nightowl

import "testing"

// TestClientKey: an IPv6 address counts by its /64; IPv4, mapped or not, by
// itself.
func TestClientKey(t *testing.T) {
	for _, c := range []struct{ addr, want string }{
		{"192.0.2.7", "192.0.2.7"},
		{"::ffff:192.0.2.7", "192.0.2.7"},
		{"2001:db8:1:2::1", "2001:db8:1:2::/64"},
		{"2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"},
		{"2001:db8:1:3::1", "2001:db8:1:3::/64"},
		{"fe80::1%eth0", "fe80::/64"},
		{"not an address", "not an address"},
	} {
		if got := ClientKey(c.addr); got != c.want {
			t.Errorf("ClientKey(%q) = %q, want %q", c.addr, got, c.want)
		}
	}
}
