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
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/scimgate/scimgate/internal/jsontext"
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

// Sign serialises and signs claims with key, with the RFC 9068 header. It
// writes the same JSON as encoding/json would for the header map and the
// claims, without reflection: every token request pays for it.
func Sign(claims *Claims, key keys.SigningKey) (string, error) {
	enc := base64.RawURLEncoding
	var scratch [512]byte
	header := append(scratch[:0], `{"alg":`...)
	header = jsontext.AppendString(header, key.Method.Alg())
	header = append(header, `,"kid":`...)
	header = jsontext.AppendString(header, key.KID)
	header = append(header, `,"typ":"`+Type+`"}`...)
	payload := claims.appendJSON(header[len(header):])

	token := make([]byte, 0, enc.EncodedLen(len(header))+enc.EncodedLen(len(payload))+2+enc.EncodedLen(512))
	token = enc.AppendEncode(token, header)
	token = append(token, '.')
	token = enc.AppendEncode(token, payload)
	sig, err := key.Method.Sign(string(token), key.Key)
	if err != nil {
		return "", fmt.Errorf("sign access token: %w", err)
	}
	token = append(token, '.')
	return string(enc.AppendEncode(token, sig)), nil
}

// appendJSON writes c as encoding/json would: the fields in order, nbf and
// auth_time omitted when zero, aud a string when it has one member.
func (c *Claims) appendJSON(b []byte) []byte {
	b = jsontext.AppendString(append(b, `{"iss":`...), c.Issuer)
	b = jsontext.AppendString(append(b, `,"sub":`...), c.Subject)
	b = append(b, `,"aud":`...)
	switch {
	case len(c.Audience) == 1:
		b = jsontext.AppendString(b, c.Audience[0])
	case c.Audience == nil:
		b = append(b, "null"...)
	default:
		b = append(b, '[')
		for i, a := range c.Audience {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsontext.AppendString(b, a)
		}
		b = append(b, ']')
	}
	b = jsontext.AppendString(append(b, `,"client_id":`...), c.ClientID)
	b = jsontext.AppendString(append(b, `,"scope":`...), c.Scope)
	b = jsontext.AppendString(append(b, `,"jti":`...), c.ID)
	b = strconv.AppendInt(append(b, `,"iat":`...), c.IssuedAt, 10)
	if c.NotBefore != 0 {
		b = strconv.AppendInt(append(b, `,"nbf":`...), c.NotBefore, 10)
	}
	b = strconv.AppendInt(append(b, `,"exp":`...), c.ExpiresAt, 10)
	b = jsontext.AppendString(append(b, `,"tenant_id":`...), c.TenantID)
	if c.AuthTime != 0 {
		b = strconv.AppendInt(append(b, `,"auth_time":`...), c.AuthTime, 10)
	}
	return append(b, '}')
}
