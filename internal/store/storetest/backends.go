package storetest

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scimgate/scimgate/internal/store"
	"github.com/scimgate/scimgate/internal/store/boltkv"
	"github.com/scimgate/scimgate/internal/store/rediskv"
)

// RedisURLEnv overrides DefaultRedisURL for tests that need a real Redis.
const (
	RedisURLEnv     = "SCIMGATE_TEST_REDIS_URL"
	DefaultRedisURL = "redis://127.0.0.1:6379/0"
)

// redisProbeTimeout keeps an unreachable Redis from stalling the tests.
const redisProbeTimeout = 2 * time.Second

// RedisURL returns the Redis that tests use.
func RedisURL() string {
	if u := os.Getenv(RedisURLEnv); u != "" {
		return u
	}
	return DefaultRedisURL
}

// Backends returns an opener per backend name ("bolt", "redis"). Each call
// of an opener yields a fresh, empty store that is cleaned up with its test.
// When Redis is unreachable, Backends says so on stderr and the "redis"
// opener skips its test, or fails it when CI=true.
func Backends(t *testing.T) map[string]func(t *testing.T) store.KV {
	t.Helper()
	openRedis := func(t *testing.T) store.KV { return OpenRedis(t) }
	if err := probeRedis(t.Context()); err != nil {
		msg := redisUnreachable(err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		fmt.Fprintln(os.Stderr, msg)
		openRedis = func(t *testing.T) store.KV {
			t.Skip(msg)
			return nil
		}
	}
	return map[string]func(t *testing.T) store.KV{
		"bolt":  func(t *testing.T) store.KV { return OpenBolt(t) },
		"redis": openRedis,
	}
}

// EachBackend runs fn as a subtest per backend, in name order, each with a
// fresh store.
func EachBackend(t *testing.T, fn func(t *testing.T, kv store.KV)) {
	t.Helper()
	backends := Backends(t)
	names := make([]string, 0, len(backends))
	for name := range backends {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) { fn(t, backends[name](t)) })
	}
}

// OpenBolt opens an embedded store in a fresh temporary directory and closes
// it when tb ends.
func OpenBolt(tb testing.TB) *boltkv.Store {
	tb.Helper()
	kv, err := boltkv.Open(tb.TempDir(), boltkv.Options{})
	if err != nil {
		tb.Fatalf("open bolt store: %v", err)
	}
	tb.Cleanup(func() {
		if err := kv.Close(); err != nil {
			tb.Errorf("close bolt store: %v", err)
		}
	})
	return kv
}

// OpenRedis opens a store on RedisURL() under a prefix unique to tb
// ("scimgatetest:<random>:"). When tb ends, it deletes exactly the keys under
// that prefix and closes the store. An unreachable Redis skips tb loudly, or
// fails it when CI=true.
func OpenRedis(tb testing.TB) *rediskv.Store {
	tb.Helper()
	prefix := "scimgatetest:" + strings.ToLower(rand.Text()[:16]) + ":"
	kv, err := rediskv.Open(tb.Context(), rediskv.Options{URL: RedisURL(), Prefix: prefix})
	if err != nil {
		msg := redisUnreachable(err)
		if os.Getenv("CI") == "true" {
			tb.Fatal(msg)
		}
		fmt.Fprintln(os.Stderr, msg)
		tb.Skip(msg)
	}
	tb.Cleanup(func() {
		deletePrefix(tb, prefix)
		if err := kv.Close(); err != nil {
			tb.Errorf("close redis store: %v", err)
		}
	})
	return kv
}

// deletePrefix removes the test's keys through a separate, unprefixed store,
// so cleanup works even if the test closed its own store.
func deletePrefix(tb testing.TB, prefix string) {
	ctx := context.Background()
	raw, err := rediskv.Open(ctx, rediskv.Options{URL: RedisURL()})
	if err != nil {
		tb.Errorf("cleanup of %s*: %v", prefix, err)
		return
	}
	defer raw.Close()
	entries, err := raw.List(ctx, prefix)
	if err != nil {
		tb.Errorf("cleanup of %s*: %v", prefix, err)
		return
	}
	for _, e := range entries {
		if err := raw.Delete(ctx, e.Key); err != nil {
			tb.Errorf("cleanup of %s: %v", e.Key, err)
		}
	}
}

func probeRedis(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, redisProbeTimeout)
	defer cancel()
	kv, err := rediskv.Open(ctx, rediskv.Options{URL: RedisURL()})
	if err != nil {
		return err
	}
	return kv.Close()
}

func redisUnreachable(err error) string {
	return fmt.Sprintf("!!! REDIS UNREACHABLE — the redis backend is NOT being tested !!!\n"+
		"    %v\n"+
		"    Start one: redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save \"\" --appendonly no\n"+
		"    or point %s at one. With CI=true this is a failure.", err, RedisURLEnv)
}

// SecondClient returns another client of the store kv, as a second replica
// holds it: for Redis a separate connection pool under the same prefix,
// closed when tb ends; for the embedded store, which one process owns,
// kv itself.
func SecondClient(tb testing.TB, kv store.KV) store.KV {
	tb.Helper()
	r, ok := kv.(*rediskv.Store)
	if !ok {
		return kv
	}
	c, err := rediskv.Open(tb.Context(), rediskv.Options{URL: RedisURL(), Prefix: r.Prefix()})
	if err != nil {
		tb.Fatalf("second redis client: %v", err)
	}
	tb.Cleanup(func() {
		if err := c.Close(); err != nil {
			tb.Errorf("close second redis client: %v", err)
		}
	})
	return c
}
