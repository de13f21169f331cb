package accesstoken

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// ErrInvalid is wrapped by every verification failure; the message after it
// says what was wrong and is safe to show to the caller.
var ErrInvalid = errors.New("invalid access token")

// Algorithms a Verifier accepts. RS256 is on the list because RFC 9068 §4
// requires every resource server to support it, even though scimgate signs
// with ES256 by default. "none" and HMAC can never be accepted.
var algorithms = []string{"ES256", "EdDSA", "RS256"}

// Verifier checks access tokens locally: signature with a key from the key
// ring, explicit typing, issuer, audience, lifetime and required claims.
type Verifier struct {
	issuer  string
	leeway  time.Duration
	keyfunc jwt.Keyfunc
	now     func() time.Time
	parser  *jwt.Parser
}

// NewVerifier returns a Verifier for tokens from issuer. keyfunc finds the
// public key named by the token's kid and must check that the header alg is
// the key's own algorithm.
func NewVerifier(issuer string, leeway time.Duration, keyfunc jwt.Keyfunc, now func() time.Time) *Verifier {
	if now == nil {
		now = time.Now
	}
	v := &Verifier{issuer: issuer, leeway: leeway, keyfunc: keyfunc, now: now}
	// golang-jwt's own claim validation is switched off: Verify does it, with
	// the clock it was given and error messages it controls.
	v.parser = jwt.NewParser(jwt.WithValidMethods(algorithms), jwt.WithoutClaimsValidation(), jwt.WithJSONNumber())
	return v
}

// Verify checks token and returns its claims. audience, when not empty, must
// be among the token's audiences.
func (v *Verifier) Verify(token, audience string) (*Claims, error) {
	var c Claims
	t, err := v.parser.ParseWithClaims(token, &c, v.checkedKeyfunc)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrInvalid, describe(err))
	}
	if !t.Valid {
		return nil, fmt.Errorf("%w: signature", ErrInvalid)
	}
	now := v.now()
	switch {
	case c.Issuer != v.issuer:
		return nil, fmt.Errorf("%w: wrong issuer", ErrInvalid)
	case audience != "" && !slices.Contains(c.Audience, audience):
		return nil, fmt.Errorf("%w: not issued for this audience", ErrInvalid)
	case c.ExpiresAt == 0:
		return nil, fmt.Errorf("%w: no expiry", ErrInvalid)
	case !now.Before(time.Unix(c.ExpiresAt, 0).Add(v.leeway)):
		return nil, fmt.Errorf("%w: expired", ErrInvalid)
	case c.NotBefore != 0 && now.Add(v.leeway).Before(time.Unix(c.NotBefore, 0)):
		return nil, fmt.Errorf("%w: not valid yet", ErrInvalid)
	case c.IssuedAt != 0 && now.Add(v.leeway).Before(time.Unix(c.IssuedAt, 0)):
		return nil, fmt.Errorf("%w: issued in the future", ErrInvalid)
	case c.ClientID == "" || c.TenantID == "" || c.ID == "" || c.Subject == "":
		return nil, fmt.Errorf("%w: missing client_id, tenant_id, jti or sub", ErrInvalid)
	}
	return &c, nil
}

// checkedKeyfunc enforces explicit typing (RFC 8725 §3.11) before any key
// is looked up, so an ID token or another JWT can never pass as an access
// token. jku, x5u, jwk and x5c headers are never read.
func (v *Verifier) checkedKeyfunc(t *jwt.Token) (any, error) {
	typ, _ := t.Header["typ"].(string)
	if !strings.EqualFold(typ, Type) && !strings.EqualFold(typ, "application/"+Type) {
		return nil, errors.New("typ is not at+jwt")
	}
	if kid, _ := t.Header["kid"].(string); kid == "" {
		return nil, errors.New("no kid")
	}
	return v.keyfunc(t)
}

func describe(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "malformed"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid) && strings.Contains(err.Error(), "signing method"):
		return "algorithm not allowed"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return "bad signature"
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		// The keyfunc's reason (unknown kid, wrong typ, alg mismatch) is ours
		// and safe to show.
		msg := err.Error()
		if i := strings.LastIndex(msg, ": "); i >= 0 {
			return msg[i+2:]
		}
		return "unverifiable"
	}
	return "rejected"
}
