package gateway

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/scimgate/scimgate/internal/secret"
)

// credentialKind is the authenticator a presented credential goes to. It is
// chosen from the credential's shape alone (gateway.md §3): the JWT parser
// never sees an API key and the API-key lookup never sees a JWT, so neither
// can be used to probe the other.
type credentialKind uint8

const (
	kindNone   credentialKind = iota // no Authorization header
	kindJWT                          // Bearer eyJ….….…
	kindAPIKey                       // Bearer sk_scim_…, or the raw key (Okta Header mode)
)

// maxCredentialLen bounds what is hashed, parsed or looked up. Entra's
// government cloud caps credentials at 1 KB; our tokens are well under 2 KB.
const maxCredentialLen = 8 << 10

// authProblem is why an Authorization header was refused before any
// authenticator ran. status is 400 (malformed) or 401.
type authProblem struct {
	status int
	// errorCode is the RFC 6750 error parameter, or "" for a bare challenge
	// (no credential, or a scheme we do not support).
	errorCode string
	reason    string // for audit
	detail    string // for the SCIM error body
}

var (
	problemMissing       = &authProblem{http.StatusUnauthorized, "", "missing", "authentication required: send Authorization: Bearer <token>"}
	problemSeveral       = &authProblem{http.StatusBadRequest, "invalid_request", "several_authorization_headers", "several Authorization headers"}
	problemQueryToken    = &authProblem{http.StatusBadRequest, "invalid_request", "token_in_query", "access tokens are not accepted in the query string"}
	problemMalformed     = &authProblem{http.StatusBadRequest, "invalid_request", "malformed", "malformed Authorization header"}
	problemBasic         = &authProblem{http.StatusUnauthorized, "", "basic_unsupported", "Basic authentication is not supported: send Authorization: Bearer <token>"}
	problemScheme        = &authProblem{http.StatusUnauthorized, "", "unsupported_scheme", "unsupported authorization scheme: send Authorization: Bearer <token>"}
	problemNotAToken     = &authProblem{http.StatusUnauthorized, "invalid_token", "unrecognised_token", "the bearer token is neither an access token nor an API key"}
	problemRawNotAllowed = &authProblem{http.StatusUnauthorized, "invalid_token", "raw_credential", "send the credential as Authorization: Bearer <token>"}
)

// parseAuthorization picks the credential out of a request's Authorization
// header values and query string. rawAPIKey allows Okta's Header mode, where
// the whole header value is the API key. It allocates nothing.
func parseAuthorization(values []string, rawQuery string, rawAPIKey bool) (credentialKind, string, *authProblem) {
	if hasQueryToken(rawQuery) {
		return kindNone, "", problemQueryToken
	}
	switch len(values) {
	case 0:
		return kindNone, "", problemMissing
	case 1:
	default:
		return kindNone, "", problemSeveral
	}
	v := values[0]
	if len(v) > maxCredentialLen {
		return kindNone, "", problemMalformed
	}
	scheme, rest, spaced := strings.Cut(v, " ")
	if !spaced {
		// No scheme: Okta's Header mode sends the key itself. "Bearer "
		// arrives here as "Bearer": HTTP servers trim a value's trailing space.
		switch {
		case v == "" || strings.EqualFold(v, "Bearer"):
			return kindNone, "", problemMalformed
		case !isToken68(v):
			// Neither a credential nor scheme SP credential (RFC 9110
			// §11.4): "Bearer<TAB>token", or bytes no token has.
			return kindNone, "", problemMalformed
		case rawAPIKey && secret.LooksLikeAPIKey(v) && isToken68(v):
			return kindAPIKey, v, nil
		}
		return kindNone, "", problemRawNotAllowed
	}
	switch {
	case strings.EqualFold(scheme, "Bearer"):
	case strings.EqualFold(scheme, "Basic"):
		return kindNone, "", problemBasic
	case scheme == "" || !isToken68(scheme):
		return kindNone, "", problemMalformed
	default:
		return kindNone, "", problemScheme
	}
	token := strings.TrimLeft(rest, " ")
	if token == "" || !isToken68(token) {
		return kindNone, "", problemMalformed
	}
	switch {
	case secret.LooksLikeAPIKey(token):
		return kindAPIKey, token, nil
	case looksLikeJWT(token):
		return kindJWT, token, nil
	}
	return kindNone, "", problemNotAToken
}

// token68Chars marks the bytes of [A-Za-z0-9-._~+/], so that checking a
// 600-byte token costs one load and compare per byte.
var token68Chars = func() (set [256]bool) {
	for c := range set {
		set[c] = 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte("-._~+/", byte(c)) >= 0
	}
	return set
}()

// isToken68 reports whether s is an RFC 7235 token68 (RFC 6750 b64token):
// [A-Za-z0-9-._~+/]+ followed by any number of "=".
func isToken68(s string) bool {
	end := len(s)
	for end > 0 && s[end-1] == '=' {
		end--
	}
	if end == 0 {
		return false
	}
	for i := 0; i < end; i++ {
		if !token68Chars[s[i]] {
			return false
		}
	}
	return true
}

// looksLikeJWT is the shape test of a JWS compact serialization: three
// dot-separated parts whose first is a base64url JSON object ("eyJ" is the
// encoding of `{"`). The signature part may be empty (alg none), so that
// such tokens reach the verifier and are refused with a precise reason.
func looksLikeJWT(s string) bool {
	return strings.HasPrefix(s, "eyJ") && strings.Count(s, ".") == 2
}

// hasQueryToken reports an access_token parameter in the query (RFC 6750
// §2.3, discouraged; Kong refuses such smuggled tokens, and so do we).
// Parameters are split at ";" as well as "&": the query goes upstream
// byte for byte, and many servers still read "a=1;access_token=x" as two
// parameters.
func hasQueryToken(rawQuery string) bool {
	for rest := rawQuery; rest != ""; {
		part := rest
		if i := strings.IndexAny(rest, "&;"); i >= 0 {
			part, rest = rest[:i], rest[i+1:]
		} else {
			rest = ""
		}
		key, _, _ := strings.Cut(part, "=")
		if strings.Contains(key, "%") {
			// An upstream that decodes access%5Ftoken sees access_token.
			key, _ = url.QueryUnescape(key)
		}
		if strings.EqualFold(key, "access_token") {
			return true
		}
	}
	return false
}
