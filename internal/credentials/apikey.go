package credentials

import (
	"context"
	"fmt"
	"time"

	"github.com/scimgate/scimgate/internal/secret"
)

// APIKey is a long-lived bearer credential: Entra's "Secret Token", Okta's
// Header/Bearer token, OneLogin's bearer token. Only its keyed hash is stored.
type APIKey struct {
	ID        string    `json:"id"`
	TenantID  string    `json:"tenant_id"`
	Name      string    `json:"name"`
	Scopes    []string  `json:"scopes"`
	Audiences []string  `json:"audiences"`
	Hash      string    `json:"hash"`
	Created   time.Time `json:"created"`
	Expires   time.Time `json:"expires,omitzero"` // zero: never (Entra quarantines a job whose token expires)
	LastUsed  time.Time `json:"last_used,omitzero"`
	Revoked   time.Time `json:"revoked,omitzero"`
}

// APIKeySpec describes an API key to create.
type APIKeySpec struct {
	TenantID  string
	Name      string
	Scopes    []string // default scim.full
	Audiences []string
	TTL       time.Duration // 0: never expires
}

// minAPIKeyTTL is the shortest key lifetime: a key is pasted into an IdP by
// hand, and one that expires before that is done is a typo (--ttl 1s).
const minAPIKeyTTL = time.Minute

// CreateAPIKey issues a key and returns it in clear once.
func (s *Service) CreateAPIKey(ctx context.Context, spec APIKeySpec) (*APIKey, string, error) {
	if !ValidTenantID(spec.TenantID) {
		return nil, "", invalid("tenant id %q is not a valid tenant id", spec.TenantID)
	}
	if err := checkName("name", spec.Name); err != nil {
		return nil, "", err
	}
	if spec.Scopes == nil {
		spec.Scopes = []string{ScopeFull}
	}
	if err := checkScopes(spec.Scopes); err != nil {
		return nil, "", err
	}
	for _, sc := range spec.Scopes {
		if sc == ScopeOfflineAccess {
			return nil, "", invalid("scope offline_access: API keys have no refresh tokens")
		}
	}
	if len(spec.Audiences) == 0 {
		return nil, "", invalid("audiences: at least one gateway audience is required")
	}
	if spec.TTL < 0 || spec.TTL > 0 && spec.TTL < minAPIKeyTTL {
		return nil, "", invalid("expiry %s: must be at least %s, or zero for never", spec.TTL, minAPIKeyTTL)
	}
	if err := s.openTenant(ctx, spec.TenantID); err != nil {
		return nil, "", tenantErr(spec.TenantID, err)
	}
	now := s.now().UTC()
	k := &APIKey{TenantID: spec.TenantID, Name: spec.Name, Scopes: spec.Scopes, Audiences: spec.Audiences, Created: now}
	if spec.TTL > 0 {
		k.Expires = now.Add(spec.TTL)
	}
	for {
		plain, id := secret.NewAPIKey()
		k.ID, k.Hash = id, s.hasher.Hash(plain)
		err := createJSON(ctx, s.kv, apiKeyPrefix+id, k)
		if err == ErrExists {
			continue
		}
		if err != nil {
			return nil, "", err
		}
		if err := s.claimForTenant(ctx, spec.TenantID, apiKeyPrefix+id); err != nil {
			return nil, "", err
		}
		return k, plain, nil
	}
}

// APIKey returns one key's record (never the key itself).
func (s *Service) APIKey(ctx context.Context, id string) (*APIKey, error) {
	if id == "" || len(id) > 64 {
		return nil, ErrNotFound
	}
	return getJSON[APIKey](ctx, s.kv, apiKeyPrefix+id)
}

// APIKeys lists a tenant's keys ("" lists every tenant's).
func (s *Service) APIKeys(ctx context.Context, tenantID string) ([]APIKey, error) {
	return listJSON(ctx, s.kv, apiKeyPrefix, func(k *APIKey) bool { return tenantID == "" || k.TenantID == tenantID })
}

// RotateAPIKey issues a new key with the same tenant, name, scopes and
// audiences. The old key keeps working until it is revoked, so the IdP can be
// switched over first. A revoked key is not rotated: rotation is for
// replacing a working key, and a revoked one was meant to end.
func (s *Service) RotateAPIKey(ctx context.Context, id string) (*APIKey, string, error) {
	old, err := s.APIKey(ctx, id)
	if err != nil {
		return nil, "", err
	}
	if !old.Revoked.IsZero() {
		return nil, "", invalid("API key %s is revoked: create a new key instead", id)
	}
	var ttl time.Duration
	if !old.Expires.IsZero() {
		ttl = old.Expires.Sub(old.Created)
	}
	return s.CreateAPIKey(ctx, APIKeySpec{TenantID: old.TenantID, Name: old.Name, Scopes: old.Scopes, Audiences: old.Audiences, TTL: ttl})
}

// RevokeAPIKey stops a key from working. The record stays for the audit trail.
func (s *Service) RevokeAPIKey(ctx context.Context, id string) (*APIKey, error) {
	now := s.now().UTC()
	return updateJSON(ctx, s.kv, apiKeyPrefix+id, func(k *APIKey) error {
		if k.Revoked.IsZero() {
			k.Revoked = now
		}
		return nil
	})
}

// DeleteAPIKey removes a key's record entirely.
func (s *Service) DeleteAPIKey(ctx context.Context, id string) error {
	if _, err := s.APIKey(ctx, id); err != nil {
		return err
	}
	return s.kv.Delete(ctx, apiKeyPrefix+id)
}

// AuthenticateAPIKey checks a presented key. Failures are *AuthError.
func (s *Service) AuthenticateAPIKey(ctx context.Context, presented string) (*APIKey, error) {
	id, err := secret.ParseAPIKey(presented)
	if err != nil {
		return nil, &AuthError{Reason: ReasonUnknown}
	}
	k, err := s.APIKey(ctx, id)
	if err == ErrNotFound {
		_, _ = s.hasher.Verify(s.dummyHash, presented)
		return nil, &AuthError{Reason: ReasonUnknown}
	}
	if err != nil {
		return nil, err
	}
	ok, err := s.hasher.Verify(k.Hash, presented)
	now := s.now()
	switch {
	case err != nil:
		return nil, fmt.Errorf("api key %s: %w", id, err)
	case !ok:
		return nil, &AuthError{Reason: ReasonWrongSecret}
	case !k.Revoked.IsZero():
		return nil, &AuthError{Reason: ReasonRevoked}
	case !k.Expires.IsZero() && !now.Before(k.Expires):
		return nil, &AuthError{Reason: ReasonExpired}
	}
	if err := s.activeTenant(ctx, k.TenantID); err != nil {
		if _, ok := err.(*AuthError); ok || err == ErrNotFound {
			return nil, &AuthError{Reason: ReasonTenantDisabled}
		}
		return nil, err
	}
	s.usage.touch(apiKeyPrefix+id, "", now)
	return k, nil
}
