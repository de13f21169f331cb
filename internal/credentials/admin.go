package credentials

import (
	"context"
	"strings"
	"time"

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
}

// MinPasswordLen follows NIST SP 800-63B for passwords chosen by people.
const MinPasswordLen = 12

func adminKey(tenantID, username string) string {
	return adminPrefix + tenantID + "/" + strings.ToLower(username)
}

// CreateAdmin adds an admin user to a tenant. If password is empty a strong
// one is generated and returned; it is shown once.
func (s *Service) CreateAdmin(ctx context.Context, tenantID, username, password string) (*AdminUser, string, error) {
	if err := checkUsername(username); err != nil {
		return nil, "", err
	}
	if password == "" {
		password = secret.NewID(20)
	}
	if err := checkPassword(password); err != nil {
		return nil, "", err
	}
	if err := s.activeTenant(ctx, tenantID); err != nil {
		return nil, "", err
	}
	a := &AdminUser{TenantID: tenantID, Username: username, PasswordHash: secret.HashPassword(password, s.pwp), Created: s.now().UTC()}
	if err := createJSON(ctx, s.kv, adminKey(tenantID, username), a); err != nil {
		return nil, "", err
	}
	return a, password, nil
}

// Admin returns one admin user, or ErrNotFound.
func (s *Service) Admin(ctx context.Context, tenantID, username string) (*AdminUser, error) {
	if checkUsername(username) != nil || !ValidTenantID(tenantID) {
		return nil, ErrNotFound
	}
	return getJSON[AdminUser](ctx, s.kv, adminKey(tenantID, username))
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
	hash := secret.HashPassword(password, s.pwp)
	a, err := updateJSON(ctx, s.kv, adminKey(tenantID, username), func(a *AdminUser) error {
		a.PasswordHash = hash
		return nil
	})
	return a, password, err
}

// DeleteAdmin removes an admin user.
func (s *Service) DeleteAdmin(ctx context.Context, tenantID, username string) error {
	if _, err := getJSON[AdminUser](ctx, s.kv, adminKey(tenantID, username)); err != nil {
		return err
	}
	return s.kv.Delete(ctx, adminKey(tenantID, username))
}

// AuthenticateAdmin checks an admin's password. Unknown users cost the same
// argon2id work as wrong passwords. Failures are *AuthError.
func (s *Service) AuthenticateAdmin(ctx context.Context, tenantID, username, password string) (*AdminUser, error) {
	if checkUsername(username) != nil || !ValidTenantID(tenantID) {
		_, _ = secret.VerifyPassword(s.dummyPassword(), password)
		return nil, &AuthError{Reason: ReasonUnknown}
	}
	a, err := getJSON[AdminUser](ctx, s.kv, adminKey(tenantID, username))
	if err == ErrNotFound {
		_, _ = secret.VerifyPassword(s.dummyPassword(), password)
		return nil, &AuthError{Reason: ReasonUnknown}
	}
	if err != nil {
		return nil, err
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
