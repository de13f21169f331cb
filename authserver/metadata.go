package authserver

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/scimgate/scimgate/internal/credentials"
)

// renderMetadata builds the RFC 8414 document once.
func (s *Server) renderMetadata() []byte {
	authMethods := []string{"client_secret_basic", "client_secret_post"}
	iss := s.cfg.Issuer
	md := map[string]any{
		"issuer":                                        iss,
		"authorization_endpoint":                        iss + AuthorizePath,
		"token_endpoint":                                iss + TokenPath,
		"jwks_uri":                                      iss + JWKSPath,
		"introspection_endpoint":                        iss + IntrospectPath,
		"revocation_endpoint":                           iss + RevokePath,
		"response_types_supported":                      []string{"code"},
		"response_modes_supported":                      []string{"query"},
		"grant_types_supported":                         []string{credentials.GrantClientCredentials, credentials.GrantAuthorizationCode, credentials.GrantRefreshToken},
		"token_endpoint_auth_methods_supported":         authMethods,
		"introspection_endpoint_auth_methods_supported": authMethods,
		"revocation_endpoint_auth_methods_supported":    authMethods,
		"scopes_supported":                              []string{credentials.ScopeRead, credentials.ScopeWrite, credentials.ScopeFull, credentials.ScopeOfflineAccess},
		"code_challenge_methods_supported":              []string{"S256"},
	}
	b, err := json.Marshal(md)
	if err != nil {
		panic("authserver: metadata does not marshal: " + err.Error()) // static data: a programming error
	}
	return b
}

// handleMetadata is GET /.well-known/oauth-authorization-server (RFC 8414).
func (s *Server) handleMetadata(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(s.metadata)
}

// handleJWKS serves every public key that can still verify a live token.
// The cache lifetime is kept below the time a new key is published before
// it signs, so remote verifiers always know a key before they meet it.
func (s *Server) handleJWKS(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/jwk-set+json")
	w.Header().Set("Cache-Control", "public, max-age="+strconv.Itoa(int(s.deps.Keys.JWKSMaxAge()/time.Second)))
	_, _ = w.Write(s.deps.Keys.JWKS())
}
