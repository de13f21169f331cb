package denylist

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/scimgate/scimgate/internal/store"
	"github.com/scimgate/scimgate/internal/store/storetest"
)

func TestDenyList(t *testing.T) {
	storetest.EachBackend(t, func(t *testing.T, kv store.KV) {
		ctx := context.Background()
		var mu sync.Mutex
		now := time.Now()
		clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
		a := New(kv, Options{NegativeTTL: time.Second, Now: clock}) // replica A
		b := New(kv, Options{NegativeTTL: time.Second, Now: clock}) // replica B, same store

		for _, l := range []*List{a, b} {
			if r, err := l.Revoked(ctx, "j1"); err != nil || r {
				t.Fatalf("fresh jti revoked=%v err=%v", r, err)
			}
		}
		if err := a.Revoke(ctx, "j1", now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if r, _ := a.Revoked(ctx, "j1"); !r {
			t.Fatal("revoking replica does not see its own revocation at once")
		}
		if r, _ := b.Revoked(ctx, "j1"); r {
			t.Fatal("the other replica's negative cache was expected to hold for NegativeTTL")
		}
		mu.Lock()
		now = now.Add(1100 * time.Millisecond)
		mu.Unlock()
		if r, _ := b.Revoked(ctx, "j1"); !r {
			t.Fatal("the other replica missed the revocation after NegativeTTL")
		}
		if err := a.Revoke(ctx, "old", now.Add(-time.Second)); err != nil {
			t.Fatal(err)
		}
		if _, err := kv.Get(ctx, keyPrefix+"old"); err != store.ErrNotFound {
			t.Fatalf("an already expired token was written: %v", err)
		}
		if err := a.Revoke(ctx, "", now.Add(time.Hour)); err == nil {
			t.Fatal("empty jti accepted")
		}
		// The store entry carries a TTL so the list never outgrows live tokens.
		if err := a.Revoke(ctx, "short", time.Now().Add(150*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(3 * time.Second)
		for {
			if _, err := kv.Get(ctx, keyPrefix+"short"); err == store.ErrNotFound {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("deny-list entry outlived its token")
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

func BenchmarkRevokedCached(b *testing.B) {
	kv := storetest.OpenBolt(b)
	l := New(kv, Options{NegativeTTL: time.Second})
	ctx := context.Background()
	l.Revoked(ctx, "j")
	b.ReportAllocs()
	for b.Loop() {
		if r, err := l.Revoked(ctx, "j"); r || err != nil {
			b.Fatal(r, err)
		}
	}
}
