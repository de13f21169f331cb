package secret

import (
	"bytes"
	"errors"
	"net/url"
	"strings"
	"testing"
)

func testHasher(t testing.TB, seed byte) *Hasher {
	t.Helper()
	h, err := NewHasher(bytes.Repeat([]byte{seed}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestNewSecretIsUnreservedAnd256Bits(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		s := New()
		if len(s) != SecretLen || url.QueryEscape(s) != s || url.PathEscape(s) != s {
			t.Fatalf("secret %q is not %d unreserved characters", s, SecretLen)
		}
		if seen[s] {
			t.Fatalf("duplicate secret %q", s)
		}
		seen[s] = true
	}
}

func TestHasherVerify(t *testing.T) {
	h := testHasher(t, 1)
	sec := New()
	stored := h.Hash(sec)
	if strings.Contains(stored, sec) {
		t.Fatal("stored hash contains the secret")
	}
	if h.Hash(sec) == stored {
		t.Fatal("two hashes of one secret are equal: salt missing")
	}
	for _, tc := range []struct {
		name      string
		hasher    *Hasher
		stored    string
		presented string
		ok        bool
		err       error
	}{
		{"right secret", h, stored, sec, true, nil},
		{"wrong secret", h, stored, New(), false, nil},
		{"empty presented", h, stored, "", false, nil},
		{"prefix of secret", h, stored, sec[:42], false, nil},
		{"other master key", testHasher(t, 2), stored, sec, false, ErrWrongPepper},
		{"empty stored", h, "", sec, false, ErrMalformedHash},
		{"plaintext stored", h, sec, sec, false, ErrMalformedHash},
		{"truncated mac", h, stored[:len(stored)-4], sec, false, ErrMalformedHash},
		{"bcrypt stored", h, "$2a$10$abcdefghijklmnopqrstuuv6Qe7oNY7yTVtmk7TEpZ1QH0lB9hQa", sec, false, ErrMalformedHash},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok, err := tc.hasher.Verify(tc.stored, tc.presented)
			if ok != tc.ok || !errors.Is(err, tc.err) {
				t.Fatalf("Verify = %v, %v; want %v, %v", ok, err, tc.ok, tc.err)
			}
		})
	}
}

func TestVerifyAnyChecksEveryHash(t *testing.T) {
	h := testHasher(t, 1)
	a, b, c := New(), New(), New()
	stored := []string{h.Hash(a), "garbage", h.Hash(b)}
	for _, tc := range []struct {
		presented string
		want      int
	}{{a, 0}, {b, 2}, {c, -1}} {
		got, _ := h.VerifyAny(stored, tc.presented)
		if got != tc.want {
			t.Errorf("VerifyAny(%q) = %d, want %d", tc.presented, got, tc.want)
		}
	}
	if i, err := h.VerifyAny(nil, a); i != -1 || err != nil {
		t.Errorf("VerifyAny(nil) = %d, %v", i, err)
	}
}

func TestAPIKeyRoundTrip(t *testing.T) {
	key, id := NewAPIKey()
	if len(key) != APIKeyLen || !LooksLikeAPIKey(key) || url.QueryEscape(key) != key {
		t.Fatalf("bad key shape %q", key)
	}
	got, err := ParseAPIKey(key)
	if err != nil || got != id {
		t.Fatalf("ParseAPIKey = %q, %v; want %q", got, err, id)
	}
	flipped := []byte(key)
	flipped[len(APIKeyPrefix)+20] ^= 1 // one typo in the secret part
	for name, bad := range map[string]string{
		"empty":        "",
		"jwt":          "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.sig",
		"typo":         string(flipped),
		"truncated":    key[:len(key)-1],
		"extended":     key + "a",
		"upper id":     APIKeyPrefix + strings.ToUpper(key[len(APIKeyPrefix):len(APIKeyPrefix)+16]) + key[len(APIKeyPrefix)+16:],
		"other prefix": "sk_live_" + key[len(APIKeyPrefix):],
	} {
		if _, err := ParseAPIKey(bad); !errors.Is(err, ErrNotAPIKey) {
			t.Errorf("%s: ParseAPIKey(%q) err = %v, want ErrNotAPIKey", name, bad, err)
		}
	}
}

func TestPassword(t *testing.T) {
	p := PasswordParams{MemoryKiB: 64, Time: 1, Threads: 1}
	stored := HashPassword("correct horse", p)
	for _, tc := range []struct {
		stored, pw string
		ok         bool
		err        error
	}{
		{stored, "correct horse", true, nil},
		{stored, "correct horsf", false, nil},
		{stored, "", false, nil},
		{"$argon2id$v=19$m=4294967295,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "x", false, ErrMalformedHash},
		{"$argon2id$v=18$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "x", false, ErrMalformedHash},
		{"plain", "plain", false, ErrMalformedHash},
	} {
		ok, err := VerifyPassword(tc.stored, tc.pw)
		if ok != tc.ok || !errors.Is(err, tc.err) {
			t.Errorf("VerifyPassword(%q, %q) = %v, %v; want %v, %v", tc.stored, tc.pw, ok, err, tc.ok, tc.err)
		}
	}
	if !strings.HasPrefix(HashPassword("x", DefaultPasswordParams()), "$argon2id$v=19$m=65536,t=1,p=2$") {
		t.Error("default parameters changed")
	}
}

func FuzzParseAPIKey(f *testing.F) {
	key, _ := NewAPIKey()
	f.Add(key)
	f.Add("sk_scim_")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseAPIKey(s)
		if err == nil && (len(id) != apiKeyIDLen || !strings.Contains(s, id)) {
			t.Fatalf("accepted %q with id %q", s, id)
		}
	})
}

func FuzzVerifyHash(f *testing.F) {
	h := testHasher(f, 1)
	f.Add(h.Hash("secret"), "secret")
	f.Add("$hmac-sha256$k=$$", "")
	f.Fuzz(func(t *testing.T, stored, presented string) {
		ok, err := h.Verify(stored, presented)
		if ok && err != nil {
			t.Fatal("ok with error")
		}
	})
}

func FuzzVerifyPassword(f *testing.F) {
	f.Add(HashPassword("pw", PasswordParams{MemoryKiB: 8, Time: 1, Threads: 1}), "pw")
	f.Add("$argon2id$v=19$m=8,t=1,p=1$$", "")
	f.Fuzz(func(t *testing.T, stored, pw string) {
		// Keep fuzzed costs small: the parser allows up to 1 GiB, which is a
		// deliberate ceiling for real hashes, not something to allocate per input.
		if p, _, _, err := parseArgon2id(stored); err == nil && (p.MemoryKiB > 4096 || p.Time > 2) {
			return
		}
		_, _ = VerifyPassword(stored, pw)
	})
}

func BenchmarkHasherVerify(b *testing.B) {
	h := testHasher(b, 1)
	sec := New()
	stored := h.Hash(sec)
	b.ReportAllocs()
	for b.Loop() {
		if ok, _ := h.Verify(stored, sec); !ok {
			b.Fatal("mismatch")
		}
	}
}

func BenchmarkParseAPIKey(b *testing.B) {
	key, _ := NewAPIKey()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseAPIKey(key); err != nil {
			b.Fatal(err)
		}
	}
}
