package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/scimgate/scimgate/internal/store"
)

// benchValue is about the size of a serialised grant or client record.
var benchValue = bytes.Repeat([]byte("x"), 256)

// Bench measures the hot-path operations of kv. Run it with -benchmem.
func Bench(b *testing.B, kv store.KV) {
	ctx := b.Context()
	b.Run("Get", func(b *testing.B) {
		mustBenchSet(b, kv, "bench:get", 0)
		for b.Loop() {
			if _, err := kv.Get(ctx, "bench:get"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("GetParallel", func(b *testing.B) {
		mustBenchSet(b, kv, "bench:get", 0)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := kv.Get(ctx, "bench:get"); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("GetMissing", func(b *testing.B) {
		for b.Loop() {
			if _, err := kv.Get(ctx, "bench:missing"); !errors.Is(err, store.ErrNotFound) {
				b.Fatal(err)
			}
		}
	})
	b.Run("Set", func(b *testing.B) {
		for b.Loop() {
			mustBenchSet(b, kv, "bench:set", time.Hour)
		}
	})
	b.Run("Update", func(b *testing.B) {
		mustBenchSet(b, kv, "bench:update", 0)
		for b.Loop() {
			err := kv.Update(ctx, "bench:update", func(old []byte) ([]byte, time.Duration, error) {
				old[0]++
				return old, 0, nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Take", func(b *testing.B) {
		keys := make([]string, b.N)
		for i := range keys {
			keys[i] = fmt.Sprintf("bench:take:%d", i)
			mustBenchSet(b, kv, keys[i], time.Hour)
		}
		b.ResetTimer()
		for _, k := range keys {
			if _, err := kv.Take(ctx, k); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("TakeMissing", func(b *testing.B) {
		for b.Loop() {
			if _, err := kv.Take(ctx, "bench:missing"); !errors.Is(err, store.ErrNotFound) {
				b.Fatal(err)
			}
		}
	})
}

func mustBenchSet(b *testing.B, kv store.KV, key string, ttl time.Duration) {
	b.Helper()
	if err := kv.Set(b.Context(), key, benchValue, ttl); err != nil {
		b.Fatal(err)
	}
}
