package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"

	"github.com/golang-jwt/jwt/v5"
)

// Algorithm is the JWS algorithm a signing key is made for.
type Algorithm string

// The algorithms scimgate signs with. RFC 9068 §2.1 requires RS256 support;
// ES256 is the default because it signs about 30 times faster (oauth.md §5.2).
const (
	ES256 Algorithm = "ES256"
	EdDSA Algorithm = "EdDSA"
	RS256 Algorithm = "RS256"
)

// rsaBits is the size of generated RSA keys; smaller stored keys are refused.
const rsaBits = 2048

// ParseAlgorithm accepts the exact JWS name of a supported algorithm.
func ParseAlgorithm(s string) (Algorithm, error) {
	switch a := Algorithm(s); a {
	case ES256, EdDSA, RS256:
		return a, nil
	}
	return "", fmt.Errorf("keys: unsupported signing algorithm %q (want ES256, EdDSA or RS256)", s)
}

// method is the golang-jwt implementation of a; nil for an unknown algorithm.
func (a Algorithm) method() jwt.SigningMethod {
	switch a {
	case ES256:
		return jwt.SigningMethodES256
	case EdDSA:
		return jwt.SigningMethodEdDSA
	case RS256:
		return jwt.SigningMethodRS256
	}
	return nil
}

// keyType is the JWK "kty" that a's keys must have.
func (a Algorithm) keyType() string {
	switch a {
	case ES256:
		return "EC"
	case EdDSA:
		return "OKP"
	case RS256:
		return "RSA"
	}
	return ""
}

func (a Algorithm) generate() (crypto.Signer, error) {
	switch a {
	case ES256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case EdDSA:
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		return priv, err
	case RS256:
		return rsa.GenerateKey(rand.Reader, rsaBits)
	}
	return nil, fmt.Errorf("keys: unsupported signing algorithm %q", a)
}

// jwk is a public JSON Web Key (RFC 7517). It has no field for any private
// member, so a rendered key set cannot leak one whatever it is given.
type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid,omitempty"`
	Use string `json:"use,omitempty"`
	Alg string `json:"alg,omitempty"`
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
}

var errWeakPublicKey = errors.New("keys: public key is not an EC P-256, Ed25519 or RSA ≥ 2048-bit key")

// publicJWK returns the public members of pub; it refuses key types and sizes
// scimgate does not sign with.
func publicJWK(pub crypto.PublicKey) (jwk, error) {
	b64 := base64.RawURLEncoding.EncodeToString
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return jwk{}, errWeakPublicKey
		}
		point, err := k.Bytes() // 0x04 || X || Y, each coordinate 32 bytes
		if err != nil {
			return jwk{}, fmt.Errorf("keys: encode EC public key: %w", err)
		}
		return jwk{Kty: "EC", Crv: "P-256", X: b64(point[1:33]), Y: b64(point[33:])}, nil
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return jwk{}, errWeakPublicKey
		}
		return jwk{Kty: "OKP", Crv: "Ed25519", X: b64(k)}, nil
	case *rsa.PublicKey:
		if k.N == nil || k.N.BitLen() < rsaBits || k.E < 3 {
			return jwk{}, errWeakPublicKey
		}
		return jwk{Kty: "RSA", N: b64(k.N.Bytes()), E: b64(big.NewInt(int64(k.E)).Bytes())}, nil
	}
	return jwk{}, errWeakPublicKey
}

// thumbprint is the RFC 7638 JWK SHA-256 thumbprint of pub, used as its kid:
// it is unique per key and anyone holding the public key can recompute it.
func thumbprint(pub crypto.PublicKey) (string, error) {
	k, err := publicJWK(pub)
	if err != nil {
		return "", err
	}
	// The required members in lexicographic order, no whitespace (RFC 7638
	// §3.2). Every value is base64url or a fixed name, so nothing needs escaping.
	var canonical string
	switch k.Kty {
	case "EC":
		canonical = `{"crv":"` + k.Crv + `","kty":"EC","x":"` + k.X + `","y":"` + k.Y + `"}`
	case "OKP":
		canonical = `{"crv":"` + k.Crv + `","kty":"OKP","x":"` + k.X + `"}`
	case "RSA":
		canonical = `{"e":"` + k.E + `","kty":"RSA","n":"` + k.N + `"}`
	}
	sum := sha256.Sum256([]byte(canonical))
	return base64.RawURLEncoding.EncodeToString(sum[:]), nil
}
