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
	return replyDecision(g, reply, consume)
}

// maxScriptTime bounds the times, in microseconds, that the script reads
// and replies: below 2^53, where Lua's doubles are exact integers and the
// arithmetic of decide cannot overflow.
const maxScriptTime = 1 << 53

// replyDecision is the Decision for the script's reply {now, tat}. The
// script replies only times in [0, maxScriptTime); anything else (Redis
// turns a Lua number it cannot represent, such as a TAT read as 1e300 or
// nan, into -2^63) is an error rather than a decision on overflowed
// arithmetic.
func replyDecision(g gcra, reply []int64, consume bool) (Decision, error) {
	if len(reply) != 2 {
		return Decision{}, fmt.Errorf("ratelimit: redis: script replied %d values, want 2", len(reply))
	}
	now, tat := reply[0], reply[1]
	if now < 0 || now >= maxScriptTime || tat < 0 || tat >= maxScriptTime {
		return Decision{}, fmt.Errorf("ratelimit: redis: script replied time %d and TAT %d, out of range", now, tat)
	}
	_, d := g.decide(tat, now, consume, time.Microsecond)
	return d, nil
}
