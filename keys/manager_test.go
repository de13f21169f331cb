package keys

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"math/big"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/scimgate/scimgate/internal/store"
	"github.com/scimgate/scimgate/internal/testkit"
)

const (
	testIssuer   = "https://as.example.com"
	testAudience = "https://scim.example.com/scim/v2"
)

var allAlgorithms = []Algorithm{ES256, EdDSA, RS256}

// forcedRotationGap lets a forced rotation follow the previous one (or the
// bootstrap): more than the tests' RefreshInterval plus MinRefetch.
const forcedRotationGap = 6 * time.Minute

// newClock is the injected clock: tests move time, never sleep for it.
func newClock() *testkit.Clock { return testkit.StoppedClock(t0) }

func testMaster(t testing.TB) []byte {
	t.Helper()
	k, err := hex.DecodeString(keyHex)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// newManager returns a started Manager whose background refresh is too slow
// to interfere; tests drive refreshes through sync.
func newManager(t testing.TB, kv store.KV, clock *testkit.Clock, opts Options) *Manager {
	t.Helper()
	m := newUnstarted(t, kv, clock, opts)
	if err := m.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	return m
}

func newUnstarted(t testing.TB, kv store.KV, clock *testkit.Clock, opts Options) *Manager {
	t.Helper()
	opts.Clock = clock.Now
	opts.Logger = slog.New(slog.DiscardHandler)
	opts.Replicated = true // the tests run several Managers on one store
	if opts.RefreshInterval == 0 {
		opts.RefreshInterval = 5 * time.Minute
	}
	m, err := New(kv, testMaster(t), opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(m.Close)
	return m
}

func sign(t testing.TB, m *Manager, clock *testkit.Clock) string {
	t.Helper()
	k, err := m.Signer()
	if err != nil {
		t.Fatalf("Signer: %v", err)
	}
	now := clock.Now()
	tok := jwt.NewWithClaims(k.Method, jwt.MapClaims{
		"iss": testIssuer, "aud": testAudience, "sub": "client", "client_id": "client",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": "j",
	})
	tok.Header["typ"] = "at+jwt"
	tok.Header["kid"] = k.KID
	s, err := tok.SignedString(k.Key)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return s
}

func verify(m *Manager, token string, clock *testkit.Clock) error {
	_, err := jwt.Parse(token, m.Keyfunc,
		jwt.WithValidMethods([]string{"ES256", "EdDSA", "RS256"}),
		jwt.WithIssuer(testIssuer), jwt.WithAudience(testAudience),
		jwt.WithExpirationRequired(), jwt.WithTimeFunc(clock.Now))
	return err
}

func kidOf(t testing.TB, token string) string {
	t.Helper()
	tok, _, err := jwt.NewParser().ParseUnverified(token, jwt.MapClaims{})
	if err != nil {
		t.Fatal(err)
	}
	return tok.Header["kid"].(string)
}

func listStates(t testing.TB, m *Manager) (map[State][]string, []KeyInfo) {
	t.Helper()
	infos, err := m.List(context.Background())
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	by := map[State][]string{}
	for _, k := range infos {
		by[k.State] = append(by[k.State], k.KID)
	}
	return by, infos
}

func TestSignVerifyRoundTrip(t *testing.T) {
	for _, alg := range allAlgorithms {
		t.Run(string(alg), func(t *testing.T) {
			eachBackend(t, func(t *testing.T, kv, _ store.KV) {
				clock := newClock()
				m := newManager(t, kv, clock, Options{Algorithm: alg})
				k, err := m.Signer()
				if err != nil {
					t.Fatal(err)
				}
				if k.Method.Alg() != string(alg) {
					t.Fatalf("method %s, want %s", k.Method.Alg(), alg)
				}
				if kid, _ := thumbprint(k.Key.Public()); kid != k.KID {
					t.Fatalf("kid %s is not the key's thumbprint %s", k.KID, kid)
				}
				token := sign(t, m, clock)
				if err := verify(m, token, clock); err != nil {
					t.Fatalf("verify: %v", err)
				}
				// A second replica on the same store verifies it too.
				other := newManager(t, kv, clock, Options{Algorithm: alg})
				if err := verify(other, token, clock); err != nil {
					t.Fatalf("verify on another Manager: %v", err)
				}
				tampered := token[:len(token)-4] + "AAAA"
				if err := verify(m, tampered, clock); !errors.Is(err, jwt.ErrTokenSignatureInvalid) {
					t.Fatalf("tampered token: err = %v", err)
				}
			})
		})
	}
}

func TestKeyfuncRefuses(t *testing.T) {
	kv := openKV(t)
	clock := newClock()
	m := newManager(t, kv, clock, Options{})
	active, _ := m.Signer()
	tests := []struct {
		name    string
		header  map[string]any
		method  jwt.SigningMethod
		wantErr error
	}{
		{name: "alg none", header: map[string]any{"alg": "none", "kid": active.KID}, method: jwt.SigningMethodNone},
		{name: "HS256 with a known kid", header: map[string]any{"alg": "HS256", "kid": active.KID}, method: jwt.SigningMethodHS256},
		{name: "RS256 with an ES256 kid", header: map[string]any{"alg": "RS256", "kid": active.KID}, method: jwt.SigningMethodRS256},
		{name: "ES384 with an ES256 kid", header: map[string]any{"alg": "ES384", "kid": active.KID}, method: jwt.SigningMethodES384},
		{name: "header and method disagree", header: map[string]any{"alg": "ES256", "kid": active.KID}, method: jwt.SigningMethodES384},
		{name: "no kid", header: map[string]any{"alg": "ES256"}, method: jwt.SigningMethodES256},
		{name: "kid not a string", header: map[string]any{"alg": "ES256", "kid": 7}, method: jwt.SigningMethodES256},
		{name: "unknown kid", header: map[string]any{"alg": "ES256", "kid": "nope"}, method: jwt.SigningMethodES256, wantErr: ErrUnknownKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key, err := m.Keyfunc(&jwt.Token{Header: tc.header, Method: tc.method})
			if err == nil || key != nil {
				t.Fatalf("Keyfunc returned %v, %v; want an error", key, err)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
		})
	}

	t.Run("HMAC signed with the public key", func(t *testing.T) {
		// The classic confusion attack: the published key used as an HMAC secret.
		pub, _, _ := m.PublicKey(context.Background(), active.KID)
		der, _ := x509.MarshalPKIXPublicKey(pub)
		for _, secret := range [][]byte{der, m.JWKS()} {
			tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": testIssuer})
			tok.Header["kid"] = active.KID
			s, err := tok.SignedString(secret)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := jwt.Parse(s, m.Keyfunc); err == nil {
				t.Fatal("an HS256 token verified")
			}
		}
	})
}

// TestJWKS checks the published set per algorithm: public members only,
// each key usable to verify, the active key first, re-rendered only on change.
func TestJWKS(t *testing.T) {
	allowed := []string{"kty", "kid", "use", "alg", "crv", "x", "y", "n", "e"}
	for _, alg := range allAlgorithms {
		t.Run(string(alg), func(t *testing.T) {
			kv := openKV(t)
			clock := newClock()
			m := newManager(t, kv, clock, Options{Algorithm: alg})
			clock.Advance(forcedRotationGap)
			if err := m.Rotate(context.Background()); err != nil {
				t.Fatal(err)
			}
			byState, _ := listStates(t, m)

			var set struct {
				Keys []map[string]any `json:"keys"`
			}
			if err := json.Unmarshal(m.JWKS(), &set); err != nil {
				t.Fatalf("JWKS is not JSON: %v", err)
			}
			var kids []string
			for _, k := range set.Keys {
				for member := range k {
					if !slices.Contains(allowed, member) {
						t.Fatalf("JWK has member %q: %v", member, k)
					}
				}
				if k["use"] != "sig" || k["alg"] != string(alg) {
					t.Fatalf("JWK use/alg = %v/%v", k["use"], k["alg"])
				}
				kid := k["kid"].(string)
				kids = append(kids, kid)
				want, method, err := m.PublicKey(context.Background(), kid)
				if err != nil || method.Alg() != string(alg) {
					t.Fatalf("PublicKey(%s) = %v, %v", kid, method, err)
				}
				if got := jwkPublicKey(t, k); !publicEqual(got, want) {
					t.Fatalf("JWK %s does not describe the key", kid)
				}
			}
			wantKids := []string{byState[StateActive][0], byState[StateNext][0], byState[StateRetiring][0]}
			if !slices.Equal(kids, wantKids) {
				t.Fatalf("JWKS kids %v, want active, next, retiring %v", kids, wantKids)
			}

			before := m.JWKS()
			if err := m.sync(context.Background()); err != nil {
				t.Fatal(err)
			}
			if after := m.JWKS(); &after[0] != &before[0] {
				t.Fatal("JWKS re-rendered although the ring did not change")
			}
		})
	}
}

// jwkPublicKey rebuilds a public key from its JWK members.
func jwkPublicKey(t *testing.T, k map[string]any) crypto.PublicKey {
	t.Helper()
	member := func(name string) []byte {
		b, err := base64.RawURLEncoding.DecodeString(k[name].(string))
		if err != nil {
			t.Fatalf("member %s: %v", name, err)
		}
		return b
	}
	switch k["kty"] {
	case "EC":
		if k["crv"] != "P-256" {
			t.Fatalf("crv %v", k["crv"])
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, member("x")...), member("y")...))
		if err != nil {
			t.Fatal(err)
		}
		return pub
	case "OKP":
		if k["crv"] != "Ed25519" {
			t.Fatalf("crv %v", k["crv"])
		}
		return ed25519.PublicKey(member("x"))
	case "RSA":
		return &rsa.PublicKey{N: new(big.Int).SetBytes(member("n")), E: int(new(big.Int).SetBytes(member("e")).Int64())}
	}
	t.Fatalf("kty %v", k["kty"])
	return nil
}

// TestStoredRecordHasNoClearPrivateKey dumps the raw record and looks for
// every private key in it, as PKCS#8 DER and as raw private values, in every
// encoding JSON or a careless change could use.
func TestStoredRecordHasNoClearPrivateKey(t *testing.T) {
	for _, alg := range allAlgorithms {
		t.Run(string(alg), func(t *testing.T) {
			kv := openKV(t)
			m := newManager(t, kv, newClock(), Options{Algorithm: alg})
			raw, err := kv.Get(context.Background(), ringKey)
			if err != nil {
				t.Fatal(err)
			}
			r, err := decodeRing(raw)
			if err != nil {
				t.Fatal(err)
			}
			sealed := 0
			for _, k := range r.Keys {
				if k.Private == nil {
					continue
				}
				sealed++
				if k.Private.V != 1 || k.Private.Alg != "A256GCM" {
					t.Fatalf("sealed key format %d/%s", k.Private.V, k.Private.Alg)
				}
				pkcs8, err := m.sealer.open(k.KID, k.Private)
				if err != nil {
					t.Fatal(err)
				}
				for name, secret := range privateValues(t, pkcs8) {
					for _, form := range encodings(secret) {
						if strings.Contains(string(raw), string(form)) {
							t.Fatalf("stored record contains the %s of key %s in clear", name, k.KID)
						}
					}
				}
			}
			if sealed != 2 {
				t.Fatalf("%d sealed keys, want 2 (active and next)", sealed)
			}
		})
	}
}

// privateValues returns the PKCS#8 DER and the raw private values in it.
func privateValues(t *testing.T, pkcs8 []byte) map[string][]byte {
	t.Helper()
	key, err := x509.ParsePKCS8PrivateKey(pkcs8)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{"PKCS#8 DER": pkcs8}
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		d, err := k.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		out["EC scalar d"] = d
	case ed25519.PrivateKey:
		out["Ed25519 seed"] = k.Seed()
		out["Ed25519 private key"] = k
	case *rsa.PrivateKey:
		out["RSA d"] = k.D.Bytes()
		out["RSA p"] = k.Primes[0].Bytes()
		out["RSA q"] = k.Primes[1].Bytes()
	default:
		t.Fatalf("unexpected key type %T", key)
	}
	return out
}

// encodings returns secret raw, in hex and in base64 at each of the three
// byte alignments it could have inside a larger encoded blob.
func encodings(secret []byte) [][]byte {
	out := [][]byte{secret, []byte(hex.EncodeToString(secret)), []byte(strings.ToUpper(hex.EncodeToString(secret)))}
	for shift := range 3 {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
			s := enc.EncodeToString(secret[shift:])
			out = append(out, []byte(s[:len(s)-4])) // the tail depends on what follows
		}
	}
	return out
}

func TestWrongMasterKey(t *testing.T) {
	eachBackend(t, func(t *testing.T, kv, _ store.KV) {
		fresh := newUnstarted(t, kv, newClock(), Options{})
		if has, err := HasRing(context.Background(), kv); has || err != nil {
			t.Fatalf("HasRing on an empty store = %v, %v", has, err)
		}
		if err := fresh.CheckMasterKey(context.Background()); err != nil {
			t.Fatalf("CheckMasterKey on an empty store: %v", err)
		}
		right := newManager(t, kv, newClock(), Options{})
		if has, err := HasRing(context.Background(), kv); !has || err != nil {
			t.Fatalf("HasRing after Start = %v, %v", has, err)
		}
		if err := right.CheckMasterKey(context.Background()); err != nil {
			t.Fatalf("CheckMasterKey with the right master key: %v", err)
		}
		before, _ := kv.Get(context.Background(), ringKey)

		other := make([]byte, MasterKeySize)
		copy(other, testMaster(t))
		other[0] ^= 0xff
		m, err := New(kv, other, Options{Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		err = m.Start(context.Background())
		if !errors.Is(err, ErrMasterKeyMismatch) || !strings.Contains(err.Error(), "master key does not match the one that encrypted the key ring") {
			t.Fatalf("Start with another master key: %v", err)
		}
		if err := m.Rotate(context.Background()); !errors.Is(err, ErrMasterKeyMismatch) {
			t.Fatalf("Rotate with another master key: %v", err)
		}
		if err := m.CheckMasterKey(context.Background()); !errors.Is(err, ErrMasterKeyMismatch) {
			t.Fatalf("CheckMasterKey with another master key: %v", err)
		}
		if after, _ := kv.Get(context.Background(), ringKey); string(after) != string(before) {
			t.Fatal("a Manager with the wrong master key changed the ring")
		}
	})
}

func TestAlgorithmChangeAffectsOnlyNewKeys(t *testing.T) {
	kv := openKV(t)
	clock := newClock()
	ctx := context.Background()
	newManager(t, kv, clock, Options{Algorithm: ES256})
	m := newManager(t, kv, clock, Options{Algorithm: EdDSA})

	algs := func() string {
		_, infos := listStates(t, m)
		var out []string
		for _, k := range infos {
			out = append(out, string(k.State)+":"+string(k.Algorithm))
		}
		return strings.Join(out, ",")
	}
	if got, want := algs(), "active:ES256,next:ES256"; got != want {
		t.Fatalf("after start with EdDSA: %s, want %s", got, want)
	}
	steps := []string{
		"retiring:ES256,active:ES256,next:EdDSA",
		"retiring:ES256,retiring:ES256,active:EdDSA,next:EdDSA",
	}
	for _, want := range steps {
		clock.Advance(forcedRotationGap)
		if err := m.Rotate(ctx); err != nil {
			t.Fatal(err)
		}
		if got := algs(); got != want {
			t.Fatalf("after rotate: %s, want %s", got, want)
		}
		if err := verify(m, sign(t, m, clock), clock); err != nil {
			t.Fatalf("verify: %v", err)
		}
	}
}

func TestScheduledRotationAndRetirement(t *testing.T) {
	kv := openKV(t)
	clock := newClock()
	ctx := context.Background()
	m := newManager(t, kv, clock, Options{MaxTokenTTL: time.Hour, Leeway: time.Minute})
	first := sign(t, m, clock)
	firstKID := kidOf(t, first)

	clock.Advance(720*time.Hour - time.Second)
	if err := m.sync(ctx); err != nil {
		t.Fatal(err)
	}
	if k, _ := m.Signer(); k.KID != firstKID {
		t.Fatal("rotated before RotationInterval")
	}
	clock.Advance(time.Second)
	if err := m.sync(ctx); err != nil {
		t.Fatal(err)
	}
	second, _ := m.Signer()
	if second.KID == firstKID {
		t.Fatal("no rotation after RotationInterval")
	}

	// The old key verifies until no token it signed can be live: the signing
	// key of a stale replica lasts one refresh more, then MaxTokenTTL and
	// the leeway.
	retireAfter := 5*time.Minute + time.Hour + time.Minute
	clock.Advance(retireAfter - time.Nanosecond)
	if err := m.sync(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.PublicKey(ctx, firstKID); err != nil {
		t.Fatalf("retiring key unpublished early: %v", err)
	}
	clock.Advance(time.Nanosecond)
	if err := m.sync(ctx); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second) // let the refetch gate open
	if _, _, err := m.PublicKey(ctx, firstKID); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("retired key still verifies: %v", err)
	}
	if strings.Contains(string(m.JWKS()), firstKID) {
		t.Fatal("retired key still in JWKS")
	}
	byState, _ := listStates(t, m)
	if !slices.Equal(byState[StateRetired], []string{firstKID}) {
		t.Fatalf("retired keys %v, want %s", byState[StateRetired], firstKID)
	}
}

func TestTokensOfThePreviousKeyVerifyAfterRotate(t *testing.T) {
	eachBackend(t, func(t *testing.T, a, b store.KV) {
		clock := newClock()
		ma := newManager(t, a, clock, Options{})
		mb := newManager(t, b, clock, Options{})
		old := sign(t, ma, clock)
		clock.Advance(forcedRotationGap)
		if err := ma.Rotate(context.Background()); err != nil {
			t.Fatal(err)
		}
		fresh := sign(t, ma, clock)
		if kidOf(t, fresh) == kidOf(t, old) {
			t.Fatal("Rotate did not change the signing key")
		}
		for name, m := range map[string]*Manager{"rotating replica": ma, "other replica": mb} {
			for _, token := range []string{old, fresh} {
				if err := verify(m, token, clock); err != nil {
					t.Fatalf("%s: token of %s: %v", name, kidOf(t, token), err)
				}
			}
		}
	})
}

func TestRevoke(t *testing.T) {
	eachBackend(t, func(t *testing.T, a, b store.KV) {
		ctx := context.Background()
		clock := newClock()
		ma := newManager(t, a, clock, Options{})
		mb := newManager(t, b, clock, Options{})
		token := sign(t, ma, clock)
		compromised := kidOf(t, token)
		byState, _ := listStates(t, ma)
		next := byState[StateNext][0]

		clock.Advance(time.Second)
		if err := ma.Revoke(ctx, compromised); err != nil {
			t.Fatal(err)
		}
		if err := verify(ma, token, clock); !errors.Is(err, ErrUnknownKey) {
			t.Fatalf("token of the revoked key: %v", err)
		}
		if k, _ := ma.Signer(); k.KID != next {
			t.Fatalf("signing with %s, want the former next key %s", k.KID, next)
		}
		if strings.Contains(string(ma.JWKS()), compromised) {
			t.Fatal("revoked key still in JWKS")
		}
		byState, infos := listStates(t, ma)
		if !slices.Equal(byState[StateRevoked], []string{compromised}) || len(byState[StateNext]) != 1 {
			t.Fatalf("states after revoke: %v", byState)
		}
		for _, k := range infos {
			if k.KID == compromised && !k.RevokedAt.Equal(clock.Now()) {
				t.Fatalf("RevokedAt = %v", k.RevokedAt)
			}
		}

		// The other replica stops accepting it at its next refresh.
		if err := verify(mb, token, clock); err != nil {
			t.Fatalf("other replica before refresh: %v", err)
		}
		if err := mb.sync(ctx); err != nil {
			t.Fatal(err)
		}
		if err := verify(mb, token, clock); !errors.Is(err, ErrUnknownKey) {
			t.Fatalf("other replica after refresh: %v", err)
		}

		if err := ma.Revoke(ctx, compromised); err != nil {
			t.Fatalf("revoking again: %v", err)
		}
		if err := ma.Revoke(ctx, "no-such-kid"); !errors.Is(err, ErrUnknownKey) {
			t.Fatalf("revoking an unknown kid: %v", err)
		}
	})
}

// TestConcurrentRotate races forced rotations from two replicas sharing one
// store: each must land exactly once, on top of the others.
func TestConcurrentRotate(t *testing.T) {
	eachBackend(t, func(t *testing.T, a, b store.KV) {
		clock := newClock()
		ms := []*Manager{newUnstarted(t, a, clock, Options{}), newUnstarted(t, b, clock, Options{})}
		var wg sync.WaitGroup
		for _, m := range ms { // both bootstrap at once: one ring results
			wg.Go(func() {
				if err := m.Start(context.Background()); err != nil {
					t.Errorf("Start: %v", err)
				}
			})
		}
		wg.Wait()
		if byState, infos := listStates(t, ms[0]); len(infos) != 2 || len(byState[StateActive]) != 1 {
			t.Fatalf("after concurrent bootstrap: %v", byState)
		}

		// 20 forced rotations at once: exactly one lands; the others find a
		// next key too young for every replica to know and are refused.
		clock.Advance(forcedRotationGap)
		const rotations = 20
		var landed, refused atomic.Int32
		for i := range rotations {
			wg.Go(func() {
				var tooSoon *RotationTooSoonError
				switch err := ms[i%2].Rotate(context.Background()); {
				case err == nil:
					landed.Add(1)
				case errors.As(err, &tooSoon):
					refused.Add(1)
				default:
					t.Errorf("Rotate: %v", err)
				}
			})
		}
		wg.Wait()
		if landed.Load() != 1 || refused.Load() != rotations-1 {
			t.Fatalf("%d rotations landed and %d were refused, want 1 and %d", landed.Load(), refused.Load(), rotations-1)
		}

		byState, infos := listStates(t, ms[0])
		if len(byState[StateActive]) != 1 || len(byState[StateNext]) != 1 || len(byState[StateRetiring]) != 1 {
			t.Fatalf("states after the race: %d active, %d next, %d retiring",
				len(byState[StateActive]), len(byState[StateNext]), len(byState[StateRetiring]))
		}
		if len(infos) != 3 {
			t.Fatalf("%d keys, want %d: a rotation was lost", len(infos), 2+rotations)
		}
		seen := map[string]bool{}
		for _, k := range infos {
			if seen[k.KID] {
				t.Fatalf("kid %s twice", k.KID)
			}
			seen[k.KID] = true
		}
		for _, m := range ms {
			if err := m.sync(context.Background()); err != nil {
				t.Fatal(err)
			}
			if k, _ := m.Signer(); k.KID != byState[StateActive][0] {
				t.Fatalf("a replica signs with %s, the ring's active key is %s", k.KID, byState[StateActive][0])
			}
		}
	})
}

// TestScheduledRotationHasOneWinner lets two replicas find the same rotation
// due at the same moment: one rotates, the other re-reads and finds it done.
func TestScheduledRotationHasOneWinner(t *testing.T) {
	eachBackend(t, func(t *testing.T, a, b store.KV) {
		clock := newClock()
		ms := []*Manager{newManager(t, a, clock, Options{}), newManager(t, b, clock, Options{})}
		clock.Advance(720 * time.Hour)
		var wg sync.WaitGroup
		for range 3 {
			for _, m := range ms {
				wg.Go(func() {
					if err := m.sync(context.Background()); err != nil {
						t.Errorf("sync: %v", err)
					}
				})
			}
		}
		wg.Wait()
		byState, infos := listStates(t, ms[0])
		if len(infos) != 3 || len(byState[StateRetiring]) != 1 || len(byState[StateActive]) != 1 || len(byState[StateNext]) != 1 {
			t.Fatalf("after concurrent scheduled rotation: %v", byState)
		}
		for _, m := range ms {
			if err := m.sync(context.Background()); err != nil {
				t.Fatal(err)
			}
			if k, _ := m.Signer(); k.KID != byState[StateActive][0] {
				t.Fatalf("a replica signs with %s, the ring's active key is %s", k.KID, byState[StateActive][0])
			}
		}
	})
}

func TestLearnsRotationOfAnotherReplica(t *testing.T) {
	eachBackend(t, func(t *testing.T, a, b store.KV) {
		ctx := context.Background()
		clock := newClock()
		ma := newManager(t, a, clock, Options{})
		mb := newManager(t, b, clock, Options{})
		before, _ := mb.Signer()
		clock.Advance(forcedRotationGap)
		if err := ma.Rotate(ctx); err != nil {
			t.Fatal(err)
		}
		token := sign(t, ma, clock)

		t.Run("at once on its unknown kid", func(t *testing.T) {
			if err := verify(mb, token, clock); err != nil {
				t.Fatalf("verify: %v", err)
			}
		})
		t.Run("on the next refresh", func(t *testing.T) {
			if err := mb.sync(ctx); err != nil {
				t.Fatal(err)
			}
			if k, _ := mb.Signer(); k.KID == before.KID || k.KID != kidOf(t, token) {
				t.Fatalf("signs with %s, want %s", k.KID, kidOf(t, token))
			}
		})
		t.Run("from the background refresh", func(t *testing.T) {
			mc := newManager(t, b, clock, Options{RefreshInterval: 10 * time.Millisecond})
			clock.Advance(forcedRotationGap)
			if err := ma.Rotate(ctx); err != nil {
				t.Fatal(err)
			}
			want, _ := ma.Signer()
			deadline := time.Now().Add(10 * time.Second)
			for k, _ := mc.Signer(); k.KID != want.KID; k, _ = mc.Signer() {
				if time.Now().After(deadline) {
					t.Fatal("the background refresh never picked up the rotation")
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	})
}

// countingKV counts the reads that reach a real backend.
type countingKV struct {
	store.KV
	gets atomic.Int64
}

func (c *countingKV) Get(ctx context.Context, key string) ([]byte, error) {
	c.gets.Add(1)
	return c.KV.Get(ctx, key)
}

func TestUnknownKidRefetchIsRateLimited(t *testing.T) {
	eachBackend(t, func(t *testing.T, kv, _ store.KV) {
		ctx := context.Background()
		counted := &countingKV{KV: kv}
		clock := newClock()
		m := newManager(t, counted, clock, Options{MinRefetch: time.Second})
		lookups := func(n int, concurrent bool) {
			var wg sync.WaitGroup
			for i := range n {
				lookup := func() {
					kid := "attacker-" + string(rune('a'+i%26))
					if _, _, err := m.PublicKey(ctx, kid); !errors.Is(err, ErrUnknownKey) {
						t.Errorf("PublicKey(%s): %v", kid, err)
					}
				}
				if concurrent {
					wg.Go(lookup)
				} else {
					lookup()
				}
			}
			wg.Wait()
		}
		tests := []struct {
			name       string
			advance    time.Duration
			concurrent bool
			wantReads  int64
		}{
			{"right after start", 0, false, 0},
			{"within MinRefetch", 999 * time.Millisecond, true, 0},
			{"after MinRefetch, sequential", time.Millisecond, false, 1},
			{"just after that read", 0, true, 0},
			{"after MinRefetch, concurrent", time.Second, true, 1},
		}
		for _, tc := range tests {
			clock.Advance(tc.advance)
			before := counted.gets.Load()
			lookups(100, tc.concurrent)
			if got := counted.gets.Load() - before; got != tc.wantReads {
				t.Fatalf("%s: %d store reads for 100 unknown kids, want %d", tc.name, got, tc.wantReads)
			}
		}
	})
}

func TestLifecycle(t *testing.T) {
	kv := openKV(t)
	clock := newClock()
	m := newUnstarted(t, kv, clock, Options{})
	if err := m.Ready(); !errors.Is(err, ErrNotReady) {
		t.Fatalf("Ready before Start: %v", err)
	}
	if _, err := m.Signer(); !errors.Is(err, ErrNotReady) {
		t.Fatalf("Signer before Start: %v", err)
	}
	if got := string(m.JWKS()); got != `{"keys":[]}` {
		t.Fatalf("JWKS before Start: %s", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := m.Ready(); err != nil {
		t.Fatalf("Ready after Start: %v", err)
	}
	if err := m.Start(ctx); err == nil {
		t.Fatal("second Start succeeded")
	}
	cancel()
	select {
	case <-m.done:
	case <-time.After(10 * time.Second):
		t.Fatal("background refresh still running after its context ended")
	}
	m.Close()
	if err := m.Ready(); err != nil {
		t.Fatalf("Ready after Close: %v (the last keys stay usable)", err)
	}
	if got, want := m.JWKSMaxAge(), (10*time.Minute-5*time.Minute)/2; got != want {
		t.Fatalf("JWKSMaxAge = %s, want %s", got, want)
	}
}

func TestNewRefuses(t *testing.T) {
	kv := openKV(t)
	master := testMaster(t)
	tests := []struct {
		name    string
		kv      store.KV
		master  []byte
		opts    Options
		wantErr string
	}{
		{"nil store", nil, master, Options{}, "nil store"},
		{"short master key", kv, master[:31], Options{}, "need at least 32"},
		{"unknown algorithm", kv, master, Options{Algorithm: "HS256"}, "unsupported signing algorithm"},
		{"negative leeway", kv, master, Options{Leeway: -time.Second}, "Leeway is negative"},
		{"refresh slower than publication", kv, master, Options{PublishBeforeUse: time.Minute, RefreshInterval: time.Minute}, "must exceed RefreshInterval"},
		{"rotation faster than publication", kv, master, Options{RotationInterval: time.Minute, PublishBeforeUse: 2 * time.Minute, RefreshInterval: time.Second}, "must exceed PublishBeforeUse"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.kv, tc.master, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

// TestStoreOutageKeepsTheLastGoodKeys: while the store is unreachable the
// Manager signs and verifies with what it has, and says why it cannot change.
func TestStoreOutageKeepsTheLastGoodKeys(t *testing.T) {
	ctx := context.Background()
	kv := openKV(t)
	clock := newClock()
	m := newManager(t, kv, clock, Options{})
	if err := kv.Close(); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute)
	if err := m.sync(ctx); err == nil || !strings.Contains(err.Error(), "keys: read key ring") {
		t.Fatalf("sync on a closed store: %v", err)
	}
	if err := m.Rotate(ctx); err == nil || !strings.Contains(err.Error(), "keys: update key ring") {
		t.Fatalf("Rotate on a closed store: %v", err)
	}
	if err := m.Ready(); err != nil {
		t.Fatalf("Ready: %v", err)
	}
	if err := verify(m, sign(t, m, clock), clock); err != nil {
		t.Fatalf("verify: %v", err)
	}
	clock.Advance(time.Second) // past MinRefetch since the failed read
	if _, _, err := m.PublicKey(ctx, "unknown"); !errors.Is(err, ErrUnknownKey) || !strings.Contains(err.Error(), "refetch failed") {
		t.Fatalf("unknown kid on a closed store: %v", err)
	}
}
