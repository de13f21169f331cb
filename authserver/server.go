// Package authserver is scimgate's OAuth 2.0 authorization server: the token
// endpoint (built on go-oauth2 with its unsafe defaults closed), RFC 8414
// metadata, the JWKS, introspection and revocation.
package authserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-oauth2/oauth2/v4"
	"github.com/go-oauth2/oauth2/v4/manage"
	"github.com/go-oauth2/oauth2/v4/server"
	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/mux"

	"github.com/scimgate/scimgate/internal/accesstoken"
	"github.com/scimgate/scimgate/internal/audit"
	"github.com/scimgate/scimgate/internal/credentials"
	"github.com/scimgate/scimgate/internal/ratelimit"
	"github.com/scimgate/scimgate/keys"
)

// ClientAuthenticator checks a client's id and secret.
type ClientAuthenticator interface {
	AuthenticateClient(ctx context.Context, id, secret string) (*credentials.Client, error)
}

// KeyRing signs new tokens and verifies presented ones.
type KeyRing interface {
	Signer() (keys.SigningKey, error)
	Keyfunc(*jwt.Token) (any, error)
	JWKS() []byte
	JWKSMaxAge() time.Duration
}

// Revocations is the jti deny-list.
type Revocations interface {
	Revoke(ctx context.Context, jti string, until time.Time) error
	Revoked(ctx context.Context, jti string) (bool, error)
}

// Config is what the authorization server needs to know.
type Config struct {
	// Issuer is the public base URL: the iss of every token and the metadata issuer.
	Issuer string
	// Leeway is the clock-skew allowance when checking presented tokens.
	Leeway time.Duration
	// FailuresPerClient and FailuresPerIP bound failed client
	// authentications (RFC 6749 §2.3.1 brute-force protection).
	FailuresPerClient ratelimit.Rule
	FailuresPerIP     ratelimit.Rule
	// ClientIP returns the caller's address; the peer address when nil.
	ClientIP func(*http.Request) string
	Now      func() time.Time
	Logger   *slog.Logger
	Audit    *audit.Logger
	// Metrics counts tokens issued and refused (nil: none).
	Metrics TokenMetrics
}

// Deps are the services the authorization server uses.
type Deps struct {
	Clients     ClientAuthenticator
	Keys        KeyRing
	Revocations Revocations
	Limiter     ratelimit.Limiter
}

// Server serves the authorization server's endpoints.
type Server struct {
	cfg      Config
	deps     Deps
	oauth    *server.Server
	verifier *accesstoken.Verifier
	// issuerPath is the issuer URL's path; every endpoint lives under it.
	issuerPath string
	metadata   []byte
}

// Paths relative to the issuer.
const (
	TokenPath      = "/oauth2/token"
	AuthorizePath  = "/oauth2/authorize"
	IntrospectPath = "/oauth2/introspect"
	RevokePath     = "/oauth2/revoke"
	JWKSPath       = "/.well-known/jwks.json"
	metadataPath   = "/.well-known/oauth-authorization-server"
)

// New builds the authorization server.
func New(cfg Config, deps Deps) (*Server, error) {
	u, err := url.Parse(cfg.Issuer)
	if err != nil || u.Scheme == "" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("authserver: issuer %q must be an absolute URL without query or fragment", cfg.Issuer)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.ClientIP == nil {
		cfg.ClientIP = peerIP
	}
	if cfg.Metrics == nil {
		cfg.Metrics = noTokenMetrics{}
	}
	s := &Server{cfg: cfg, deps: deps, issuerPath: strings.TrimSuffix(u.Path, "/")}
	s.verifier = accesstoken.NewVerifier(cfg.Issuer, cfg.Leeway, deps.Keys.Keyfunc, cfg.Now)
	s.metadata = s.renderMetadata()
	s.oauth = s.newOAuthServer()
	return s, nil
}

// newOAuthServer configures go-oauth2 with every unsafe default closed
// (docs/oauth.md §3.4): only the code response type, no implicit or
// password grant, S256 only, our own client lookup, token generator and
// error rendering.
func (s *Server) newOAuthServer() *server.Server {
	m := manage.NewManager()
	m.MapClientStorage(authenticatedClients{})
	m.MapTokenStorage(statelessTokens{})
	m.MapAccessGenerate(&tokenGenerator{s: s})
	// P5: exact redirect URI match instead of the library's host-suffix test.
	m.SetValidateURIHandler(func(registered, presented string) error {
		if registered != presented {
			return errors.New("redirect uri mismatch")
		}
		return nil
	})
	srv := server.NewServer(&server.Config{
		TokenType:                   "Bearer",
		AllowedResponseTypes:        []oauth2.ResponseType{oauth2.Code},
		AllowedGrantTypes:           []oauth2.GrantType{oauth2.ClientCredentials, oauth2.AuthorizationCode, oauth2.Refreshing},
		AllowedCodeChallengeMethods: []oauth2.CodeChallengeMethod{oauth2.CodeChallengeS256},
	}, m)
	// Client authentication, grant and scope policy run in handleToken before
	// the library sees the request; these hooks hand it the results.
	srv.ClientInfoHandler = clientInfoFromState
	srv.ClientAuthorizedHandler = func(string, oauth2.GrantType) (bool, error) { return true, nil }
	srv.ClientScopeHandler = scopeFromState
	srv.InternalErrorHandler = s.libraryInternalError
	srv.ResponseErrorHandler = libraryErrorToRFC
	srv.ResponseTokenHandler = writeLibraryResponse
	return srv
}

// Register mounts the endpoints on r.
func (s *Server) Register(r *mux.Router) {
	r.HandleFunc(s.issuerPath+TokenPath, s.handleToken)
	r.HandleFunc(s.issuerPath+IntrospectPath, s.handleIntrospect)
	r.HandleFunc(s.issuerPath+RevokePath, s.handleRevoke)
	r.HandleFunc(metadataPath+s.issuerPath, s.handleMetadata).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc(s.issuerPath+JWKSPath, s.handleJWKS).Methods(http.MethodGet, http.MethodHead)
}

func peerIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
