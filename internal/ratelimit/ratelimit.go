// Package ratelimit decides whether one more event under a key stays within a
// rate, with the generic cell rate algorithm (GCRA), either in process or
// shared by all replicas through Redis.
//
// GCRA keeps a single number per key, the theoretical arrival time (TAT): the
// moment at which the key would be fully recovered if every admitted event
// had been spaced exactly one emission interval (1/Rate) apart. An event at
// time now is admitted when max(TAT, now) + interval - now <= Burst*interval;
// admitting it moves TAT to max(TAT, now) + interval. Denials never move TAT,
// so a client that waits RetryAfter is admitted on schedule however often it
// was refused meanwhile.
package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"time"
)

// Rule is a sustained rate with a burst allowance.
type Rule struct {
	Rate  float64 // events per second, sustained; positive and finite
	Burst int     // events admitted at once after a quiet period; at least 1
}

// PerWindow is n events per window, all of which may come at once. A
// non-positive n or window gives a Rule that Validate rejects.
func PerWindow(n int, window time.Duration) Rule {
	if window <= 0 {
		return Rule{Burst: n}
	}
	return Rule{Rate: float64(n) / window.Seconds(), Burst: n}
}

// ErrInvalidRule is returned for a Rule whose Rate is not positive and finite
// or whose Burst is below 1.
var ErrInvalidRule = errors.New("ratelimit: invalid rule")

// Validate reports whether r can be used; configuration should call it at
// load time so that a bad rule is not first noticed on a request.
func (r Rule) Validate() error {
	if !(r.Rate > 0) || math.IsInf(r.Rate, 1) || r.Burst < 1 {
		return fmt.Errorf("%w: rate %v/s, burst %d", ErrInvalidRule, r.Rate, r.Burst)
	}
	return nil
}

// Decision is the answer for one event.
type Decision struct {
	Allowed bool
	// Remaining is how many more events would be admitted right now: after
	// this one for Allow, including this one for Peek.
	Remaining int
	// RetryAfter is how long until one event will be admitted; 0 when allowed.
	RetryAfter time.Duration
}

// RetryAfterSeconds is the value for an HTTP Retry-After header: RetryAfter
// rounded up to whole seconds, and at least 1 when denied so that a client
// does not retry at once; 0 when allowed.
func (d Decision) RetryAfterSeconds() int {
	if d.Allowed {
		return 0
	}
	return max(1, int((d.RetryAfter+time.Second-1)/time.Second))
}

// Limiter admits events per key.
type Limiter interface {
	// Allow admits one event under key if r allows it now, and records it
	// only then.
	Allow(ctx context.Context, key string, r Rule) (Decision, error)
	// Peek answers what Allow would answer now without recording anything.
	Peek(ctx context.Context, key string, r Rule) (Decision, error)
}

// Keys are built from untrusted input (client ids, addresses, usernames) and
// may be of any length, yet each one is remembered in process or sent to
// Redis. A key longer than maxKeyLen bytes is stored as hashedKeyLen bytes
// instead: its first keptPrefixLen bytes, so that an operator reading Redis
// still sees what kind of key it is, then '#' and the hex SHA-256 of the
// whole key.
const (
	maxKeyLen     = 128
	keptPrefixLen = 64
	hashedKeyLen  = keptPrefixLen + 1 + 2*sha256.Size
)

// storedKey is the name key's state is kept under; every Limiter stores
// through it. A hashed key is one byte longer than any key stored as it is,
// so no short key can name a long key's state, and two long keys share
// state only if SHA-256 collides. The hashed name is a new string: a
// substring of key would keep all of it in memory.
func storedKey(key string) string {
	if len(key) <= maxKeyLen {
		return key
	}
	sum := sha256.Sum256([]byte(key))
	var b [hashedKeyLen]byte
	n := copy(b[:], key[:keptPrefixLen])
	b[n] = '#'
	hex.Encode(b[n+1:], sum[:])
	return string(b[:])
}

// maxSpan bounds the emission interval and the burst capacity so that adding
// them to a timestamp never overflows, whatever extreme Rule is given: a rate
// slower than one event per maxSpan, or a burst longer than maxSpan, is
// treated as exactly maxSpan (about 73 years).
const maxSpan = time.Duration(1) << 61

// gcra is a Rule in whole time units (nanoseconds in process, microseconds in
// Redis, whose clock has that resolution).
type gcra struct {
	interval int64 // emission interval, 1/Rate, at least 1
	capacity int64 // Burst * interval: how far TAT may run ahead of now
}

func (r Rule) gcra(unit time.Duration) (gcra, error) {
	if err := r.Validate(); err != nil {
		return gcra{}, err
	}
	limit := int64(maxSpan / unit)
	var interval int64
	// Adding one half and truncating rounds; math.Round costs more on this
	// hot path and f is positive.
	switch f := float64(time.Second/unit)/r.Rate + 0.5; {
	case f < 1:
		interval = 1
	case f >= float64(limit):
		interval = limit
	default:
		interval = int64(f)
	}
	capacity := limit
	if int64(r.Burst) < limit/interval {
		capacity = int64(r.Burst) * interval
	}
	return gcra{interval: interval, capacity: capacity}, nil
}

// decide answers for one event at now (in the same units as g) on a key
// whose TAT is tat (now for an unknown key), and returns the TAT to store,
// which differs from tat only when the event was consumed.
func (g gcra) decide(tat, now int64, consume bool, unit time.Duration) (int64, Decision) {
	backlog := max(tat-now, 0) // how far TAT runs ahead of now: used capacity
	after := backlog + g.interval
	if after > g.capacity {
		return tat, Decision{RetryAfter: time.Duration(after-g.capacity) * unit}
	}
	if !consume {
		return tat, Decision{Allowed: true, Remaining: int((g.capacity - backlog) / g.interval)}
	}
	return now + after, Decision{Allowed: true, Remaining: int((g.capacity - after) / g.interval)}
}
