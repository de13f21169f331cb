// Package authserver is scimgate's OAuth 2.0 authorization server: the token
// endpoint (built on go-oauth2 with its unsafe defaults closed), the
// authorization-code flow with its sign-in and consent pages for tenant
// admins, RFC 8414 metadata, the JWKS, introspection and revocation.
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
	"github.com/scimgate/scimgate/internal/grants"
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

// AdminAuthenticator checks a tenant admin's password at the sign-in page.
// Failures are *credentials.AuthError.
type AdminAuthenticator interface {
	AuthenticateAdmin(ctx context.Context, tenantID, username, password string) (*credentials.AdminUser, error)
}

// Directory finds clients, tenants and admins by id, without any secret,
// for the authorization endpoint and the consent page.
type Directory interface {
	Client(ctx context.Context, id string) (*credentials.Client, error)
	Tenant(ctx context.Context, id string) (*credentials.Tenant, error)
	Admin(ctx context.Context, tenantID, username string) (*credentials.AdminUser, error)
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
	// SignInFailuresPerUser and SignInFailuresPerIP bound failed admin
	// sign-ins at the authorization endpoint; zero rules take the defaults
	// (5 per user and 20 per address in 15 minutes).
	SignInFailuresPerUser ratelimit.Rule
	SignInFailuresPerIP   ratelimit.Rule
	// AuthorizePerIP bounds requests to the authorization endpoint from
	// one address, each of which looks the client up and saves a pending
	// request; a zero rule takes the default (30 in 10 minutes).
	AuthorizePerIP ratelimit.Rule
	// ClientIP returns the caller's address; the peer address when nil.
	ClientIP func(*http.Request) string
	Now      func() time.Time
	Logger   *slog.Logger
	Audit    *audit.Logger
	// Metrics counts tokens issued and refused (nil: none).
	Metrics TokenMetrics
}

// Deps are the services the authorization server uses. Grants, Admins and
// Directory together enable the authorization-code flow; with Grants nil
// the server issues client-credentials tokens only.
type Deps struct {
	Clients     ClientAuthenticator
	Keys        KeyRing
	Revocations Revocations
	Limiter     ratelimit.Limiter
	Grants      *grants.Store
	Admins      AdminAuthenticator
	Directory   Directory
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
	// issuerOrigin is scheme://host of the issuer: the Origin the sign-in
	// and consent forms accept (besides "null", see fromOwnPage).
	issuerOrigin string
	// secureCookies is true for an https issuer: cookies are then Secure
	// and carry the __Host- prefix.
	secureCookies bool
	pages         *pages
	signIns       *signInGate
}

// Paths relative to the issuer.
const (
	TokenPath      = "/oauth2/token"
	AuthorizePath  = "/oauth2/authorize"
	SignInPath     = "/oauth2/authorize/signin"
	ConsentPath    = "/oauth2/authorize/consent"
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
	if cfg.SignInFailuresPerUser == (ratelimit.Rule{}) {
		cfg.SignInFailuresPerUser = ratelimit.PerWindow(5, 15*time.Minute)
	}
	if cfg.SignInFailuresPerIP == (ratelimit.Rule{}) {
		cfg.SignInFailuresPerIP = ratelimit.PerWindow(20, 15*time.Minute)
	}
	if cfg.AuthorizePerIP == (ratelimit.Rule{}) {
		cfg.AuthorizePerIP = ratelimit.PerWindow(30, 10*time.Minute)
	}
	if deps.Grants != nil && (deps.Admins == nil || deps.Directory == nil) {
		return nil, errors.New("authserver: the authorization-code flow needs Deps.Admins and Deps.Directory as well as Deps.Grants")
	}
	s := &Server{cfg: cfg, deps: deps, issuerPath: strings.TrimSuffix(u.Path, "/"),
		issuerOrigin: u.Scheme + "://" + u.Host, secureCookies: u.Scheme == "https", signIns: newSignInGate()}
	if s.pages, err = newPages(); err != nil {
		return nil, err
	}
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
	m.MapTokenStorage(grantTokens{s: s})
	m.MapAccessGenerate(&tokenGenerator{s: s})
	m.MapAuthorizeGenerate(codeGenerator{})
	// Redeeming a code may yield a refresh token; the generator issues one
	// only when offline_access was granted. Lifetimes come from the client
	// (access) and internal/grants (code, refresh).
	m.SetAuthorizeCodeTokenCfg(&manage.Config{IsGenerateRefresh: true})
	if s.deps.Grants != nil {
		m.SetAuthorizeCodeExp(s.deps.Grants.CodeTTL())
	}
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
	}, &strictManager{Manager: m, s: s})
	// Client authentication, grant and scope policy run in handleToken (and,
	// for codes, in the authorization endpoint and consent step) before the
	// library sees the request; these hooks hand it the results.
	srv.ClientInfoHandler = clientInfoFromState
	srv.ClientAuthorizedHandler = func(string, oauth2.GrantType) (bool, error) { return true, nil }
	srv.ClientScopeHandler = scopeFromState
	srv.UserAuthorizationHandler = subjectFromState
	srv.PreRedirectErrorHandler = s.authorizeLibraryError
	srv.InternalErrorHandler = s.libraryInternalError
	srv.ResponseErrorHandler = libraryErrorToRFC
	srv.ResponseTokenHandler = writeLibraryResponse
	return srv
}

// Register mounts the endpoints on r.
func (s *Server) Register(r *mux.Router) {
	r.HandleFunc(s.issuerPath+TokenPath, s.handleToken)
	if s.deps.Grants != nil {
		r.HandleFunc(s.issuerPath+AuthorizePath, s.handleAuthorize)
		r.HandleFunc(s.issuerPath+SignInPath, s.handleSignIn)
		r.HandleFunc(s.issuerPath+ConsentPath, s.handleConsent)
		r.PathPrefix(s.issuerPath + AuthorizePath + "/").HandlerFunc(s.handleAuthorizeNotFound)
	}
	r.HandleFunc(s.issuerPath+IntrospectPath, s.handleIntrospect)
	r.HandleFunc(s.issuerPath+RevokePath, s.handleRevoke)
	for _, ep := range [...]struct{ name, path string }{{"token", TokenPath}, {"introspection", IntrospectPath}, {"revocation", RevokePath}} {
		r.PathPrefix(s.issuerPath + ep.path + "/").Handler(s.endpointNotFound(ep.name, ep.path))
	}
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
