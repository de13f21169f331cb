package keys

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func testPolicy() policy {
	return policy{
		rotateEvery:      720 * time.Hour,
		publishBeforeUse: 10 * time.Minute,
		retireAfter:      6*time.Hour + 5*time.Minute + 30*time.Second,
		retention:        retiredRetention,
	}
}

func testSealer(t testing.TB) *sealer {
	t.Helper()
	s, err := newSealer([]byte(strings.Repeat("k", MasterKeySize)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func testMint(s *sealer) *mint {
	return &mint{generate: func() (storedKey, error) { return newStoredKey(ES256, s) }}
}

// states renders a ring as "state,state,…" in creation order.
func states(r *ring) string {
	var out []string
	for _, k := range r.Keys {
		out = append(out, string(k.State))
	}
	return strings.Join(out, ",")
}

func TestRingStateMachine(t *testing.T) {
	p := testPolicy()
	step := func(r *ring, now time.Time, m *mint) (bool, error) { return r.step(now, p, m) }
	rotate := func(r *ring, now time.Time, m *mint) (bool, error) { return true, r.rotate(now, p, m) }
	revokeState := func(s State) func(*ring, time.Time, *mint) (bool, error) {
		return func(r *ring, now time.Time, m *mint) (bool, error) {
			return r.revoke(r.Keys[r.index(s)].KID, now, p, m)
		}
	}
	type timed struct {
		at time.Duration // after t0
		do func(*ring, time.Time, *mint) (bool, error)
	}
	bootstrap := timed{0, step}
	rotated := []timed{bootstrap, {720 * time.Hour, step}} // rotation at t0+720h
	const rotatedAt = 720 * time.Hour

	tests := []struct {
		name        string
		before      []timed
		at          time.Duration
		do          func(*ring, time.Time, *mint) (bool, error)
		wantChanged bool
		want        string
		wantErr     error
	}{
		{name: "bootstrap creates active and next at once", do: step, wantChanged: true, want: "active,next"},
		{name: "steady before the rotation interval", before: []timed{bootstrap}, at: 720*time.Hour - time.Nanosecond, do: step, want: "active,next"},
		{name: "rotation when the interval has passed", before: []timed{bootstrap}, at: rotatedAt, do: step, wantChanged: true, want: "retiring,active,next"},
		{
			name:   "no promotion of a next key published for less than PublishBeforeUse",
			before: []timed{bootstrap, {rotatedAt - 5*time.Minute, revokeState(StateNext)}}, // fresh next at 715h
			at:     rotatedAt + 5*time.Minute - time.Nanosecond, do: step, want: "active,revoked,next",
		},
		{
			name:   "promotion once PublishBeforeUse has passed too",
			before: []timed{bootstrap, {rotatedAt - 5*time.Minute, revokeState(StateNext)}},
			at:     rotatedAt + 5*time.Minute, do: step, wantChanged: true, want: "retiring,revoked,active,next",
		},
		{name: "retiring key stays until MaxTokenTTL+Leeway+refresh", before: rotated, at: rotatedAt + p.retireAfter - time.Nanosecond, do: step, want: "retiring,active,next"},
		{name: "retiring key retires after MaxTokenTTL+Leeway+refresh", before: rotated, at: rotatedAt + p.retireAfter, do: step, wantChanged: true, want: "retired,active,next"},
		{
			name:   "retired key kept for the retention period",
			before: append(rotated, timed{rotatedAt + p.retireAfter, step}),
			at:     rotatedAt + p.retireAfter + p.retention - time.Nanosecond, do: step, want: "retired,active,next",
		},
		{
			name:   "retired key pruned after the retention period",
			before: append(rotated, timed{rotatedAt + p.retireAfter, step}),
			at:     rotatedAt + p.retireAfter + p.retention, do: step, wantChanged: true, want: "active,next",
		},
		{name: "forced rotation promotes a young next key", before: []timed{bootstrap}, at: time.Second, do: rotate, wantChanged: true, want: "retiring,active,next"},
		{name: "forced rotation on an empty ring", do: rotate, wantChanged: true, want: "active,next"},
		{name: "revoke active promotes next at once", before: []timed{bootstrap}, at: time.Second, do: revokeState(StateActive), wantChanged: true, want: "revoked,active,next"},
		{name: "revoke next replaces it", before: []timed{bootstrap}, at: time.Second, do: revokeState(StateNext), wantChanged: true, want: "active,revoked,next"},
		{name: "revoke retiring", before: rotated, at: rotatedAt + time.Second, do: revokeState(StateRetiring), wantChanged: true, want: "revoked,active,next"},
		{
			name:   "revoke retired is a no-op",
			before: append(rotated, timed{rotatedAt + p.retireAfter, step}),
			at:     rotatedAt + p.retireAfter + time.Second, do: revokeState(StateRetired), want: "retired,active,next",
		},
		{
			name:   "revoke unknown kid",
			before: []timed{bootstrap},
			do:     func(r *ring, now time.Time, m *mint) (bool, error) { return r.revoke("nope", now, p, m) },
			want:   "active,next", wantErr: ErrUnknownKey,
		},
		{
			name:   "active key missing: next promoted",
			before: []timed{bootstrap, {time.Second, func(r *ring, _ time.Time, _ *mint) (bool, error) { r.Keys = r.Keys[1:]; return true, nil }}},
			at:     2 * time.Second, do: step, wantChanged: true, want: "active,next",
		},
	}
	s := testSealer(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &ring{V: ringVersion, MasterKeyCheck: s.check}
			for _, b := range tc.before {
				if _, err := b.do(r, t0.Add(b.at), testMint(s)); err != nil {
					t.Fatalf("setup at %s: %v", b.at, err)
				}
			}
			before := states(r)
			changed, err := tc.do(r, t0.Add(tc.at), testMint(s))
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if changed != tc.wantChanged {
				t.Errorf("changed = %t, want %t (%s → %s)", changed, tc.wantChanged, before, states(r))
			}
			if got := states(r); got != tc.want {
				t.Errorf("states = %s, want %s", got, tc.want)
			}
			checkRingInvariants(t, r)
		})
	}
}

// checkRingInvariants holds after every operation: it survives encoding, has
// one active and one next key, and private keys only where they may sign.
func checkRingInvariants(t *testing.T, r *ring) {
	t.Helper()
	raw, err := encodeRing(r)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := decodeRing(raw); err != nil {
		t.Fatalf("ring does not decode: %v", err)
	}
	if r.index(StateActive) < 0 || r.index(StateNext) < 0 {
		t.Fatalf("ring %s lacks an active or next key", states(r))
	}
}

func TestMintReusesKeysAcrossRetries(t *testing.T) {
	s := testSealer(t)
	calls := 0
	m := &mint{generate: func() (storedKey, error) { calls++; return newStoredKey(EdDSA, s) }}
	var first []string
	for attempt := range 3 {
		m.rewind()
		r := &ring{V: ringVersion, MasterKeyCheck: s.check}
		if _, err := r.step(t0, testPolicy(), m); err != nil {
			t.Fatal(err)
		}
		kids := []string{r.Keys[0].KID, r.Keys[1].KID}
		if attempt == 0 {
			first = kids
		} else if kids[0] != first[0] || kids[1] != first[1] {
			t.Fatalf("attempt %d used keys %v, first used %v", attempt, kids, first)
		}
	}
	if calls != 2 {
		t.Fatalf("generated %d keys, want 2", calls)
	}
}

func TestDecodeRingRejects(t *testing.T) {
	s := testSealer(t)
	r := &ring{V: ringVersion, MasterKeyCheck: s.check}
	if _, err := r.step(t0, testPolicy(), testMint(s)); err != nil {
		t.Fatal(err)
	}
	good, err := encodeRing(r)
	if err != nil {
		t.Fatal(err)
	}
	mutate := func(f func(r *ring)) []byte {
		c, err := decodeRing(good)
		if err != nil {
			t.Fatal(err)
		}
		f(c)
		b, err := encodeRing(c)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name string
		raw  []byte
		want string
	}{
		{"not json", []byte("{"), "not valid JSON"},
		{"newer format", mutate(func(r *ring) { r.V = 2 }), "newer scimgate"},
		{"no format", mutate(func(r *ring) { r.V = 0 }), "unknown format"},
		{"no check value", mutate(func(r *ring) { r.MasterKeyCheck = nil }), "master key check"},
		{"duplicate kid", mutate(func(r *ring) { r.Keys[1].KID = r.Keys[0].KID }), "twice"},
		{"two active", mutate(func(r *ring) { r.Keys[1].State, r.Keys[1].ActivatedAt = StateActive, t0 }), "at most one"},
		{"unknown state", mutate(func(r *ring) { r.Keys[0].State = "zombie" }), "unknown state"},
		{"unknown alg", mutate(func(r *ring) { r.Keys[0].Alg = "HS256" }), "unsupported signing algorithm"},
		{"no kid", mutate(func(r *ring) { r.Keys[0].KID = "" }), "without kid"},
		{"no public key", mutate(func(r *ring) { r.Keys[0].Public = nil }), "no public key"},
		{"active without time", mutate(func(r *ring) { r.Keys[0].ActivatedAt = time.Time{} }), "without the time"},
		{"retired with private key", mutate(func(r *ring) {
			r.Keys[0].State, r.Keys[0].RetiredAt = StateRetired, t0
		}), "private key presence"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decodeRing(tc.raw)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestBuildSnapshotRejects(t *testing.T) {
	s := testSealer(t)
	r := &ring{V: ringVersion, MasterKeyCheck: s.check}
	if _, err := r.step(t0, testPolicy(), testMint(s)); err != nil {
		t.Fatal(err)
	}
	rsaKey, err := newStoredKey(RS256, s)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		mutate func(r *ring)
		want   string
	}{
		{"ciphertexts swapped between keys", func(r *ring) {
			r.Keys[0].Private, r.Keys[1].Private = r.Keys[1].Private, r.Keys[0].Private
		}, "fails authentication"},
		{"ciphertext altered", func(r *ring) {
			ct := append([]byte(nil), r.Keys[0].Private.CT...)
			ct[0] ^= 1
			r.Keys[0].Private = &sealedKey{V: 1, Alg: sealAlg, Nonce: r.Keys[0].Private.Nonce, CT: ct}
		}, "fails authentication"},
		{"unknown seal format", func(r *ring) {
			r.Keys[0].Private = &sealedKey{V: 2, Alg: "XC20P", Nonce: r.Keys[0].Private.Nonce, CT: r.Keys[0].Private.CT}
		}, "unknown format"},
		{"public key of another key", func(r *ring) { r.Keys[0].Public = r.Keys[1].Public }, "does not match its public key"},
		{"algorithm label of another key type", func(r *ring) { r.Keys[0].Alg = EdDSA }, "is a EC key but is marked EdDSA"},
		{"RSA key marked ES256", func(r *ring) { r.Keys[1].Public = rsaKey.Public }, "is a RSA key but is marked ES256"},
		{"public key garbage", func(r *ring) { r.Keys[1].Public = []byte("garbage") }, "parse public key"},
		{"no active key", func(r *ring) { r.Keys = r.Keys[1:] }, "no active key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			good, _ := encodeRing(r)
			c, _ := decodeRing(good)
			tc.mutate(c)
			raw, _ := encodeRing(c)
			_, err := buildSnapshot(raw, c, s)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// FuzzDecodeRing feeds corrupted key ring records through everything that
// reads one: decoding, checking, decrypting and parsing. Any input must give
// a snapshot or an error, never a panic.
func FuzzDecodeRing(f *testing.F) {
	s := testSealer(f)
	for _, alg := range []Algorithm{ES256, EdDSA, RS256} {
		r := &ring{V: ringVersion, MasterKeyCheck: s.check}
		m := &mint{generate: func() (storedKey, error) { return newStoredKey(alg, s) }}
		if _, err := r.step(t0, testPolicy(), m); err != nil {
			f.Fatal(err)
		}
		if err := r.rotate(t0.Add(time.Hour), testPolicy(), m); err != nil {
			f.Fatal(err)
		}
		raw, err := encodeRing(r)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Add([]byte(`{"v":1,"master_key_check":"AA==","keys":[{"kid":"a","alg":"ES256","state":"active","created_at":"2026-01-01T00:00:00Z","activated_at":"2026-01-01T00:00:00Z","public":"AA==","private":{"v":1,"alg":"A256GCM","nonce":"AAAAAAAAAAAAAAAA","ct":"AA=="}}]}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"v":1,"keys":null}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		r, err := decodeRing(raw)
		if err != nil {
			return
		}
		snap, err := buildSnapshot(raw, r, s)
		if err != nil {
			return
		}
		if snap.signing.Key == nil || len(snap.verifiers) == 0 || len(snap.jwks) == 0 {
			t.Fatalf("snapshot without keys from %q", raw)
		}
	})
}
