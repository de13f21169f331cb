package accesstoken

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// Sign writes byte for byte what golang-jwt with encoding/json wrote before
// it: the header map with its keys sorted, the claims in field order.
func TestSignWritesWhatEncodingJSONWould(t *testing.T) {
	k := newTestKeys(t)
	base := validClaims(time.Unix(1_800_000_000, 0))
	tests := []struct {
		name   string
		kid    string
		change func(c *Claims)
	}{
		{"entra token", "ec", func(*Claims) {}},
		{"several audiences", "ed", func(c *Claims) { c.Audience = Audience{aud, "https://b.example/scim/v2"} }},
		{"no audience", "ec", func(c *Claims) { c.Audience = nil }},
		{"empty audience list", "ec", func(c *Claims) { c.Audience = Audience{} }},
		{"code flow", "rsa", func(c *Claims) { c.Subject, c.AuthTime, c.NotBefore = "ann@acme.example", 1_799_999_000, 1_800_000_000 }},
		{"characters to escape", "ec", func(c *Claims) {
			c.Subject, c.Scope, c.TenantID = `a"b\c`, "<script>&", "é\u2028\x01\x7f"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := *base
			tt.change(&c)
			key := k.keys[tt.kid]
			token, err := Sign(&c, key)
			if err != nil {
				t.Fatal(err)
			}
			parts := strings.Split(token, ".")
			if len(parts) != 3 {
				t.Fatalf("token %q has %d parts", token, len(parts))
			}
			wantHeader, _ := json.Marshal(map[string]any{"alg": key.Method.Alg(), "kid": key.KID, "typ": Type})
			wantClaims, _ := json.Marshal(&c)
			for i, want := range [][]byte{wantHeader, wantClaims} {
				got, err := base64.RawURLEncoding.DecodeString(parts[i])
				if err != nil || string(got) != string(want) {
					t.Errorf("part %d:\n got %s\nwant %s", i, got, want)
				}
			}
			if err := key.Method.Verify(parts[0]+"."+parts[1], mustDecode(t, parts[2]), key.Key.Public()); err != nil {
				t.Errorf("signature: %v", err)
			}
		})
	}
}

func mustDecode(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
