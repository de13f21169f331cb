// Package config turns one YAML file plus SCIMGATE_* environment overrides
// into a typed, validated Config, reporting every problem with the dotted key
// it concerns.
//
// The types below are the configuration reference: every field's comment is
// written for operators, and config/example.yaml shows each key in use.
//
// Load is the only way values enter: Default, then the file, then the
// environment, then validation. A key left out of the file keeps its default;
// a key written with an empty value (`key:` or `key: ~`) also keeps it.
package config

import (
	"log/slog"
	"net/netip"
	"time"
)

// Config is the whole scimgate configuration.
type Config struct {
	// Issuer is the public base URL of the authorization server. It becomes
	// the "iss" claim of every token and the "issuer" of the metadata
	// document, byte for byte. https is required unless the host is a
	// loopback address; no query, no fragment, no trailing slash.
	Issuer string `yaml:"issuer"`
	// Listen configures the two HTTP listeners.
	Listen Listen `yaml:"listen"`
	// Admin configures access to the admin API.
	Admin Admin `yaml:"admin"`
	// Store selects where clients, keys, grants and tokens are kept.
	Store Store `yaml:"store"`
	// Keys configures the signing-key ring.
	Keys Keys `yaml:"keys"`
	// Tokens configures token and code lifetimes.
	Tokens Tokens `yaml:"tokens"`
	// Gateway configures the SCIM reverse proxy.
	Gateway Gateway `yaml:"gateway"`
	// RateLimit configures request rate limits.
	RateLimit RateLimit `yaml:"ratelimit"`
	// Log configures the operational log.
	Log Log `yaml:"log"`
	// Audit configures the audit log (tokens issued, denied, revoked; secrets rotated).
	Audit Audit `yaml:"audit"`
	// Metrics configures the Prometheus endpoint.
	Metrics Metrics `yaml:"metrics"`
	// Pprof configures the Go profiler endpoints.
	Pprof Pprof `yaml:"pprof"`
}

// Listen configures the public listener (token endpoint, metadata, JWKS, SCIM
// gateway) and the admin listener (admin API, metrics, pprof).
type Listen struct {
	// Public is the host:port of the public listener. An empty host listens
	// on every interface; port 0 picks a free port.
	Public string `yaml:"public"`
	// Admin is the host:port of the admin listener. Keep it on loopback or a
	// private network: it must not be reachable by the IdPs.
	Admin string `yaml:"admin"`
	// TLS makes both listeners serve HTTPS. Leave both files empty when a
	// load balancer terminates TLS.
	TLS TLS `yaml:"tls"`
	// TrustedProxies lists the CIDRs (10.0.0.0/8, 2001:db8::/32) or addresses
	// of load balancers whose X-Forwarded-For header is believed. A request from any
	// other peer is attributed to the peer address.
	TrustedProxies []netip.Prefix `yaml:"trusted_proxies"`
	// ShutdownTimeout is how long in-flight requests may take to finish after
	// SIGTERM before connections are closed.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// ShutdownDelay is how long after SIGTERM /readyz answers 503 while
	// requests are still served as usual, before the listeners close and
	// ShutdownTimeout starts: set it above the load balancer's health-check
	// interval so that it stops sending requests first. 0 to 60s.
	ShutdownDelay time.Duration `yaml:"shutdown_delay"`
	// ReadHeaderTimeout bounds reading the request headers (http.Server).
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	// ReadTimeout bounds reading the whole request, body included.
	ReadTimeout time.Duration `yaml:"read_timeout"`
	// WriteTimeout bounds the whole request from the end of its headers to
	// the end of the response; it must exceed every route timeout.
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// IdleTimeout is how long an idle keep-alive connection stays open.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// FastPath serves plain HTTP/1.1 requests on the public listener with
	// scimgate's own connection loop, which spends less CPU per request,
	// and hands every other connection to Go's net/http server.
	// false serves everything with net/http. Without effect under TLS.
	FastPath bool `yaml:"fast_path"`
}

// TLS names a certificate and its private key, both PEM files. Set both or
// neither.
type TLS struct {
	// CertFile is the certificate chain, leaf first.
	CertFile string `yaml:"cert_file"`
	// KeyFile is the private key of the leaf certificate.
	KeyFile string `yaml:"key_file"`
}

// Admin configures access to the admin API.
type Admin struct {
	// Token is the bearer token of the admin API, at least 32 characters.
	// Prefer the SCIMGATE_ADMIN_TOKEN variable to writing it in the file.
	// When empty, the server generates one into <store.embedded.path>/admin.token.
	Token Secret `yaml:"token"`
}

// Backend names a storage backend.
type Backend string

// The storage backends.
const (
	// BackendEmbedded keeps everything in one local file; one replica only.
	BackendEmbedded Backend = "embedded"
	// BackendRedis keeps everything in Redis, shared by every replica.
	BackendRedis Backend = "redis"
)

// Store selects and configures the storage backend.
type Store struct {
	// Backend is embedded (a local file, for a single replica) or redis
	// (shared by several replicas).
	Backend Backend `yaml:"backend"`
	// Embedded configures the embedded backend.
	Embedded Embedded `yaml:"embedded"`
	// Redis configures the redis backend.
	Redis Redis `yaml:"redis"`
}

// Embedded configures the embedded (bbolt) backend.
type Embedded struct {
	// Path is the data directory; it is created if missing.
	Path string `yaml:"path"`
}

// Redis configures the redis backend. Give either URL (one server) or Addrs
// (a cluster, or Sentinel with MasterName), not both.
type Redis struct {
	// URL is a redis://, rediss:// (TLS) or unix:// URL, optionally with a
	// user name and a database number (redis://user@host:6379/0). Put the
	// password in Password, not in the URL, so that it is never printed.
	// Query parameters tune the client: dial_timeout (default 2s),
	// read_timeout and write_timeout (default 1s; a command, retries
	// included, may take twice read_timeout, so a Redis that stops
	// answering gets requests a 503 within about 2s), pool_size and others
	// of go-redis.
	URL string `yaml:"url"`
	// Addrs lists host:port seed addresses of a Redis Cluster, or of the
	// Sentinels when MasterName is set. Setting Addrs clears the default URL.
	Addrs []string `yaml:"addrs"`
	// MasterName is the Sentinel master name; requires Addrs.
	MasterName string `yaml:"master_name"`
	// Username is the ACL user name (Redis 6+).
	Username string `yaml:"username"`
	// Password is the Redis password; prefer SCIMGATE_STORE_REDIS_PASSWORD.
	Password Secret `yaml:"password"`
	// Prefix starts every key scimgate writes, so that one Redis can serve
	// several deployments. Printable ASCII without spaces.
	Prefix string `yaml:"prefix"`
	// TLS connects to Addrs with TLS. With URL, the rediss:// scheme decides.
	TLS bool `yaml:"tls"`
}

// Algorithm names a JWS signing algorithm.
type Algorithm string

// The signing algorithms.
const (
	// AlgorithmES256 is ECDSA P-256 with SHA-256: cheap to sign and verify.
	AlgorithmES256 Algorithm = "ES256"
	// AlgorithmEdDSA is Ed25519.
	AlgorithmEdDSA Algorithm = "EdDSA"
	// AlgorithmRS256 is RSA PKCS#1 v1.5 with SHA-256: cheapest to verify,
	// about 30 times dearer to sign.
	AlgorithmRS256 Algorithm = "RS256"
)

// Keys configures the signing-key ring. A key is published (in the JWKS)
// PublishBeforeUse before it starts signing, signs for RotationInterval,
// and stays published after that until every token it signed has expired.
type Keys struct {
	// Algorithm of newly generated keys: ES256, EdDSA or RS256. Changing it
	// takes effect at the next rotation.
	Algorithm Algorithm `yaml:"algorithm"`
	// RotationInterval is how long a key signs before the next one takes over.
	RotationInterval time.Duration `yaml:"rotation_interval"`
	// PublishBeforeUse is how long a new key is published before it signs,
	// so that every verifier knows it first; longer than RefreshInterval.
	PublishBeforeUse time.Duration `yaml:"publish_before_use"`
	// RefreshInterval is how often a replica reloads the key ring from the store.
	RefreshInterval time.Duration `yaml:"refresh_interval"`
}

// Tokens configures lifetimes. Per-client settings may narrow them further.
type Tokens struct {
	// AccessTTL is the access-token lifetime of clients created without
	// their own --access-ttl, 5m to 24h, read when a token is issued. Entra
	// requires 60m to 6h: for Entra clients it is clamped into that range.
	AccessTTL time.Duration `yaml:"access_ttl"`
	// CodeTTL is the authorization-code lifetime, 60s to 10m.
	CodeTTL time.Duration `yaml:"code_ttl"`
	// RefreshTTL is the sliding refresh-token lifetime: a refresh token
	// unused for this long expires. At least AccessTTL.
	RefreshTTL time.Duration `yaml:"refresh_ttl"`
	// RefreshGrace is how long the previous refresh token of a family is
	// still accepted after rotation (lost responses, retries); under 5m.
	// Reuse after it revokes the family.
	RefreshGrace time.Duration `yaml:"refresh_grace"`
	// Leeway is the clock-skew allowance when checking exp, nbf and iat; at
	// most 60s.
	Leeway time.Duration `yaml:"leeway"`
}

// Gateway configures the SCIM reverse proxy.
type Gateway struct {
	// TenantHeader is the header that carries the authenticated tenant to
	// the upstream. Any inbound copy is removed first.
	TenantHeader string `yaml:"tenant_header"`
	// ClientHeader is the header that carries the authenticated client (or
	// API key id) to the upstream. Any inbound copy is removed first.
	ClientHeader string `yaml:"client_header"`
	// TokenCacheSize is how many verified access tokens are cached in
	// memory; 0 verifies every request.
	TokenCacheSize int `yaml:"token_cache_size"`
	// Routes map path prefixes to upstream SCIM services. With no routes,
	// every SCIM request is answered 404. Not settable from the environment.
	// The built-in default is one demo route, /scim/v2 → builtin:memory, so
	// that `scimgate serve` without a file can be tried end to end; routes
	// in a file replace it.
	Routes []Route `yaml:"routes"`
}

// Credential names a way a SCIM client may authenticate to the gateway.
type Credential string

// The gateway credentials.
const (
	// CredentialJWT is an access token issued by this authorization server.
	CredentialJWT Credential = "jwt"
	// CredentialAPIKey is a long-lived API key (Entra Secret Token, Okta and
	// OneLogin bearer tokens).
	CredentialAPIKey Credential = "api_key"
)

// GroupsMode says what the gateway does with /Groups requests.
type GroupsMode string

// The groups modes.
const (
	// GroupsProxy forwards /Groups to the upstream like /Users.
	GroupsProxy GroupsMode = "proxy"
	// GroupsEmpty answers /Groups queries with an empty list, for upstreams
	// that keep no groups.
	GroupsEmpty GroupsMode = "empty"
)

// Dialect selects the IdP-specific SCIM normalization.
type Dialect string

// The dialects.
const (
	// DialectAuto detects the IdP from the request.
	DialectAuto Dialect = "auto"
	// DialectEntra assumes Microsoft Entra ID.
	DialectEntra Dialect = "entra"
	// DialectOkta assumes Okta.
	DialectOkta Dialect = "okta"
	// DialectOneLogin assumes OneLogin.
	DialectOneLogin Dialect = "onelogin"
	// DialectOff forwards requests and responses without normalization.
	DialectOff Dialect = "off"
)

// Route maps a path prefix to one upstream SCIM service. A route read from
// the file starts from DefaultRoute, so only prefix and upstream are required.
type Route struct {
	// Prefix is the path the IdP is given as its SCIM base, such as /scim/v2
	// or /t/{tenant}/scim/v2. {tenant} may appear once, as a whole segment,
	// and then the tenant comes from the path. It is removed before the
	// request is forwarded: /t/acme/scim/v2/Users → <upstream>/Users.
	Prefix string `yaml:"prefix"`
	// Upstream is the absolute http(s) URL of the upstream SCIM base, or
	// builtin:memory for scimgate's own in-memory SCIM service: a demo and
	// test upstream whose data is lost when scimgate stops.
	Upstream string `yaml:"upstream"`
	// Audience is the "aud" an access token must carry for this route.
	// Default: issuer + prefix, with {tenant} kept literally.
	Audience string `yaml:"audience"`
	// Credentials lists the accepted credentials: jwt, api_key or both.
	Credentials []Credential `yaml:"credentials"`
	// RawAPIKey also accepts an API key sent as the whole Authorization
	// value without a scheme (Okta "Header" mode). Requires api_key.
	RawAPIKey bool `yaml:"raw_api_key"`
	// ForwardAuthorization passes the inbound Authorization header to the
	// upstream instead of removing it. Off unless the upstream checks the
	// same credential itself.
	ForwardAuthorization bool `yaml:"forward_authorization"`
	// Headers are set on every upstream request, typically the upstream's
	// own credential. ${NAME} in a value is replaced by the environment
	// variable NAME, which must be set. Identity headers are not allowed.
	Headers map[string]Secret `yaml:"headers"`
	// Timeout bounds the upstream round trip; below listen.write_timeout.
	Timeout time.Duration `yaml:"timeout"`
	// MaxBody is the largest request body accepted, such as 1MiB; up to 64MiB.
	MaxBody Size `yaml:"max_body"`
	// Groups is proxy (forward /Groups) or empty (answer with no groups).
	Groups GroupsMode `yaml:"groups"`
	// Dialect is the IdP normalization: auto, entra, okta, onelogin or off.
	Dialect Dialect `yaml:"dialect"`
}

// RateLimit configures request rate limits.
type RateLimit struct {
	// Gateway limits SCIM requests.
	Gateway GatewayLimits `yaml:"gateway"`
	// Token limits failed attempts at the token endpoint.
	Token TokenLimits `yaml:"token"`
	// Authorize limits requests to the authorization endpoint.
	Authorize AuthorizeLimits `yaml:"authorize"`
}

// GatewayLimits are token-bucket limits on SCIM requests. Entra needs at
// least 25 requests per second per tenant.
type GatewayLimits struct {
	// TenantRate is the sustained requests per second per tenant.
	TenantRate float64 `yaml:"tenant_rate"`
	// TenantBurst is how many requests a tenant may send at once.
	TenantBurst int `yaml:"tenant_burst"`
	// CredentialRate is the sustained requests per second per client or API key.
	CredentialRate float64 `yaml:"credential_rate"`
	// CredentialBurst is how many requests a credential may send at once.
	CredentialBurst int `yaml:"credential_burst"`
}

// TokenLimits bound failed authentications at the token endpoint.
type TokenLimits struct {
	// FailuresPerClient is how many failures one client_id may have per Window.
	FailuresPerClient int `yaml:"failures_per_client"`
	// FailuresPerIP is how many failures one source address may have per Window.
	FailuresPerIP int `yaml:"failures_per_ip"`
	// Window is the period the failures are counted over.
	Window time.Duration `yaml:"window"`
}

// AuthorizeLimits bound requests to the authorization endpoint, the page an
// Okta admin's browser opens to connect: each looks a client up and saves a
// pending sign-in, and connecting takes one.
type AuthorizeLimits struct {
	// PerIP is how many requests one source address may make per Window, malformed ones included.
	PerIP int `yaml:"per_ip"`
	// Window is the period the requests are counted over.
	Window time.Duration `yaml:"window"`
}

// LogFormat names a log encoding.
type LogFormat string

// The log formats.
const (
	// LogJSON writes one JSON object per line.
	LogJSON LogFormat = "json"
	// LogText writes key=value lines.
	LogText LogFormat = "text"
)

// Log configures the operational log, written to stderr.
type Log struct {
	// Level is the least severe level written: debug, info, warn or error.
	Level slog.Level `yaml:"level"`
	// Format is json or text.
	Format LogFormat `yaml:"format"`
}

// AuditSink names where audit events go.
type AuditSink string

// The audit sinks.
const (
	// AuditStdout writes audit events to stdout, one JSON object per line.
	AuditStdout AuditSink = "stdout"
	// AuditFile appends audit events to Audit.File.
	AuditFile AuditSink = "file"
)

// Audit configures the audit log.
type Audit struct {
	// Sink is stdout or file.
	Sink AuditSink `yaml:"sink"`
	// File is the file audit events are appended to; required when sink is
	// file, not allowed otherwise. Its directory must exist.
	File string `yaml:"file"`
}

// Metrics configures the Prometheus endpoint.
type Metrics struct {
	// Enabled serves /metrics on the admin listener.
	Enabled bool `yaml:"enabled"`
}

// Pprof configures the Go profiler.
type Pprof struct {
	// Enabled serves /debug/pprof/ on the admin listener.
	Enabled bool `yaml:"enabled"`
}

// Default returns the configuration used when no file is given: a single
// replica on loopback with an embedded store in ./scimgate-data and no
// routes. It passes Validate.
func Default() *Config {
	return &Config{
		Issuer: "http://127.0.0.1:8080",
		Listen: Listen{
			Public:            "127.0.0.1:8080",
			Admin:             "127.0.0.1:8081",
			ShutdownTimeout:   20 * time.Second,
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      60 * time.Second,
			IdleTimeout:       120 * time.Second,
			FastPath:          true,
		},
		Store: Store{
			Backend:  BackendEmbedded,
			Embedded: Embedded{Path: "./scimgate-data"},
			Redis: Redis{
				URL:    "redis://127.0.0.1:6379/0",
				Prefix: "scimgate:",
			},
		},
		Keys: Keys{
			Algorithm:        AlgorithmES256,
			RotationInterval: 720 * time.Hour,
			PublishBeforeUse: 10 * time.Minute,
			RefreshInterval:  5 * time.Second,
		},
		Tokens: Tokens{
			AccessTTL:    time.Hour,
			CodeTTL:      60 * time.Second,
			RefreshTTL:   2160 * time.Hour,
			RefreshGrace: 30 * time.Second,
			Leeway:       30 * time.Second,
		},
		Gateway: Gateway{
			TenantHeader:   "X-Scim-Tenant",
			ClientHeader:   "X-Scim-Client",
			TokenCacheSize: 10000,
			Routes:         []Route{demoRoute()},
		},
		RateLimit: RateLimit{
			Gateway:   GatewayLimits{TenantRate: 50, TenantBurst: 100, CredentialRate: 50, CredentialBurst: 100},
			Token:     TokenLimits{FailuresPerClient: 10, FailuresPerIP: 30, Window: time.Minute},
			Authorize: AuthorizeLimits{PerIP: 30, Window: 10 * time.Minute},
		},
		Log:     Log{Level: slog.LevelInfo, Format: LogJSON},
		Audit:   Audit{Sink: AuditStdout},
		Metrics: Metrics{Enabled: true},
	}
}

// UpstreamMemory names the built-in in-memory SCIM service as an upstream.
const UpstreamMemory = "builtin:memory"

// demoRoute is the route of a configuration without a file.
func demoRoute() Route {
	r := DefaultRoute()
	r.Prefix, r.Upstream = "/scim/v2", UpstreamMemory
	return r
}

// DefaultRoute returns the values a route starts from before the file's
// keys are applied; Prefix and Upstream are left empty.
func DefaultRoute() Route {
	return Route{
		Credentials: []Credential{CredentialJWT, CredentialAPIKey},
		Timeout:     30 * time.Second,
		MaxBody:     MiB,
		Groups:      GroupsProxy,
		Dialect:     DialectAuto,
	}
}
