// Package secret generates machine secrets and identifiers, and stores and
// checks them as self-describing keyed hashes so that no secret is ever kept
// in clear.
package secret

import (
	"crypto/rand"
	"math/big"
)

// alphabet is the base62 set: a subset of RFC 3986 "unreserved", so secrets and
// identifiers survive every way clients encode HTTP Basic credentials and
// can be selected with a double click.
const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

const lowerAlphabet = "0123456789abcdefghijklmnopqrstuvwxyz"

// SecretLen is the length of a generated secret: 43 base62 characters carry
// 256 bits (62^43 > 2^256).
const SecretLen = 43

// New returns a fresh 256-bit secret from crypto/rand, encoded in base62.
func New() string {
	return randomString(SecretLen, alphabet)
}

// NewID returns a random identifier of n base62 characters.
func NewID(n int) string {
	return randomString(n, alphabet)
}

// NewLowerID returns a random identifier of n characters from [0-9a-z]; used
// where identifiers may be read aloud or compared case-insensitively.
func NewLowerID(n int) string {
	return randomString(n, lowerAlphabet)
}

func randomString(n int, chars string) string {
	// Rejection sampling through rand.Int keeps every character uniform.
	out := make([]byte, n)
	max := big.NewInt(int64(len(chars)))
	for i := range out {
		v, err := rand.Int(rand.Reader, max)
		if err != nil {
			// crypto/rand never fails on supported platforms (Go 1.24+ crashes
			// the program instead of returning an error).
			panic("secret: crypto/rand failed: " + err.Error())
		}
		out[i] = chars[v.Int64()]
	}
	return string(out)
}
