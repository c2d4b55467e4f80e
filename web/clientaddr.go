package web

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// maxHops bounds how many entries of X-Forwarded-For or Forwarded are
// looked at: a header that long is made up, and its far end cannot be
// believed anyway.
const maxHops = 32

// clientAddr is the address a request came from, without its port: the
// peer's, or, when the peer is one of the trusted proxies, the address the
// proxies' headers give (see clientIP).
func (a *api) clientAddr(r *http.Request) string {
	ip := clientIP(r.RemoteAddr, r.Header, a.trusted, a.forwarded)
	if !ip.IsValid() {
		return r.RemoteAddr
	}
	return ip.String()
}

// fromTrustedProxy reports whether the peer of r is a trusted proxy.
func (a *api) fromTrustedProxy(r *http.Request) bool {
	return trustedAddr(peerAddr(r.RemoteAddr), a.trusted)
}

// The headers a proxy may name the client in (server.forwarded_header).
const (
	HeaderXForwardedFor = "X-Forwarded-For"
	HeaderForwarded     = "Forwarded"
)

// clientIP finds the client of a request whose peer is remote. Only a
// trusted peer's headers are read, and of those only header, the one the
// proxies write (X-Forwarded-For when empty): the proxies in common use
// append to the one they write and pass the other on as the client sent
// it, so reading the other would let a client choose its own address. The
// header lists the hops from the client to the proxy next to the server,
// each proxy appending the address it was reached from; the walk goes from
// the right past the trusted proxies, and the first address that is not
// one is the client. An entry that is not an address (unknown, an
// obfuscated name, garbage) ends the walk at the proxy that wrote it: that
// proxy is the nearest thing to a client known. When every hop is trusted,
// the leftmost is the client.
func clientIP(remote string, h http.Header, trusted []netip.Prefix, header string) netip.Addr {
	peer := peerAddr(remote)
	if !trustedAddr(peer, trusted) {
		return peer
	}
	var hops []string
	if header == HeaderForwarded {
		hops = forwardedFor(h[HeaderForwarded])
	} else {
		hops = xForwardedFor(h[HeaderXForwardedFor])
	}
	client := peer
	for i := len(hops) - 1; i >= 0 && i >= len(hops)-maxHops; i-- {
		ip, ok := parseHop(hops[i])
		if !ok {
			return client
		}
		client = ip
		if !trustedAddr(ip, trusted) {
			return ip
		}
	}
	return client
}

// peerAddr is the address of a RemoteAddr, or the zero Addr.
func peerAddr(remote string) netip.Addr {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	ip, _ := netip.ParseAddr(host)
	return ip.Unmap().WithZone("")
}

func trustedAddr(ip netip.Addr, trusted []netip.Prefix) bool {
	if !ip.IsValid() {
		return false
	}
	for _, p := range trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// xForwardedFor splits X-Forwarded-For headers into their entries, in
// order; several headers count as one list.
func xForwardedFor(values []string) []string {
	var out []string
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			out = append(out, strings.TrimSpace(part))
		}
	}
	return out
}

// forwardedFor returns the for= parameters of Forwarded headers (RFC 7239)
// in order, or nil when there are none. An element without for= is an
// entry that names no address.
func forwardedFor(values []string) []string {
	var out []string
	found := false
	for _, v := range values {
		for _, elem := range splitQuoted(v, ',') {
			entry := ""
			for _, pair := range splitQuoted(elem, ';') {
				k, val, ok := strings.Cut(strings.TrimSpace(pair), "=")
				if ok && strings.EqualFold(strings.TrimSpace(k), "for") {
					entry = unquote(strings.TrimSpace(val))
					found = true
				}
			}
			out = append(out, entry)
		}
	}
	if !found {
		return nil
	}
	return out
}

// splitQuoted splits s at sep outside double quotes.
func splitQuoted(s string, sep byte) []string {
	var out []string
	quoted, start := false, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && quoted:
			i++
		case c == '"':
			quoted = !quoted
		case c == sep && !quoted:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

func unquote(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = strings.ReplaceAll(s[1:len(s)-1], `\`, "")
	}
	return s
}

// parseHop reads one entry: 192.0.2.1, 192.0.2.1:443, 2001:db8::1,
// [2001:db8::1] or [2001:db8::1]:443.
func parseHop(s string) (netip.Addr, bool) {
	if ip, err := netip.ParseAddr(s); err == nil {
		return ip.Unmap().WithZone(""), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone(""), true
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		if ip, err := netip.ParseAddr(s[1 : len(s)-1]); err == nil {
			return ip.Unmap().WithZone(""), true
		}
	}
	return netip.Addr{}, false
}
