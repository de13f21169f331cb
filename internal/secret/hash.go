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
	"hash"
	"io"
	"strings"
	"sync"
	"unsafe"
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
	// macs holds keyed HMAC states for reuse: a reset HMAC starts from its
	// saved keyed state instead of hashing the pepper pads again.
	macs sync.Pool // hash.Hash
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
	h := &Hasher{pepper: pepper, pepperID: base64.RawURLEncoding.EncodeToString(fp[:6])}
	h.macs.New = func() any { return hmac.New(sha256.New, h.pepper) }
	return h, nil
}

// Hash returns the stored form of secret.
func (h *Hasher) Hash(secret string) string {
	var salt [16]byte
	_, _ = rand.Read(salt[:]) // never fails (Go 1.24+)
	var mac [sha256.Size]byte
	return "$" + hmacID + "$k=" + h.pepperID + "$" + b64.EncodeToString(salt[:]) + "$" + b64.EncodeToString(h.mac(mac[:0], salt[:], secret))
}

// Verify reports whether presented matches the stored hash, in time that does
// not depend on where the two differ.
func (h *Hasher) Verify(stored, presented string) (bool, error) {
	var p hmacHash
	if err := p.parse(stored); err != nil {
		return false, err
	}
	if p.pepperID != h.pepperID {
		return false, ErrWrongPepper
	}
	var mac [sha256.Size]byte
	return hmac.Equal(p.mac, h.mac(mac[:0], p.salt, presented)), nil
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

// mac appends HMAC-SHA256(pepper, salt ‖ secret) to dst.
func (h *Hasher) mac(dst, salt []byte, secret string) []byte {
	m := h.macs.Get().(hash.Hash)
	m.Reset()
	m.Write(salt)
	io.WriteString(m, secret)
	dst = m.Sum(dst)
	h.macs.Put(m)
	return dst
}

// hmacHash is a parsed stored hash; salt and mac point into its own
// arrays when they fit, so that parsing allocates nothing.
type hmacHash struct {
	pepperID  string
	salt, mac []byte
	saltBuf   [64]byte
	macBuf    [sha256.Size]byte
}

// parse reads "$hmac-sha256$k=<id>$<salt>$<mac>".
func (p *hmacHash) parse(s string) error {
	rest, ok := strings.CutPrefix(s, "$"+hmacID+"$k=")
	if !ok {
		return ErrMalformedHash
	}
	var salt, mac string
	p.pepperID, rest, ok = strings.Cut(rest, "$")
	if ok {
		salt, mac, ok = strings.Cut(rest, "$")
	}
	if !ok || strings.Contains(mac, "$") {
		return ErrMalformedHash
	}
	var err1, err2 error
	p.salt, err1 = decodeInto(p.saltBuf[:0], salt)
	p.mac, err2 = decodeInto(p.macBuf[:0], mac)
	if err1 != nil || err2 != nil || len(p.salt) < 16 || len(p.mac) != sha256.Size {
		return ErrMalformedHash
	}
	return nil
}

// decodeInto decodes s after dst's contents, in dst's array when it fits.
// Decoding only reads s, so it is handed over without a copy.
func decodeInto(dst []byte, s string) ([]byte, error) {
	return b64.AppendDecode(dst, unsafe.Slice(unsafe.StringData(s), len(s)))
}
