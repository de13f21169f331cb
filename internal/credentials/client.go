package credentials

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/scimgate/scimgate/internal/secret"
)

// Grant types a client may be allowed.
const (
	GrantClientCredentials = "client_credentials"
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
)

// Scopes scimgate understands.
const (
	ScopeRead          = "scim.read"
	ScopeWrite         = "scim.write"
	ScopeFull          = "scim.full"
	ScopeOfflineAccess = "offline_access"
)

// Kind is what a client is for; it picks sensible defaults and rules.
type Kind string

// Client kinds.
const (
	KindEntra Kind = "entra" // client credentials; token lifetime 60 min – 6 h
	KindOkta  Kind = "okta"  // authorization code + refresh tokens
	KindAPI   Kind = "api"   // client credentials for scripts and services
)

// Limits on clients.
const (
	MaxActiveSecrets = 3
	// maxStoredSecrets bounds the record: expired secrets are kept for the
	// record (they show in listings) until this many exist, then the oldest
	// expired ones are dropped.
	maxStoredSecrets = 10
	// DefaultSecretTTL is one year; Entra's gallery rules ask for 1–3 years.
	DefaultSecretTTL = 365 * 24 * time.Hour
	// DefaultAccessTTL is the access-token lifetime of a client without
	// its own when Options.DefaultAccessTTL is not set either.
	DefaultAccessTTL = time.Hour
	minAccessTTL     = 5 * time.Minute
	maxAccessTTL     = 24 * time.Hour
	entraMinTTL      = time.Hour
	entraMaxTTL      = 6 * time.Hour
	clientIDLen      = 24
	secretIDLen      = 8
)

// Client is an OAuth client registered to a tenant.
type Client struct {
	ID           string   `json:"client_id"`
	TenantID     string   `json:"tenant_id"`
	Name         string   `json:"name"`
	Kind         Kind     `json:"kind"`
	GrantTypes   []string `json:"grant_types"`
	Scopes       []string `json:"scopes"`
	Audiences    []string `json:"audiences"`
	RedirectURIs []string `json:"redirect_uris,omitempty"`
	// AccessTTL is the client's own access-token lifetime. Zero follows
	// the service's default (tokens.access_ttl) at the time a token is
	// issued: see Service.AccessTTL. AuthenticateClient returns the
	// lifetime in effect here.
	AccessTTL   time.Duration `json:"access_ttl,omitzero"`
	RequirePKCE bool          `json:"require_pkce,omitempty"`
	Disabled    bool          `json:"disabled,omitempty"`
	Created     time.Time     `json:"created"`
	Secrets     []Secret      `json:"secrets"`
}

// Secret is one of a client's secrets. Only its keyed hash is stored.
type Secret struct {
	ID       string    `json:"id"`
	Hash     string    `json:"hash"`
	Created  time.Time `json:"created"`
	Expires  time.Time `json:"expires,omitzero"` // zero: never
	LastUsed time.Time `json:"last_used,omitzero"`
}

// Expired reports whether the secret can no longer authenticate at t.
func (s Secret) Expired(t time.Time) bool { return !s.Expires.IsZero() && !t.Before(s.Expires) }

// AllowsGrant reports whether the client may use grant type g.
func (c *Client) AllowsGrant(g string) bool { return slices.Contains(c.GrantTypes, g) }

// ActiveSecrets returns the secrets that can still authenticate at t.
func (c *Client) ActiveSecrets(t time.Time) []Secret {
	var out []Secret
	for _, s := range c.Secrets {
		if !s.Expired(t) {
			out = append(out, s)
		}
	}
	return out
}

// ClientSpec describes a client to create. Zero fields take the defaults of
// the Kind.
type ClientSpec struct {
	TenantID     string
	Name         string
	Kind         Kind
	GrantTypes   []string
	Scopes       []string
	Audiences    []string
	RedirectURIs []string
	// OktaAppName adds Okta's five system-admin callback URIs for that app.
	OktaAppName string
	AccessTTL   time.Duration // 0: follow the service's default
	RequirePKCE bool
	Secret      SecretSpec
}

// SecretSpec says when a new secret expires.
type SecretSpec struct {
	TTL         time.Duration // 0: DefaultSecretTTL
	NeverExpire bool          // only when explicitly asked
}

func (sp SecretSpec) expiry(now time.Time) (time.Time, error) {
	switch {
	case sp.NeverExpire && sp.TTL != 0:
		return time.Time{}, invalid("secret: choose either an expiry or never, not both")
	case sp.NeverExpire:
		return time.Time{}, nil
	case sp.TTL < 0:
		return time.Time{}, invalid("secret: expiry must be positive")
	case sp.TTL == 0:
		return now.Add(DefaultSecretTTL), nil
	case sp.TTL < time.Hour:
		return time.Time{}, invalid("secret: expiry must be at least 1h")
	}
	return now.Add(sp.TTL), nil
}

// OktaRedirectURIs returns the five callback URIs Okta requires OIN SCIM apps
// to accept for app name app (idp/okta.md §3.2).
func OktaRedirectURIs(app string) []string {
	var out []string
	for _, base := range []string{
		"https://system-admin.okta.com",
		"https://system-admin.okta-emea.com",
		"https://system-admin.oktapreview.com",
		"https://system-admin.trexcloud.com",
		"http://system-admin.okta1.com:1802",
	} {
		out = append(out, base+"/admin/app/cpc/"+app+"/oauth/callback")
	}
	return out
}

// CreateClient registers a client and returns it with its first secret in
// clear. The clear secret is never stored or returned again.
func (s *Service) CreateClient(ctx context.Context, spec ClientSpec) (*Client, string, error) {
	now := s.now().UTC()
	c, err := spec.build(now)
	if err != nil {
		return nil, "", err
	}
	if err := s.openTenant(ctx, c.TenantID); err != nil {
		return nil, "", tenantErr(c.TenantID, err)
	}
	exp, err := spec.Secret.expiry(now)
	if err != nil {
		return nil, "", err
	}
	plain := secret.New()
	c.Secrets = []Secret{{ID: secret.NewLowerID(secretIDLen), Hash: s.hasher.Hash(plain), Created: now, Expires: exp}}
	for {
		c.ID = secret.NewID(clientIDLen)
		err := createJSON(ctx, s.kv, clientPrefix+c.ID, c)
		if err == ErrExists {
			continue // 143 random bits: practically never
		}
		if err != nil {
			return nil, "", err
		}
		if err := s.claimForTenant(ctx, c.TenantID, clientPrefix+c.ID); err != nil {
			return nil, "", err
		}
		return c, plain, nil
	}
}

func (spec ClientSpec) build(now time.Time) (*Client, error) {
	if spec.Kind == "" {
		spec.Kind = KindAPI
	}
	c := &Client{
		TenantID: spec.TenantID, Name: spec.Name, Kind: spec.Kind,
		GrantTypes: spec.GrantTypes, Scopes: spec.Scopes, Audiences: spec.Audiences,
		RedirectURIs: spec.RedirectURIs, AccessTTL: spec.AccessTTL, RequirePKCE: spec.RequirePKCE,
		Created: now,
	}
	switch spec.Kind {
	case KindEntra, KindAPI:
		if c.GrantTypes == nil {
			c.GrantTypes = []string{GrantClientCredentials}
		}
	case KindOkta:
		if c.GrantTypes == nil {
			c.GrantTypes = []string{GrantAuthorizationCode, GrantRefreshToken}
		}
	default:
		return nil, invalid("kind %q: use entra, okta or api", spec.Kind)
	}
	if c.Scopes == nil {
		c.Scopes = []string{ScopeFull}
		if c.AllowsGrant(GrantRefreshToken) {
			c.Scopes = append(c.Scopes, ScopeOfflineAccess)
		}
	}
	if spec.OktaAppName != "" {
		if !oktaAppName(spec.OktaAppName) {
			return nil, invalid("okta app name %q: use the segment between /app/ and /instance/ of the Okta admin URL", spec.OktaAppName)
		}
		c.RedirectURIs = append(c.RedirectURIs, OktaRedirectURIs(spec.OktaAppName)...)
	}
	return c, c.validate()
}

func oktaAppName(s string) bool {
	if s == "" || len(s) > 100 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

func (c *Client) validate() error {
	if !ValidTenantID(c.TenantID) {
		return invalid("tenant id %q is not a valid tenant id", c.TenantID)
	}
	if err := checkName("name", c.Name); err != nil {
		return err
	}
	if len(c.GrantTypes) == 0 {
		return invalid("grant types: at least one is required")
	}
	for _, g := range c.GrantTypes {
		if g != GrantClientCredentials && g != GrantAuthorizationCode && g != GrantRefreshToken {
			return invalid("grant type %q: use client_credentials, authorization_code or refresh_token (implicit and password are not offered)", g)
		}
	}
	if c.AllowsGrant(GrantRefreshToken) && !c.AllowsGrant(GrantAuthorizationCode) {
		return invalid("grant types: refresh_token needs authorization_code")
	}
	if err := checkScopes(c.Scopes); err != nil {
		return err
	}
	if slices.Contains(c.Scopes, ScopeOfflineAccess) && !c.AllowsGrant(GrantRefreshToken) {
		return invalid("scope offline_access needs the refresh_token grant")
	}
	if len(c.Audiences) == 0 {
		return invalid("audiences: at least one gateway audience is required")
	}
	for _, a := range c.Audiences {
		if a == "" || strings.ContainsAny(a, " \t\r\n\"") {
			return invalid("audience %q: must be a non-empty string without spaces or quotes", a)
		}
	}
	if c.AllowsGrant(GrantAuthorizationCode) && len(c.RedirectURIs) == 0 {
		return invalid("redirect uris: authorization_code needs at least one exact redirect URI")
	}
	for _, u := range c.RedirectURIs {
		if err := checkRedirectURI(u); err != nil {
			return err
		}
	}
	if c.AccessTTL == 0 {
		return nil // follows the default, which config bounds and Service.AccessTTL fits to the kind
	}
	if c.AccessTTL < minAccessTTL || c.AccessTTL > maxAccessTTL {
		return invalid("access token lifetime %s: must be between %s and %s", c.AccessTTL, minAccessTTL, maxAccessTTL)
	}
	if c.Kind == KindEntra && (c.AccessTTL < entraMinTTL || c.AccessTTL > entraMaxTTL) {
		return invalid("access token lifetime %s: Entra requires 1h to 6h", c.AccessTTL)
	}
	return nil
}

// AccessTTL is the access-token lifetime c's tokens get: its own, or the
// service's default. Entra accepts only 1h to 6h, so for an Entra client a
// default outside that range is clamped into it rather than refused: the
// default is server-wide and may well suit the other kinds.
func (s *Service) AccessTTL(c *Client) time.Duration {
	if c.AccessTTL != 0 {
		return c.AccessTTL
	}
	if c.Kind == KindEntra {
		return min(max(s.defaultAccessTTL, entraMinTTL), entraMaxTTL)
	}
	return s.defaultAccessTTL
}

// checkScopes accepts only scopes scimgate understands, without duplicates.
func checkScopes(scopes []string) error {
	if len(scopes) == 0 {
		return invalid("scopes: at least one is required")
	}
	seen := map[string]bool{}
	for _, sc := range scopes {
		switch sc {
		case ScopeRead, ScopeWrite, ScopeFull, ScopeOfflineAccess:
		default:
			return invalid("scope %q: use scim.read, scim.write, scim.full or offline_access", sc)
		}
		if seen[sc] {
			return invalid("scope %q listed twice", sc)
		}
		seen[sc] = true
	}
	return nil
}

// checkRedirectURI accepts absolute https URIs, and http only for loopback
// hosts and Okta's one plain-http callback host; fragments are forbidden by
// RFC 6749 §3.1.2. Matching at /authorize is by exact string.
func checkRedirectURI(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Fragment != "" || strings.Contains(raw, "#") {
		return invalid("redirect uri %q: must be an absolute URI without a fragment", raw)
	}
	if u.User != nil {
		return invalid("redirect uri %q: must not carry user information (user@host)", raw)
	}
	if !validHost(u.Hostname()) {
		return invalid("redirect uri %q: the host must be a DNS name (internationalized names in their xn-- form) or an IP address", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		h := u.Hostname()
		if h == "localhost" || h == "127.0.0.1" || h == "::1" || u.Host == "system-admin.okta1.com:1802" {
			return nil
		}
	}
	return invalid("redirect uri %q: must use https (http only for loopback and Okta's system-admin.okta1.com:1802)", raw)
}

// validHost reports whether h is an IP address or a DNS name of letters,
// digits and hyphens. The consent page names the redirect URI's origin in
// its Content-Security-Policy (form-action), where any other byte, such
// as a ";" that url.Parse lets through in a host, would end the directive
// or add one.
func validHost(h string) bool {
	if net.ParseIP(h) != nil {
		return true
	}
	if h == "" || len(h) > 253 {
		return false
	}
	for label := range strings.SplitSeq(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			if c := label[i]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// Client returns one client.
func (s *Service) Client(ctx context.Context, id string) (*Client, error) {
	if !clientIDInRange(id) {
		return nil, ErrNotFound
	}
	return getJSON[Client](ctx, s.kv, clientPrefix+id)
}

// Clients lists a tenant's clients ("" lists every tenant's).
func (s *Service) Clients(ctx context.Context, tenantID string) ([]Client, error) {
	return listJSON(ctx, s.kv, clientPrefix, func(c *Client) bool { return tenantID == "" || c.TenantID == tenantID })
}

// SetClientDisabled disables or re-enables a client.
func (s *Service) SetClientDisabled(ctx context.Context, id string, disabled bool) (*Client, error) {
	return updateJSON(ctx, s.kv, clientPrefix+id, func(c *Client) error {
		c.Disabled = disabled
		return nil
	})
}

// DeleteClient removes a client. The gateway refuses the tokens it already
// holds once it has looked the client up again.
func (s *Service) DeleteClient(ctx context.Context, id string) error {
	if _, err := s.Client(ctx, id); err != nil {
		return err
	}
	return s.kv.Delete(ctx, clientPrefix+id)
}

// AddClientSecret adds a secret while the existing ones keep working, so an
// IdP can be switched to the new one before the old one is deleted.
func (s *Service) AddClientSecret(ctx context.Context, clientID string, spec SecretSpec) (*Client, Secret, string, error) {
	now := s.now().UTC()
	exp, err := spec.expiry(now)
	if err != nil {
		return nil, Secret{}, "", err
	}
	plain := secret.New()
	added := Secret{ID: secret.NewLowerID(secretIDLen), Hash: s.hasher.Hash(plain), Created: now, Expires: exp}
	c, err := updateJSON(ctx, s.kv, clientPrefix+clientID, func(c *Client) error {
		if n := len(c.ActiveSecrets(now)); n >= MaxActiveSecrets {
			return invalid("client %s already has %d active secrets; delete one first", clientID, n)
		}
		c.Secrets = append(c.Secrets, added)
		c.Secrets = pruneExpired(c.Secrets, now)
		return nil
	})
	if err != nil {
		return nil, Secret{}, "", err
	}
	return c, added, plain, nil
}

// pruneExpired drops the oldest expired secrets beyond maxStoredSecrets.
func pruneExpired(secrets []Secret, now time.Time) []Secret {
	for len(secrets) > maxStoredSecrets {
		i := slices.IndexFunc(secrets, func(s Secret) bool { return s.Expired(now) })
		if i < 0 {
			break
		}
		secrets = slices.Delete(secrets, i, i+1)
	}
	return secrets
}

// DeleteClientSecret removes one secret. Deleting the last active secret is
// refused: it would lock the IdP out with no way back but a new client.
func (s *Service) DeleteClientSecret(ctx context.Context, clientID, secretID string) (*Client, error) {
	now := s.now()
	return updateJSON(ctx, s.kv, clientPrefix+clientID, func(c *Client) error {
		i := slices.IndexFunc(c.Secrets, func(s Secret) bool { return s.ID == secretID })
		if i < 0 {
			return fmt.Errorf("secret %s: %w", secretID, ErrNotFound)
		}
		if !c.Secrets[i].Expired(now) && len(c.ActiveSecrets(now)) == 1 {
			return invalid("secret %s is the client's only active secret; add a new one first", secretID)
		}
		c.Secrets = slices.Delete(c.Secrets, i, i+1)
		return nil
	})
}

// AuthenticateClient checks a client id and secret. Every failure returns an
// *AuthError with the same message; Reason says why. Unknown ids cost the
// same as wrong secrets. The lists of the returned client are shared with
// other requests: read-only.
func (s *Service) AuthenticateClient(ctx context.Context, id, presented string) (*Client, error) {
	var c *Client
	err := ErrNotFound
	if clientIDInRange(id) {
		c, err = s.clients.get(ctx, s.kv, clientPrefix+id)
	}
	if err == ErrNotFound {
		_, _ = s.hasher.Verify(s.dummyHash, presented)
		return nil, &AuthError{Reason: ReasonUnknown}
	}
	if err != nil {
		return nil, err
	}
	now := s.now()
	hashes := make([]string, len(c.Secrets))
	for i, sec := range c.Secrets {
		hashes[i] = sec.Hash
	}
	refused := func(reason string) error { return &AuthError{Reason: reason, ClientID: c.ID, TenantID: c.TenantID} }
	i, err := s.hasher.VerifyAny(hashes, presented)
	switch {
	case i < 0 && err != nil:
		return nil, fmt.Errorf("client %s: %w", id, err) // wrong master key or corrupt record
	case i < 0:
		return nil, refused(ReasonWrongSecret)
	case c.Secrets[i].Expired(now):
		return nil, refused(ReasonExpired)
	case c.Disabled:
		return nil, refused(ReasonDisabled)
	}
	if err := s.activeTenant(ctx, c.TenantID); err != nil {
		if _, ok := err.(*AuthError); ok || err == ErrNotFound {
			return nil, refused(ReasonTenantDisabled)
		}
		return nil, err
	}
	s.usage.touch(clientPrefix+id, c.Secrets[i].ID, now)
	// A copy, as c is shared by every request of this client; its lists
	// still are, and stay read-only.
	cp := *c
	cp.AccessTTL = s.AccessTTL(c)
	return &cp, nil
}

// clientIDInRange rules out ids no client can have before the store is read.
func clientIDInRange(id string) bool { return id != "" && len(id) <= 128 }
