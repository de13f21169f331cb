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
	peer := peerAddr(r.RemoteAddr)
	if !res.isTrusted(peer) {
		return peer.String()
	}
	hops := r.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		parts := strings.Split(hops[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			a, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
			if err != nil {
				return peer.String() // garbage from an untrusted hop: stop believing the header
			}
			a = a.Unmap()
			if !res.isTrusted(a) {
				return a.String()
			}
		}
	}
	return peer.String()
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

func peerAddr(remote string) netip.Addr {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}
