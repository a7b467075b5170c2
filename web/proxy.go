package web

import (
	"net/http"
	"net/netip"
	"strings"
)

// ParseProxies parses a comma-separated list of the reverse proxies'
// addresses, each a CIDR ("10.0.0.0/8", "fd00::/8") or a single address
// ("127.0.0.1"), for ForwardedFor. An empty list is nil.
func ParseProxies(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			if p.Addr().Is4In6() {
				p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, errorf("trusted proxy %q: not an address or CIDR", f)
		}
		a = a.Unmap().WithZone("")
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// ForwardedFor returns an Options.ClientIP for a hub behind the reverse
// proxies in trusted: when a request's TCP peer is one of them, the
// client is the rightmost address of X-Forwarded-For that is not a
// trusted proxy (the hops to its right were added by our own proxies; the
// ones to its left were sent by the client and may be forged). A request
// from any other peer is that peer, whatever its headers say. A hop that
// is no address ends the walk at the trusted proxy that passed it on.
// With no trusted proxies it is the peer's address, the default.
func ForwardedFor(trusted []netip.Prefix) func(r *http.Request) string {
	if len(trusted) == 0 {
		return remoteIP
	}
	isTrusted := func(a netip.Addr) bool {
		a = a.Unmap().WithZone("")
		for _, p := range trusted {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	return func(r *http.Request) string {
		peer := remoteIP(r)
		a, err := netip.ParseAddr(peer)
		if err != nil || !isTrusted(a) {
			return peer
		}
		client := a
		hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
		for i := len(hops) - 1; i >= 0; i-- {
			h := strings.TrimSpace(hops[i])
			if h == "" && len(hops) == 1 {
				break // no header
			}
			ha, err := netip.ParseAddr(h)
			if err != nil {
				break
			}
			client = ha.Unmap().WithZone("")
			if !isTrusted(client) {
				break
			}
		}
		return client.String()
	}
}
