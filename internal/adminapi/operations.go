// Package adminapi is scimgate's management surface: every operation on
// tenants, OAuth clients, API keys, admin users and signing keys, offered
// in-process (Local), as a JSON HTTP API (NewHandler) and as a client of that
// API (Remote), all three behind the one Operations interface.
//
// Responses are types of this package, never the stored records: they carry
// no hashes, and a secret appears only in the response of the call that made
// it (ClientWithSecret, APIKeyWithSecret, AdminWithPassword).
package adminapi

import (
	"context"
	"fmt"
	"time"

	"github.com/scimgate/scimgate/config"
	"github.com/scimgate/scimgate/keys"
)

// Operations is every management operation. Errors wrap
// credentials.ErrInvalid, ErrNotFound or ErrExists when the request is at
// fault, with a message that names the field.
type Operations interface {
	CreateTenant(ctx context.Context, req NewTenant) (*Tenant, error)
	Tenants(ctx context.Context) ([]Tenant, error)
	Tenant(ctx context.Context, id string) (*Tenant, error)
	SetTenantDisabled(ctx context.Context, id string, disabled bool) (*Tenant, error)
	// DeleteTenant refuses a tenant that still owns clients, keys or admins.
	DeleteTenant(ctx context.Context, id string) error

	CreateClient(ctx context.Context, req NewClient) (*ClientWithSecret, error)
	// Clients lists a tenant's clients, or every client when tenantID is "".
	Clients(ctx context.Context, tenantID string) ([]Client, error)
	Client(ctx context.Context, id string) (*Client, error)
	// AddClientSecret adds a secret; the client's other secrets keep working.
	AddClientSecret(ctx context.Context, clientID string, req SecretLifetime) (*ClientWithSecret, error)
	DeleteClientSecret(ctx context.Context, clientID, secretID string) (*Client, error)
	SetClientDisabled(ctx context.Context, id string, disabled bool) (*Client, error)
	DeleteClient(ctx context.Context, id string) error

	CreateAPIKey(ctx context.Context, req NewAPIKey) (*APIKeyWithSecret, error)
	// APIKeys lists a tenant's keys, or every key when tenantID is "".
	APIKeys(ctx context.Context, tenantID string) ([]APIKey, error)
	APIKey(ctx context.Context, id string) (*APIKey, error)
	// RotateAPIKey issues a new key like the old one, which keeps working
	// until it is revoked.
	RotateAPIKey(ctx context.Context, id string) (*APIKeyWithSecret, error)
	RevokeAPIKey(ctx context.Context, id string) (*APIKey, error)
	DeleteAPIKey(ctx context.Context, id string) error

	CreateAdmin(ctx context.Context, tenantID string, req NewAdmin) (*AdminWithPassword, error)
	Admins(ctx context.Context, tenantID string) ([]Admin, error)
	SetAdminPassword(ctx context.Context, tenantID, username string, req NewPassword) (*AdminWithPassword, error)
	DeleteAdmin(ctx context.Context, tenantID, username string) error

	SigningKeys(ctx context.Context) ([]keys.KeyInfo, error)
	// RotateSigningKey promotes the next key now and returns the new ring.
	RotateSigningKey(ctx context.Context) ([]keys.KeyInfo, error)
	// RevokeSigningKey withdraws kid at once and returns the new ring.
	RevokeSigningKey(ctx context.Context, kid string) ([]keys.KeyInfo, error)
}

// NewTenant is the request to create a tenant.
type NewTenant struct {
	// ID is a slug such as "acme": lower-case letters, digits, inner hyphens.
	ID string `json:"id"`
	// DisplayName defaults to ID.
	DisplayName string `json:"display_name,omitempty"`
}

// Tenant is one customer organisation.
type Tenant struct {
	ID          string    `json:"id"`
	DisplayName string    `json:"display_name"`
	Created     time.Time `json:"created"`
	Disabled    bool      `json:"disabled"`
}

// SecretLifetime says when a new client secret expires. Both zero: the
// default, one year.
type SecretLifetime struct {
	SecretTTL          Duration `json:"secret_ttl,omitzero"`
	SecretNeverExpires bool     `json:"secret_never_expires,omitempty"`
}

// NewClient is the request to register an OAuth client. Field names follow
// RFC 7591 where it has one.
type NewClient struct {
	TenantID string `json:"tenant_id"`
	Name     string `json:"client_name"`
	// Kind is entra, okta or api; it picks the grant types and defaults.
	Kind string `json:"kind"`
	// Scope is space-separated; empty takes the kind's default.
	Scope string `json:"scope,omitempty"`
	// Audiences default to the audience of the only gateway route; with
	// several routes they are required.
	Audiences    []string `json:"audiences,omitempty"`
	RedirectURIs []string `json:"redirect_uris,omitempty"`
	// OktaApp adds Okta's five callback URIs for that app name.
	OktaApp     string   `json:"okta_app,omitempty"`
	AccessTTL   Duration `json:"access_ttl,omitzero"`
	RequirePKCE bool     `json:"require_pkce,omitempty"`
	SecretLifetime
}

// Client is an OAuth client as the API shows it: never a secret or hash.
type Client struct {
	ClientID         string   `json:"client_id"`
	ClientIDIssuedAt int64    `json:"client_id_issued_at"`
	TenantID         string   `json:"tenant_id"`
	Name             string   `json:"client_name"`
	Kind             string   `json:"kind"`
	GrantTypes       []string `json:"grant_types"`
	Scope            string   `json:"scope"`
	Audiences        []string `json:"audiences"`
	RedirectURIs     []string `json:"redirect_uris"`
	// AccessTTL is the lifetime its tokens get: its own, or, when
	// AccessTTLDefault, the server's tokens.access_ttl (for Entra clients
	// clamped to 1h–6h).
	AccessTTL        Duration `json:"access_ttl"`
	AccessTTLDefault bool     `json:"access_ttl_default"`
	RequirePKCE      bool     `json:"require_pkce"`
	Disabled         bool     `json:"disabled"`
	// Secrets describes each secret; the secrets themselves are not kept.
	Secrets []ClientSecret `json:"secrets"`
	// TokenEndpoint, AuthorizationEndpoint (authorization-code clients only)
	// and SCIMBaseURL are what the IdP is configured with.
	TokenEndpoint         string `json:"token_endpoint"`
	AuthorizationEndpoint string `json:"authorization_endpoint,omitempty"`
	SCIMBaseURL           string `json:"scim_base_url,omitempty"`
}

// ClientSecret describes one client secret.
type ClientSecret struct {
	ID       string    `json:"id"`
	Created  time.Time `json:"created"`
	Expires  time.Time `json:"expires,omitzero"` // absent: never
	LastUsed time.Time `json:"last_used,omitzero"`
	Expired  bool      `json:"expired"`
}

// ClientWithSecret answers the calls that make a client secret: the only
// place it is ever shown.
type ClientWithSecret struct {
	Client
	ClientSecret string `json:"client_secret"`
	// ClientSecretExpiresAt is Unix seconds, 0 for never (RFC 7591).
	ClientSecretExpiresAt int64  `json:"client_secret_expires_at"`
	ClientSecretID        string `json:"client_secret_id"`
}

// NewAPIKey is the request to issue an API key.
type NewAPIKey struct {
	TenantID string `json:"tenant_id"`
	Name     string `json:"name"`
	// Scope is space-separated; empty means scim.full.
	Scope string `json:"scope,omitempty"`
	// Audiences default as for clients.
	Audiences []string `json:"audiences,omitempty"`
	// TTL is the key's lifetime; zero, the default, never expires (Entra
	// quarantines a provisioning job whose Secret Token expires).
	TTL Duration `json:"ttl,omitzero"`
}

// APIKey describes an API key; the key itself is not kept.
type APIKey struct {
	ID          string    `json:"id"`
	TenantID    string    `json:"tenant_id"`
	Name        string    `json:"name"`
	Scope       string    `json:"scope"`
	Audiences   []string  `json:"audiences"`
	Created     time.Time `json:"created"`
	Expires     time.Time `json:"expires,omitzero"` // absent: never
	LastUsed    time.Time `json:"last_used,omitzero"`
	Revoked     time.Time `json:"revoked,omitzero"`
	SCIMBaseURL string    `json:"scim_base_url,omitempty"`
}

// APIKeyWithSecret answers the calls that make an API key: the only place
// the key is ever shown.
type APIKeyWithSecret struct {
	APIKey
	Key string `json:"api_key"`
}

// NewAdmin is the request to add an admin user to a tenant.
type NewAdmin struct {
	Username string `json:"username"`
	// Password is generated (and returned once) when empty.
	Password string `json:"password,omitempty"`
}

// NewPassword is the request to replace an admin's password.
type NewPassword struct {
	// Password is generated (and returned once) when empty.
	Password string `json:"password,omitempty"`
}

// Admin is a tenant's admin user, without the password hash.
type Admin struct {
	TenantID string    `json:"tenant_id"`
	Username string    `json:"username"`
	Created  time.Time `json:"created"`
	Disabled bool      `json:"disabled"`
}

// AdminWithPassword answers the calls that set a password. Password is
// present only when scimgate generated it; a password the caller chose is
// never echoed.
type AdminWithPassword struct {
	Admin
	Password string `json:"password,omitempty"`
}

// Duration is a time.Duration written in Go syntax ("1h", "8760h", "90m")
// in JSON.
type Duration time.Duration

// String renders d compactly, as the configuration does: 1h, not 1h0m0s.
func (d Duration) String() string { return config.FormatDuration(time.Duration(d)) }

// MarshalText writes d in Go syntax.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads Go syntax such as "1h30m".
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("duration %q: use Go syntax such as 90m, 1h or 8760h", b)
	}
	*d = Duration(v)
	return nil
}
