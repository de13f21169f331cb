package keys

import (
	"context"
	"errors"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// The hot paths: the authorization server signs once per token, the gateway
// looks a key up and verifies on every request.

func BenchmarkSign(b *testing.B) {
	for _, alg := range allAlgorithms {
		b.Run(string(alg), func(b *testing.B) {
			clock := newClock()
			m := newManager(b, openKV(b), clock, Options{Algorithm: alg})
			b.ReportAllocs()
			for b.Loop() {
				sign(b, m, clock)
			}
		})
	}
}

func BenchmarkKeyfunc(b *testing.B) {
	m := newManager(b, openKV(b), newClock(), Options{})
	k, _ := m.Signer()
	b.Run("known kid", func(b *testing.B) {
		tok := &jwt.Token{Header: map[string]any{"alg": "ES256", "kid": k.KID, "typ": "at+jwt"}, Method: jwt.SigningMethodES256}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := m.Keyfunc(tok); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("unknown kid, refetch gated", func(b *testing.B) {
		tok := &jwt.Token{Header: map[string]any{"alg": "ES256", "kid": "attacker", "typ": "at+jwt"}, Method: jwt.SigningMethodES256}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := m.Keyfunc(tok); !errors.Is(err, ErrUnknownKey) {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkParseVerify(b *testing.B) {
	for _, alg := range allAlgorithms {
		b.Run(string(alg), func(b *testing.B) {
			clock := newClock()
			m := newManager(b, openKV(b), clock, Options{Algorithm: alg})
			token := sign(b, m, clock)
			if _, _, err := m.PublicKey(context.Background(), kidOf(b, token)); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := verify(m, token, clock); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
