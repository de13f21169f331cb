package gateway

import (
	"hash/maphash"
	"sync"
)

// cacheShards spreads a cache over independently locked maps so that the two
// cores rarely wait for each other.
const cacheShards = 16

// ttlCache is a bounded map whose entries expire. It backs the verified-token
// cache, the API-key cache and the tenant and client status caches: every
// entry carries its own deadline, and a full shard first drops what has
// expired, then an arbitrary entry (map iteration order is random), which
// costs one re-verification later and never a wrong answer.
type ttlCache[K comparable, V any] struct {
	seed     maphash.Seed
	perShard int
	shards   [cacheShards]cacheShard[K, V]
}

type cacheShard[K comparable, V any] struct {
	mu sync.RWMutex
	m  map[K]cacheEntry[V]
	_  [32]byte // keep neighbouring shard locks off one cache line
}

type cacheEntry[V any] struct {
	v     V
	until int64 // unix nanoseconds; the entry is used only before it
}

// newTTLCache returns a cache of about size entries, or nil for size 0: a
// nil cache stores nothing and finds nothing.
func newTTLCache[K comparable, V any](size int) *ttlCache[K, V] {
	if size <= 0 {
		return nil
	}
	c := &ttlCache[K, V]{seed: maphash.MakeSeed(), perShard: max(1, (size+cacheShards-1)/cacheShards)}
	for i := range c.shards {
		c.shards[i].m = make(map[K]cacheEntry[V])
	}
	return c
}

func (c *ttlCache[K, V]) shard(k K) *cacheShard[K, V] {
	return &c.shards[maphash.Comparable(c.seed, k)%cacheShards]
}

// get returns the value under k if it is still valid at now.
func (c *ttlCache[K, V]) get(k K, now int64) (V, bool) {
	var zero V
	if c == nil {
		return zero, false
	}
	s := c.shard(k)
	s.mu.RLock()
	e, ok := s.m[k]
	s.mu.RUnlock()
	if !ok || now >= e.until {
		return zero, false
	}
	return e.v, true
}

// put stores v under k until the unix-nanosecond time until.
func (c *ttlCache[K, V]) put(k K, v V, until, now int64) {
	if c == nil || until <= now {
		return
	}
	s := c.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, exists := s.m[k]; !exists && len(s.m) >= c.perShard {
		for key, e := range s.m {
			if now >= e.until {
				delete(s.m, key)
			}
		}
		if len(s.m) >= c.perShard {
			for key := range s.m {
				delete(s.m, key)
				break
			}
		}
	}
	s.m[k] = cacheEntry[V]{v: v, until: until}
}

// remove forgets k.
func (c *ttlCache[K, V]) remove(k K) {
	if c == nil {
		return
	}
	s := c.shard(k)
	s.mu.Lock()
	delete(s.m, k)
	s.mu.Unlock()
}
