package keys

// TEMPORARY: replaced by storetest's real backends once they are committed.

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimgate/scimgate/internal/store"
)

type memKV struct {
	mu     sync.Mutex
	m      map[string][]byte
	closed bool
}

func (k *memKV) Get(_ context.Context, key string) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return nil, errors.New("memkv: closed")
	}
	v, ok := k.m[key]
	if !ok {
		return nil, store.ErrNotFound
	}
	return slices.Clone(v), nil
}
func (k *memKV) Set(_ context.Context, key string, v []byte, _ time.Duration) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.m[key] = slices.Clone(v)
	return nil
}
func (k *memKV) Create(context.Context, string, []byte, time.Duration) error { panic("unused") }
func (k *memKV) Delete(_ context.Context, key string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.m, key)
	return nil
}
func (k *memKV) Take(context.Context, string) ([]byte, error) { panic("unused") }
func (k *memKV) Update(_ context.Context, key string, fn func([]byte) ([]byte, time.Duration, error)) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return errors.New("memkv: closed")
	}
	v, _, err := fn(slices.Clone(k.m[key]))
	if err != nil {
		return err
	}
	if v == nil {
		delete(k.m, key)
	} else {
		k.m[key] = slices.Clone(v)
	}
	return nil
}
func (k *memKV) List(_ context.Context, prefix string) ([]store.Entry, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []store.Entry
	for key, v := range k.m {
		if strings.HasPrefix(key, prefix) {
			out = append(out, store.Entry{Key: key, Value: v})
		}
	}
	return out, nil
}
func (k *memKV) Ping(context.Context) error { return nil }
func (k *memKV) Close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.closed = true
	return nil
}

// eachBackend runs fn once per backend with two clients of one store.
func eachBackend(t *testing.T, fn func(t *testing.T, a, b store.KV)) {
	t.Run("mem", func(t *testing.T) {
		kv := &memKV{m: map[string][]byte{}}
		fn(t, kv, kv)
	})
}

func openKV(tb testing.TB) store.KV { return &memKV{m: map[string][]byte{}} }
