package secret

import (
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// PasswordParams are the argon2id cost parameters for human passwords.
type PasswordParams struct {
	MemoryKiB uint32
	Time      uint32
	Threads   uint8
}

// DefaultPasswordParams follow RFC 9106's second recommended option scaled to
// a 2-core machine: 64 MiB, one pass, two lanes (≈30 ms per check). Sign-in is
// rare and throttled, so the cost lands on attackers, not on provisioning.
func DefaultPasswordParams() PasswordParams {
	return PasswordParams{MemoryKiB: 64 * 1024, Time: 1, Threads: 2}
}

const argonID = "argon2id"

// HashPassword returns "$argon2id$v=19$m=…,t=…,p=…$<salt>$<hash>" (PHC format).
func HashPassword(password string, p PasswordParams) string {
	var salt [16]byte
	_, _ = rand.Read(salt[:])
	sum := argon2.IDKey([]byte(password), salt[:], p.Time, p.MemoryKiB, p.Threads, 32)
	return fmt.Sprintf("$%s$v=%d$m=%d,t=%d,p=%d$%s$%s", argonID, argon2.Version, p.MemoryKiB, p.Time, p.Threads,
		b64.EncodeToString(salt[:]), b64.EncodeToString(sum))
}

// maxPasswordMemoryKiB bounds what a stored hash may ask for, so a tampered
// record cannot make one check allocate gigabytes.
const maxPasswordMemoryKiB = 1 << 20

// VerifyPassword checks password against a stored argon2id hash in constant time.
func VerifyPassword(stored, password string) (bool, error) {
	p, salt, sum, err := parseArgon2id(stored)
	if err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, uint32(len(sum)))
	return subtle.ConstantTimeCompare(got, sum) == 1, nil
}

func parseArgon2id(s string) (PasswordParams, []byte, []byte, error) {
	var p PasswordParams
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != argonID || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, nil, nil, ErrMalformedHash
	}
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		n, err := strconv.ParseUint(v, 10, 32)
		if !ok || err != nil {
			return p, nil, nil, ErrMalformedHash
		}
		switch k {
		case "m":
			p.MemoryKiB = uint32(n)
		case "t":
			p.Time = uint32(n)
		case "p":
			if n > 255 {
				return p, nil, nil, ErrMalformedHash
			}
			p.Threads = uint8(n)
		default:
			return p, nil, nil, ErrMalformedHash
		}
	}
	salt, err1 := b64.DecodeString(parts[4])
	sum, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(salt) < 8 || len(sum) < 16 || len(sum) > 64 ||
		p.Time < 1 || p.Time > 16 || p.Threads < 1 || p.MemoryKiB < 8*uint32(p.Threads) || p.MemoryKiB > maxPasswordMemoryKiB {
		return p, nil, nil, ErrMalformedHash
	}
	return p, salt, sum, nil
}
