package credentials

import (
	"context"
	"errors"
	"fmt"
	"strings"
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
	// Deleting is set while DeleteTenant checks that the tenant owns
	// nothing; no credential can be created for it meanwhile.
	Deleting bool `json:"deleting,omitempty"`
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
//
// The tenant is marked as being deleted before its credentials are
// listed, and every create re-reads the tenant after writing (see
// claimForTenant), so a credential created at the same time on any
// replica is either listed here, and the deletion refused, or removed
// again by its creator: none outlives its tenant, to be inherited by a
// later tenant created with the same id.
func (s *Service) DeleteTenant(ctx context.Context, id string) error {
	if !ValidTenantID(id) {
		return ErrNotFound
	}
	mark := func(deleting bool) error {
		_, err := updateJSON(ctx, s.kv, tenantPrefix+id, func(t *Tenant) error {
			t.Deleting = deleting
			return nil
		})
		return err
	}
	if err := mark(true); err != nil {
		return err
	}
	if err := s.checkOwnsNothing(ctx, id); err != nil {
		if uerr := mark(false); uerr != nil && uerr != ErrNotFound {
			return errors.Join(err, uerr)
		}
		return err
	}
	return s.kv.Delete(ctx, tenantPrefix+id)
}

func (s *Service) checkOwnsNothing(ctx context.Context, id string) error {
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
	var owned []string
	for _, c := range []struct {
		n            int
		one, several string
	}{{len(clients), "client", "clients"}, {len(keys), "API key", "API keys"}, {len(admins), "admin", "admins"}} {
		switch {
		case c.n == 1:
			owned = append(owned, "1 "+c.one)
		case c.n > 1:
			owned = append(owned, fmt.Sprintf("%d %s", c.n, c.several))
		}
	}
	if len(owned) > 0 {
		list := strings.Join(owned, ", ")
		if i := strings.LastIndex(list, ", "); i >= 0 {
			list = list[:i] + " and " + list[i+2:]
		}
		them := "them"
		if len(clients)+len(keys)+len(admins) == 1 {
			them = "it"
		}
		return invalid("tenant %q still owns %s; delete %s first (client, apikey and admin list --tenant %s show them)", id, list, them, id)
	}
	return nil
}

// openTenant is the check before a credential is created for tenant id:
// it exists, is enabled and is not being deleted.
func (s *Service) openTenant(ctx context.Context, id string) error {
	if err := s.activeTenant(ctx, id); err != nil {
		return err
	}
	t, err := s.tenants.get(ctx, s.kv, tenantPrefix+id)
	if err != nil {
		return err
	}
	if t.Deleting {
		return invalid("tenant %q is being deleted", id)
	}
	return nil
}

// tenantErr names the tenant in err unless err, a request error, already
// does.
func tenantErr(id string, err error) error {
	if errors.Is(err, ErrInvalid) {
		return err
	}
	return fmt.Errorf("tenant %q: %w", id, err)
}

// claimForTenant runs once a credential of tenant id has been written
// under key. If by then the tenant is gone or being deleted, DeleteTenant
// may have missed the credential, so it is removed again and the create
// fails.
func (s *Service) claimForTenant(ctx context.Context, id, key string) error {
	t, err := getJSON[Tenant](ctx, s.kv, tenantPrefix+id)
	switch {
	case err == nil && !t.Deleting:
		return nil
	case err == nil:
		err = invalid("tenant %q is being deleted", id)
	case err == ErrNotFound:
		err = fmt.Errorf("tenant %q: %w", id, ErrNotFound)
	}
	if derr := s.kv.Delete(ctx, key); derr != nil {
		return errors.Join(err, fmt.Errorf("remove %s again: %w", key, derr))
	}
	return err
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
