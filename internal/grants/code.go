package grants

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/scimgate/scimgate/internal/secret"
)

// CodePrefix starts every authorization code, so secret scanners and logs
// can recognise one.
const CodePrefix = "sgc_"

// NewCode returns a fresh 256-bit authorization code.
func NewCode() string { return CodePrefix + secret.New() }

// Code is what an authorization code stands for.
type Code struct {
	ClientID            string        `json:"client_id"`
	RedirectURI         string        `json:"redirect_uri"`
	Scope               string        `json:"scope"`
	Audiences           []string      `json:"audiences"`
	CodeChallenge       string        `json:"code_challenge,omitempty"`
	CodeChallengeMethod string        `json:"code_challenge_method,omitempty"`
	Subject             string        `json:"sub"`
	TenantID            string        `json:"tenant_id"`
	AuthTime            time.Time     `json:"auth_time"`
	AccessTTL           time.Duration `json:"access_ttl"`
	// FamilyID and AccessJTI name, in advance, the refresh-token family and
	// the access token that redeeming the code will create. Knowing them
	// before redemption is what lets a replay revoke them without a race.
	FamilyID  string    `json:"family_id"`
	AccessJTI string    `json:"access_jti"`
	Created   time.Time `json:"created"`
	Expires   time.Time `json:"expires"`
}

// codeUse outlives its code: when the code comes back after it was
// redeemed (or expired), it says what to revoke.
type codeUse struct {
	FamilyID  string `json:"family_id"`
	AccessJTI string `json:"access_jti"`
	ClientID  string `json:"client_id"`
	TenantID  string `json:"tenant_id"`
	// CodeExpires tells a replay inside the code's lifetime (certainly a
	// second redemption) from a late one (redeemed before, or never).
	CodeExpires time.Time `json:"code_expires"`
	// AccessExpiresBy bounds the exp of the access token a redemption could
	// have issued: the code's expiry plus the access lifetime.
	AccessExpiresBy time.Time `json:"access_expires_by"`
}

// CodeReplayError is returned when a code is presented after it was
// redeemed or expired. The caller revokes FamilyID and AccessJTI (RFC 6749
// §4.1.2: a second use SHOULD revoke what the first one issued).
type CodeReplayError struct {
	FamilyID, AccessJTI string
	ClientID, TenantID  string
	// Expired is true when the code's lifetime had passed: then it may
	// also simply never have been redeemed, and revoking is a no-op.
	Expired         bool
	AccessExpiresBy time.Time
}

func (e *CodeReplayError) Error() string {
	if e.Expired {
		return "grants: expired authorization code presented"
	}
	return ErrCodeReplayed.Error()
}

func (e *CodeReplayError) Unwrap() error { return ErrCodeReplayed }

// SaveCode stores c under code for the code lifetime. It fills Created,
// Expires and FamilyID (when empty); c.AccessJTI must be set by the caller,
// which mints the access token.
func (s *Store) SaveCode(ctx context.Context, code string, c Code) (*Code, error) {
	if !strings.HasPrefix(code, CodePrefix) || c.AccessJTI == "" || c.ClientID == "" {
		return nil, errors.New("grants: SaveCode needs a code from NewCode, a client and an access jti")
	}
	now := s.opts.Now()
	c.Created, c.Expires = now, now.Add(s.opts.CodeTTL)
	if c.FamilyID == "" {
		c.FamilyID = newFamilyID()
	}
	use := codeUse{FamilyID: c.FamilyID, AccessJTI: c.AccessJTI, ClientID: c.ClientID, TenantID: c.TenantID,
		CodeExpires: c.Expires, AccessExpiresBy: c.Expires.Add(c.AccessTTL)}
	useBytes, err := encode(&use)
	if err != nil {
		return nil, err
	}
	codeBytes, err := encode(&c)
	if err != nil {
		return nil, err
	}
	// The use record is written first and kept for as long as the family
	// could live, so that a replay is recognised even months later. If the
	// second write fails, the code simply does not exist.
	if err := s.kv.Set(ctx, hashKey(codeUsePrefix, code), useBytes, s.opts.CodeTTL+s.opts.RefreshTTL); err != nil {
		return nil, fmt.Errorf("grants: save code: %w", err)
	}
	if err := s.kv.Create(ctx, hashKey(codePrefix, code), codeBytes, s.opts.CodeTTL); err != nil {
		return nil, fmt.Errorf("grants: save code: %w", err)
	}
	return &c, nil
}

// RedeemCode consumes code. Among concurrent callers on any replica exactly
// one receives the Code; the others, and every later caller, get a
// *CodeReplayError (or ErrNotFound for a value that never was a code).
// Checking the client, redirect URI and PKCE verifier is the caller's job;
// the code is spent either way.
func (s *Store) RedeemCode(ctx context.Context, code string) (*Code, error) {
	if !strings.HasPrefix(code, CodePrefix) || len(code) > 128 {
		return nil, ErrNotFound
	}
	now := s.opts.Now()
	c, err := takeJSON[Code](ctx, s.kv, hashKey(codePrefix, code))
	switch {
	case err == nil && now.Before(c.Expires):
		return c, nil
	case err != nil && !errors.Is(err, ErrNotFound):
		return nil, err
	}
	use, err := getJSON[codeUse](ctx, s.kv, hashKey(codeUsePrefix, code))
	if err != nil {
		return nil, err
	}
	return nil, &CodeReplayError{FamilyID: use.FamilyID, AccessJTI: use.AccessJTI, ClientID: use.ClientID, TenantID: use.TenantID,
		Expired: !now.Before(use.CodeExpires), AccessExpiresBy: use.AccessExpiresBy}
}
