package ratelimit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/scimgate/scimgate/internal/store/storetest"
)

// redisClient connects to the test Redis, or skips the test loudly when it
// is unreachable (fails it with CI=true). The client is closed with the test.
func redisClient(tb testing.TB) *redis.Client {
	tb.Helper()
	opts, err := redis.ParseURL(storetest.RedisURL())
	if err != nil {
		tb.Fatalf("test redis URL: %v", err)
	}
	client := redis.NewClient(opts)
	tb.Cleanup(func() { _ = client.Close() })
	pingCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := client.Ping(pingCtx).Err(); err != nil {
		msg := "REDIS UNREACHABLE at " + opts.Addr + ": " + err.Error() +
			"; start redis-server on 127.0.0.1:6379 or set " + storetest.RedisURLEnv
		if os.Getenv("CI") == "true" {
			tb.Fatal(msg)
		}
		_, _ = os.Stderr.WriteString("\n*** " + msg + " ***\n\n")
		tb.Skip(msg)
	}
	return client
}

// testPrefix is a key prefix of the test's own, whose keys are deleted when
// the test ends (they would expire by themselves anyway).
func testPrefix(tb testing.TB, client *redis.Client) string {
	tb.Helper()
	nonce := make([]byte, 6)
	_, _ = rand.Read(nonce)
	prefix := "scimgate-test:ratelimit:" + strings.ReplaceAll(tb.Name(), " ", "_") + ":" + hex.EncodeToString(nonce) + ":"
	tb.Cleanup(func() {
		cleanupCtx := context.Background()
		iter := client.Scan(cleanupCtx, 0, prefix+"*", 100).Iterator()
		for iter.Next(cleanupCtx) {
			client.Del(cleanupCtx, iter.Val())
		}
		if err := iter.Err(); err != nil {
			tb.Errorf("cleaning up %s*: %v", prefix, err)
		}
	})
	return prefix
}

func TestRedis(t *testing.T) {
	runLimiterSuite(t, func(t *testing.T) subject {
		first := redisClient(t)
		prefix := testPrefix(t, first)
		// Two clients with their own connections play two replicas.
		second := redisClient(t)
		return subject{
			limiters: []Limiter{NewRedis(first, prefix), NewRedis(second, prefix)},
			sleep:    time.Sleep,
			stored:   func(t *testing.T) []string { return storedNames(t, first, prefix+"rl:") },
		}
	})
}

// storedNames lists the keys under prefix, without it.
func storedNames(tb testing.TB, client *redis.Client, prefix string) []string {
	tb.Helper()
	var names []string
	iter := client.Scan(ctx, 0, prefix+"*", 100).Iterator()
	for iter.Next(ctx) {
		names = append(names, strings.TrimPrefix(iter.Val(), prefix))
	}
	if err := iter.Err(); err != nil {
		tb.Fatalf("listing %s*: %v", prefix, err)
	}
	return names
}

func TestRedisKeysExpireWhenRecovered(t *testing.T) {
	client := redisClient(t)
	prefix := testPrefix(t, client)
	l := NewRedis(client, prefix)
	tests := []struct {
		rule    Rule
		events  int
		wantTTL time.Duration // after events admitted at once
	}{
		{Rule{Rate: 1, Burst: 1}, 1, time.Second},
		{Rule{Rate: 10, Burst: 5}, 3, 300 * time.Millisecond},
		{PerWindow(30, time.Hour), 2, 4 * time.Minute},
	}
	for i, tt := range tests {
		key := "ttl" + string(rune('a'+i))
		for range tt.events {
			mustAllow(t, l, key, tt.rule)
		}
		ttl, err := client.PTTL(ctx, prefix+"rl:"+key).Result()
		if err != nil {
			t.Fatal(err)
		}
		if ttl <= 0 || ttl > tt.wantTTL || ttl < tt.wantTTL-time.Second {
			t.Errorf("%+v after %d events: PTTL = %v, want about %v", tt.rule, tt.events, ttl, tt.wantTTL)
		}
	}
	mustPeek(t, l, "peeked", Rule{Rate: 1, Burst: 1})
	if n, err := client.Exists(ctx, prefix+"rl:peeked").Result(); err != nil || n != 0 {
		t.Errorf("Peek created a key: exists = %d, %v", n, err)
	}
}

// TestRedisForeignValue stores under a key what the script never writes.
// Each is unset state: the first event is admitted and leaves a TAT with an
// expiry, where "nan" and "1e300" had denied the key forever with a
// Retry-After from overflowed arithmetic (Redis replied them as -2^63).
func TestRedisForeignValue(t *testing.T) {
	client := redisClient(t)
	prefix := testPrefix(t, client)
	l := NewRedis(client, prefix)
	r := Rule{Rate: 1, Burst: 2}
	for i, v := range []string{"nan", "inf", "-inf", "1e300", "9e18", "-5", "1.5", "abc", ""} {
		key := "foreign" + string(rune('a'+i))
		if err := client.Set(ctx, prefix+"rl:"+key, v, 0).Err(); err != nil {
			t.Fatal(err)
		}
		if d, err := l.Peek(ctx, key, r); err != nil || d != (Decision{Allowed: true, Remaining: 2}) {
			t.Errorf("value %q: Peek = %+v, %v; want as unset", v, d, err)
		}
		if d, err := l.Allow(ctx, key, r); err != nil || d != (Decision{Allowed: true, Remaining: 1}) {
			t.Errorf("value %q: Allow = %+v, %v; want as unset", v, d, err)
		}
		if ttl, err := client.PTTL(ctx, prefix+"rl:"+key).Result(); err != nil || ttl <= 0 {
			t.Errorf("value %q: no expiry after an admitted event: %v, %v", v, ttl, err)
		}
	}
}

// TestRedisRunsWithoutCachedScript makes the first call find no cached
// script, as after a restart or failover, without flushing the script cache
// that other tests share: a limiter over a script no Redis has seen must
// still answer, through EVAL.
func TestRedisRunsWithoutCachedScript(t *testing.T) {
	client := redisClient(t)
	prefix := testPrefix(t, client)
	l := NewRedis(client, prefix)
	l.script = redis.NewScript(gcraLua + "\n-- " + prefix)
	if cached, err := l.script.Exists(ctx, client).Result(); err != nil || len(cached) != 1 || cached[0] {
		t.Fatalf("SCRIPT EXISTS before the first call = %v, %v; want [false]", cached, err)
	}
	if d := mustAllow(t, l, "k", Rule{Rate: 1, Burst: 2}); d != (Decision{Allowed: true, Remaining: 1}) {
		t.Fatalf("first Allow = %+v", d)
	}
}

func BenchmarkRedisAllow(b *testing.B) {
	client := redisClient(b)
	prefix := testPrefix(b, client)
	l := NewRedis(client, prefix)
	r := Rule{Rate: 1e6, Burst: 1000}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := l.Allow(ctx, "client:3f9a6c2e-tenant-42", r); err != nil {
			b.Fatal(err)
		}
	}
}
