package config

import (
	"crypto/tls"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// MaxLeeway bounds tokens.leeway. internal/grants remembers a family's
// access tokens twice this long past exp, so that revoking the family
// reaches every token a verifier may still accept.
const MaxLeeway = 60 * time.Second

// Bounds enforced by validation.
const (
	minAccessTTL    = 5 * time.Minute
	maxAccessTTL    = 24 * time.Hour
	minCodeTTL      = 60 * time.Second
	maxCodeTTL      = 10 * time.Minute
	maxRefreshGrace = 5 * time.Minute // Hydra's ceiling for a grace without reuse counting
	maxBodyLimit    = 64 * MiB
	maxTokenCache   = 10_000_000
	minAdminToken   = 32 // characters; 192 bits as base64
)

// validate records every problem of c.
func (l *loader) validate(c *Config) {
	l.issuer(c.Issuer)
	l.listen(&c.Listen)
	l.admin(&c.Admin)
	l.store(&c.Store)
	l.keys(&c.Keys)
	l.tokens(&c.Tokens)
	l.gateway(&c.Gateway, c.Listen.WriteTimeout)
	l.rateLimit(&c.RateLimit)
	oneOf(l, "log.format", c.Log.Format, LogJSON, LogText)
	l.audit(&c.Audit)
}

func (l *loader) issuer(s string) {
	const key = "issuer"
	u, err := url.Parse(s)
	switch {
	case s == "":
		l.problem(key, "must be set")
	case err != nil:
		l.problem(key, "is not a URL: %v", errors.Unwrap(err))
	case u.Scheme != "http" && u.Scheme != "https" || u.Hostname() == "":
		l.problem(key, "must be an absolute http or https URL, such as https://login.example.com")
	case u.User != nil:
		l.problem(key, "must not contain a user name or password")
	case u.RawQuery != "" || u.ForceQuery:
		l.problem(key, "must not have a query")
	case strings.Contains(s, "#"):
		l.problem(key, "must not have a fragment")
	case strings.HasSuffix(s, "/"):
		l.problem(key, "must not end with /")
	case u.Scheme == "http" && !isLoopback(u.Hostname()):
		l.problem(key, "must use https unless the host is a loopback address")
	}
}

func isLoopback(host string) bool {
	ip, err := netip.ParseAddr(host)
	return strings.EqualFold(host, "localhost") || err == nil && ip.IsLoopback()
}

func (l *loader) listen(c *Listen) {
	l.hostPort("listen.public", c.Public)
	l.hostPort("listen.admin", c.Admin)
	if sharesAddress(c.Public, c.Admin) {
		l.problem("listen.admin", "must not use the address of listen.public")
	}
	l.tls(c.TLS)
	for i, p := range c.TrustedProxies {
		if p != p.Masked() {
			l.problem(fmt.Sprintf("listen.trusted_proxies[%d]", i), "%s has bits set past the prefix length; write %s", p, p.Masked())
		}
	}
	for _, t := range []struct {
		key string
		d   time.Duration
	}{
		{"listen.shutdown_timeout", c.ShutdownTimeout},
		{"listen.read_header_timeout", c.ReadHeaderTimeout},
		{"listen.read_timeout", c.ReadTimeout},
		{"listen.write_timeout", c.WriteTimeout},
		{"listen.idle_timeout", c.IdleTimeout},
	} {
		l.positive(t.key, t.d)
	}
	l.within("listen.shutdown_delay", c.ShutdownDelay, 0, time.Minute)
	if c.ReadHeaderTimeout > c.ReadTimeout && c.ReadTimeout > 0 {
		l.problem("listen.read_header_timeout", "must not exceed listen.read_timeout (%s)", FormatDuration(c.ReadTimeout))
	}
}

// hostPort checks a listen address: an optional host, a numeric port.
func (l *loader) hostPort(key, s string) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		l.problem(key, "%q is not host:port", s)
		return
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		l.problem(key, "port %q is not a number from 0 to 65535", port)
	}
	if _, err := netip.ParseAddr(host); err != nil && host != "" && !isHostName(host) {
		l.problem(key, "host %q is neither an IP address nor a host name", host)
	}
}

func isHostName(s string) bool {
	if len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if !(c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
				return false
			}
		}
	}
	return true
}

// sharesAddress reports whether two listen addresses would collide: same
// fixed port, and the same host or a wildcard host on either side.
func sharesAddress(a, b string) bool {
	ha, pa, errA := net.SplitHostPort(a)
	hb, pb, errB := net.SplitHostPort(b)
	if errA != nil || errB != nil || pa != pb || pa == "0" {
		return false
	}
	wildcard := func(h string) bool { return h == "" || h == "0.0.0.0" || h == "::" }
	return ha == hb || wildcard(ha) || wildcard(hb)
}

func (l *loader) tls(c TLS) {
	switch {
	case c.CertFile == "" && c.KeyFile == "":
		return
	case c.CertFile == "":
		l.problem("listen.tls.cert_file", "must be set when listen.tls.key_file is")
		return
	case c.KeyFile == "":
		l.problem("listen.tls.key_file", "must be set when listen.tls.cert_file is")
		return
	}
	certOK := l.regularFile("listen.tls.cert_file", c.CertFile)
	keyOK := l.regularFile("listen.tls.key_file", c.KeyFile)
	if certOK && keyOK {
		if _, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile); err != nil {
			l.problem("listen.tls", "certificate and key do not load as a pair: %v", err)
		}
	}
}

func (l *loader) regularFile(key, path string) bool {
	info, err := os.Stat(path)
	switch {
	case err != nil:
		l.problem(key, "%v", err)
		return false
	case !info.Mode().IsRegular():
		l.problem(key, "%s is not a regular file", path)
		return false
	}
	return true
}

func (l *loader) admin(c *Admin) {
	t := c.Token.Reveal()
	switch {
	case t == "":
	case len(t) < minAdminToken:
		l.problem("admin.token", "must be at least %d characters (or empty to have one generated)", minAdminToken)
	case !isPrintableASCII(t):
		l.problem("admin.token", "must be printable ASCII without spaces")
	}
}

func isPrintableASCII(s string) bool {
	for i := range len(s) {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

func (l *loader) store(c *Store) {
	oneOf(l, "store.backend", c.Backend, BackendEmbedded, BackendRedis)
	if c.Embedded.Path == "" {
		l.problem("store.embedded.path", "must be set")
	}
	r := c.Redis
	switch {
	case r.URL != "" && len(r.Addrs) > 0:
		l.problem("store.redis.addrs", "set either store.redis.url or store.redis.addrs, not both")
	case r.URL == "" && len(r.Addrs) == 0 && c.Backend == BackendRedis:
		l.problem("store.redis.url", "set store.redis.url or store.redis.addrs")
	}
	if r.URL != "" {
		l.redisURL(r.URL)
	}
	for i, a := range r.Addrs {
		l.hostPort(fmt.Sprintf("store.redis.addrs[%d]", i), a)
	}
	if r.MasterName != "" && len(r.Addrs) == 0 {
		l.problem("store.redis.master_name", "requires store.redis.addrs (the Sentinel addresses)")
	}
	if r.TLS && r.URL != "" {
		l.problem("store.redis.tls", "applies to store.redis.addrs only; with a URL, use the rediss:// scheme")
	}
	if r.Prefix != "" && !isPrintableASCII(r.Prefix) {
		l.problem("store.redis.prefix", "must be printable ASCII without spaces")
	}
}

// redisURL checks a Redis URL without ever echoing a password.
func (l *loader) redisURL(s string) {
	const key = "store.redis.url"
	u, err := url.Parse(s)
	if err != nil {
		l.problem(key, "is not a URL: %v", errors.Unwrap(err)) // the url.Error would quote s
		return
	}
	if _, set := u.User.Password(); set {
		l.problem(key, "must not contain a password; set store.redis.password (SCIMGATE_STORE_REDIS_PASSWORD)")
		return
	}
	if u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix" {
		l.problem(key, "must be a redis://, rediss:// (TLS) or unix:// URL, such as redis://127.0.0.1:6379/0")
		return
	}
	if _, err := redis.ParseURL(s); err != nil {
		l.problem(key, "%s", strings.TrimPrefix(err.Error(), "redis: ")) // the key already says what it is
	}
}

func (l *loader) keys(c *Keys) {
	oneOf(l, "keys.algorithm", c.Algorithm, AlgorithmES256, AlgorithmEdDSA, AlgorithmRS256)
	l.positive("keys.refresh_interval", c.RefreshInterval)
	if c.PublishBeforeUse <= c.RefreshInterval {
		l.problem("keys.publish_before_use", "must be longer than keys.refresh_interval (%s), so that every replica knows a key before it signs", FormatDuration(c.RefreshInterval))
	}
	if c.RotationInterval <= c.PublishBeforeUse {
		l.problem("keys.rotation_interval", "must be longer than keys.publish_before_use (%s)", FormatDuration(c.PublishBeforeUse))
	}
}

func (l *loader) tokens(c *Tokens) {
	l.within("tokens.access_ttl", c.AccessTTL, minAccessTTL, maxAccessTTL)
	l.within("tokens.code_ttl", c.CodeTTL, minCodeTTL, maxCodeTTL)
	if c.RefreshTTL < c.AccessTTL {
		l.problem("tokens.refresh_ttl", "must be at least tokens.access_ttl (%s)", FormatDuration(c.AccessTTL))
	}
	if c.RefreshGrace < 0 || c.RefreshGrace >= maxRefreshGrace {
		l.problem("tokens.refresh_grace", "must be at least 0s and less than %s, got %s", FormatDuration(maxRefreshGrace), FormatDuration(c.RefreshGrace))
	}
	l.within("tokens.leeway", c.Leeway, 0, MaxLeeway)
}

func (l *loader) gateway(c *Gateway, writeTimeout time.Duration) {
	for _, h := range []struct{ key, name string }{
		{"gateway.tenant_header", c.TenantHeader},
		{"gateway.client_header", c.ClientHeader},
	} {
		if why := headerNameProblem(h.name); why != "" {
			l.problem(h.key, "%s", why)
		} else if strings.EqualFold(h.name, "Authorization") {
			l.problem(h.key, "must not be Authorization")
		}
	}
	if strings.EqualFold(c.TenantHeader, c.ClientHeader) {
		l.problem("gateway.client_header", "must differ from gateway.tenant_header")
	}
	if c.TokenCacheSize < 0 || c.TokenCacheSize > maxTokenCache {
		l.problem("gateway.token_cache_size", "must be between 0 and %d, got %d", maxTokenCache, c.TokenCacheSize)
	}
	firstAt := map[string]int{}
	for i, r := range c.Routes {
		key := fmt.Sprintf("gateway.routes[%d]", i)
		l.route(key, &r, c, writeTimeout)
		if first, dup := firstAt[r.Prefix]; dup && r.Prefix != "" {
			l.problem(key+".prefix", "%q is already the prefix of gateway.routes[%d]", r.Prefix, first)
		} else {
			firstAt[r.Prefix] = i
		}
	}
}

func (l *loader) route(key string, r *Route, g *Gateway, writeTimeout time.Duration) {
	if why := prefixProblem(r.Prefix); why != "" {
		l.problem(key+".prefix", "%s", why)
	}
	if why := upstreamProblem(r.Upstream); why != "" {
		l.problem(key+".upstream", "%s", why)
	}
	if r.Audience != "" {
		if u, err := url.Parse(r.Audience); err != nil || u.Scheme == "" {
			l.problem(key+".audience", "must be an absolute URI, such as https://scim.example.com/scim/v2")
		}
	}
	if len(r.Credentials) == 0 {
		l.problem(key+".credentials", "must list at least one of jwt, api_key")
	}
	for i, c := range r.Credentials {
		ck := fmt.Sprintf("%s.credentials[%d]", key, i)
		oneOf(l, ck, c, CredentialJWT, CredentialAPIKey)
		if slices.Index(r.Credentials, c) < i {
			l.problem(ck, "%s is listed twice", c)
		}
	}
	if r.RawAPIKey && !slices.Contains(r.Credentials, CredentialAPIKey) {
		l.problem(key+".raw_api_key", "requires api_key in %s.credentials", key)
	}
	l.headers(key, r, g)
	l.positive(key+".timeout", r.Timeout)
	if r.Timeout >= writeTimeout && writeTimeout > 0 {
		l.problem(key+".timeout", "must be shorter than listen.write_timeout (%s), or the response is cut off", FormatDuration(writeTimeout))
	}
	if r.MaxBody <= 0 || r.MaxBody > maxBodyLimit {
		l.problem(key+".max_body", "must be more than 0 and at most %s, got %s", maxBodyLimit, r.MaxBody)
	}
	oneOf(l, key+".groups", r.Groups, GroupsProxy, GroupsEmpty)
	oneOf(l, key+".dialect", r.Dialect, DialectAuto, DialectEntra, DialectOkta, DialectOneLogin, DialectOff)
}

// prefixProblem says what is wrong with a route prefix, or "".
func prefixProblem(p string) string {
	switch {
	case p == "":
		return "must be set, such as /scim/v2"
	case p[0] != '/':
		return "must start with /"
	case p == "/":
		return "must not be / alone"
	case strings.HasSuffix(p, "/"):
		return "must not end with /"
	}
	segments := strings.Split(p[1:], "/")
	if segments[0] == "oauth2" || segments[0] == ".well-known" {
		return "/" + segments[0] + " is reserved for the authorization server"
	}
	tenants := 0
	for _, s := range segments {
		switch {
		case s == "":
			return "must not contain an empty segment (//)"
		case s == "." || s == "..":
			return "must not contain . or .. segments"
		case s == "{tenant}":
			tenants++
		case strings.ContainsAny(s, "{}"):
			return "{tenant} must be a whole segment, and no other {placeholder} exists"
		case strings.IndexFunc(s, func(c rune) bool { return !isUnreserved(c) }) >= 0:
			return fmt.Sprintf("segment %q may contain only letters, digits and - . _ ~", s)
		}
	}
	if tenants > 1 {
		return "{tenant} may appear only once"
	}
	return ""
}

// isUnreserved reports an RFC 3986 unreserved character.
func isUnreserved(c rune) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-._~", c)
}

// upstreamProblem says what is wrong with an upstream URL, or "".
func upstreamProblem(s string) string {
	if s == UpstreamMemory {
		return ""
	}
	u, err := url.Parse(s)
	switch {
	case s == "":
		return "must be set, such as http://127.0.0.1:9000/scim/v2"
	case err != nil:
		return fmt.Sprintf("is not a URL: %v", errors.Unwrap(err)) // the url.Error would quote credentials
	case u.Scheme != "http" && u.Scheme != "https" || u.Hostname() == "":
		return "must be an absolute http or https URL"
	case u.User != nil:
		return "must not contain credentials; set them in headers"
	case u.RawQuery != "" || u.ForceQuery:
		return "must not have a query"
	case strings.Contains(s, "#"):
		return "must not have a fragment"
	}
	return ""
}

// headers checks a route's upstream headers: valid names, none that carries
// identity or belongs to the transport, no control characters in values.
func (l *loader) headers(key string, r *Route, g *Gateway) {
	names := slices.Sorted(maps.Keys(r.Headers))
	seen := map[string]string{}
	for _, name := range names {
		hk := key + ".headers." + name
		canonical := http.CanonicalHeaderKey(name)
		if other, dup := seen[canonical]; dup {
			l.problem(hk, "repeats header %s (differing only in case)", other)
			continue
		}
		seen[canonical] = name
		switch why := headerNameProblem(name); {
		case why != "":
			l.problem(hk, "%s", why)
		case strings.EqualFold(name, g.TenantHeader), strings.EqualFold(name, g.ClientHeader):
			l.problem(hk, "is set by the gateway to the authenticated identity")
		case canonical == "Authorization" && r.ForwardAuthorization:
			l.problem(hk, "conflicts with forward_authorization, which passes the client's Authorization on")
		}
		if strings.ContainsFunc(r.Headers[name].Reveal(), func(c rune) bool { return c < ' ' && c != '\t' || c == 0x7f }) {
			l.problem(hk, "value must not contain control characters")
		}
	}
}

// headerNameProblem says why name cannot be a header the gateway sets, or "".
func headerNameProblem(name string) string {
	if name == "" || strings.IndexFunc(name, func(c rune) bool { return !isTokenChar(c) }) >= 0 {
		return "is not a valid header name"
	}
	switch c := http.CanonicalHeaderKey(name); {
	case c == "Host", c == "Connection", c == "Keep-Alive", c == "Te", c == "Trailer", c == "Upgrade",
		c == "Transfer-Encoding", c == "Content-Length", c == "Content-Type", c == "Content-Encoding",
		strings.HasPrefix(c, "Proxy-"):
		return c + " is managed by the HTTP transport"
	case c == "Forwarded", strings.HasPrefix(c, "X-Forwarded-"), c == "X-Real-Ip":
		return c + " carries the client address, which only the gateway sets"
	case c == "X-Request-Id", c == "X-Idp-Profile", strings.HasPrefix(c, "X-Auth-"), strings.HasPrefix(c, "X-Scimgate-"):
		return c + " is set by the gateway"
	}
	return ""
}

// isTokenChar reports an RFC 9110 token character.
func isTokenChar(c rune) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("!#$%&'*+-.^_`|~", c)
}

func (l *loader) rateLimit(c *RateLimit) {
	g, t, a := c.Gateway, c.Token, c.Authorize
	for _, r := range []struct {
		key  string
		rate float64
	}{{"ratelimit.gateway.tenant_rate", g.TenantRate}, {"ratelimit.gateway.credential_rate", g.CredentialRate}} {
		if r.rate <= 0 {
			l.problem(r.key, "must be more than 0 requests per second")
		}
	}
	for _, n := range []struct {
		key string
		n   int
	}{
		{"ratelimit.gateway.tenant_burst", g.TenantBurst},
		{"ratelimit.gateway.credential_burst", g.CredentialBurst},
		{"ratelimit.token.failures_per_client", t.FailuresPerClient},
		{"ratelimit.token.failures_per_ip", t.FailuresPerIP},
		{"ratelimit.authorize.per_ip", a.PerIP},
	} {
		if n.n < 1 {
			l.problem(n.key, "must be at least 1, got %d", n.n)
		}
	}
	l.positive("ratelimit.token.window", t.Window)
	l.positive("ratelimit.authorize.window", a.Window)
}

func (l *loader) audit(c *Audit) {
	oneOf(l, "audit.sink", c.Sink, AuditStdout, AuditFile)
	switch {
	case c.Sink == AuditFile && c.File == "":
		l.problem("audit.file", "must be set when audit.sink is file")
	case c.Sink != AuditFile && c.File != "":
		l.problem("audit.file", "is used only when audit.sink is file")
	case c.File != "":
		if info, err := os.Stat(filepath.Dir(c.File)); err != nil || !info.IsDir() {
			l.problem("audit.file", "directory %s does not exist", filepath.Dir(c.File))
		}
	}
}

// oneOf checks that got is one of allowed.
func oneOf[T ~string](l *loader, key string, got T, allowed ...T) {
	if !slices.Contains(allowed, got) {
		names := make([]string, len(allowed))
		for i, a := range allowed {
			names[i] = string(a)
		}
		l.problem(key, "must be one of %s, got %q", strings.Join(names, ", "), got)
	}
}

func (l *loader) positive(key string, d time.Duration) {
	if d <= 0 {
		l.problem(key, "must be longer than 0s, got %s", FormatDuration(d))
	}
}

func (l *loader) within(key string, d, lo, hi time.Duration) {
	if d < lo || d > hi {
		l.problem(key, "must be between %s and %s, got %s", FormatDuration(lo), FormatDuration(hi), FormatDuration(d))
	}
}

// FormatDuration renders d as an operator writes it in the configuration,
// without zero trailing units: 5m, not 5m0s; 1h, not 1h0m0s. Messages and
// the generated configuration reference use it, so both read like the file.
func FormatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
