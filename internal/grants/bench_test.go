package grants

import (
	"testing"
	"time"

	"github.com/scimgate/scimgate/internal/store"
	"github.com/scimgate/scimgate/internal/store/storetest"
)

// BenchmarkRotate measures one refresh: the family Update plus the spent
// index write, on each backend.
func BenchmarkRotate(b *testing.B) {
	for name, open := range map[string]func(testing.TB) store.KV{
		"bolt":  func(tb testing.TB) store.KV { return storetest.OpenBolt(tb) },
		"redis": func(tb testing.TB) store.KV { return storetest.OpenRedis(tb) },
	} {
		b.Run(name, func(b *testing.B) {
			s, err := New(open(b), Options{RefreshGrace: 30 * time.Second})
			if err != nil {
				b.Fatal(err)
			}
			token := NewRefreshToken(newFamilyID())
			if _, err := s.StartFamily(b.Context(), token, Family{ClientID: "c1", Scope: "scim.full offline_access"}, IssuedAccess{JTI: "a", Expires: time.Now().Add(time.Hour)}); err != nil {
				b.Fatal(err)
			}
			r := Rotation{ClientID: "c1", Access: IssuedAccess{JTI: "a", Expires: time.Now().Add(time.Hour)}}
			b.ReportAllocs()
			for b.Loop() {
				out, err := s.Rotate(b.Context(), token, r)
				if err != nil {
					b.Fatal(err)
				}
				token = out.Token
			}
		})
	}
}

// BenchmarkCode measures issuing and redeeming one authorization code.
func BenchmarkCode(b *testing.B) {
	s, err := New(storetest.OpenBolt(b), Options{})
	if err != nil {
		b.Fatal(err)
	}
	c := sampleCode()
	b.ReportAllocs()
	for b.Loop() {
		code := NewCode()
		if _, err := s.SaveCode(b.Context(), code, c); err != nil {
			b.Fatal(err)
		}
		if _, err := s.RedeemCode(b.Context(), code); err != nil {
			b.Fatal(err)
		}
	}
}
