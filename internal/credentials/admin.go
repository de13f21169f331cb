package credentials

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"golang.org/x/text/unicode/norm"

	"github.com/scimgate/scimgate/internal/secret"
)

// AdminUser is a person at a tenant who may sign in to scimgate's authorize
// page, for example to connect Okta with the authorization-code flow.
type AdminUser struct {
	TenantID     string    `json:"tenant_id"`
	Username     string    `json:"username"`
	PasswordHash string    `json:"password_hash"`
	Created      time.Time `json:"created"`
	Disabled     bool      `json:"disabled,omitempty"`
	// PasswordNFC says PasswordHash is of the password in Unicode NFC, so
	// any form a keyboard or browser sends (é typed as one code point or as
	// e plus a combining accent) is checked as that form (NIST SP 800-63B
	// §5.1.1.2, RFC 8265 OpaqueString). Hashes set before it are of the
	// password exactly as given, and are checked that way.
	PasswordNFC bool `json:"password_nfc,omitempty"`
}

// MinPasswordLen follows NIST SP 800-63B for passwords chosen by people.
const MinPasswordLen = 12

// adminKey is where an admin is stored: usernames compare case-insensitively
// and in Unicode NFC, so "José" typed with a combining accent is the same
// admin.
func adminKey(tenantID, username string) string {
	return adminPrefix + tenantID + "/" + strings.ToLower(norm.NFC.String(username))
}

// adminKeyOf is adminKey, or for an admin created before usernames were
// normalized, the key it was stored under: its name lower-cased only, as
// typed then in either form (NFC or NFD). Names in ASCII have one form and
// cost no lookup here.
func (s *Service) adminKeyOf(ctx context.Context, tenantID, username string) (string, error) {
	key := adminKey(tenantID, username)
	legacy := []string{key}
	for _, u := range []string{username, norm.NFD.String(username)} {
		if k := adminPrefix + tenantID + "/" + strings.ToLower(u); !slices.Contains(legacy, k) {
			legacy = append(legacy, k)
		}
	}
	if len(legacy) == 1 {
		return key, nil
	}
	for _, k := range legacy {
		switch _, err := getJSON[AdminUser](ctx, s.kv, k); {
		case err == nil:
			return k, nil
		case !errors.Is(err, ErrNotFound):
			return "", err
		}
	}
	return key, nil
}

// NormalizeUsername is the form an admin's username is kept and compared in
// (before lower-casing): Unicode NFC.
func NormalizeUsername(u string) string { return norm.NFC.String(u) }

// CreateAdmin adds an admin user to a tenant. If password is empty a strong
// one is generated and returned; it is shown once.
func (s *Service) CreateAdmin(ctx context.Context, tenantID, username, password string) (*AdminUser, string, error) {
	username = NormalizeUsername(username)
	if err := checkUsername(username); err != nil {
		return nil, "", err
	}
	if password == "" {
		password = secret.NewID(20)
	}
	if err := checkPassword(password); err != nil {
		return nil, "", err
	}
	if err := s.openTenant(ctx, tenantID); err != nil {
		return nil, "", err
	}
	key, err := s.adminKeyOf(ctx, tenantID, username)
	if err != nil {
		return nil, "", err
	}
	a := &AdminUser{TenantID: tenantID, Username: username, PasswordHash: secret.HashPassword(norm.NFC.String(password), s.pwp),
		PasswordNFC: true, Created: s.now().UTC()}
	if err := createJSON(ctx, s.kv, key, a); err != nil {
		return nil, "", err
	}
	if err := s.claimForTenant(ctx, tenantID, adminKey(tenantID, username)); err != nil {
		return nil, "", err
	}
	return a, password, nil
}

// Admin returns one admin user, or ErrNotFound.
func (s *Service) Admin(ctx context.Context, tenantID, username string) (*AdminUser, error) {
	if checkUsername(username) != nil || !ValidTenantID(tenantID) {
		return nil, ErrNotFound
	}
	key, err := s.adminKeyOf(ctx, tenantID, username)
	if err != nil {
		return nil, err
	}
	return getJSON[AdminUser](ctx, s.kv, key)
}

// Admins lists a tenant's admin users.
func (s *Service) Admins(ctx context.Context, tenantID string) ([]AdminUser, error) {
	return listJSON[AdminUser](ctx, s.kv, adminPrefix+tenantID+"/", nil)
}

// SetAdminPassword replaces an admin's password (empty: generate one).
func (s *Service) SetAdminPassword(ctx context.Context, tenantID, username, password string) (*AdminUser, string, error) {
	if password == "" {
		password = secret.NewID(20)
	}
	if err := checkPassword(password); err != nil {
		return nil, "", err
	}
	hash := secret.HashPassword(norm.NFC.String(password), s.pwp)
	key, err := s.adminKeyOf(ctx, tenantID, username)
	if err != nil {
		return nil, "", err
	}
	a, err := updateJSON(ctx, s.kv, key, func(a *AdminUser) error {
		a.PasswordHash, a.PasswordNFC = hash, true
		return nil
	})
	return a, password, err
}

// DeleteAdmin removes an admin user.
func (s *Service) DeleteAdmin(ctx context.Context, tenantID, username string) error {
	key, err := s.adminKeyOf(ctx, tenantID, username)
	if err != nil {
		return err
	}
	if _, err := getJSON[AdminUser](ctx, s.kv, key); err != nil {
		return err
	}
	return s.kv.Delete(ctx, key)
}

// AuthenticateAdmin checks an admin's password. Unknown users cost the same
// argon2id work as wrong passwords. Failures are *AuthError.
func (s *Service) AuthenticateAdmin(ctx context.Context, tenantID, username, password string) (*AdminUser, error) {
	if checkUsername(username) != nil || !ValidTenantID(tenantID) {
		_, _ = secret.VerifyPassword(s.dummyPassword(), password)
		return nil, &AuthError{Reason: ReasonUnknown}
	}
	a, err := s.Admin(ctx, tenantID, username)
	if err == ErrNotFound {
		_, _ = secret.VerifyPassword(s.dummyPassword(), password)
		return nil, &AuthError{Reason: ReasonUnknown}
	}
	if err != nil {
		return nil, err
	}
	if a.PasswordNFC {
		password = norm.NFC.String(password)
	}
	ok, err := secret.VerifyPassword(a.PasswordHash, password)
	switch {
	case err != nil:
		return nil, err
	case !ok:
		return nil, &AuthError{Reason: ReasonWrongSecret}
	case a.Disabled:
		return nil, &AuthError{Reason: ReasonDisabled}
	}
	if err := s.activeTenant(ctx, tenantID); err != nil {
		return nil, &AuthError{Reason: ReasonTenantDisabled}
	}
	return a, nil
}

func checkUsername(u string) error {
	if !ValidUsername(u) {
		return invalid("username: 1-254 characters without spaces, slashes or control characters, and not . or ..")
	}
	return nil
}

// ValidUsername reports whether u can name an admin: it becomes part of
// store keys and of admin API paths, where "." and ".." would be taken for
// dot segments and cleaned away before the admin is found.
func ValidUsername(u string) bool {
	if u == "" || len(u) > 254 || u == "." || u == ".." {
		return false
	}
	for _, r := range u {
		if r <= 0x20 || r == 0x7f || r == '/' {
			return false
		}
	}
	return true
}

func checkPassword(p string) error {
	if len([]rune(p)) < MinPasswordLen || len(p) > 1024 {
		return invalid("password: must be %d to 1024 characters", MinPasswordLen)
	}
	return nil
}
