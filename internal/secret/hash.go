package secret

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ErrMalformedHash reports a stored hash that is not in a format this package writes.
var ErrMalformedHash = errors.New("secret: malformed stored hash")

// ErrWrongPepper reports a stored hash made with a pepper other than the
// current one, which happens when SCIMGATE_MASTER_KEY changed.
var ErrWrongPepper = errors.New("secret: stored hash was made with a different master key")

const hmacID = "hmac-sha256"

// b64 is unpadded standard base64, as the PHC string format specifies.
var b64 = base64.RawStdEncoding

// Hasher turns machine-generated secrets into keyed hashes and checks them.
//
// A fast keyed hash is the right tool for 256-bit random secrets: nobody can
// guess them, so a slow KDF would only turn every failed attempt into CPU
// load (see docs: HMAC ≈ 1 µs vs bcrypt ≈ 57 ms). The key (pepper) lives only
// in memory, derived from the master key, so a stolen store file alone is
// useless for offline checks.
//
// Stored form, in the PHC string style:
//
//	$hmac-sha256$k=<pepper id>$<salt>$<mac>
//
// where mac = HMAC-SHA256(pepper, salt ‖ secret). The pepper id names which
// master key made the hash so that a mismatch is reported, not mistaken for
// a wrong secret.
type Hasher struct {
	pepper   []byte
	pepperID string
}

// NewHasher derives the pepper from the master key.
func NewHasher(masterKey []byte) (*Hasher, error) {
	if len(masterKey) < 32 {
		return nil, fmt.Errorf("secret: master key must be at least 32 bytes, got %d", len(masterKey))
	}
	pepper, err := hkdf.Key(sha256.New, masterKey, nil, "scimgate secret pepper v1", 32)
	if err != nil {
		return nil, fmt.Errorf("secret: derive pepper: %w", err)
	}
	fp := sha256.Sum256(append([]byte("scimgate pepper id v1:"), pepper...))
	return &Hasher{pepper: pepper, pepperID: base64.RawURLEncoding.EncodeToString(fp[:6])}, nil
}

// Hash returns the stored form of secret.
func (h *Hasher) Hash(secret string) string {
	var salt [16]byte
	_, _ = rand.Read(salt[:]) // never fails (Go 1.24+)
	return "$" + hmacID + "$k=" + h.pepperID + "$" + b64.EncodeToString(salt[:]) + "$" + b64.EncodeToString(h.mac(salt[:], secret))
}

// Verify reports whether presented matches the stored hash, in time that does
// not depend on where the two differ.
func (h *Hasher) Verify(stored, presented string) (bool, error) {
	p, err := parseHMAC(stored)
	if err != nil {
		return false, err
	}
	if p.pepperID != h.pepperID {
		return false, ErrWrongPepper
	}
	return hmac.Equal(p.mac, h.mac(p.salt, presented)), nil
}

// VerifyAny reports whether presented matches any of the stored hashes. It
// checks every hash, without stopping at the first match, so the time taken
// does not reveal which (or whether an earlier) one matched.
func (h *Hasher) VerifyAny(stored []string, presented string) (index int, err error) {
	index = -1
	for i, s := range stored {
		ok, verr := h.Verify(s, presented)
		if verr != nil {
			err = verr
			continue
		}
		if subtle.ConstantTimeEq(int32(boolInt(ok)), 1) == 1 {
			index = i
		}
	}
	if index >= 0 {
		return index, nil
	}
	return -1, err
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (h *Hasher) mac(salt []byte, secret string) []byte {
	m := hmac.New(sha256.New, h.pepper)
	m.Write(salt)
	io.WriteString(m, secret)
	return m.Sum(nil)
}

type hmacHash struct {
	pepperID  string
	salt, mac []byte
}

// parseHMAC parses "$hmac-sha256$k=<id>$<salt>$<mac>".
func parseHMAC(s string) (hmacHash, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 5 || parts[0] != "" || parts[1] != hmacID || !strings.HasPrefix(parts[2], "k=") {
		return hmacHash{}, ErrMalformedHash
	}
	salt, err1 := b64.DecodeString(parts[3])
	mac, err2 := b64.DecodeString(parts[4])
	if err1 != nil || err2 != nil || len(salt) < 16 || len(mac) != sha256.Size {
		return hmacHash{}, ErrMalformedHash
	}
	return hmacHash{pepperID: parts[2][2:], salt: salt, mac: mac}, nil
}
