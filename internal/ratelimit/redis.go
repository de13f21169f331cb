package ratelimit

import (
	"context"
	_ "embed"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

//go:embed gcra.lua
var gcraLua string

// Redis is a Limiter shared by every replica that uses the same Redis and
// prefix. Each call is one script run (EVALSHA, or EVAL when Redis has not
// cached the script yet) on one key, so it works on Redis Cluster too.
type Redis struct {
	client redis.UniversalClient
	prefix string
	script *redis.Script
}

// NewRedis returns a limiter that keeps each key's state under
// prefix+"rl:"+key, a key longer than 128 bytes hashed (see storedKey). Idle keys expire on their own once fully recovered.
//
// The client's timeouts bound how long a call waits for an unhealthy Redis;
// wrap the limiter with NewFallback to keep answering during an outage.
func NewRedis(client redis.UniversalClient, prefix string) *Redis {
	return &Redis{client: client, prefix: prefix, script: redis.NewScript(gcraLua)}
}

// Allow implements Limiter.
func (l *Redis) Allow(ctx context.Context, key string, r Rule) (Decision, error) {
	return l.decide(ctx, key, r, true)
}

// Peek implements Limiter.
func (l *Redis) Peek(ctx context.Context, key string, r Rule) (Decision, error) {
	return l.decide(ctx, key, r, false)
}

func (l *Redis) decide(ctx context.Context, key string, r Rule, consume bool) (Decision, error) {
	g, err := r.gcra(time.Microsecond)
	if err != nil {
		return Decision{}, err
	}
	flag := "0"
	if consume {
		flag = "1"
	}
	reply, err := l.script.Run(ctx, l.client, []string{l.prefix + "rl:" + storedKey(key)}, g.interval, g.capacity, flag).Int64Slice()
	if err != nil {
		return Decision{}, fmt.Errorf("ratelimit: redis: %w", err)
	}
	if len(reply) != 2 {
		return Decision{}, fmt.Errorf("ratelimit: redis: script replied %d values, want 2", len(reply))
	}
	_, d := g.decide(reply[1], reply[0], consume, time.Microsecond)
	return d, nil
}
