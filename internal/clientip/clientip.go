// Package clientip decides which address a request came from, believing
// X-Forwarded-For only from configured trusted proxies.
package clientip

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Resolver extracts the client address of a request.
type Resolver struct {
	trusted []netip.Prefix
}

// New returns a Resolver that trusts X-Forwarded-For only when the peer is in
// one of trusted (for example the load balancer's subnet).
func New(trusted []netip.Prefix) *Resolver {
	return &Resolver{trusted: trusted}
}

// IP returns the client address: the peer address, or — when the peer is a
// trusted proxy — the right-most address in X-Forwarded-For that is not
// itself a trusted proxy. Walking from the right means a client cannot
// choose its own address by sending a forged X-Forwarded-For: only entries
// appended by trusted hops are skipped.
func (res *Resolver) IP(r *http.Request) string {
	host := hostOf(r.RemoteAddr)
	peer := parseAddr(host)
	if !res.isTrusted(peer) {
		return addrString(peer, host)
	}
	hops := r.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		parts := strings.Split(hops[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			hop := strings.TrimSpace(parts[j])
			a, err := netip.ParseAddr(hop)
			if err != nil {
				return addrString(peer, host) // garbage from an untrusted hop: stop believing the header
			}
			a = a.Unmap()
			if !res.isTrusted(a) {
				return addrString(a, hop)
			}
		}
	}
	return addrString(peer, host)
}

// addrString is a.String(), parsed from host: host itself when it is
// already that text, an IPv4 address in the only form ParseAddr accepts,
// so that the common case allocates nothing.
func addrString(a netip.Addr, host string) string {
	if a.Is4() && !strings.Contains(host, ":") {
		return host
	}
	return a.String()
}

func (res *Resolver) isTrusted(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	for _, p := range res.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// hostOf is the address part of a RemoteAddr.
func hostOf(remote string) string {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		return remote
	}
	return host
}

func parseAddr(host string) netip.Addr {
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}
