package authserver

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	oerrors "github.com/go-oauth2/oauth2/v4/errors"
)

// oauthError is an RFC 6749 §5.2 error on its way to the wire. Description is
// shown to the client; cause is for logs only.
type oauthError struct {
	code        string
	description string
	status      int
	retryAfter  time.Duration
	// reason is a short machine word for audit and metrics (e.g. wrong_secret).
	reason string
	cause  error
	// clientID and tenant name the client of a failed client
	// authentication when it was found, for the audit event; never rendered.
	clientID, tenant string
}

func (e *oauthError) Error() string {
	if e.cause != nil {
		return fmt.Sprintf("%s: %s: %v", e.code, e.description, e.cause)
	}
	return e.code + ": " + e.description
}

func (e *oauthError) Unwrap() error { return e.cause }

// setHeaders sets the headers e's status needs, through set: writeError's
// response and go-oauth2's both carry them.
func (e *oauthError) setHeaders(set func(key, value string)) {
	switch e.status {
	case http.StatusUnauthorized:
		// RFC 6749 §5.2: 401 answers must carry a challenge for the scheme
		// the client tried; Basic is the one both scimgate methods share.
		set("WWW-Authenticate", `Basic realm="scimgate", charset="UTF-8"`)
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		// Whole seconds, at least one.
		set("Retry-After", strconv.Itoa(max(int(e.retryAfter.Round(time.Second)/time.Second), 1)))
	}
}

func errInvalidRequest(format string, args ...any) *oauthError {
	return &oauthError{code: "invalid_request", description: fmt.Sprintf(format, args...), status: http.StatusBadRequest, reason: "invalid_request"}
}

func errInvalidClient(reason string) *oauthError {
	return &oauthError{code: "invalid_client", description: "client authentication failed", status: http.StatusUnauthorized, reason: reason}
}

func errInvalidScope(format string, args ...any) *oauthError {
	return &oauthError{code: "invalid_scope", description: fmt.Sprintf(format, args...), status: http.StatusBadRequest, reason: "invalid_scope"}
}

// errServer is go-oauth2 objecting to a request that was checked before it
// saw it: a defect, not a state of the world.
func errServer(cause error) *oauthError {
	return &oauthError{code: "server_error", description: "the authorization server could not complete the request", status: http.StatusInternalServerError, reason: "server_error", cause: cause}
}

// errUnavailable is a failure of what the server depends on (the store,
// the key ring), not of the request: 503 with Retry-After, as the gateway
// answers the same failure, so that a client retries shortly instead of
// treating its credentials as broken. RFC 6749 names the code for the
// authorization endpoint; at the token endpoint the status says it too.
func errUnavailable(cause error) *oauthError {
	return &oauthError{code: "temporarily_unavailable", description: "the authorization server cannot complete the request right now; retry shortly",
		status: http.StatusServiceUnavailable, retryAfter: time.Second, reason: "unavailable", cause: cause}
}

func errThrottled(retry time.Duration) *oauthError {
	return &oauthError{code: "temporarily_unavailable", description: "too many failed attempts; retry later",
		status: http.StatusTooManyRequests, retryAfter: retry, reason: "throttled"}
}

// endpointNotFound answers any path under one of the JSON endpoints, such
// as the token endpoint with a trailing slash typed into Okta's "Token
// endpoint" field, with an RFC 6749 error the client can show, naming the
// right address, instead of the gateway's SCIM 404 that no OAuth client
// reads.
func (s *Server) endpointNotFound(name, path string) http.Handler {
	e := &oauthError{code: "invalid_request", status: http.StatusNotFound, reason: "not_found",
		description: "there is no endpoint at this address: the " + name + " endpoint is " + s.cfg.Issuer + path + " exactly, without a trailing slash"}
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { writeError(w, e) })
}

// rfcStatus is the status RFC 6749 §5.2 gives each error code. go-oauth2
// answers 401 for several of them (pitfall P7 in docs/oauth.md).
var rfcStatus = map[string]int{
	"invalid_request":           http.StatusBadRequest,
	"invalid_client":            http.StatusUnauthorized,
	"invalid_grant":             http.StatusBadRequest,
	"unauthorized_client":       http.StatusBadRequest,
	"unsupported_grant_type":    http.StatusBadRequest,
	"invalid_scope":             http.StatusBadRequest,
	"invalid_target":            http.StatusBadRequest,
	"unsupported_response_type": http.StatusBadRequest,
	"access_denied":             http.StatusForbidden,
	"server_error":              http.StatusInternalServerError,
	"temporarily_unavailable":   http.StatusServiceUnavailable,
}

// fromLibrary turns an error from go-oauth2 into an oauthError. The library
// emits non-RFC strings for some failures ("invalid authorize code", "invalid
// code challenge"); they all mean the grant is bad.
func fromLibrary(err error) *oauthError {
	if oe, ok := err.(*oauthError); ok {
		return oe
	}
	switch err {
	case oerrors.ErrInvalidClient:
		return errInvalidClient("invalid_client")
	case oerrors.ErrInvalidScope:
		return errInvalidScope("the requested scope is not allowed")
	case oerrors.ErrUnsupportedGrantType:
		return &oauthError{code: "unsupported_grant_type", description: "grant type not supported", status: 400, reason: "unsupported_grant_type"}
	case oerrors.ErrUnauthorizedClient:
		return &oauthError{code: "unauthorized_client", description: "this client may not use this grant type", status: 400, reason: "unauthorized_client"}
	case oerrors.ErrInvalidRequest:
		return errInvalidRequest("malformed request")
	case oerrors.ErrServerError:
		return errServer(err)
	}
	if isLibraryGrantError(err) {
		return &oauthError{code: "invalid_grant", description: "the authorization code or refresh token is invalid, expired, revoked or was issued to another client",
			status: http.StatusBadRequest, reason: "invalid_grant", cause: err}
	}
	switch code := err.Error(); {
	case code == "temporarily_unavailable":
		return errUnavailable(nil)
	case code != "server_error" && rfcStatus[code] != 0:
		return &oauthError{code: code, description: code, status: rfcStatus[code], reason: code}
	}
	return errUnavailable(err)
}

func isLibraryGrantError(err error) bool {
	switch err {
	case oerrors.ErrInvalidGrant, oerrors.ErrInvalidAuthorizeCode, oerrors.ErrInvalidRefreshToken, oerrors.ErrExpiredRefreshToken,
		oerrors.ErrMissingCodeVerifier, oerrors.ErrMissingCodeChallenge, oerrors.ErrInvalidCodeChallenge, oerrors.ErrInvalidRedirectURI,
		oerrors.ErrInvalidAccessToken, oerrors.ErrExpiredAccessToken:
		return true
	}
	return false
}

// writeJSON writes a token-endpoint style response: JSON, never cached
// (RFC 6749 §5.1).
func writeJSON(w http.ResponseWriter, status int, body any) {
	b, err := json.Marshal(body)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"server_error"}`)
	}
	writeJSONBytes(w, status, b)
}

// Header values of every token-endpoint response; read-only.
var (
	jsonContentType = []string{"application/json"}
	noStore         = []string{"no-store"}
	noCache         = []string{"no-cache"}
)

// writeJSONBytes writes the JSON body b as writeJSON does.
func writeJSONBytes(w http.ResponseWriter, status int, b []byte) {
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["Cache-Control"] = noStore
	h["Pragma"] = noCache
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeError renders e per RFC 6749 §5.2 with the headers its status needs.
func writeError(w http.ResponseWriter, e *oauthError) {
	e.setHeaders(w.Header().Set)
	body := map[string]string{"error": e.code}
	if e.description != "" {
		body["error_description"] = descriptionText(e.description)
	}
	writeJSON(w, e.status, body)
}

// descriptionText fits s to RFC 6749 §5.2's error_description: printable
// ASCII without '"' and '\\', which become "'" and '/'; anything else becomes
// '?'. Descriptions quote client input (parameter names, scopes), so this
// runs where every description leaves rather than where each is made.
func descriptionText(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '"':
			return '\''
		case r == '\\':
			return '/'
		case r < 0x20 || r > 0x7e:
			return '?'
		}
		return r
	}, s)
}
