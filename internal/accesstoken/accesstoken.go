// Package accesstoken is scimgate's RFC 9068 access-token profile: the claims
// a token carries, how the authorization server signs them and how the
// gateway and the introspection endpoint verify them.
package accesstoken

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/scimgate/scimgate/keys"
)

// Type is the JOSE "typ" header of every access token (RFC 9068 §2.1).
const Type = "at+jwt"

// Claims are the claims of an access token. Audience is kept as a list but
// serialised as a plain string when it has one member, as most verifiers
// expect.
type Claims struct {
	Issuer    string   `json:"iss"`
	Subject   string   `json:"sub"`
	Audience  Audience `json:"aud"`
	ClientID  string   `json:"client_id"`
	Scope     string   `json:"scope"`
	ID        string   `json:"jti"`
	IssuedAt  int64    `json:"iat"`
	NotBefore int64    `json:"nbf,omitempty"`
	ExpiresAt int64    `json:"exp"`
	TenantID  string   `json:"tenant_id"`
	// AuthTime is set for tokens from the authorization-code flow: when the
	// admin signed in (RFC 9068 §2.2.1).
	AuthTime int64 `json:"auth_time,omitempty"`
}

// Audience is the "aud" claim.
type Audience []string

// MarshalJSON writes a single audience as a string, several as an array.
func (a Audience) MarshalJSON() ([]byte, error) {
	if len(a) == 1 {
		return json.Marshal(a[0])
	}
	return json.Marshal([]string(a))
}

// UnmarshalJSON accepts both forms.
func (a *Audience) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*a = Audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("aud must be a string or an array of strings")
	}
	*a = many
	return nil
}

// Scopes returns the space-separated scope claim as a list.
func (c *Claims) Scopes() []string { return strings.Fields(c.Scope) }

// Expiry returns exp as a time.
func (c *Claims) Expiry() time.Time { return time.Unix(c.ExpiresAt, 0) }

// The jwt.Claims interface; validation itself is done by Verifier.
func (c *Claims) GetExpirationTime() (*jwt.NumericDate, error) { return numeric(c.ExpiresAt), nil }
func (c *Claims) GetIssuedAt() (*jwt.NumericDate, error)       { return numeric(c.IssuedAt), nil }
func (c *Claims) GetNotBefore() (*jwt.NumericDate, error)      { return numeric(c.NotBefore), nil }
func (c *Claims) GetIssuer() (string, error)                   { return c.Issuer, nil }
func (c *Claims) GetSubject() (string, error)                  { return c.Subject, nil }
func (c *Claims) GetAudience() (jwt.ClaimStrings, error)       { return jwt.ClaimStrings(c.Audience), nil }

func numeric(v int64) *jwt.NumericDate {
	if v == 0 {
		return nil
	}
	return jwt.NewNumericDate(time.Unix(v, 0))
}

// NewID returns a fresh 128-bit token id.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Sign serialises and signs claims with key, with the RFC 9068 header.
func Sign(claims *Claims, key keys.SigningKey) (string, error) {
	t := jwt.NewWithClaims(key.Method, claims)
	t.Header["typ"] = Type
	t.Header["kid"] = key.KID
	s, err := t.SignedString(key.Key)
	if err != nil {
		return "", fmt.Errorf("sign access token: %w", err)
	}
	return s, nil
}
