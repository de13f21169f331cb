// Package gateway is scimgate's SCIM gateway: it authenticates each request
// an identity provider sends to a configured route (an access token from the
// authorization server, or an API key), authorizes it by scope, tenant and
// rate, normalizes the provider's SCIM dialect and reverse-proxies it to the
// route's upstream user service, telling that service which tenant and
// client is calling.
//
// Pipeline of one request (gateway.md §1), each step answering with a SCIM
// error when it refuses:
//
//	mux route match → path hygiene (400) → Authorization shape (400/401)
//	→ authenticate (401) → tenant of the path (404) → endpoint and method
//	(404/405/501) → rate limits (429) → scope (403) → Groups "empty" mode
//	→ body limit (413) → request normalizer (400) → upstream (502/504)
//	→ response normalizer and URL rewriting → client
package gateway

import (
	"cmp"
	"context"
	"crypto"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/mux"

	"github.com/scimgate/scimgate/config"
	"github.com/scimgate/scimgate/internal/accesstoken"
	"github.com/scimgate/scimgate/internal/audit"
	"github.com/scimgate/scimgate/internal/credentials"
	"github.com/scimgate/scimgate/internal/ratelimit"
)

// KeyRing finds the public keys that verify access tokens; *keys.Manager is
// one. PublicKey is also asked on every cached token, so that retiring or
// revoking a key stops its tokens at once.
type KeyRing interface {
	Keyfunc(*jwt.Token) (any, error)
	PublicKey(ctx context.Context, kid string) (crypto.PublicKey, jwt.SigningMethod, error)
}

// Credentials checks API keys and reads tenant and client status;
// *credentials.Service is one.
type Credentials interface {
	AuthenticateAPIKey(ctx context.Context, presented string) (*credentials.APIKey, error)
	Tenant(ctx context.Context, id string) (*credentials.Tenant, error)
	Client(ctx context.Context, id string) (*credentials.Client, error)
}

// Revocations is the jti deny-list; *denylist.List is one.
type Revocations interface {
	Revoked(ctx context.Context, jti string) (bool, error)
}

// Options configure a Gateway. cmd builds them from the configuration:
//
//	gateway.Options{
//		Issuer: cfg.Issuer, Leeway: cfg.Tokens.Leeway,
//		Gateway: cfg.Gateway, Limits: cfg.RateLimit.Gateway,
//		Logger: logger, Audit: auditLogger,
//	}
type Options struct {
	// Issuer is the iss every accepted access token carries, and the base
	// of a route's default audience (Issuer + prefix).
	Issuer string
	// PublicURL is the origin the IdPs reach this listener at, such as
	// https://scim.example.com; upstream URLs in Location and meta.location
	// are rewritten to it. Default: the scheme and host of Issuer.
	PublicURL string
	// Leeway is the clock-skew allowance on exp, nbf and iat.
	Leeway time.Duration
	// Gateway gives the identity header names (default X-Scim-Tenant and
	// X-Scim-Client), the verified-token cache size (0: no cache) and the
	// routes. A route's zero fields take config.DefaultRoute's values.
	Gateway config.Gateway
	// Limits are the per-tenant and per-credential rates; zero fields take
	// config.Default's (50 requests/s, burst 100).
	Limits config.GatewayLimits
	// StatusTTL is how long this replica trusts what it read about a
	// tenant's or client's status or an API key, and so how long a disable
	// or revocation takes to bite: 500ms by default, at most 1s.
	StatusTTL time.Duration
	// Now is the clock (time.Now).
	Now func() time.Time
	// Logger receives upstream failures and, at debug level, one line per
	// request (slog.Default()).
	Logger *slog.Logger
	// Audit receives gateway.refused and the scim.* write events (nil: none).
	Audit *audit.Logger
	// Metrics counts cache lookups, rate-limit refusals and upstream round
	// trips (nil: none).
	Metrics Metrics
}

// Deps are the services the gateway calls.
type Deps struct {
	Keys        KeyRing
	Credentials Credentials
	Revocations Revocations
	// Limiter keeps the rate-limit state; nil uses an in-process limiter.
	// Pass ratelimit.Fallback over Redis to share limits between replicas.
	Limiter ratelimit.Limiter
}

// Default and maximum of Options.StatusTTL.
const (
	defaultStatusTTL = 500 * time.Millisecond
	maxStatusTTL     = time.Second
)

// Gateway serves the configured SCIM routes.
type Gateway struct {
	routes     []*route // most specific first
	auth       *authenticator
	headers    headerRules
	limiter    ratelimit.Limiter
	tenantRule ratelimit.Rule
	credRule   ratelimit.Rule
	proxy      *proxy
	now        func() time.Time
	log        *slog.Logger
	audit      *audit.Logger
	metrics    Metrics
	registered atomic.Bool
}

// New checks the options and routes and builds the gateway.
func New(opts Options, deps Deps) (*Gateway, error) {
	if deps.Keys == nil || deps.Credentials == nil || deps.Revocations == nil {
		return nil, errors.New("gateway: Keys, Credentials and Revocations are required")
	}
	iss, err := url.Parse(opts.Issuer)
	if err != nil || iss.Scheme == "" || iss.Host == "" {
		return nil, fmt.Errorf("gateway: issuer %q is not an absolute URL", opts.Issuer)
	}
	if opts.PublicURL == "" {
		opts.PublicURL = iss.Scheme + "://" + iss.Host
	}
	if u, err := url.Parse(opts.PublicURL); err != nil || u.Scheme == "" || u.Host == "" || u.Path != "" && u.Path != "/" {
		return nil, fmt.Errorf("gateway: public URL %q must be an origin such as https://scim.example.com", opts.PublicURL)
	}
	switch {
	case opts.StatusTTL == 0:
		opts.StatusTTL = defaultStatusTTL
	case opts.StatusTTL < 0 || opts.StatusTTL > maxStatusTTL:
		return nil, fmt.Errorf("gateway: status TTL %s must be between 0 and %s", opts.StatusTTL, maxStatusTTL)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Metrics == nil {
		opts.Metrics = noMetrics{}
	}
	gw := opts.Gateway
	def := config.Default()
	if gw.TenantHeader == "" {
		gw.TenantHeader = def.Gateway.TenantHeader
	}
	if gw.ClientHeader == "" {
		gw.ClientHeader = def.Gateway.ClientHeader
	}
	limits := opts.Limits
	if limits.TenantRate == 0 && limits.TenantBurst == 0 {
		limits.TenantRate, limits.TenantBurst = def.RateLimit.Gateway.TenantRate, def.RateLimit.Gateway.TenantBurst
	}
	if limits.CredentialRate == 0 && limits.CredentialBurst == 0 {
		limits.CredentialRate, limits.CredentialBurst = def.RateLimit.Gateway.CredentialRate, def.RateLimit.Gateway.CredentialBurst
	}
	g := &Gateway{
		headers:    newHeaderRules(gw.TenantHeader, gw.ClientHeader),
		limiter:    deps.Limiter,
		tenantRule: ratelimit.Rule{Rate: limits.TenantRate, Burst: limits.TenantBurst},
		credRule:   ratelimit.Rule{Rate: limits.CredentialRate, Burst: limits.CredentialBurst},
		now:        opts.Now,
		log:        opts.Logger,
		audit:      opts.Audit,
		metrics:    opts.Metrics,
	}
	if http.CanonicalHeaderKey(gw.TenantHeader) == http.CanonicalHeaderKey(gw.ClientHeader) {
		return nil, errors.New("gateway: the tenant and client headers must differ")
	}
	for _, r := range []ratelimit.Rule{g.tenantRule, g.credRule} {
		if err := r.Validate(); err != nil {
			return nil, fmt.Errorf("gateway: rate limit: %w", err)
		}
	}
	if g.limiter == nil {
		g.limiter = ratelimit.NewLocal(ratelimit.LocalOptions{Now: opts.Now})
	}
	seen := map[string]bool{}
	for i, c := range gw.Routes {
		rt, err := compileRoute(g, c, opts.Issuer, opts.PublicURL)
		if err != nil {
			return nil, fmt.Errorf("gateway: routes[%d] (%s): %w", i, c.Prefix, err)
		}
		if seen[rt.prefix] {
			return nil, fmt.Errorf("gateway: routes[%d]: prefix %s is configured twice", i, rt.prefix)
		}
		seen[rt.prefix] = true
		g.routes = append(g.routes, rt)
	}
	orderRoutes(g.routes)
	g.auth = &authenticator{
		verifier:    accesstoken.NewVerifier(opts.Issuer, opts.Leeway, deps.Keys.Keyfunc, opts.Now),
		keys:        deps.Keys,
		creds:       deps.Credentials,
		revocations: deps.Revocations,
		leeway:      opts.Leeway,
		statusTTL:   opts.StatusTTL,
		metrics:     opts.Metrics,
		tokens:      newTTLCache[[32]byte, *principal](gw.TokenCacheSize),
		apiKeys:     newTTLCache[[32]byte, *principal](gw.TokenCacheSize),
		tenants:     newTTLCache[string, *authProblem](statusCacheSize),
		clients:     newTTLCache[string, clientStatus](statusCacheSize),
	}
	g.proxy = newProxy(g)
	return g, nil
}

// Register adds the routes to r, most specific first, and prepares r for
// SCIM traffic: it stops gorilla/mux from answering "//Users" (Entra's
// Tenant URLs often end with "/") with a redirect, as the gateway cleans
// paths itself, and it makes paths that match no route a SCIM 404 unless r
// already has a NotFoundHandler. Mount the authorization server on the same
// router; its paths never collide with a route's (config reserves them).
func (g *Gateway) Register(r *mux.Router) {
	r.SkipClean(true)
	for _, rt := range g.routes {
		r.NewRoute().MatcherFunc(rt.mayMatch).Path(rt.template).Handler(rt)
	}
	if r.NotFoundHandler == nil {
		r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			writeError(w, req, errNotFound)
		})
	}
	g.registered.Store(true)
}

// Dispatcher returns a handler that serves what r serves, r's own routes
// and the gateway's that Register added, handing requests for the
// gateway's routes straight to their handlers (as wrapped on r) instead of
// through r's matching, which tries every route before them by regular
// expression and then puts the variables of the match in the request's
// context. That is the same dispatch when every other route of r is an
// exact path or a path prefix, and Dispatcher then holds those paths back
// for r: a request for one of them, or under one of those prefixes, goes
// to r, as does one that no gateway route matches. If r has other kinds of
// routes, it returns r itself. Call it once every route of r is registered
// and wrapped.
func (g *Gateway) Dispatcher(r *mux.Router) http.Handler {
	d := &dispatcher{router: r, exact: map[string]bool{}}
	byTemplate := make(map[string]*route, len(g.routes))
	for _, rt := range g.routes {
		byTemplate[rt.template] = rt
	}
	templates := map[string]bool{}
	plain := true
	var opaque string // the first route dispatch cannot reason about
	_ = r.Walk(func(mr *mux.Route, _ *mux.Router, ancestors []*mux.Route) error {
		tpl, err := mr.GetPathTemplate()
		re, _ := mr.GetPathRegexp()
		switch {
		case err != nil || len(ancestors) > 0 || templates[tpl]:
			plain, opaque = false, cmp.Or(opaque, tpl)
		case byTemplate[tpl] != nil:
			d.routes = append(d.routes, dispatchRoute{byTemplate[tpl], mr})
		case re == "^"+regexp.QuoteMeta(tpl)+"$":
			d.exact[tpl] = true
		case re == "^"+regexp.QuoteMeta(tpl):
			// A PathPrefix route, such as the authorization server's page
			// for a mistyped endpoint: without it here, one such route would
			// send every request through r's matching.
			d.prefixes = append(d.prefixes, tpl)
		default:
			plain, opaque = false, cmp.Or(opaque, tpl)
		}
		templates[tpl] = true
		return nil
	})
	if !plain || len(d.routes) != len(g.routes) {
		// Said aloud, since it costs every request a walk through the
		// router's regular expressions: a route added beside the gateway's
		// once turned this off unnoticed (7ecead4).
		g.log.Warn("gateway: requests are routed by regular expression, which is slower, because of a route the gateway cannot dispatch directly",
			"route", opaque)
		return r
	}
	return d
}

type dispatcher struct {
	router *mux.Router
	routes []dispatchRoute // the gateway's, in r's order
	exact  map[string]bool // the paths of r's other routes
	// prefixes are the path prefixes of r's other routes
	prefixes []string
}

type dispatchRoute struct {
	rt  *route
	mux *mux.Route // its handler is the route's, wrapped by the router's owner
}

func (d *dispatcher) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if path := r.URL.Path; !d.exact[path] && !d.underPrefix(path) {
		for _, dr := range d.routes {
			if _, _, ok := dr.rt.match(path); ok {
				dr.mux.GetHandler().ServeHTTP(w, r)
				return
			}
		}
	}
	d.router.ServeHTTP(w, r)
}

func (d *dispatcher) underPrefix(path string) bool {
	for _, p := range d.prefixes {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

// Handler returns a router serving only the gateway's routes.
func (g *Gateway) Handler() http.Handler {
	r := mux.NewRouter()
	g.Register(r)
	return r
}

// Ready reports whether the gateway serves its routes, for /readyz: New
// validated them, and Register has mounted them.
func (g *Gateway) Ready() error {
	if !g.registered.Load() {
		return errors.New("gateway: routes not registered on a router")
	}
	return nil
}

// CloseIdleConnections closes the pooled upstream connections, for shutdown.
func (g *Gateway) CloseIdleConnections() { g.proxy.pool.CloseIdleConnections() }
