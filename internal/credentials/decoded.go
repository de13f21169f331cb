package credentials

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/scimgate/scimgate/internal/store"
)

// decodedRecords keeps the decoded form of the records every token request
// reads — its client and the client's tenant — next to the stored bytes
// they were decoded from. The store is still read on every request, so a
// change by this or another replica counts at once; only the JSON decoding,
// which cost more than the HMAC check and the store read together, is
// skipped while the bytes are unchanged.
//
// The records it returns are shared between requests: read-only.
type decodedRecords[T any] struct {
	mu      sync.RWMutex
	entries map[string]decodedRecord[T]
	limit   int
}

type decodedRecord[T any] struct {
	raw []byte
	v   *T
}

// decodedRecordsLimit bounds each cache; beyond it an arbitrary entry goes.
const decodedRecordsLimit = 10_000

func newDecodedRecords[T any]() *decodedRecords[T] {
	return &decodedRecords[T]{entries: map[string]decodedRecord[T]{}, limit: decodedRecordsLimit}
}

// get reads key and returns its record, decoding it only when its bytes
// differ from the last decoded ones.
func (c *decodedRecords[T]) get(ctx context.Context, kv store.KV, key string) (*T, error) {
	b, err := kv.Get(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	c.mu.RLock()
	e, ok := c.entries[key]
	c.mu.RUnlock()
	if ok && bytes.Equal(e.raw, b) {
		return e.v, nil
	}
	v := new(T)
	if err := json.Unmarshal(b, v); err != nil {
		return nil, fmt.Errorf("decode %s: %w", key, err)
	}
	c.mu.Lock()
	if _, exists := c.entries[key]; !exists && len(c.entries) >= c.limit {
		for k := range c.entries {
			delete(c.entries, k)
			break
		}
	}
	// b is the store's copy, owned by this call.
	c.entries[key] = decodedRecord[T]{raw: b, v: v}
	c.mu.Unlock()
	return v, nil
}
