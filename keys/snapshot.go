package keys

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/golang-jwt/jwt/v5"
)

// SigningKey is the active key, parsed and ready to sign with golang-jwt:
//
//	t := jwt.NewWithClaims(k.Method, claims)
//	t.Header["kid"] = k.KID
//	s, err := t.SignedString(k.Key)
type SigningKey struct {
	KID    string
	Method jwt.SigningMethod
	// Key is an *ecdsa.PrivateKey, ed25519.PrivateKey or *rsa.PrivateKey,
	// the concrete types golang-jwt expects for Method.
	Key crypto.Signer
}

// verifier is one published key, parsed.
type verifier struct {
	public crypto.PublicKey
	method jwt.SigningMethod
}

// snapshot is an immutable, fully parsed view of one stored ring. The hot
// paths read it through an atomic pointer and never parse anything.
type snapshot struct {
	raw       []byte // the stored bytes it was built from, to skip rebuilding
	signing   SigningKey
	verifiers map[string]verifier
	jwks      []byte
}

// buildSnapshot parses every published key and decrypts those that may sign,
// checking each private key against its public key, so a damaged next key is
// found when it is stored rather than when it is promoted.
func buildSnapshot(raw []byte, r *ring, s *sealer) (*snapshot, error) {
	snap := &snapshot{raw: raw, verifiers: make(map[string]verifier)}
	var set struct {
		Keys []jwk `json:"keys"`
	}
	set.Keys = []jwk{}
	// Publish the active key first, then next, then retiring keys newest
	// first: a client that ignores kid is most likely to pick the right one.
	for _, k := range publishOrder(r.Keys) {
		pub, err := x509.ParsePKIXPublicKey(k.Public)
		if err != nil {
			return nil, fmt.Errorf("keys: key %s: parse public key: %w", k.KID, err)
		}
		entry, err := publicJWK(pub)
		if err != nil {
			return nil, fmt.Errorf("key %s: %w", k.KID, err)
		}
		if entry.Kty != k.Alg.keyType() {
			return nil, fmt.Errorf("keys: key %s is a %s key but is marked %s", k.KID, entry.Kty, k.Alg)
		}
		entry.Kid, entry.Use, entry.Alg = k.KID, "sig", string(k.Alg)
		set.Keys = append(set.Keys, entry)
		snap.verifiers[k.KID] = verifier{public: pub, method: k.Alg.method()}

		if k.Private == nil {
			continue
		}
		signer, err := openPrivate(k, pub, s)
		if err != nil {
			return nil, err
		}
		if k.State == StateActive {
			snap.signing = SigningKey{KID: k.KID, Method: k.Alg.method(), Key: signer}
		}
	}
	if snap.signing.Key == nil {
		return nil, errors.New("keys: key ring has no active key")
	}
	jwks, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("keys: render JWKS: %w", err)
	}
	snap.jwks = jwks
	return snap, nil
}

func publishOrder(all []storedKey) []storedKey {
	rank := map[State]int{StateActive: 0, StateNext: 1, StateRetiring: 2}
	var out []storedKey
	for _, k := range all {
		if k.State.published() {
			out = append(out, k)
		}
	}
	slices.SortStableFunc(out, func(a, b storedKey) int {
		if d := rank[a.State] - rank[b.State]; d != 0 {
			return d
		}
		return b.RetiringSince.Compare(a.RetiringSince)
	})
	return out
}

func openPrivate(k storedKey, pub crypto.PublicKey, s *sealer) (crypto.Signer, error) {
	pkcs8, err := s.open(k.KID, k.Private)
	if err != nil {
		return nil, err
	}
	parsed, err := x509.ParsePKCS8PrivateKey(pkcs8)
	if err != nil {
		return nil, fmt.Errorf("keys: key %s: parse private key: %w", k.KID, err)
	}
	signer, ok := parsed.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("keys: key %s: private key cannot sign", k.KID)
	}
	if !publicEqual(signer.Public(), pub) {
		return nil, fmt.Errorf("keys: key %s: private key does not match its public key", k.KID)
	}
	return signer, nil
}

func publicEqual(a, b crypto.PublicKey) bool {
	eq, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(b)
}

// sameRecord reports whether raw is what snap was built from.
func (snap *snapshot) sameRecord(raw []byte) bool {
	return snap != nil && bytes.Equal(snap.raw, raw)
}
