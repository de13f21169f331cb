package secret

import (
	"errors"
	"hash/crc32"
	"strings"
)

// APIKeyPrefix starts every API key. A fixed, distinctive prefix lets secret
// scanners (GitHub push protection, trufflehog, gitleaks) recognise a leaked
// key, and lets the gateway tell an API key from a JWT without parsing.
const APIKeyPrefix = "sk_scim_"

const (
	apiKeyIDLen       = 16
	apiKeyChecksumLen = 6
	// APIKeyLen is the length of every API key scimgate issues.
	APIKeyLen = len(APIKeyPrefix) + apiKeyIDLen + 1 + SecretLen + apiKeyChecksumLen
)

// ErrNotAPIKey reports a string that is not shaped like a scimgate API key.
var ErrNotAPIKey = errors.New("secret: not a scimgate API key")

// NewAPIKey returns a new key "sk_scim_<id>_<secret><checksum>" and its id.
//
// The id ([0-9a-z]{16}) is public: it names the key in listings and logs and
// is how the key is found in the store. The secret part carries 256 bits.
// The trailing CRC-32 (base62) lets scanners and the gateway reject typos and
// random strings without a store lookup; it adds no security.
func NewAPIKey() (key, id string) {
	id = NewLowerID(apiKeyIDLen)
	body := APIKeyPrefix + id + "_" + New()
	return body + checksum(body), id
}

// ParseAPIKey splits a presented key into its id and the whole key, checking
// shape and checksum. It never touches the store.
func ParseAPIKey(key string) (id string, err error) {
	if len(key) != APIKeyLen || !strings.HasPrefix(key, APIKeyPrefix) {
		return "", ErrNotAPIKey
	}
	rest := key[len(APIKeyPrefix):]
	id, tail := rest[:apiKeyIDLen], rest[apiKeyIDLen:]
	if tail[0] != '_' || !isBase62(tail[1:]) {
		return "", ErrNotAPIKey
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z') {
			return "", ErrNotAPIKey
		}
	}
	body := key[:len(key)-apiKeyChecksumLen]
	if checksum(body) != key[len(key)-apiKeyChecksumLen:] {
		return "", ErrNotAPIKey
	}
	return id, nil
}

// LooksLikeAPIKey is the cheap prefix test used to route a credential to the
// API-key authenticator rather than the JWT one.
func LooksLikeAPIKey(s string) bool { return strings.HasPrefix(s, APIKeyPrefix) }

func checksum(s string) string {
	v := crc32.ChecksumIEEE([]byte(s))
	var out [apiKeyChecksumLen]byte
	for i := len(out) - 1; i >= 0; i-- {
		out[i] = alphabet[v%62]
		v /= 62
	}
	return string(out[:])
}

func isBase62(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}
