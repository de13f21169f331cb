package accesstoken

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/scimgate/scimgate/keys"
)

const (
	iss = "https://scim.example.com"
	aud = "https://scim.example.com/scim/v2"
)

type testKeys struct {
	keys map[string]keys.SigningKey
}

func newTestKeys(t testing.TB) *testKeys {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	rs, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return &testKeys{keys: map[string]keys.SigningKey{
		"ec":  {KID: "ec", Method: jwt.SigningMethodES256, Key: ec},
		"ed":  {KID: "ed", Method: jwt.SigningMethodEdDSA, Key: ed},
		"rsa": {KID: "rsa", Method: jwt.SigningMethodRS256, Key: rs},
	}}
}

func (k *testKeys) keyfunc(t *jwt.Token) (any, error) {
	kid, _ := t.Header["kid"].(string)
	sk, ok := k.keys[kid]
	if !ok {
		return nil, errors.New("unknown kid")
	}
	if t.Method.Alg() != sk.Method.Alg() {
		return nil, errors.New("alg does not match the key")
	}
	return sk.Key.Public(), nil
}

func validClaims(now time.Time) *Claims {
	return &Claims{Issuer: iss, Subject: "cid", Audience: Audience{aud}, ClientID: "cid", Scope: "scim.full",
		ID: NewID(), IssuedAt: now.Unix(), ExpiresAt: now.Add(time.Hour).Unix(), TenantID: "acme"}
}

func b64(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

func TestVerify(t *testing.T) {
	k := newTestKeys(t)
	now := time.Unix(1_800_000_000, 0)
	v := NewVerifier(iss, 30*time.Second, k.keyfunc, func() time.Time { return now })
	sign := func(c *Claims, kid string) string {
		s, err := Sign(c, k.keys[kid])
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	with := func(f func(*Claims)) *Claims {
		c := validClaims(now)
		f(c)
		return c
	}
	ecPub, _ := x509.MarshalPKIXPublicKey(k.keys["rsa"].Key.Public())
	hsWithPublicKey, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, validClaims(now)).SignedString(ecPub)
	typJWT := jwt.NewWithClaims(jwt.SigningMethodES256, validClaims(now))
	typJWT.Header["kid"] = "ec"
	typJWTToken, _ := typJWT.SignedString(k.keys["ec"].Key)
	algConfusion := jwt.NewWithClaims(jwt.SigningMethodEdDSA, validClaims(now))
	algConfusion.Header["kid"] = "ec"
	algConfusion.Header["typ"] = Type
	algConfusionToken, _ := algConfusion.SignedString(k.keys["ed"].Key)
	good := sign(validClaims(now), "ec")
	parts := strings.Split(good, ".")
	tampered := parts[0] + "." + b64(with(func(c *Claims) { c.TenantID = "globex" })) + "." + parts[2]

	for _, tc := range []struct {
		name, token, audience, want string
	}{
		{"ES256", good, aud, ""},
		{"EdDSA", sign(validClaims(now), "ed"), aud, ""},
		{"RS256", sign(validClaims(now), "rsa"), aud, ""},
		{"any audience", good, "", ""},
		{"application/at+jwt typ", func() string {
			tk := jwt.NewWithClaims(jwt.SigningMethodES256, validClaims(now))
			tk.Header["kid"], tk.Header["typ"] = "ec", "application/at+jwt"
			s, _ := tk.SignedString(k.keys["ec"].Key)
			return s
		}(), aud, ""},
		{"within leeway after exp", sign(with(func(c *Claims) { c.ExpiresAt = now.Add(-10 * time.Second).Unix() }), "ec"), aud, ""},
		{"alg none", b64(map[string]string{"alg": "none", "typ": Type, "kid": "ec"}) + "." + b64(validClaims(now)) + ".", aud, "algorithm not allowed"},
		{"HS256 with the public key", hsWithPublicKey, aud, "algorithm not allowed"},
		{"alg of another key", algConfusionToken, aud, "alg does not match the key"},
		{"typ JWT", typJWTToken, aud, "typ is not at+jwt"},
		{"unknown kid", func() string { sk := k.keys["ec"]; sk.KID = "nope"; s, _ := Sign(validClaims(now), sk); return s }(), aud, "unknown kid"},
		{"tampered payload", tampered, aud, "bad signature"},
		{"wrong audience", good, "https://other.example/scim", "not issued for this audience"},
		{"wrong issuer", sign(with(func(c *Claims) { c.Issuer = "https://evil.example" }), "ec"), aud, "wrong issuer"},
		{"expired", sign(with(func(c *Claims) { c.ExpiresAt = now.Add(-31 * time.Second).Unix() }), "ec"), aud, "expired"},
		{"no exp", sign(with(func(c *Claims) { c.ExpiresAt = 0 }), "ec"), aud, "no expiry"},
		{"nbf in future", sign(with(func(c *Claims) { c.NotBefore = now.Add(time.Minute).Unix() }), "ec"), aud, "not valid yet"},
		{"iat in future", sign(with(func(c *Claims) { c.IssuedAt = now.Add(time.Minute).Unix() }), "ec"), aud, "issued in the future"},
		{"no tenant", sign(with(func(c *Claims) { c.TenantID = "" }), "ec"), aud, "missing"},
		{"no jti", sign(with(func(c *Claims) { c.ID = "" }), "ec"), aud, "missing"},
		{"garbage", "not.a.jwt", aud, "malformed"},
		{"empty", "", aud, "malformed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := v.Verify(tc.token, tc.audience)
			if tc.want == "" {
				if err != nil || c.TenantID != "acme" {
					t.Fatalf("Verify = %+v, %v", c, err)
				}
				return
			}
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Verify error = %v, want ErrInvalid containing %q", err, tc.want)
			}
		})
	}
}

func TestAudienceJSON(t *testing.T) {
	for _, tc := range []struct {
		aud  Audience
		want string
	}{{Audience{"a"}, `"a"`}, {Audience{"a", "b"}, `["a","b"]`}} {
		b, _ := json.Marshal(tc.aud)
		if string(b) != tc.want {
			t.Errorf("marshal %v = %s", tc.aud, b)
		}
		var back Audience
		if err := json.Unmarshal(b, &back); err != nil || len(back) != len(tc.aud) {
			t.Errorf("round trip %s = %v, %v", b, back, err)
		}
	}
	var a Audience
	if err := json.Unmarshal([]byte(`7`), &a); err == nil {
		t.Error("aud 7 accepted")
	}
}

func TestHeaderAndClaimsShape(t *testing.T) {
	k := newTestKeys(t)
	now := time.Now()
	tok, err := Sign(validClaims(now), k.keys["ec"])
	if err != nil {
		t.Fatal(err)
	}
	var hdr map[string]any
	b, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	json.Unmarshal(b, &hdr)
	if hdr["typ"] != "at+jwt" || hdr["kid"] != "ec" || hdr["alg"] != "ES256" || len(hdr) != 3 {
		t.Fatalf("header %v", hdr)
	}
	var claims map[string]any
	b, _ = base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
	json.Unmarshal(b, &claims)
	for _, c := range []string{"iss", "sub", "aud", "client_id", "scope", "jti", "iat", "exp", "tenant_id"} {
		if _, ok := claims[c]; !ok {
			t.Errorf("claim %s missing", c)
		}
	}
}

func FuzzVerify(f *testing.F) {
	k := newTestKeys(f)
	now := time.Unix(1_800_000_000, 0)
	v := NewVerifier(iss, 30*time.Second, k.keyfunc, func() time.Time { return now })
	good, _ := Sign(validClaims(now), k.keys["ec"])
	f.Add(good)
	f.Add("e30.e30.")
	f.Add("")
	f.Fuzz(func(t *testing.T, token string) {
		c, err := v.Verify(token, aud)
		if err == nil && token != good && c.TenantID != "acme" {
			t.Fatalf("accepted forged token %q", token)
		}
	})
}

func BenchmarkSignES256(b *testing.B) {
	k := newTestKeys(b)
	c := validClaims(time.Now())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Sign(c, k.keys["ec"]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	k := newTestKeys(b)
	v := NewVerifier(iss, 30*time.Second, k.keyfunc, nil)
	for _, kid := range []string{"ec", "ed", "rsa"} {
		tok, _ := Sign(validClaims(time.Now()), k.keys[kid])
		b.Run(kid, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(tok, aud); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

var _ crypto.Signer = (*ecdsa.PrivateKey)(nil)
