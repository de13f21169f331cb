package gateway

import (
	"net/http"
	"strings"
)

// Headers the gateway sets on every upstream request.
const (
	headerAuthMethod = "X-Auth-Method"
	headerRequestID  = "X-Request-Id"
	headerIdPProfile = "X-Idp-Profile"
)

// headerRules knows which request headers belong to the gateway: the
// upstream trusts them to say who is calling, where from and what is meant,
// so a client's copy never reaches it (RFC 9700 §4.13; oauth.md item 39).
type headerRules struct {
	tenant, client string // canonical names of the identity headers
	// exact and prefixes are lower case with "_" written as "-": many
	// upstream stacks (CGI, nginx with underscores_in_headers, Rails, Django)
	// read X_Scim_Tenant as X-Scim-Tenant, so both spellings are stripped.
	exact    []string
	prefixes []string
	// first marks the folded first bytes of every name above, so most
	// headers are passed over after one lookup.
	first [256]bool
}

func newHeaderRules(tenant, client string) headerRules {
	h := headerRules{
		tenant: http.CanonicalHeaderKey(tenant),
		client: http.CanonicalHeaderKey(client),
		exact: []string{
			fold(tenant), fold(client), "x-request-id", "x-idp-profile",
			// Where the request came from: only a trusted proxy may say.
			"forwarded", "x-real-ip", "x-client-ip", "true-client-ip", "cf-connecting-ip",
			"fastly-client-ip", "x-cluster-client-ip", "x-host",
			// Method and path overrides some frameworks honour: a GET
			// authorized with scim.read must not become a DELETE upstream.
			"x-http-method-override", "x-http-method", "x-method-override", "x-rewrite-url",
			// The upstream answers in identity encoding, so that responses
			// can be normalized and their URLs rewritten.
			"accept-encoding",
		},
		prefixes: []string{"x-auth-", "x-scimgate-", "x-forwarded-", "x-original-"},
	}
	for _, s := range h.exact {
		h.first[s[0]] = true
	}
	for _, s := range h.prefixes {
		h.first[s[0]] = true
	}
	h.first['a'] = true // authorization
	return h
}

// owned reports whether the gateway owns header name.
func (h *headerRules) owned(name string) bool {
	if name == "" || !h.first[foldByte(name[0])] {
		return false
	}
	for _, e := range h.exact {
		if equalFolded(name, e) {
			return true
		}
	}
	for _, p := range h.prefixes {
		if len(name) >= len(p) && equalFolded(name[:len(p)], p) {
			return true
		}
	}
	return false
}

// outbound copies the client's headers that the upstream may see into a
// new map with room for extra more: not the gateway's own, not
// Authorization unless the route forwards it, not the connection's
// (hop-by-hop headers and those the client named in Connection), not
// Content-Length, which the transport writes from the body it sends, not
// Expect: the gateway has read the whole body before it sends anything,
// so a 100-continue was already met here (an upstream that answers 417 to
// expectations it does not know would refuse a request that is fine).
// The value slices are shared with in.
func (h *headerRules) outbound(in http.Header, keepAuthorization bool, extra int) http.Header {
	// A Go map of up to eight entries is one group, one allocation; a
	// larger hint allocates a table of groups up front. Most outbound
	// requests fit in eight; the others grow once.
	out := make(http.Header, min(len(in)+extra, 8))
	connection := in["Connection"]
	for name, values := range in {
		if h.owned(name) || !keepAuthorization && equalFolded(name, "authorization") ||
			isHopByHop(name) || name == "Content-Length" || name == "Expect" || listedIn(connection, name) {
			continue
		}
		out[name] = values
	}
	return out
}

// isHopByHop reports whether the canonical header name belongs to one
// connection (RFC 9110 §7.6.1) and so is never relayed.
func isHopByHop(name string) bool {
	switch name {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
		"Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}

// listedIn reports whether name is among the comma-separated header names
// of Connection values.
func listedIn(connection []string, name string) bool {
	for _, v := range connection {
		for token := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(token), name) {
				return true
			}
		}
	}
	return false
}

func foldByte(c byte) byte {
	switch {
	case c >= 'A' && c <= 'Z':
		return c + 'a' - 'A'
	case c == '_':
		return '-'
	}
	return c
}

// fold lower-cases s and writes "_" as "-".
func fold(s string) string {
	b := []byte(s)
	for i, c := range b {
		b[i] = foldByte(c)
	}
	return string(b)
}

// equalFolded compares name with an already folded want.
func equalFolded(name, want string) bool {
	if len(name) != len(want) {
		return false
	}
	for i := range len(name) {
		if foldByte(name[i]) != want[i] {
			return false
		}
	}
	return true
}
