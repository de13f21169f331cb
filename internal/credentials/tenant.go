package credentials

import (
	"context"
	"time"
	"unicode/utf8"
)

// Tenant is one customer organisation. Every client, API key and admin user
// belongs to exactly one tenant, and every request the gateway forwards says
// which tenant made it.
type Tenant struct {
	ID          string    `json:"id"`
	DisplayName string    `json:"display_name"`
	Created     time.Time `json:"created"`
	Disabled    bool      `json:"disabled,omitempty"`
}

// ValidTenantID reports whether id can name a tenant: a DNS-label-like
// slug, 1-63 lower-case letters, digits and inner hyphens. No "_": Okta
// rejects base URLs containing it, and tenant ids appear in per-tenant
// SCIM base URLs. Every token request asks, so it is written out rather
// than a regular expression.
func ValidTenantID(id string) bool {
	if id == "" || len(id) > 63 || id[0] == '-' || id[len(id)-1] == '-' {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// CreateTenant creates a tenant with a slug id such as "acme".
func (s *Service) CreateTenant(ctx context.Context, id, displayName string) (*Tenant, error) {
	if !ValidTenantID(id) {
		return nil, invalid("tenant id %q: use 1-63 lower-case letters, digits and inner hyphens (no underscores)", id)
	}
	if displayName == "" {
		displayName = id
	}
	if err := checkName("display name", displayName); err != nil {
		return nil, err
	}
	t := &Tenant{ID: id, DisplayName: displayName, Created: s.now().UTC()}
	if err := createJSON(ctx, s.kv, tenantPrefix+id, t); err != nil {
		return nil, err
	}
	return t, nil
}

// Tenant returns one tenant.
func (s *Service) Tenant(ctx context.Context, id string) (*Tenant, error) {
	if !ValidTenantID(id) {
		return nil, ErrNotFound
	}
	return getJSON[Tenant](ctx, s.kv, tenantPrefix+id)
}

// Tenants lists every tenant, ordered by id.
func (s *Service) Tenants(ctx context.Context) ([]Tenant, error) {
	return listJSON[Tenant](ctx, s.kv, tenantPrefix, nil)
}

// SetTenantDisabled disables or re-enables a tenant. A disabled tenant's
// clients get no tokens and its credentials are refused at the gateway.
func (s *Service) SetTenantDisabled(ctx context.Context, id string, disabled bool) (*Tenant, error) {
	return updateJSON(ctx, s.kv, tenantPrefix+id, func(t *Tenant) error {
		t.Disabled = disabled
		return nil
	})
}

// DeleteTenant removes a tenant that owns no clients, API keys or admins.
// Refusing instead of cascading keeps a typo from deleting a customer.
func (s *Service) DeleteTenant(ctx context.Context, id string) error {
	if _, err := s.Tenant(ctx, id); err != nil {
		return err
	}
	clients, err := s.Clients(ctx, id)
	if err != nil {
		return err
	}
	keys, err := s.APIKeys(ctx, id)
	if err != nil {
		return err
	}
	admins, err := s.Admins(ctx, id)
	if err != nil {
		return err
	}
	if n := len(clients) + len(keys) + len(admins); n > 0 {
		return invalid("tenant %q still owns %d clients, %d API keys and %d admins; delete them first", id, len(clients), len(keys), len(admins))
	}
	return s.kv.Delete(ctx, tenantPrefix+id)
}

// activeTenant returns the tenant if it exists and is enabled.
func (s *Service) activeTenant(ctx context.Context, id string) error {
	if !ValidTenantID(id) {
		return ErrNotFound
	}
	t, err := s.tenants.get(ctx, s.kv, tenantPrefix+id)
	if err != nil {
		return err
	}
	if t.Disabled {
		return &AuthError{Reason: ReasonTenantDisabled}
	}
	return nil
}

func checkName(field, v string) error {
	if v == "" || len(v) > 200 || !utf8.ValidString(v) {
		return invalid("%s: must be 1-200 characters of valid UTF-8", field)
	}
	for _, r := range v {
		if r < 0x20 || r == 0x7f {
			return invalid("%s: must not contain control characters", field)
		}
	}
	return nil
}
