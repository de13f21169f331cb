package ratelimit

import (
	"context"
	"hash/maphash"
	"sync"
	"time"
)

// LocalOptions configure an in-process limiter.
type LocalOptions struct {
	// MaxKeys bounds the keys remembered at once (default 100,000, about
	// 12 MB with 40-byte keys and at most about 20 MB however long the
	// keys, which are stored hashed beyond 128 bytes; rounded up to a
	// multiple of 64). Keys that have fully recovered are forgotten
	// anyway, as forgetting them changes no answer. When the bound is
	// reached by keys that are all still limited, a new key evicts the one
	// closest to recovery among a few sampled at random: the least debt is
	// forgiven, and a client that floods the limiter with fresh keys cannot
	// free the key it is being throttled under.
	MaxKeys int
	// Now is the clock; time.Now by default.
	Now func() time.Time
}

const (
	defaultMaxKeys = 100_000
	numShards      = 64
	// sweepEvery is how often a shard drops the keys that have fully
	// recovered; the sweep runs inside a call on that shard, so an idle
	// limiter costs nothing and needs no goroutine to stop.
	sweepEvery = int64(time.Minute)
	// evictionSample is how many keys a full shard looks at to choose which
	// one to forget.
	evictionSample = 8
)

// Local is an in-process Limiter. It is safe for concurrent use; keys are
// spread over independently locked shards so that callers rarely wait for
// one another.
type Local struct {
	// elapsed is the time since the limiter was made; TATs are nanoseconds
	// on that scale.
	elapsed  func() time.Duration
	seed     maphash.Seed
	shardCap int
	shards   [numShards]shard
}

type shard struct {
	mu        sync.Mutex
	tats      map[string]int64
	nextSweep int64
	_         [40]byte // one shard per 64-byte cache line: no false sharing
}

// NewLocal returns an empty in-process limiter.
func NewLocal(opts LocalOptions) *Local {
	if opts.MaxKeys <= 0 {
		opts.MaxKeys = defaultMaxKeys
	}
	l := &Local{
		elapsed:  elapsedSince(opts.Now),
		seed:     maphash.MakeSeed(),
		shardCap: max(2, (opts.MaxKeys+numShards-1)/numShards),
	}
	for i := range l.shards {
		l.shards[i].tats = make(map[string]int64)
	}
	return l
}

// elapsedSince returns a stopwatch started now on the clock now, or on the
// monotonic clock alone when now is nil: time.Since reads one clock where
// time.Now reads two, and reading clocks was a third of the cost of a call.
func elapsedSince(now func() time.Time) func() time.Duration {
	if now == nil {
		start := time.Now()
		return func() time.Duration { return time.Since(start) }
	}
	start := now()
	return func() time.Duration { return now().Sub(start) }
}

// Allow implements Limiter.
func (l *Local) Allow(_ context.Context, key string, r Rule) (Decision, error) {
	return l.decide(key, r, true)
}

// Peek implements Limiter.
func (l *Local) Peek(_ context.Context, key string, r Rule) (Decision, error) {
	return l.decide(key, r, false)
}

func (l *Local) decide(key string, r Rule, consume bool) (Decision, error) {
	g, err := r.gcra(time.Nanosecond)
	if err != nil {
		return Decision{}, err
	}
	// A clock set back before the start reads as the start, and TATs stay
	// below 2*maxSpan, so the GCRA sums cannot overflow.
	now := int64(min(max(l.elapsed(), 0), maxSpan))
	key = storedKey(key)
	s := &l.shards[maphash.String(l.seed, key)%numShards]

	s.mu.Lock()
	defer s.mu.Unlock()
	if now >= s.nextSweep {
		s.sweep(now)
		s.nextSweep = now + sweepEvery
	}
	tat, known := s.tats[key]
	if !known {
		tat = now
	}
	newTAT, d := g.decide(tat, now, consume, time.Nanosecond)
	if consume && d.Allowed {
		if !known && len(s.tats) >= l.shardCap {
			s.evictOne(now)
		}
		s.tats[key] = newTAT
	}
	return d, nil
}

// sweep forgets every key that has fully recovered.
func (s *shard) sweep(now int64) {
	for key, tat := range s.tats {
		if tat <= now {
			delete(s.tats, key)
		}
	}
}

// evictOne forgets the key closest to recovery among a random sample (map
// iteration starts at a random place).
func (s *shard) evictOne(now int64) {
	victim, victimTAT, seen := "", int64(0), 0
	for key, tat := range s.tats {
		if tat <= now {
			victim = key
			break
		}
		if seen == 0 || tat < victimTAT {
			victim, victimTAT = key, tat
		}
		if seen++; seen == evictionSample {
			break
		}
	}
	delete(s.tats, victim)
}
