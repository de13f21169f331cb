package keys

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"

	"golang.org/x/crypto/hkdf"
)

// ErrMasterKeyMismatch reports a key ring encrypted under another master key.
var ErrMasterKeyMismatch = errors.New("keys: master key does not match the one that encrypted the key ring")

// HKDF info strings: each derived key has one purpose, and the version lets a
// future format derive fresh keys from the same master key.
const (
	sealKeyInfo  = "scimgate keys v1: private key encryption (AES-256-GCM)"
	checkKeyInfo = "scimgate keys v1: master key check value"
)

// sealFormat is the only format written; it is stored in every sealed key.
const (
	sealVersion = 1
	sealAlg     = "A256GCM"
)

// sealer encrypts private keys at rest under a key derived from the master key.
type sealer struct {
	aead cipher.AEAD
	// check identifies the master key without revealing it, so a wrong master
	// key is told apart from an altered record.
	check []byte
}

// sealedKey is one encrypted private key as stored.
type sealedKey struct {
	V     int    `json:"v"`
	Alg   string `json:"alg"`
	Nonce []byte `json:"nonce"`
	CT    []byte `json:"ct"`
}

func newSealer(master []byte) (*sealer, error) {
	if len(master) < MasterKeySize {
		return nil, fmt.Errorf("keys: master key has %d bytes, need at least %d", len(master), MasterKeySize)
	}
	encKey, err := derive(master, sealKeyInfo, 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(encKey)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	check, err := derive(master, checkKeyInfo, 16)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead, check: check}, nil
}

func derive(master []byte, info string, n int) ([]byte, error) {
	out := make([]byte, n)
	// The master key is uniformly random, so HKDF needs no salt (RFC 5869 §3.1).
	if _, err := io.ReadFull(hkdf.New(sha256.New, master, nil, []byte(info)), out); err != nil {
		return nil, fmt.Errorf("keys: derive key: %w", err)
	}
	return out, nil
}

// matches reports whether a ring's stored check value belongs to this master key.
func (s *sealer) matches(check []byte) bool {
	return subtle.ConstantTimeCompare(s.check, check) == 1
}

// seal encrypts a PKCS#8 private key, binding it to kid so a ciphertext moved
// to another key record no longer opens.
func (s *sealer) seal(kid string, pkcs8 []byte) (*sealedKey, error) {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("keys: nonce: %w", err)
	}
	return &sealedKey{V: sealVersion, Alg: sealAlg, Nonce: nonce, CT: s.aead.Seal(nil, nonce, pkcs8, []byte(kid))}, nil
}

func (s *sealer) open(kid string, k *sealedKey) ([]byte, error) {
	if k.V != sealVersion || k.Alg != sealAlg {
		return nil, fmt.Errorf("keys: private key %s is sealed in an unknown format (v%d %q)", kid, k.V, k.Alg)
	}
	if len(k.Nonce) != s.aead.NonceSize() {
		return nil, fmt.Errorf("keys: private key %s has a malformed nonce", kid)
	}
	pkcs8, err := s.aead.Open(nil, k.Nonce, k.CT, []byte(kid))
	if err != nil {
		// The master key check passed, so the record itself was changed.
		return nil, fmt.Errorf("keys: private key %s fails authentication: the key ring record was altered", kid)
	}
	return pkcs8, nil
}
