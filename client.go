package nightowl

import "net/netip"

// ClientKey is what every per-client limit counts a client address under
// (sign-in failures, acknowledgement links): an IPv6 address by its /64,
// which one host or network usually holds whole (a client with a /64 has
// billions of addresses to spread over); an IPv4 address, or one mapped
// into IPv6, by itself. Anything that is not an address is its own key.
func ClientKey(addr string) string {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return addr
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}
