package storetest

import (
	"context"
	"sync"
	"time"

	"github.com/scimgate/scimgate/internal/store"
)

// Faulty is a store that stops working on demand: while Fail has set an
// error, every call but Close returns it, as a backend that went away
// does. Tests use it for the failure paths of the code above the store;
// test/replicas cuts a real Redis off for the whole binary.
type Faulty struct {
	store.KV
	mu  sync.Mutex
	err error
}

var _ store.KV = (*Faulty)(nil)

// Fail makes every call fail with err from now on; nil heals the store.
func (f *Faulty) Fail(err error) {
	f.mu.Lock()
	f.err = err
	f.mu.Unlock()
}

func (f *Faulty) fault() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

func (f *Faulty) Get(ctx context.Context, key string) ([]byte, error) {
	if err := f.fault(); err != nil {
		return nil, err
	}
	return f.KV.Get(ctx, key)
}

func (f *Faulty) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := f.fault(); err != nil {
		return err
	}
	return f.KV.Set(ctx, key, value, ttl)
}

func (f *Faulty) Create(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := f.fault(); err != nil {
		return err
	}
	return f.KV.Create(ctx, key, value, ttl)
}

func (f *Faulty) Delete(ctx context.Context, key string) error {
	if err := f.fault(); err != nil {
		return err
	}
	return f.KV.Delete(ctx, key)
}

func (f *Faulty) Take(ctx context.Context, key string) ([]byte, error) {
	if err := f.fault(); err != nil {
		return nil, err
	}
	return f.KV.Take(ctx, key)
}

func (f *Faulty) Update(ctx context.Context, key string, fn func(old []byte) ([]byte, time.Duration, error)) error {
	if err := f.fault(); err != nil {
		return err
	}
	return f.KV.Update(ctx, key, fn)
}

func (f *Faulty) List(ctx context.Context, prefix string) ([]store.Entry, error) {
	if err := f.fault(); err != nil {
		return nil, err
	}
	return f.KV.List(ctx, prefix)
}

func (f *Faulty) Ping(ctx context.Context) error {
	if err := f.fault(); err != nil {
		return err
	}
	return f.KV.Ping(ctx)
}
