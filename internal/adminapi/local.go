package adminapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/scimgate/scimgate/internal/audit"
	"github.com/scimgate/scimgate/internal/credentials"
	"github.com/scimgate/scimgate/internal/secret"
	"github.com/scimgate/scimgate/keys"
)

// KeyRing is the part of keys.Manager the operations use.
type KeyRing interface {
	List(ctx context.Context) ([]keys.KeyInfo, error)
	Rotate(ctx context.Context) error
	Revoke(ctx context.Context, kid string) error
}

// Kinds of credential named in audit events.
const (
	kindTenant       = "tenant"
	kindClient       = "client"
	kindClientSecret = "client_secret"
	kindAPIKey       = "api_key"
	kindAdmin        = "admin"
)

// Local performs the operations on this process's stores and records every
// change in the audit log. The admin API handler serves it; the CLI uses it
// when it can open the store itself.
type Local struct {
	creds *credentials.Service
	ring  KeyRing
	audit *audit.Logger
	site  Site
	actor string
	now   func() time.Time
}

// LocalOptions configure a Local.
type LocalOptions struct {
	// Actor says in every audit event how the change was made: "cli" or
	// "admin_api".
	Actor string
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

var _ Operations = (*Local)(nil)

// NewLocal returns the operations over creds and ring. Changes are recorded
// in log (nil discards them).
func NewLocal(creds *credentials.Service, ring KeyRing, log *audit.Logger, site Site, opts LocalOptions) *Local {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Local{creds: creds, ring: ring, audit: log, site: site, actor: opts.Actor, now: opts.Now}
}

// record writes one audit event about a change. attrs are identifiers only.
func (l *Local) record(ctx context.Context, event, tenant, kind, id string, attrs ...slog.Attr) {
	attrs = append([]slog.Attr{
		slog.String("tenant", tenant), slog.String("kind", kind), slog.String("id", id), slog.String("via", l.actor),
	}, attrs...)
	l.audit.Record(ctx, event, attrs...)
}

func toggleEvent(disabled bool) (event, action string) {
	if disabled {
		return audit.CredentialRevoked, "disable"
	}
	return audit.CredentialEnabled, "enable"
}

// explain turns the credentials package's refusal to act for a disabled
// tenant (an AuthError, meant for sign-in) into a request error.
func explain(err error, tenantID string) error {
	var ae *credentials.AuthError
	if errors.As(err, &ae) && ae.Reason == credentials.ReasonTenantDisabled {
		return fmt.Errorf("%w: tenant %q is disabled; enable it first", credentials.ErrInvalid, tenantID)
	}
	return err
}

// about names what err is about, unless err is a request error whose message
// already names it.
func about(err error, format string, args ...any) error {
	if errors.Is(err, credentials.ErrInvalid) {
		return err
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}

// checkTenant reports an unknown tenant as not found, so that listing the
// credentials of a mistyped tenant is an error rather than an empty list.
func (l *Local) checkTenant(ctx context.Context, id string) error {
	if _, err := l.creds.Tenant(ctx, id); err != nil {
		return about(err, "tenant %q", id)
	}
	return nil
}

// CreateTenant implements Operations.
func (l *Local) CreateTenant(ctx context.Context, req NewTenant) (*Tenant, error) {
	t, err := l.creds.CreateTenant(ctx, req.ID, req.DisplayName)
	if err != nil {
		return nil, about(err, "tenant %q", req.ID)
	}
	l.record(ctx, audit.CredentialCreated, t.ID, kindTenant, t.ID)
	return tenantView(t), nil
}

// Tenants implements Operations.
func (l *Local) Tenants(ctx context.Context) ([]Tenant, error) {
	ts, err := l.creds.Tenants(ctx)
	return views(ts, err, tenantView)
}

// Tenant implements Operations.
func (l *Local) Tenant(ctx context.Context, id string) (*Tenant, error) {
	t, err := l.creds.Tenant(ctx, id)
	if err != nil {
		return nil, about(err, "tenant %q", id)
	}
	return tenantView(t), nil
}

// SetTenantDisabled implements Operations.
func (l *Local) SetTenantDisabled(ctx context.Context, id string, disabled bool) (*Tenant, error) {
	if err := l.checkTenant(ctx, id); err != nil {
		return nil, err
	}
	t, err := l.creds.SetTenantDisabled(ctx, id, disabled)
	if err != nil {
		return nil, about(err, "tenant %q", id)
	}
	event, action := toggleEvent(disabled)
	l.record(ctx, event, id, kindTenant, id, slog.String("action", action))
	return tenantView(t), nil
}

// DeleteTenant implements Operations.
func (l *Local) DeleteTenant(ctx context.Context, id string) error {
	if err := l.creds.DeleteTenant(ctx, id); err != nil {
		return about(err, "tenant %q", id)
	}
	l.record(ctx, audit.CredentialDeleted, id, kindTenant, id)
	return nil
}

// CreateClient implements Operations.
func (l *Local) CreateClient(ctx context.Context, req NewClient) (*ClientWithSecret, error) {
	if req.Kind == "" {
		return nil, fmt.Errorf("%w: kind: required (entra, okta or api)", credentials.ErrInvalid)
	}
	auds, err := l.site.Audiences(req.Audiences)
	if err != nil {
		return nil, err
	}
	c, plain, err := l.creds.CreateClient(ctx, credentials.ClientSpec{
		TenantID: req.TenantID, Name: req.Name, Kind: credentials.Kind(req.Kind),
		Scopes: splitScope(req.Scope), Audiences: auds, RedirectURIs: req.RedirectURIs,
		OktaAppName: req.OktaApp, AccessTTL: time.Duration(req.AccessTTL), RequirePKCE: req.RequirePKCE,
		Secret: secretSpec(req.SecretLifetime),
	})
	if err != nil {
		return nil, explain(err, req.TenantID)
	}
	l.record(ctx, audit.CredentialCreated, c.TenantID, kindClient, c.ID, slog.String("secret_id", c.Secrets[0].ID))
	return l.clientWithSecret(c, c.Secrets[0], plain), nil
}

// Clients implements Operations.
func (l *Local) Clients(ctx context.Context, tenantID string) ([]Client, error) {
	if tenantID != "" {
		if err := l.checkTenant(ctx, tenantID); err != nil {
			return nil, err
		}
	}
	cs, err := l.creds.Clients(ctx, tenantID)
	return views(cs, err, l.clientView)
}

// Client implements Operations.
func (l *Local) Client(ctx context.Context, id string) (*Client, error) {
	c, err := l.creds.Client(ctx, id)
	if err != nil {
		return nil, about(err, "client %s", id)
	}
	return l.clientView(c), nil
}

// AddClientSecret implements Operations.
func (l *Local) AddClientSecret(ctx context.Context, clientID string, req SecretLifetime) (*ClientWithSecret, error) {
	c, added, plain, err := l.creds.AddClientSecret(ctx, clientID, secretSpec(req))
	if err != nil {
		return nil, about(err, "client %s", clientID)
	}
	l.record(ctx, audit.CredentialRotated, c.TenantID, kindClient, c.ID, slog.String("secret_id", added.ID))
	return l.clientWithSecret(c, added, plain), nil
}

// DeleteClientSecret implements Operations.
func (l *Local) DeleteClientSecret(ctx context.Context, clientID, secretID string) (*Client, error) {
	c, err := l.creds.DeleteClientSecret(ctx, clientID, secretID)
	if err != nil {
		return nil, about(err, "client %s", clientID)
	}
	l.record(ctx, audit.CredentialDeleted, c.TenantID, kindClientSecret, c.ID, slog.String("secret_id", secretID))
	return l.clientView(c), nil
}

// SetClientDisabled implements Operations.
func (l *Local) SetClientDisabled(ctx context.Context, id string, disabled bool) (*Client, error) {
	if _, err := l.Client(ctx, id); err != nil {
		return nil, err
	}
	c, err := l.creds.SetClientDisabled(ctx, id, disabled)
	if err != nil {
		return nil, about(err, "client %s", id)
	}
	event, action := toggleEvent(disabled)
	l.record(ctx, event, c.TenantID, kindClient, c.ID, slog.String("action", action))
	return l.clientView(c), nil
}

// DeleteClient implements Operations.
func (l *Local) DeleteClient(ctx context.Context, id string) error {
	c, err := l.Client(ctx, id)
	if err != nil {
		return err
	}
	if err := l.creds.DeleteClient(ctx, id); err != nil {
		return about(err, "client %s", id)
	}
	l.record(ctx, audit.CredentialDeleted, c.TenantID, kindClient, id)
	return nil
}

// CreateAPIKey implements Operations.
func (l *Local) CreateAPIKey(ctx context.Context, req NewAPIKey) (*APIKeyWithSecret, error) {
	if req.TTL < 0 {
		return nil, fmt.Errorf("%w: ttl: must be positive, or zero for never", credentials.ErrInvalid)
	}
	auds, err := l.site.Audiences(req.Audiences)
	if err != nil {
		return nil, err
	}
	k, plain, err := l.creds.CreateAPIKey(ctx, credentials.APIKeySpec{
		TenantID: req.TenantID, Name: req.Name, Scopes: splitScope(req.Scope), Audiences: auds, TTL: time.Duration(req.TTL),
	})
	if err != nil {
		return nil, explain(err, req.TenantID)
	}
	l.record(ctx, audit.CredentialCreated, k.TenantID, kindAPIKey, k.ID)
	return &APIKeyWithSecret{APIKey: *l.apiKeyView(k), Key: plain}, nil
}

// APIKeys implements Operations.
func (l *Local) APIKeys(ctx context.Context, tenantID string) ([]APIKey, error) {
	if tenantID != "" {
		if err := l.checkTenant(ctx, tenantID); err != nil {
			return nil, err
		}
	}
	ks, err := l.creds.APIKeys(ctx, tenantID)
	return views(ks, err, l.apiKeyView)
}

// APIKey implements Operations.
func (l *Local) APIKey(ctx context.Context, id string) (*APIKey, error) {
	if secret.LooksLikeAPIKey(id) {
		return nil, keyInsteadOfID(id)
	}
	k, err := l.creds.APIKey(ctx, id)
	if err != nil {
		return nil, about(err, "api key %s", id)
	}
	return l.apiKeyView(k), nil
}

// keyInsteadOfID refuses a whole API key where its id belongs, which is
// what an operator holding a leaked key naturally pastes. Echoing it in a
// "not found" would copy the secret to the terminal, the CLI's stderr and
// whatever collects them; the id alone is what to pass.
func keyInsteadOfID(key string) error {
	if id, err := secret.ParseAPIKey(key); err == nil {
		return fmt.Errorf("%w: that is an API key itself, not its id: pass its id, %s", credentials.ErrInvalid, id)
	}
	return fmt.Errorf("%w: that looks like an API key, not its id: pass the id, the 16 characters after %s (apikey list shows them)", credentials.ErrInvalid, secret.APIKeyPrefix)
}

// RotateAPIKey implements Operations.
func (l *Local) RotateAPIKey(ctx context.Context, id string) (*APIKeyWithSecret, error) {
	old, err := l.APIKey(ctx, id)
	if err != nil {
		return nil, err
	}
	k, plain, err := l.creds.RotateAPIKey(ctx, id)
	if err != nil {
		return nil, explain(about(err, "api key %s", id), old.TenantID)
	}
	l.record(ctx, audit.CredentialRotated, k.TenantID, kindAPIKey, k.ID, slog.String("replaces", id))
	return &APIKeyWithSecret{APIKey: *l.apiKeyView(k), Key: plain}, nil
}

// RevokeAPIKey implements Operations.
func (l *Local) RevokeAPIKey(ctx context.Context, id string) (*APIKey, error) {
	if _, err := l.APIKey(ctx, id); err != nil {
		return nil, err
	}
	k, err := l.creds.RevokeAPIKey(ctx, id)
	if err != nil {
		return nil, about(err, "api key %s", id)
	}
	l.record(ctx, audit.CredentialRevoked, k.TenantID, kindAPIKey, id)
	return l.apiKeyView(k), nil
}

// DeleteAPIKey implements Operations.
func (l *Local) DeleteAPIKey(ctx context.Context, id string) error {
	k, err := l.APIKey(ctx, id)
	if err != nil {
		return err
	}
	if err := l.creds.DeleteAPIKey(ctx, id); err != nil {
		return about(err, "api key %s", id)
	}
	l.record(ctx, audit.CredentialDeleted, k.TenantID, kindAPIKey, id)
	return nil
}

// CreateAdmin implements Operations.
func (l *Local) CreateAdmin(ctx context.Context, tenantID string, req NewAdmin) (*AdminWithPassword, error) {
	if err := l.checkTenant(ctx, tenantID); err != nil {
		return nil, err
	}
	a, password, err := l.creds.CreateAdmin(ctx, tenantID, req.Username, req.Password)
	if err != nil {
		return nil, explain(about(err, "admin %q", req.Username), tenantID)
	}
	l.record(ctx, audit.CredentialCreated, tenantID, kindAdmin, a.Username)
	return adminWithPassword(a, req.Password, password), nil
}

// Admins implements Operations.
func (l *Local) Admins(ctx context.Context, tenantID string) ([]Admin, error) {
	if err := l.checkTenant(ctx, tenantID); err != nil {
		return nil, err
	}
	as, err := l.creds.Admins(ctx, tenantID)
	return views(as, err, adminView)
}

// SetAdminPassword implements Operations.
func (l *Local) SetAdminPassword(ctx context.Context, tenantID, username string, req NewPassword) (*AdminWithPassword, error) {
	if err := l.checkTenant(ctx, tenantID); err != nil {
		return nil, err
	}
	if !credentials.ValidUsername(username) {
		return nil, fmt.Errorf("admin %q: %w", username, credentials.ErrNotFound)
	}
	a, password, err := l.creds.SetAdminPassword(ctx, tenantID, username, req.Password)
	if err != nil {
		return nil, about(err, "admin %q", username)
	}
	l.record(ctx, audit.CredentialRotated, tenantID, kindAdmin, a.Username)
	return adminWithPassword(a, req.Password, password), nil
}

// DeleteAdmin implements Operations.
func (l *Local) DeleteAdmin(ctx context.Context, tenantID, username string) error {
	if err := l.checkTenant(ctx, tenantID); err != nil {
		return err
	}
	if !credentials.ValidUsername(username) {
		return fmt.Errorf("admin %q: %w", username, credentials.ErrNotFound)
	}
	if err := l.creds.DeleteAdmin(ctx, tenantID, username); err != nil {
		return about(err, "admin %q", username)
	}
	l.record(ctx, audit.CredentialDeleted, tenantID, kindAdmin, username)
	return nil
}

// SigningKeys implements Operations.
func (l *Local) SigningKeys(ctx context.Context) ([]keys.KeyInfo, error) {
	return l.ring.List(ctx)
}

// RotateSigningKey implements Operations.
func (l *Local) RotateSigningKey(ctx context.Context) ([]keys.KeyInfo, error) {
	if err := l.ring.Rotate(ctx); err != nil {
		var tooSoon *keys.RotationTooSoonError
		if errors.As(err, &tooSoon) {
			return nil, fmt.Errorf("%w: %v", credentials.ErrInvalid, err) // the operator should wait, not debug
		}
		return nil, err
	}
	ring, err := l.ring.List(ctx)
	if err != nil {
		return nil, err
	}
	active := ""
	for _, k := range ring {
		if k.State == keys.StateActive {
			active = k.KID
		}
	}
	l.audit.Record(ctx, audit.KeyRotated, slog.String("kid", active), slog.String("via", l.actor))
	return ring, nil
}

// RevokeSigningKey implements Operations.
func (l *Local) RevokeSigningKey(ctx context.Context, kid string) ([]keys.KeyInfo, error) {
	if err := l.ring.Revoke(ctx, kid); errors.Is(err, keys.ErrUnknownKey) {
		return nil, fmt.Errorf("signing key %q: %w", kid, credentials.ErrNotFound)
	} else if err != nil {
		return nil, err
	}
	l.audit.Record(ctx, audit.KeyRevoked, slog.String("kid", kid), slog.String("via", l.actor))
	return l.ring.List(ctx)
}

func secretSpec(s SecretLifetime) credentials.SecretSpec {
	return credentials.SecretSpec{TTL: time.Duration(s.SecretTTL), NeverExpire: s.SecretNeverExpires}
}

// splitScope turns a space-separated scope string into a list; empty gives
// nil, which asks for the default.
func splitScope(s string) []string {
	if f := strings.Fields(s); len(f) > 0 {
		return f
	}
	return nil
}

// views converts stored records into response types.
func views[T, V any](records []T, err error, view func(*T) *V) ([]V, error) {
	if err != nil {
		return nil, err
	}
	out := make([]V, len(records))
	for i := range records {
		out[i] = *view(&records[i])
	}
	return out, nil
}

func tenantView(t *credentials.Tenant) *Tenant {
	return &Tenant{ID: t.ID, DisplayName: t.DisplayName, Created: t.Created, Disabled: t.Disabled}
}

func (l *Local) clientView(c *credentials.Client) *Client {
	now := l.now()
	secrets := make([]ClientSecret, len(c.Secrets))
	for i, s := range c.Secrets {
		secrets[i] = ClientSecret{ID: s.ID, Created: s.Created, Expires: s.Expires, LastUsed: s.LastUsed, Expired: s.Expired(now)}
	}
	v := &Client{
		ClientID: c.ID, ClientIDIssuedAt: c.Created.Unix(), TenantID: c.TenantID, Name: c.Name, Kind: string(c.Kind),
		GrantTypes: nonNil(c.GrantTypes), Scope: strings.Join(c.Scopes, " "), Audiences: nonNil(c.Audiences),
		RedirectURIs: nonNil(c.RedirectURIs), AccessTTL: Duration(l.creds.AccessTTL(c)), AccessTTLDefault: c.AccessTTL == 0,
		RequirePKCE: c.RequirePKCE,
		Disabled:    c.Disabled, Secrets: secrets,
		TokenEndpoint: l.site.TokenEndpoint(), SCIMBaseURL: l.site.SCIMBaseURL(c.TenantID, c.Audiences),
	}
	if c.AllowsGrant(credentials.GrantAuthorizationCode) {
		v.AuthorizationEndpoint = l.site.AuthorizationEndpoint()
	}
	return v
}

func (l *Local) clientWithSecret(c *credentials.Client, s credentials.Secret, plain string) *ClientWithSecret {
	var expiresAt int64
	if !s.Expires.IsZero() {
		expiresAt = s.Expires.Unix()
	}
	return &ClientWithSecret{Client: *l.clientView(c), ClientSecret: plain, ClientSecretExpiresAt: expiresAt, ClientSecretID: s.ID}
}

func (l *Local) apiKeyView(k *credentials.APIKey) *APIKey {
	return &APIKey{
		ID: k.ID, TenantID: k.TenantID, Name: k.Name, Scope: strings.Join(k.Scopes, " "), Audiences: nonNil(k.Audiences),
		Created: k.Created, Expires: k.Expires, LastUsed: k.LastUsed, Revoked: k.Revoked,
		SCIMBaseURL: l.site.SCIMBaseURL(k.TenantID, k.Audiences),
	}
}

func adminView(a *credentials.AdminUser) *Admin {
	return &Admin{TenantID: a.TenantID, Username: a.Username, Created: a.Created, Disabled: a.Disabled}
}

// adminWithPassword returns the password only if scimgate generated it.
func adminWithPassword(a *credentials.AdminUser, chosen, password string) *AdminWithPassword {
	out := &AdminWithPassword{Admin: *adminView(a)}
	if chosen == "" {
		out.Password = password
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
